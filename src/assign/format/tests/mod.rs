//! The list formats' tests: helpers shared by the modules below, formats and I/O here.

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod csv_lists;
mod json_lists;
mod list_start;
mod properties;
mod writer;

fn read_all(format: Format, input: &[u8]) -> (Option<CsvHeader>, Vec<InputRow>) {
    let reader = read_rows(format, input).expect("reader starts");
    let header = reader.csv_header().cloned();
    let rows = reader
        .collect::<Result<Vec<_>, _>>()
        .expect("in-memory input has no I/O errors");
    (header, rows)
}

fn fields(row: &InputRow) -> &RowFields {
    row.fields.as_ref().expect("row reads")
}

fn error_code(row: &InputRow) -> &'static str {
    row.fields
        .as_ref()
        .expect_err("row is an error")
        .code
        .as_str()
}

fn created(code: &str, distance_m: f64) -> RowOutcome {
    RowOutcome {
        code: Some(code.to_owned()),
        status: RowStatus::Created,
        postcode: Some(code[..5].to_owned()),
        distance_m: Some(distance_m),
        ..RowOutcome::default()
    }
}

fn outcome_for(row: &InputRow) -> RowOutcome {
    match &row.fields {
        Ok(_) => created("700000000000", 0.0),
        Err(error) => RowOutcome::failed(error.code, error.message.clone()),
    }
}

/// Reads `input` and writes every row back with `outcome_for`.
fn round_trip(format: Format, input: &[u8]) -> String {
    write_back(format, input, ReadLimits::DEFAULT)
}

/// [`round_trip`] with these limits.
fn write_back(format: Format, input: &[u8], limits: ReadLimits) -> String {
    let mut reader = read_rows_with(format, input, limits).expect("reader starts");
    let header = reader.csv_header().cloned();
    let mut writer = RowWriter::new(format, header.as_ref(), Vec::new()).expect("writer");
    for row in reader.by_ref() {
        let row = row.expect("no I/O error");
        writer.write_row(&row, &outcome_for(&row)).expect("write");
    }
    String::from_utf8(writer.finish().expect("finish")).expect("output is UTF-8")
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

#[test]
fn format_from_content_type_path_and_name() {
    assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
    assert_eq!(
        Format::from_content_type("Text/CSV; charset=utf-8"),
        Some(Format::Csv)
    );
    assert_eq!(
        Format::from_content_type("application/csv"),
        Some(Format::Csv)
    );
    assert_eq!(
        Format::from_content_type("application/json;charset=UTF-8"),
        Some(Format::Json)
    );
    for ndjson in [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
    ] {
        assert_eq!(Format::from_content_type(ndjson), Some(Format::Ndjson));
    }
    assert_eq!(Format::from_content_type("text/plain"), None);
    assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
    assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
    assert_eq!(
        Format::from_path(Path::new("b.ndjson")),
        Some(Format::Ndjson)
    );
    assert_eq!(
        Format::from_path(Path::new("b.JsonL")),
        Some(Format::Ndjson)
    );
    assert_eq!(Format::from_path(Path::new("b.txt")), None);
    assert_eq!(Format::from_path(Path::new("csv")), None);
    assert_eq!(Format::parse_name("jsonl"), Some(Format::Ndjson));
    assert_eq!(Format::parse_name("CSV"), Some(Format::Csv));
    assert_eq!(Format::parse_name("xml"), None);
    for format in [Format::Csv, Format::Json, Format::Ndjson] {
        assert_eq!(Format::parse_name(format.name()), Some(format));
        assert_eq!(
            Format::from_content_type(format.content_type()),
            Some(format)
        );
    }
}

fn read_limited(format: Format, input: &[u8], limits: ReadLimits) -> Vec<InputRow> {
    read_rows_with(format, input, limits)
        .expect("reader starts")
        .collect::<Result<Vec<_>, _>>()
        .expect("in-memory input has no I/O errors")
}

/// Each row's id, or its error code.
fn ids_or_error_codes(rows: &[InputRow]) -> Vec<Result<&str, &str>> {
    rows.iter()
        .map(|row| {
            row.fields
                .as_ref()
                .map(|fields| fields.id.as_deref().unwrap_or(""))
                .map_err(|error| error.code.as_str())
        })
        .collect()
}

struct FailingReader {
    good: io::Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self.good.read(buffer)? {
            0 => Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")),
            count => Ok(count),
        }
    }
}

#[test]
fn io_failure_ends_the_list_with_an_error() {
    let inputs: [(Format, &[u8]); 3] = [
        (Format::Csv, b"id,lat,lon\n1,2,3\n"),
        (Format::Json, b"[{\"id\":1},"),
        (Format::Ndjson, b"{\"id\":1}\n"),
    ];
    for (format, input) in inputs {
        let reader = FailingReader {
            good: io::Cursor::new(input.to_vec()),
        };
        let items: Vec<_> = read_rows(format, reader).expect("starts").collect();
        assert_eq!(items.len(), 2, "{format}");
        assert!(items[0].is_ok());
        assert!(matches!(items[1], Err(FormatError::Io(_))), "{format}");
    }
    let reader = FailingReader {
        good: io::Cursor::new(b"id,lat".to_vec()),
    };
    assert!(matches!(
        read_rows(Format::Csv, reader),
        Err(FormatError::Io(_))
    ));
}

#[test]
fn reader_and_writer_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<RowReader<'static>>();
    assert_send::<RowWriter<Vec<u8>>>();
    assert_send::<InputRow>();
}

/// Counts the bytes handed out, to see how far a reader has read.
struct CountingReader {
    inner: io::Cursor<Vec<u8>>,
    bytes_read: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.bytes_read.fetch_add(count as u64, Ordering::Relaxed);
        Ok(count)
    }
}

#[test]
fn readers_stream_instead_of_reading_everything() {
    const ROWS: u64 = 200_000;
    for format in [Format::Csv, Format::Json, Format::Ndjson] {
        let mut input = Vec::new();
        match format {
            Format::Csv => input.extend_from_slice(b"id,lat,lon\n"),
            Format::Json => input.push(b'['),
            Format::Ndjson => {}
        }
        for index in 0..ROWS {
            let line = match format {
                Format::Csv => format!("r{index},10.{index},106.{index}\n"),
                Format::Json | Format::Ndjson => {
                    let separator = match format {
                        Format::Json if index + 1 < ROWS => ",",
                        _ => "",
                    };
                    format!(
                        "{{\"id\":\"r{index}\",\"lat\":10.{index},\"lon\":\"106.{index}\"}}{separator}\n"
                    )
                }
            };
            input.extend_from_slice(line.as_bytes());
        }
        if format == Format::Json {
            input.push(b']');
        }
        let total = input.len() as u64;
        let bytes_read = Arc::new(AtomicU64::new(0));
        let mut reader = read_rows(
            format,
            CountingReader {
                inner: io::Cursor::new(input),
                bytes_read: Arc::clone(&bytes_read),
            },
        )
        .expect("reader");
        let first = reader.next().expect("a row").expect("no I/O error");
        assert_eq!(fields(&first).id, text("r0"));
        let after_first = bytes_read.load(Ordering::Relaxed);
        assert!(
            after_first < 64 * 1024 && after_first < total / 50,
            "{format}: read {after_first} of {total} bytes for the first row"
        );
        let mut count = 1;
        let mut last = first;
        for row in reader {
            last = row.expect("no I/O error");
            count += 1;
        }
        assert_eq!(count, ROWS, "{format}");
        assert_eq!(last.row_number, ROWS);
        assert_eq!(fields(&last).lat, text(&format!("10.{}", ROWS - 1)));
        assert_eq!(bytes_read.load(Ordering::Relaxed), total);
    }
}
