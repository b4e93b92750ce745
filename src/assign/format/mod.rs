//! Streaming readers and writers for the three list formats of bulk assignment: CSV, a JSON
//! array of objects, and NDJSON (one object per line).
//!
//! Rows are read one at a time from any [`Read`] and written one at a time to any [`Write`], so
//! a list of a million rows never sits in memory; only the current row does, and no more of it
//! than [`ReadLimits`] allow. The writer answers in the format it was given, row for row: the
//! input row untouched plus the [`OUTPUT_COLUMNS`].
//!
//! Decisions:
//! - Every column is held to [`ReadLimits`], not only the known fields: a cell over
//!   `max_cell_bytes` makes the row a `cell_too_large` error row, answered with that cell
//!   emptied (JSON: `null`) and the rest carried through; a row over `max_row_bytes` is a
//!   `row_too_large` error row, read to its end without being kept, answered without its
//!   input columns. Either way the next row is read as usual. A CSV header over the row limit
//!   refuses the list ([`ListError`]). A JSON cell is the value of one key (an array or object
//!   counted as its JSON text).
//! - Column names and JSON keys match the known fields after trimming, ignoring ASCII case and
//!   treating `' '` and `'-'` as `'_'` (so `House Number` is `house_number`). Aliases: `latitude`
//!   for `lat`; `lng`, `long`, `longitude` for `lon`. Two CSV columns with one name by that
//!   rule, or naming one field (`lat` and `Latitude`), refuse the list
//!   ([`ListError::DuplicateColumn`], naming the later column) instead of one of them being
//!   picked silently; columns with no name (Excel's trailing empty ones) may repeat. Two JSON
//!   keys naming one field make the row an `invalid_field` error row.
//! - Field values are trimmed; empty text and JSON `null` mean absent. In JSON, strings and
//!   numbers are accepted (a number keeps its value: `12` → `"12"`); a boolean, array or object
//!   for a known field makes the row an `invalid_field` error row.
//! - The input may not have an output column of its own: overwriting it would lose the
//!   client's data without a word, and renaming it (`input_code`) would clash again when an
//!   answered list is sent back. CSV: a column whose name matches an output column by the rule
//!   above refuses the whole list ([`ListError::ReservedColumn`], 422 naming the column). JSON
//!   and NDJSON, which have no header: a row with a key spelled exactly like an output key (JSON
//!   clients read keys exactly; a `Code` key is carried through) is a `reserved_column` error
//!   row, answered with its other keys. Output columns are appended in [`OUTPUT_COLUMNS`] order.
//! - CSV formula injection: with [`WriterOptions::csv_safe`], every CSV cell (header included)
//!   starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`. Off by default: a list
//!   must come back cell for cell (round trips, `-` in negative numbers), and a client that
//!   opens the answer in a spreadsheet asks for it.
//! - Every format is UTF-8: a list starting with a UTF-16 byte-order mark (`FF FE`, `FE FF`,
//!   as Excel's "Unicode text" writes) is refused ([`ListError::Encoding`], code `encoding`)
//!   rather than read as garbage rows.
//! - CSV input: UTF-8 with or without a BOM; blank lines before the header and between rows are
//!   skipped; the separator is `;` when the header line has more `;` than `,` outside double
//!   quotes, else `,`. CSV output: the input's separator, no BOM, `\n` line ends, quotes only
//!   where needed; header = input columns as written + the appended output columns.
//! - A list is refused as a whole ([`ListError`]: the refusals above, and these) only for what
//!   its start shows, before any row is answered: [`ListPeeker`] judges it, for the reader and
//!   for the server's look before it answers alike. A CSV list needs a header naming `lat` and
//!   `lon`: an empty input, or a header without one of them, is refused (no row of it could be
//!   assigned). A header-only input answers with the header only.
//! - A list cut short ends with one abort record ([`RowWriter::write_abort`]) written like a
//!   row that could not be read — input columns empty (CSV), just the output keys (JSON) —
//!   with `status` `error` and `error_code` `stream_aborted`; the document is then closed as
//!   usual, so it parses, and its last record says that it is not the whole list.
//! - A CSV row with the wrong field count is a `column_count` error row; it is written padded
//!   with empty fields or cut to the header's width, so every output row lines up with the
//!   header, and the fields past the header are kept in its `error_message` (as CSV, with the
//!   list's separator), so nothing the row held is lost. A row with invalid UTF-8 is an
//!   `invalid_utf8` error row; the output, declared UTF-8, carries it with each invalid
//!   sequence replaced by U+FFFD (so does an invalid header).
//! - JSON input may start with a BOM. An element that does not parse is an `invalid_json` row,
//!   a non-object element a `not_an_object` row; reading goes on with the next element. A fault
//!   in the array itself (no leading `[`, an empty input, a missing or doubled `,`, a trailing
//!   `,`, truncation, data after the closing `]`) yields one last `invalid_json` row naming the
//!   byte offset, and the list ends there.
//! - JSON output re-serializes the input object: same keys, same order, same values (numbers
//!   by value, so `1.50` comes back as `1.5`). Rows that could not be parsed get an object with
//!   just the output keys. `distance_m` is a plain decimal with at most two decimals (`0`,
//!   `1.37`), a number in JSON; absent values are empty CSV fields or JSON `null`.

mod peek;
mod read_csv;
mod read_json;
mod write;
mod write_geojson;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use csv::ByteRecord;
use serde_json::{Map, Value};

pub use peek::{ListError, ListPeeker, ListStart, peek_list};
use read_csv::CsvRows;
use read_json::{JsonRows, NdjsonRows};
pub use write::{GEOJSON_CONTENT_TYPE, OutputText, RowWriter, WriterOptions, safe_cell};

pub use super::outcome::{RowErrorCode, RowOutcome, RowStatus};

/// The columns the writer adds to each row, in this order.
pub const OUTPUT_COLUMNS: [&str; 13] = [
    "code",
    "status",
    "postcode",
    "distance_m",
    "error_code",
    "error_message",
    "postcode_2025",
    "ward_2025",
    "province_2025",
    "warning",
    "match_level",
    "confidence",
    "matched_label",
];

/// Indexes of `distance_m` and `confidence` in [`OUTPUT_COLUMNS`]: the outputs written as
/// JSON numbers.
const ASSIGN_NUMBER_COLUMNS: [usize; 2] = [3, 11];

/// The columns `vmap convert` adds to each row, in this order.
pub const CONVERT_COLUMNS: [&str; 17] = [
    "status",
    "structure",
    "confidence",
    "province_2025",
    "ward_2025",
    "ward_2025_code",
    "postcode_2025",
    "address_2025",
    "method",
    "candidates_2025",
    "legacy_province",
    "legacy_district",
    "legacy_ward",
    "legacy_postcode",
    "error_code",
    "error_message",
    "warning",
];

/// Index of `confidence` in [`CONVERT_COLUMNS`]: written as a JSON number.
const CONVERT_NUMBER_COLUMNS: [usize; 1] = [2];

/// What a list is read for: which columns a CSV list needs, and which the answer adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListKind {
    /// `vmap assign`, `POST /v1/assign`: rows need `lat` and `lon`, or address text.
    #[default]
    Assign,
    /// `vmap convert`: rows need address text (`address`, or the unit columns); `lat` and
    /// `lon` are optional.
    Convert,
}

impl ListKind {
    /// The columns the answer adds, in order.
    pub fn output_columns(self) -> &'static [&'static str] {
        match self {
            ListKind::Assign => &OUTPUT_COLUMNS,
            ListKind::Convert => &CONVERT_COLUMNS,
        }
    }

    /// The columns a CSV list of this kind needs (for messages; a convert list may have
    /// unit columns instead of `address`).
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            ListKind::Assign => &["lat", "lon"],
            ListKind::Convert => &["address"],
        }
    }

    /// The output columns written as JSON numbers (their text already is one).
    fn number_columns(self) -> &'static [usize] {
        match self {
            ListKind::Assign => &ASSIGN_NUMBER_COLUMNS,
            ListKind::Convert => &CONVERT_NUMBER_COLUMNS,
        }
    }

    /// Whether `name` is one of the answer's columns by the CSV rule (trimmed, ASCII case
    /// and `' '`/`'-'` ignored).
    fn is_output_column(self, name: &str) -> bool {
        let name = normalized_name(name);
        self.output_columns().contains(&name.as_str())
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One of the three list formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
}

impl Format {
    /// From an HTTP Content-Type: text/csv (and application/csv) → Csv, application/json → Json,
    /// application/x-ndjson / application/ndjson / application/jsonl → Ndjson; parameters like
    /// `;charset=utf-8` ignored.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            "application/json" => Some(Format::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Some(Format::Ndjson)
            }
            _ => None,
        }
    }

    /// From a file extension: .csv, .json, .ndjson / .jsonl (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        Format::parse_name(path.extension()?.to_str()?)
    }

    /// The Content-Type vmap answers with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// For --format on the CLI: "csv" | "json" | "ndjson" (also "jsonl"), case-insensitive.
    pub fn parse_name(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// The canonical name, as accepted by [`Format::parse_name`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The known fields of a row, as text (trimmed; empty → None).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowFields {
    pub id: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    pub ward: Option<String>,
    pub district: Option<String>,
    pub province: Option<String>,
    pub address: Option<String>,
}

/// A row that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// `invalid_json`, `not_an_object`, `invalid_field`, `column_count`, `invalid_utf8` or
    /// `invalid_csv`.
    pub code: RowErrorCode,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code, self.message)
    }
}

/// One row as read: its position, its fields, and what is needed to write it back.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRow {
    /// 1-based data row number (CSV: the header is not counted; JSON: element index + 1;
    /// NDJSON: non-blank line index + 1).
    pub row_number: u64,
    /// `Err` when the row could not be read; the writer still writes a row for it.
    pub fields: Result<RowFields, ReadError>,
    /// The original record, for pass-through.
    original: Original,
}

impl InputRow {
    /// A row with no original record, e.g. for tests of code that consumes rows. The writer
    /// gives it empty input columns (CSV) or just the output keys (JSON).
    pub fn new(row_number: u64, fields: Result<RowFields, ReadError>) -> InputRow {
        InputRow {
            row_number,
            fields,
            original: Original::Absent,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Original {
    /// The row could not be parsed (or was built by [`InputRow::new`]).
    Absent,
    Csv(ByteRecord),
    Json(Map<String, Value>),
}

/// A failure that ends the whole list. Bad rows are rows, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("reading or writing the list failed: {0}")]
    Io(#[from] io::Error),
    #[error("CSV failure: {0}")]
    Csv(csv::Error),
    /// The list is refused before any row is answered.
    #[error(transparent)]
    List(#[from] ListError),
}

/// Byte limits of one row, applied to every column, carried-through ones included, while
/// the row is read: a row over them fails alone and is never held whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest cell (CSV field, or JSON value of one key), bytes.
    pub max_cell_bytes: usize,
    /// Longest row (CSV record, JSON element, NDJSON line) as read, bytes.
    pub max_row_bytes: usize,
}

impl ReadLimits {
    pub const DEFAULT: ReadLimits = ReadLimits {
        max_cell_bytes: 64 * 1024,
        max_row_bytes: 1024 * 1024,
    };
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits::DEFAULT
    }
}

impl From<csv::Error> for FormatError {
    fn from(error: csv::Error) -> FormatError {
        if !error.is_io_error() {
            return FormatError::Csv(error);
        }
        match error.into_kind() {
            csv::ErrorKind::Io(io_error) => FormatError::Io(io_error),
            // is_io_error() said this is I/O; keep the text should csv ever disagree.
            other => FormatError::Io(io::Error::other(format!("{other:?}"))),
        }
    }
}

/// The CSV header as the reader found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvHeader {
    columns: Vec<String>,
    separator: u8,
    /// For each known field, the column it is read from.
    field_columns: [Option<usize>; FIELD_COUNT],
}

impl CsvHeader {
    /// The column names as written (BOM stripped, invalid UTF-8 replaced by U+FFFD).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// `b','` or `b';'`.
    pub fn separator(&self) -> u8 {
        self.separator
    }
}

// ---------------------------------------------------------------------------------------------
// Known fields

const FIELD_COUNT: usize = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Lat,
    Lon,
    HouseNumber,
    Alley,
    Street,
    Unit,
    Ward,
    District,
    Province,
    Address,
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        match normalized_name(name).as_str() {
            "id" => Some(Field::Id),
            "lat" | "latitude" => Some(Field::Lat),
            "lon" | "lng" | "long" | "longitude" => Some(Field::Lon),
            "house_number" => Some(Field::HouseNumber),
            "alley" => Some(Field::Alley),
            "street" => Some(Field::Street),
            "unit" => Some(Field::Unit),
            "ward" => Some(Field::Ward),
            "district" => Some(Field::District),
            "province" => Some(Field::Province),
            "address" => Some(Field::Address),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The field's own name.
    fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Lat => "lat",
            Field::Lon => "lon",
            Field::HouseNumber => "house_number",
            Field::Alley => "alley",
            Field::Street => "street",
            Field::Unit => "unit",
            Field::Ward => "ward",
            Field::District => "district",
            Field::Province => "province",
            Field::Address => "address",
        }
    }
}

impl RowFields {
    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Id => &mut self.id,
            Field::Lat => &mut self.lat,
            Field::Lon => &mut self.lon,
            Field::HouseNumber => &mut self.house_number,
            Field::Alley => &mut self.alley,
            Field::Street => &mut self.street,
            Field::Unit => &mut self.unit,
            Field::Ward => &mut self.ward,
            Field::District => &mut self.district,
            Field::Province => &mut self.province,
            Field::Address => &mut self.address,
        }
    }
}

fn normalized_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|character| match character {
            ' ' | '-' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

fn clean_text(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02X}")
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

type BoxedInput<'a> = BufReader<Box<dyn Read + Send + 'a>>;

/// Streams rows out of `input`, with the default [`ReadLimits`]. The iterator yields `Err`
/// only for I/O failures of the reader (then stops). The list's start is judged here
/// ([`ListPeeker`]; a refused list is [`FormatError::List`]), and the CSV header read, so the
/// writer can be set up before any row.
pub fn read_rows<'a>(
    format: Format,
    input: impl Read + Send + 'a,
) -> Result<RowReader<'a>, FormatError> {
    read_rows_with(format, input, ReadLimits::DEFAULT)
}

/// [`read_rows`] with these limits.
pub fn read_rows_with<'a>(
    format: Format,
    input: impl Read + Send + 'a,
    limits: ReadLimits,
) -> Result<RowReader<'a>, FormatError> {
    read_list(ListKind::Assign, format, input, limits)
}

/// [`read_rows_with`] for a list of this kind.
pub fn read_list<'a>(
    kind: ListKind,
    format: Format,
    input: impl Read + Send + 'a,
    limits: ReadLimits,
) -> Result<RowReader<'a>, FormatError> {
    let boxed: Box<dyn Read + Send + 'a> = Box::new(input);
    let mut input = BufReader::new(boxed);
    let mut peeker = ListPeeker::for_kind(kind, format, limits);
    let header = peeker.read_from(&mut input)??;
    // The rows go on from what the peeker took and did not use.
    let (rest, parser) = peeker.into_rest();
    let chained: Box<dyn Read + Send + 'a> = Box::new(io::Cursor::new(rest).chain(input));
    let input = BufReader::new(chained);
    let rows = match (format, header, parser) {
        (Format::Csv, Some(header), Some(parser)) => {
            Rows::Csv(Box::new(CsvRows::new(input, parser, header, limits)))
        }
        (Format::Json, ..) => Rows::Json(JsonRows::new(input, kind, limits)),
        (Format::Ndjson, ..) => Rows::Ndjson(NdjsonRows::new(input, kind, limits)),
        // The peeker accepts a CSV list only with its header, read by its parser.
        (Format::Csv, ..) => {
            return Err(io::Error::other("the CSV header was accepted without being read").into());
        }
    };
    Ok(RowReader { rows, done: false })
}

/// The rows of one list; see [`read_rows`].
pub struct RowReader<'a> {
    rows: Rows<'a>,
    done: bool,
}

enum Rows<'a> {
    Csv(Box<CsvRows<'a>>),
    Json(JsonRows<'a>),
    Ndjson(NdjsonRows<'a>),
}

impl RowReader<'_> {
    /// The CSV header (None for the JSON formats), needed by the writer.
    pub fn csv_header(&self) -> Option<&CsvHeader> {
        match &self.rows {
            Rows::Csv(rows) => Some(&rows.header),
            Rows::Json(_) | Rows::Ndjson(_) => None,
        }
    }

    pub fn format(&self) -> Format {
        match &self.rows {
            Rows::Csv(_) => Format::Csv,
            Rows::Json(_) => Format::Json,
            Rows::Ndjson(_) => Format::Ndjson,
        }
    }
}

impl fmt::Debug for RowReader<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RowReader")
            .field("format", &self.format())
            .field("csv_header", &self.csv_header())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Iterator for RowReader<'_> {
    type Item = Result<InputRow, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match &mut self.rows {
            Rows::Csv(rows) => rows.next_row().map_err(FormatError::from),
            Rows::Json(rows) => rows.next_row().map_err(FormatError::from),
            Rows::Ndjson(rows) => rows.next_row().map_err(FormatError::from),
        };
        match next {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

fn fill_buffer(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        match input.fill_buf() {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests;
