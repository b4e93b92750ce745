//! CSV rows: the header (found by [`ListPeeker`](super::ListPeeker)), then one record at a
//! time.
//!
//! Records are parsed by `csv_core` into buffers that never grow past the row limit: a
//! record over it is parsed to its end and dropped as it comes, so a 200 MB cell costs no
//! more memory than a small one, and the next row is read as usual. The header is parsed by
//! the same [`RecordReader`], and checked once, by [`accept_header`].

use csv::ByteRecord;
use std::collections::HashMap;
use std::io::{self, BufRead};

use super::{
    BoxedInput, CsvHeader, FIELD_COUNT, Field, InputRow, ListError, ListKind, Original, ReadError,
    ReadLimits, RowErrorCode, RowFields, clean_text, fill_buffer, normalized_name,
};

/// Reads CSV records with `csv_core`, fed the input a part at a time; see the module docs.
#[derive(Debug)]
pub(super) struct RecordReader {
    parser: csv_core::Reader,
    limits: ReadLimits,
    /// The unquoted bytes of the current record's fields, and where each field ends.
    fields: Vec<u8>,
    ends: Vec<usize>,
    n_out: usize,
    n_ends: usize,
    /// Input bytes of the current record so far.
    n_in: usize,
    /// The line the current record started on, once it has.
    line: Option<u64>,
}

/// One record as the parser gave it.
pub(super) enum Record {
    Fields(ByteRecord),
    /// Over the row limit: its bytes were dropped as they came.
    TooLarge {
        line: u64,
    },
}

/// What a part of the input completed.
pub(super) enum Parsed {
    /// Every byte was taken and the record goes on.
    NeedMore,
    Record(Record),
    /// The input ended between records.
    End,
}

impl RecordReader {
    pub(super) fn new(separator: u8, limits: ReadLimits) -> RecordReader {
        RecordReader {
            parser: csv_core::ReaderBuilder::new().delimiter(separator).build(),
            limits,
            fields: Vec::new(),
            ends: Vec::new(),
            n_out: 0,
            n_ends: 0,
            n_in: 0,
            line: None,
        }
    }

    /// Whether the record being read is over the row limit already.
    pub(super) fn over_limit(&self) -> bool {
        self.n_in > self.limits.max_row_bytes
    }

    /// Parses the next bytes of the input (empty: the input has ended); returns how many it
    /// took and what they completed.
    pub(super) fn feed(&mut self, input: &[u8]) -> (usize, Parsed) {
        use csv_core::ReadRecordResult;
        let line = *self.line.get_or_insert(self.parser.line());
        let mut used = 0;
        loop {
            // All taken: an empty slice would tell the parser the input has ended.
            if used == input.len() && !input.is_empty() {
                return (used, Parsed::NeedMore);
            }
            if self.n_out == self.fields.len() {
                // Output never outgrows input, so a row within the limit fits in limit + 1.
                let size = (self.n_out * 2)
                    .max(1024)
                    .min(self.limits.max_row_bytes.saturating_add(1));
                self.fields.resize(size, 0);
            }
            if self.n_ends == self.ends.len() {
                self.ends.resize((self.n_ends * 2).max(64), 0);
            }
            let (result, used_in, used_out, used_ends) = self.parser.read_record(
                input.get(used..).unwrap_or_default(),
                &mut self.fields[self.n_out..],
                &mut self.ends[self.n_ends..],
            );
            used += used_in;
            self.n_in = self.n_in.saturating_add(used_in);
            self.n_out += used_out;
            self.n_ends += used_ends;
            if self.over_limit() {
                // Drop what this record gave so far; the parser keeps its place.
                (self.n_out, self.n_ends) = (0, 0);
            }
            match result {
                ReadRecordResult::InputEmpty => return (used, Parsed::NeedMore),
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => return (used, Parsed::Record(self.take(line))),
                ReadRecordResult::End => return (used, Parsed::End),
            }
        }
    }

    /// The record just ended, and a fresh start for the next.
    fn take(&mut self, line: u64) -> Record {
        let record = if self.over_limit() {
            Record::TooLarge { line }
        } else {
            let mut record = ByteRecord::with_capacity(self.n_out, self.n_ends);
            let mut start = 0;
            for &end in &self.ends[..self.n_ends] {
                record.push_field(self.fields.get(start..end).unwrap_or_default());
                start = end;
            }
            let mut position = csv::Position::new();
            position.set_line(line);
            record.set_position(Some(position));
            Record::Fields(record)
        };
        (self.n_out, self.n_ends, self.n_in, self.line) = (0, 0, 0, None);
        record
    }
}

pub(super) struct CsvRows<'a> {
    /// What follows the header.
    input: BoxedInput<'a>,
    parser: RecordReader,
    limits: ReadLimits,
    pub(super) header: CsvHeader,
    row_number: u64,
}

impl<'a> CsvRows<'a> {
    /// The rows after `header`, read by `parser` (the one that read the header) from `input`.
    pub(super) fn new(
        input: BoxedInput<'a>,
        parser: RecordReader,
        header: CsvHeader,
        limits: ReadLimits,
    ) -> CsvRows<'a> {
        CsvRows {
            input,
            parser,
            limits,
            header,
            row_number: 0,
        }
    }

    pub(super) fn next_row(&mut self) -> io::Result<Option<InputRow>> {
        let Some(record) = self.read_record()? else {
            return Ok(None);
        };
        self.row_number += 1;
        let row_number = self.row_number;
        let record = match record {
            Record::Fields(record) => record,
            Record::TooLarge { line } => {
                return Ok(Some(InputRow {
                    row_number,
                    fields: Err(ReadError {
                        code: RowErrorCode::RowTooLarge,
                        message: format!(
                            "row {row_number} (line {line}) is larger than {} bytes",
                            self.limits.max_row_bytes
                        ),
                    }),
                    original: Original::Absent,
                }));
            }
        };
        let columns = &self.header.columns;
        if let Some(error) = oversized_cell(&record, columns, self.limits, row_number) {
            // The row is answered with its over-large cells emptied: the rest, its id
            // included, still lines up with the input.
            let emptied: ByteRecord = record
                .iter()
                .map(|cell| {
                    if cell.len() > self.limits.max_cell_bytes {
                        &b""[..]
                    } else {
                        cell
                    }
                })
                .collect();
            return Ok(Some(InputRow {
                row_number,
                fields: Err(error),
                original: Original::Csv(emptied),
            }));
        }
        let separator = self.header.separator;
        let fields = csv_fields(
            &record,
            columns.len(),
            &self.header.field_columns,
            row_number,
        )
        .map_err(|error| with_surplus(error, &record, columns.len(), separator));
        Ok(Some(InputRow {
            row_number,
            fields,
            original: Original::Csv(record),
        }))
    }

    /// The next record, `None` at the end of the input.
    fn read_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            fill_buffer(&mut self.input)?;
            let available = self.input.buffer();
            let (used, parsed) = self.parser.feed(available);
            self.input.consume(used);
            match parsed {
                Parsed::NeedMore => {}
                Parsed::Record(record) => return Ok(Some(record)),
                Parsed::End => return Ok(None),
            }
        }
    }
}

/// The one check of a CSV header, for the reader and for the server's look before it
/// answers: the columns as text, and the column of each known field. A column the answer
/// adds refuses the list (it would be overwritten), so do two columns for one thing
/// ([`field_columns`]), and so does a header without a `lat` or a `lon` column: no row of it
/// could be assigned, and a list of `missing_coordinate` rows would only hide the mistake.
///
/// A convert list needs text to read instead: an `address` column or a unit column
/// (`ward`, `district`, `province`); its coordinates are optional. So does an assign list
/// with a column of address text ([`TEXT_FIELDS`]): its rows without coordinates are found
/// from their text.
/// The columns an assign list's rows without coordinates are found by.
const TEXT_FIELDS: [Field; 5] = [
    Field::Address,
    Field::Street,
    Field::Ward,
    Field::District,
    Field::Province,
];

pub(super) fn accept_header(
    record: &ByteRecord,
    separator: u8,
    kind: ListKind,
) -> Result<CsvHeader, ListError> {
    let columns: Vec<String> = record
        .iter()
        .map(|column| String::from_utf8_lossy(column).into_owned())
        .collect();
    if let Some(column) = columns.iter().find(|column| kind.is_output_column(column)) {
        let column = column.trim().to_owned();
        return Err(ListError::ReservedColumn { column, kind });
    }
    let field_columns = field_columns(&columns)?;
    let has = |field: Field| field_columns[field.index()].is_some();
    let missing: Vec<&'static str> = match kind {
        // Rows without coordinates are found from their text (`assign/text.rs`).
        ListKind::Assign if TEXT_FIELDS.into_iter().any(has) => Vec::new(),
        ListKind::Assign => [Field::Lat, Field::Lon]
            .into_iter()
            .filter(|&field| !has(field))
            .map(Field::name)
            .collect(),
        ListKind::Convert => {
            let text = [
                Field::Address,
                Field::Ward,
                Field::District,
                Field::Province,
            ];
            if text.into_iter().any(has) {
                Vec::new()
            } else {
                vec![Field::Address.name()]
            }
        }
    };
    if !missing.is_empty() {
        return Err(ListError::MissingColumn { columns: missing });
    }
    Ok(CsvHeader {
        columns,
        separator,
        field_columns,
    })
}

/// For each known field, the column it is read from; two columns with one name, or naming
/// one field, refuse the list.
fn field_columns(columns: &[String]) -> Result<[Option<usize>; FIELD_COUNT], ListError> {
    let mut by_field = [None; FIELD_COUNT];
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (index, column) in columns.iter().enumerate() {
        let duplicate = |first: usize, meaning: &str| ListError::DuplicateColumn {
            column: column.trim().to_owned(),
            first: columns.get(first).map_or("", |name| name.trim()).to_owned(),
            meaning: meaning.to_owned(),
        };
        let name = normalized_name(column);
        if !name.is_empty()
            && let Some(&first) = by_name.get(&name)
        {
            return Err(duplicate(first, &name));
        }
        if let Some(field) = Field::from_name(column) {
            if let Some(first) = by_field[field.index()] {
                return Err(duplicate(first, field.name()));
            }
            by_field[field.index()] = Some(index);
        }
        by_name.insert(name, index);
    }
    Ok(by_field)
}

/// A `column_count` error of a row with more fields than the header keeps those fields, as
/// CSV, in its message.
fn with_surplus(
    mut error: ReadError,
    record: &ByteRecord,
    header_width: usize,
    separator: u8,
) -> ReadError {
    if error.code != RowErrorCode::ColumnCount || record.len() <= header_width {
        return error;
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(separator)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let surplus = record
        .iter()
        .skip(header_width)
        .map(String::from_utf8_lossy);
    let written = writer
        .write_record(surplus.map(|field| field.into_owned()))
        .ok()
        .and_then(|()| writer.into_inner().ok());
    if let Some(bytes) = written {
        let text = String::from_utf8_lossy(&bytes);
        error.message = format!(
            "{}; the fields past the header: {}",
            error.message,
            text.trim_end_matches('\n')
        );
    }
    error
}

/// A `cell_too_large` error naming the first cell of `record` over the cell limit.
fn oversized_cell(
    record: &ByteRecord,
    columns: &[String],
    limits: ReadLimits,
    row_number: u64,
) -> Option<ReadError> {
    let (index, cell) = record
        .iter()
        .enumerate()
        .find(|(_, cell)| cell.len() > limits.max_cell_bytes)?;
    let column = columns
        .get(index)
        .map_or_else(|| format!("{}", index + 1), |name| format!("{name:?}"));
    let line = record
        .position()
        .map(|position| format!(" (line {})", position.line()))
        .unwrap_or_default();
    Some(ReadError {
        code: RowErrorCode::CellTooLarge,
        message: format!(
            "row {row_number}{line}, column {column}: {} bytes, at most {} per cell",
            cell.len(),
            limits.max_cell_bytes
        ),
    })
}

pub(super) fn csv_fields(
    record: &ByteRecord,
    header_width: usize,
    field_columns: &[Option<usize>; FIELD_COUNT],
    row_number: u64,
) -> Result<RowFields, ReadError> {
    let line = record
        .position()
        .map(|position| format!(" (line {})", position.line()))
        .unwrap_or_default();
    if record.len() != header_width {
        return Err(ReadError {
            code: RowErrorCode::ColumnCount,
            message: format!(
                "row {row_number}{line} has {} fields, the header has {header_width}",
                record.len()
            ),
        });
    }
    for (column, bytes) in record.iter().enumerate() {
        if let Err(error) = std::str::from_utf8(bytes) {
            return Err(ReadError {
                code: RowErrorCode::InvalidUtf8,
                message: format!(
                    "row {row_number}{line}, column {}: not valid UTF-8 after {} bytes",
                    column + 1,
                    error.valid_up_to()
                ),
            });
        }
    }
    let mut fields = RowFields::default();
    for (field_index, column) in field_columns.iter().enumerate() {
        let (Some(column), Some(field)) = (column, FIELD_ORDER.get(field_index)) else {
            continue;
        };
        let text = record
            .get(*column)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(clean_text);
        *fields.slot(*field) = text;
    }
    Ok(fields)
}

/// The fields in `Field::index` order.
pub(super) const FIELD_ORDER: [Field; FIELD_COUNT] = [
    Field::Id,
    Field::Lat,
    Field::Lon,
    Field::HouseNumber,
    Field::Alley,
    Field::Street,
    Field::Unit,
    Field::Ward,
    Field::District,
    Field::Province,
    Field::Address,
];

pub(super) fn detect_separator(header_line: &[u8]) -> u8 {
    let mut in_quotes = false;
    let (mut commas, mut semicolons) = (0_usize, 0_usize);
    for &byte in header_line {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => commas += 1,
            b';' if !in_quotes => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::super::{Format, read_rows_with};
    use super::*;

    #[test]
    fn a_row_over_the_limit_is_never_held_whole() {
        let limits = ReadLimits {
            max_cell_bytes: 1024,
            max_row_bytes: 64 * 1024,
        };
        let mut input = b"id,lat,lon,note\na,1,2,".to_vec();
        input.extend(std::iter::repeat_n(b'x', 8 * 1024 * 1024));
        input.extend_from_slice(b"\nb,1,2,ok\n");
        let mut rows = read_rows_with(Format::Csv, io::Cursor::new(input), limits).expect("header");
        let first = rows.next().expect("a row").expect("reads");
        assert_eq!(
            first.fields.expect_err("too large").code,
            RowErrorCode::RowTooLarge
        );
        let super::super::Rows::Csv(csv_rows) = &rows.rows else {
            panic!("CSV rows");
        };
        assert!(csv_rows.parser.fields.len() <= limits.max_row_bytes + 1);
        let second = rows.next().expect("a row").expect("reads");
        assert_eq!(second.fields.expect("fine").id.as_deref(), Some("b"));
        assert!(rows.next().is_none());
    }
}
