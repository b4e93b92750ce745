//! CSV rows: the header line, its separator and BOM, then one record at a time.

use csv::ByteRecord;
use std::io::{self, BufRead, Read};

use super::{
    BoxedInput, CsvHeader, FIELD_COUNT, Field, FormatError, InputRow, MAX_HEADER_SCAN_BYTES,
    Original, ReadError, RowErrorCode, RowFields, UTF8_BOM, clean_text, fill_buffer,
};

pub(super) struct CsvRows<'a> {
    reader: csv::Reader<io::Chain<io::Cursor<Vec<u8>>, BoxedInput<'a>>>,
    pub(super) header: Option<CsvHeader>,
    /// For each known field, the column it is read from.
    field_columns: [Option<usize>; FIELD_COUNT],
    record: ByteRecord,
    row_number: u64,
    /// Set after a fault the csv reader cannot continue from.
    stopped: bool,
}

impl<'a> CsvRows<'a> {
    pub(super) fn new(mut input: BoxedInput<'a>) -> Result<CsvRows<'a>, FormatError> {
        // The separator must be known before the csv reader starts, so the header line is read
        // ahead and handed back to the csv reader in front of the rest of the input.
        let (read_ahead, header_line) = read_header_line(&mut input)?;
        let separator = detect_separator(read_ahead.get(header_line).unwrap_or_default());
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .from_reader(io::Cursor::new(read_ahead).chain(input));
        let mut record = ByteRecord::new();
        let header = if reader.read_byte_record(&mut record)? {
            let columns = record
                .iter()
                .map(|column| String::from_utf8_lossy(column).into_owned())
                .collect();
            Some(CsvHeader { columns, separator })
        } else {
            None
        };
        let mut field_columns = [None; FIELD_COUNT];
        for (index, column) in header
            .iter()
            .flat_map(|header| header.columns.iter())
            .enumerate()
        {
            if let Some(field) = Field::from_name(column) {
                field_columns[field.index()].get_or_insert(index);
            }
        }
        Ok(CsvRows {
            reader,
            header,
            field_columns,
            record,
            row_number: 0,
            stopped: false,
        })
    }

    pub(super) fn next_row(&mut self) -> Result<Option<InputRow>, FormatError> {
        let Some(header) = self.header.as_ref().filter(|_| !self.stopped) else {
            return Ok(None);
        };
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(error) if error.is_io_error() => return Err(error.into()),
            Err(error) => {
                // Not reachable with flexible byte records, but if csv ever reports a fault its
                // position is unreliable: report it as a row and stop rather than loop on it.
                self.stopped = true;
                return Ok(Some(InputRow {
                    row_number: self.row_number + 1,
                    fields: Err(ReadError {
                        code: RowErrorCode::InvalidCsv,
                        message: format!("the CSV cannot be read past this point: {error}"),
                    }),
                    original: Original::Absent,
                }));
            }
        }
        self.row_number += 1;
        let fields = csv_fields(
            &self.record,
            header.columns.len(),
            &self.field_columns,
            self.row_number,
        );
        Ok(Some(InputRow {
            row_number: self.row_number,
            fields,
            original: Original::Csv(self.record.clone()),
        }))
    }
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

/// Reads up to the end of the first non-blank line (a line end inside double quotes does not
/// count). Returns everything read, BOM removed, and where the header line lies in it.
pub(super) fn read_header_line(
    input: &mut BoxedInput<'_>,
) -> io::Result<(Vec<u8>, std::ops::Range<usize>)> {
    let bom_bytes_read = skip_utf8_bom(input)?;
    let mut read_ahead = if bom_bytes_read < UTF8_BOM.len() {
        UTF8_BOM[..bom_bytes_read].to_vec()
    } else {
        Vec::new()
    };
    let mut line_start = 0;
    let mut in_quotes = false;
    let mut header_end = None;
    while header_end.is_none() && read_ahead.len() < MAX_HEADER_SCAN_BYTES {
        fill_buffer(input)?;
        let chunk = input.buffer();
        if chunk.is_empty() {
            break;
        }
        let mut taken = chunk.len();
        for (offset, &byte) in chunk.iter().enumerate() {
            match byte {
                b'"' => in_quotes = !in_quotes,
                b'\r' | b'\n' if !in_quotes => {
                    let line_end = read_ahead.len() + offset;
                    if line_end > line_start {
                        header_end = Some(line_end);
                        taken = offset;
                        break;
                    }
                    line_start = line_end + 1;
                }
                _ => {}
            }
        }
        read_ahead.extend_from_slice(&chunk[..taken]);
        input.consume(taken);
    }
    let header_end = header_end.unwrap_or(read_ahead.len());
    Ok((read_ahead, line_start.min(header_end)..header_end))
}

/// Consumes a leading UTF-8 BOM. Returns how many bytes of it were there: fewer than three
/// means the input does not start with a BOM and those bytes are content.
pub(super) fn skip_utf8_bom(input: &mut BoxedInput<'_>) -> io::Result<usize> {
    for (matched, &expected) in UTF8_BOM.iter().enumerate() {
        fill_buffer(input)?;
        if input.buffer().first() != Some(&expected) {
            return Ok(matched);
        }
        input.consume(1);
    }
    Ok(UTF8_BOM.len())
}

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
