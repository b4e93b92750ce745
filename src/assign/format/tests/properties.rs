//! Properties over generated lists: round trips, the peek agreeing with the reader, and
//! arbitrary bytes giving well-formed answers.

use super::super::read_csv::FIELD_ORDER;
use super::list_start::peek;
use super::*;
use proptest::prelude::*;

fn known_columns() -> [&'static str; FIELD_COUNT] {
    [
        "id",
        "lat",
        "lon",
        "house_number",
        "alley",
        "street",
        "unit",
        "ward",
        "district",
        "province",
        "address",
    ]
}

fn expected_fields(values: &[String]) -> RowFields {
    let mut fields = RowFields::default();
    for (field, value) in FIELD_ORDER.iter().zip(values) {
        *fields.slot(*field) = clean_text(value);
    }
    fields
}

/// Bytes that steer the readers into their interesting states.
fn structural_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"[]{}\",;:\\ \n\r\tax1.-\xEF\xBB\xBF\xFF".to_vec();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..200)
}

fn interesting_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        structural_bytes(),
        structural_bytes().prop_map(|mut bytes| {
            bytes.splice(0..0, b"[{\"lat\":1},".iter().copied());
            bytes
        }),
        structural_bytes().prop_map(|mut bytes| {
            bytes.splice(0..0, b"id,lat,lon\n".iter().copied());
            bytes
        }),
        structural_bytes().prop_map(|mut bytes| {
            bytes.splice(0..0, b"\xEF\xBB\xBFid;lat;lon".iter().copied());
            bytes
        }),
    ]
}

proptest! {
    #[test]
    fn csv_fields_survive_a_write_and_read(
        rows in proptest::collection::vec(
            proptest::collection::vec(any::<String>(), FIELD_COUNT + 1),
            1..8,
        ),
        semicolon in any::<bool>(),
    ) {
        let separator = if semicolon { b';' } else { b',' };
        let mut input = csv::WriterBuilder::new().delimiter(separator).from_writer(Vec::new());
        let mut header: Vec<&str> = known_columns().to_vec();
        header.push("note");
        input.write_record(&header).expect("write header");
        for row in &rows {
            input.write_record(row).expect("write row");
        }
        let input = input.into_inner().expect("csv bytes");

        let (read_header, read) = read_all(Format::Csv, &input);
        let read_header = read_header.expect("header");
        prop_assert_eq!(read_header.separator(), separator);
        prop_assert_eq!(read.len(), rows.len());
        for (row, values) in read.iter().zip(&rows) {
            prop_assert_eq!(fields(row), &expected_fields(values));
        }

        // Written back, every input column comes out with the same text.
        let output = round_trip(Format::Csv, &input);
        let mut output = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .from_reader(output.as_bytes());
        let output: Vec<csv::StringRecord> =
            output.records().collect::<Result<_, _>>().expect("output is CSV");
        prop_assert_eq!(output.len(), rows.len() + 1);
        for (record, values) in output.iter().skip(1).zip(&rows) {
            let carried: Vec<&str> = record.iter().take(values.len()).collect();
            prop_assert_eq!(carried, values.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_peeker_finds_the_header_the_reader_finds(
        input in interesting_input(),
        cuts in proptest::collection::vec(0_usize..300, 0..6),
        max_row_bytes in prop_oneof![Just(ReadLimits::DEFAULT.max_row_bytes), 1_usize..64],
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let limits = ReadLimits { max_row_bytes, ..ReadLimits::DEFAULT };
        let expected = match read_rows_with(Format::Csv, input.as_slice(), limits) {
            Ok(reader) => Ok(reader.csv_header().cloned()),
            Err(FormatError::List(refusal)) => Err(refusal),
            Err(other) => panic!("in-memory input has no I/O errors: {other}"),
        };
        prop_assert_eq!(peek(&input, &cuts, limits), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_give_well_formed_output(input in interesting_input()) {
        for format in [Format::Csv, Format::Json, Format::Ndjson] {
            // A refused list (duplicate or reserved columns, UTF-16) answers nothing.
            let mut reader = match read_rows(format, input.as_slice()) {
                Err(FormatError::List(_)) => continue,
                started => started.expect("reader starts"),
            };
            let header = reader.csv_header().cloned();
            let mut writer =
                RowWriter::new(format, header.as_ref(), Vec::new()).expect("writer");
            let mut rows = 0_u64;
            for row in reader.by_ref() {
                let row = row.expect("in-memory input has no I/O errors");
                rows += 1;
                prop_assert_eq!(row.row_number, rows);
                writer.write_row(&row, &outcome_for(&row)).expect("write");
            }
            let output = writer.finish().expect("finish");
            let output = String::from_utf8(output).expect("output is UTF-8");
            match format {
                Format::Csv => {
                    let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
                        .delimiter(header.as_ref().map_or(b',', CsvHeader::separator))
                        .has_headers(false)
                        .from_reader(output.as_bytes())
                        .records()
                        .collect::<Result<_, _>>()
                        .expect("output is CSV");
                    prop_assert_eq!(records.len() as u64, rows + 1);
                    let width = records[0].len();
                    prop_assert!(records.iter().all(|record| record.len() == width));
                }
                Format::Json => {
                    let parsed: Vec<Map<String, Value>> =
                        serde_json::from_str(&output).expect("output is a JSON array");
                    prop_assert_eq!(parsed.len() as u64, rows);
                }
                Format::Ndjson => {
                    prop_assert_eq!(output.lines().count() as u64, rows);
                    for line in output.lines() {
                        let _: Map<String, Value> =
                            serde_json::from_str(line).expect("each line is an object");
                    }
                }
            }
        }
    }
}
