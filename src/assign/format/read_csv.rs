//! CSV rows: the header line, its separator and BOM, then one record at a time.

use csv::ByteRecord;
use std::io::{self, BufRead, Read};

use super::{
    BoxedInput, CsvHeader, CsvHeaderPeek, FIELD_COUNT, Field, FormatError, InputRow,
    MAX_HEADER_SCAN_BYTES, Original, ReadError, RowErrorCode, RowFields, UTF8_BOM, clean_text,
    fill_buffer,
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
            Some(CsvHeader {
                columns: header_columns(&record),
                separator,
            })
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

/// Finds the header line, fed the input a part at a time: the first non-blank line, whose
/// end is a line end outside double quotes. The one rule for the reader and for the server's
/// look at the header before it answers.
#[derive(Debug, Default)]
pub(super) struct HeaderScan {
    /// Bytes fed so far.
    scanned: usize,
    /// Where the current line starts.
    line_start: usize,
    in_quotes: bool,
}

impl HeaderScan {
    /// Scans the next part of the input; returns the header line's range once its end is in
    /// `part` (offsets from the start of the input, the end not included).
    pub(super) fn feed(&mut self, part: &[u8]) -> Option<std::ops::Range<usize>> {
        for (offset, &byte) in part.iter().enumerate() {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\r' | b'\n' if !self.in_quotes => {
                    let line_end = self.scanned + offset;
                    if line_end > self.line_start {
                        self.scanned = line_end;
                        return Some(self.line_start..line_end);
                    }
                    self.line_start = line_end + 1;
                }
                _ => {}
            }
        }
        self.scanned += part.len();
        None
    }

    /// The header line when the input ends before a line end: what follows the blank lines.
    pub(super) fn at_end(&self) -> std::ops::Range<usize> {
        self.line_start.min(self.scanned)..self.scanned
    }
}

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
    let mut scan = HeaderScan::default();
    // A partial BOM is content: scan it too.
    let mut header = scan.feed(&read_ahead);
    while header.is_none() && read_ahead.len() < MAX_HEADER_SCAN_BYTES {
        fill_buffer(input)?;
        let chunk = input.buffer();
        if chunk.is_empty() {
            break;
        }
        header = scan.feed(chunk);
        let taken = match &header {
            Some(line) => line.end - read_ahead.len(),
            None => chunk.len(),
        };
        read_ahead.extend_from_slice(&chunk[..taken]);
        input.consume(taken);
    }
    let header = header.unwrap_or_else(|| scan.at_end());
    Ok((read_ahead, header))
}

/// Looks at the first bytes of a CSV list, as they come, for the header the reader will
/// find: the same BOM, blank-line, quote and separator rules, on the same bytes.
#[derive(Debug, Default)]
pub struct CsvHeaderPeeker {
    bytes: Vec<u8>,
    /// Where the content starts (after a BOM), once enough bytes came to tell.
    content_start: Option<usize>,
    scan: HeaderScan,
    /// The header line, once its end came.
    line: Option<std::ops::Range<usize>>,
    /// How many bytes there were at the last parse that found the record still open: the
    /// next parse waits until they have doubled, so that a header that never closes costs
    /// linear time however it is cut up.
    parsed_at: usize,
}

impl CsvHeaderPeeker {
    pub fn new() -> CsvHeaderPeeker {
        CsvHeaderPeeker::default()
    }

    /// The bytes pushed so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Takes the next part of the input; says whether the header is known yet.
    pub fn push(&mut self, part: &[u8]) -> CsvHeaderPeek {
        self.bytes.extend_from_slice(part);
        if self.content_start.is_none() {
            let known = UTF8_BOM.len().min(self.bytes.len());
            if self.bytes[..known] == UTF8_BOM[..known] && known < UTF8_BOM.len() {
                // The first bytes of a BOM: the rest decides whether it is one.
                return CsvHeaderPeek::NeedMore;
            }
            let start = if self.bytes.starts_with(UTF8_BOM) {
                UTF8_BOM.len()
            } else {
                0
            };
            self.content_start = Some(start);
            self.line = self.scan.feed(&self.bytes[start..]);
        } else if self.line.is_none() {
            self.line = self.scan.feed(part);
        }
        if self.line.is_none() || self.bytes.len() < 2 * self.parsed_at {
            return CsvHeaderPeek::NeedMore;
        }
        match self.parse(false) {
            CsvHeaderPeek::NeedMore => {
                self.parsed_at = self.bytes.len();
                CsvHeaderPeek::NeedMore
            }
            known => known,
        }
    }

    /// The input ended: the header is what the bytes hold, if anything.
    pub fn finish(&mut self) -> CsvHeaderPeek {
        if self.content_start.is_none() {
            let start = if self.bytes.starts_with(UTF8_BOM) {
                UTF8_BOM.len()
            } else {
                0
            };
            self.content_start = Some(start);
            self.line = self.scan.feed(&self.bytes[start..]);
        }
        if self.line.is_none() {
            self.line = Some(self.scan.at_end());
        }
        self.parse(true)
    }

    /// Gives back every byte pushed, for the reader to read from the start.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn parse(&self, complete: bool) -> CsvHeaderPeek {
        let (Some(start), Some(line)) = (self.content_start, self.line.clone()) else {
            return CsvHeaderPeek::NeedMore;
        };
        let content = self.bytes.get(start..).unwrap_or_default();
        let separator = detect_separator(content.get(line.clone()).unwrap_or_default());
        let from_line = content.get(line.start..).unwrap_or_default();
        // Before the input ends, a byte is put after what came: a record it joins was still
        // open (a quoted field going on past the line end), and more input could change it.
        let sentinel: &[u8] = if complete { b"" } else { b"\0" };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .from_reader(from_line.chain(sentinel));
        let mut record = ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) if !complete && reader.position().byte() > from_line.len() as u64 => {
                CsvHeaderPeek::NeedMore
            }
            Ok(true) => CsvHeaderPeek::Header(CsvHeader {
                columns: header_columns(&record),
                separator,
            }),
            Ok(false) if complete => CsvHeaderPeek::NoHeader,
            // Reading bytes in memory does not fail; more input decides.
            Ok(false) | Err(_) => CsvHeaderPeek::NeedMore,
        }
    }
}

pub(super) fn header_columns(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|column| String::from_utf8_lossy(column).into_owned())
        .collect()
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
