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

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use csv::ByteRecord;
use serde_json::{Map, Value};

pub use peek::{ListPeeker, ListStart, peek_list};
use read_csv::CsvRows;
use read_json::{JsonRows, NdjsonRows};
pub use write::{RowWriter, WriterOptions};

pub use super::outcome::{RowErrorCode, RowOutcome, RowStatus};

/// The columns the writer adds to each row, in this order.
pub const OUTPUT_COLUMNS: [&str; 6] = [
    "code",
    "status",
    "postcode",
    "distance_m",
    "error_code",
    "error_message",
];

/// Index of `distance_m` in [`OUTPUT_COLUMNS`]: the one output written as a JSON number.
const DISTANCE_COLUMN: usize = 3;

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

/// Why a whole list is refused, from its start, before any row is answered (the API answers
/// 422, `vmap assign` fails before it makes its output file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    #[error("the CSV header is larger than {limit} bytes")]
    HeaderTooLarge { limit: usize },
    #[error(
        "the list has a column {column:?}, which the answer adds (code, status, postcode, \
         distance_m, error_code, error_message); rename or remove it"
    )]
    ReservedColumn { column: String },
    #[error("the columns {first:?} and {column:?} both name {meaning:?}; keep one or rename it")]
    DuplicateColumn {
        column: String,
        first: String,
        meaning: String,
    },
    #[error("the list is {encoding} (it starts with that byte-order mark); send it as UTF-8")]
    Encoding { encoding: &'static str },
    /// The CSV header names no `lat` or no `lon` column (`columns`: which, in that order).
    #[error("the CSV header has no {} column: {}", columns.join(" or "), needs(columns))]
    MissingColumn { columns: Vec<&'static str> },
    /// The CSV list is empty: no header line at all.
    #[error("the list has no header line: {}", needs(&["lat", "lon"]))]
    NoHeader,
}

impl ListError {
    /// Machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            ListError::HeaderTooLarge { .. } => "header_too_large",
            ListError::ReservedColumn { .. } => "reserved_column",
            ListError::DuplicateColumn { .. } => "duplicate_column",
            ListError::Encoding { .. } => "encoding",
            ListError::MissingColumn { .. } | ListError::NoHeader => "missing_column",
        }
    }

    /// What the refusal names, each with what it says of it: a column's name, `header` or
    /// `body`; a missing `lat` and `lon` are named apart.
    pub fn fields(&self) -> Vec<(String, String)> {
        let missing = |columns: &[&'static str], what: &str| {
            columns
                .iter()
                .map(|&column| (column.to_owned(), format!("{what}: {}", needs(&[column]))))
                .collect()
        };
        match self {
            ListError::HeaderTooLarge { .. } => vec![("header".to_owned(), self.to_string())],
            ListError::ReservedColumn { column } | ListError::DuplicateColumn { column, .. } => {
                vec![(column.clone(), self.to_string())]
            }
            ListError::Encoding { .. } => vec![("body".to_owned(), self.to_string())],
            ListError::MissingColumn { columns } => {
                missing(columns, "the CSV header has no such column")
            }
            ListError::NoHeader => missing(&["lat", "lon"], "the list has no header line"),
        }
    }
}

/// What a CSV list needs of these coordinate columns, with the names each may have.
fn needs(columns: &[&str]) -> String {
    let named: Vec<&str> = columns
        .iter()
        .map(|&column| match column {
            "lat" => "a lat or latitude column",
            _ => "a lon, lng, long or longitude column",
        })
        .collect();
    format!("a CSV list needs {}", named.join(" and "))
}

/// Whether `name` is an output column by the CSV rule (trimmed, ASCII case and `' '`/`'-'`
/// ignored).
fn is_output_column(name: &str) -> bool {
    OUTPUT_COLUMNS.contains(&normalized_name(name).as_str())
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
    let boxed: Box<dyn Read + Send + 'a> = Box::new(input);
    let mut input = BufReader::new(boxed);
    let mut peeker = ListPeeker::new(format, limits);
    let header = peeker.read_from(&mut input)??;
    // The rows go on from what the peeker took and did not use.
    let (rest, parser) = peeker.into_rest();
    let chained: Box<dyn Read + Send + 'a> = Box::new(io::Cursor::new(rest).chain(input));
    let input = BufReader::new(chained);
    let rows = match (format, header, parser) {
        (Format::Csv, Some(header), Some(parser)) => {
            Rows::Csv(Box::new(CsvRows::new(input, parser, header, limits)))
        }
        (Format::Json, ..) => Rows::Json(JsonRows::new(input, limits)),
        (Format::Ndjson, ..) => Rows::Ndjson(NdjsonRows::new(input, limits)),
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
mod tests {
    use super::read_csv::{FIELD_ORDER, detect_separator};
    use super::write::{Target, distance_text};
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

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

    #[test]
    fn csv_round_trip_byte_for_byte() {
        let input = "id,lat,lon,street,note\n\
                     a1,10.762622,106.660172,Nguyễn Trãi,\"x, y\"\n\
                     a2, 21.0285 ,105.8542,,\n";
        let (header, rows) = read_all(Format::Csv, input.as_bytes());
        let header = header.expect("header");
        assert_eq!(header.columns(), ["id", "lat", "lon", "street", "note"]);
        assert_eq!(header.separator(), b',');
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row_number, 1);
        assert_eq!(
            fields(&rows[0]),
            &RowFields {
                id: text("a1"),
                lat: text("10.762622"),
                lon: text("106.660172"),
                street: text("Nguyễn Trãi"),
                ..RowFields::default()
            }
        );
        assert_eq!(fields(&rows[1]).lat, text("21.0285"));
        assert_eq!(fields(&rows[1]).street, None);

        let mut writer = RowWriter::new(Format::Csv, Some(&header), Vec::new()).expect("writer");
        writer
            .write_row(&rows[0], &created("700000000001", 1.374))
            .expect("write");
        let error = RowOutcome {
            status: RowStatus::Error,
            error_code: Some(RowErrorCode::OutsideCoverage),
            error_message: text("no zone within 50 km; \"far\""),
            ..RowOutcome::default()
        };
        writer.write_row(&rows[1], &error).expect("write");
        let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
        assert_eq!(
            output,
            "id,lat,lon,street,note,code,status,postcode,distance_m,error_code,error_message\n\
             a1,10.762622,106.660172,Nguyễn Trãi,\"x, y\",700000000001,created,70000,1.37,,\n\
             a2, 21.0285 ,105.8542,,,,error,,,outside_coverage,\"no zone within 50 km; \"\"far\"\"\"\n"
        );
    }

    #[test]
    fn csv_excel_style_bom_semicolon_vietnamese() {
        let input = "\u{FEFF}ID;Latitude;LNG;Street;Ghi chú\r\n\
                     1;10,7626;106,6601;\"Nguyễn Trãi; Quận 5\r\nlầu 2\";\"ghi \"\"chú\"\"\"\r\n\
                     \r\n\
                     2;21,03;105,85;Phố Huế;\r\n";
        let (header, rows) = read_all(Format::Csv, input.as_bytes());
        let header = header.expect("header");
        assert_eq!(header.separator(), b';');
        assert_eq!(
            header.columns(),
            ["ID", "Latitude", "LNG", "Street", "Ghi chú"]
        );
        assert_eq!(rows.len(), 2, "the blank line is skipped");
        assert_eq!(
            fields(&rows[0]),
            &RowFields {
                id: text("1"),
                lat: text("10,7626"),
                lon: text("106,6601"),
                street: text("Nguyễn Trãi; Quận 5\r\nlầu 2"),
                ..RowFields::default()
            }
        );
        assert_eq!(rows[1].row_number, 2);
        assert_eq!(fields(&rows[1]).street, text("Phố Huế"));

        let output = round_trip(Format::Csv, input.as_bytes());
        assert_eq!(
            output,
            "ID;Latitude;LNG;Street;Ghi chú;code;status;postcode;distance_m;error_code;error_message\n\
             1;10,7626;106,6601;\"Nguyễn Trãi; Quận 5\r\nlầu 2\";\"ghi \"\"chú\"\"\";700000000000;created;70000;0;;\n\
             2;21,03;105,85;Phố Huế;;700000000000;created;70000;0;;\n"
        );
    }

    #[test]
    fn csv_separator_detection() {
        assert_eq!(detect_separator(b"a;b;c"), b';');
        assert_eq!(detect_separator(b"a,b;c"), b',');
        assert_eq!(detect_separator(b"\"a;b;c\",d"), b',');
        assert_eq!(detect_separator(b"abc"), b',');
        let (header, _) = read_all(Format::Csv, b"\n\r\n lat ; lon \n1;2\n");
        let header = header.expect("header after blank lines");
        assert_eq!(header.separator(), b';');
        assert_eq!(header.columns(), [" lat ", " lon "]);
    }

    #[test]
    fn header_aliases_case_and_spaces() {
        let input = " LATITUDE ,Longitude,House Number,ALLEY,Unit,ward,District,PROVINCE,Address,Id\n\
                     10.1,106.2,12A,ngõ 5,P.301,Phường 1,Quận 3,TP HCM,\"12A ngõ 5\",x\n";
        let (_, rows) = read_all(Format::Csv, input.as_bytes());
        assert_eq!(
            fields(&rows[0]),
            &RowFields {
                id: text("x"),
                lat: text("10.1"),
                lon: text("106.2"),
                house_number: text("12A"),
                alley: text("ngõ 5"),
                street: None,
                unit: text("P.301"),
                ward: text("Phường 1"),
                district: text("Quận 3"),
                province: text("TP HCM"),
                address: text("12A ngõ 5"),
            }
        );
        for (column, value) in [
            ("lng", "1"),
            ("long", "2"),
            ("longitude", "3"),
            ("LON", "4"),
        ] {
            let input = format!("lat,{column}\n9,{value}\n");
            let (_, rows) = read_all(Format::Csv, input.as_bytes());
            assert_eq!(fields(&rows[0]).lon, text(value), "{column}");
        }
        let (_, rows) = read_all(
            Format::Json,
            br#"[{"Latitude": 10.5, " LNG ": "106.5", "house-number": 7}]"#,
        );
        assert_eq!(fields(&rows[0]).lat, text("10.5"));
        assert_eq!(fields(&rows[0]).lon, text("106.5"));
        assert_eq!(fields(&rows[0]).house_number, text("7"));
    }

    #[test]
    fn two_columns_naming_one_field_refuse_the_list() {
        for (header, later, meaning) in [
            ("lat,latitude,lon", "latitude", "lat"),
            ("id,note,lat,Note", "Note", "note"),
            ("lat,lon,Long", "Long", "lon"),
        ] {
            let input = format!("{header}\n1,2,3\n");
            let refused = read_rows(Format::Csv, input.as_bytes()).map(|_| ());
            let Err(FormatError::List(ListError::DuplicateColumn {
                column,
                meaning: what,
                ..
            })) = refused
            else {
                panic!("{header}: {refused:?}");
            };
            assert_eq!(
                (column.as_str(), what.as_str()),
                (later, meaning),
                "{header}"
            );
        }
        // Columns without a name, as Excel leaves at the end, may repeat.
        let (header, rows) = read_all(Format::Csv, b"lat,lon,,\n1,2,,\n");
        assert_eq!(header.expect("header").columns().len(), 4);
        assert_eq!(fields(&rows[0]).lon, text("2"));
        let (_, rows) = read_all(Format::Json, br#"[{"lat":null,"latitude":2},{"lat":1}]"#);
        assert_eq!(error_code(&rows[0]), "invalid_field");
        assert_eq!(fields(&rows[1]).lat, text("1"));
    }

    #[test]
    fn a_utf16_list_is_refused() {
        for format in [Format::Csv, Format::Json, Format::Ndjson] {
            for bom in [&b"\xFF\xFE"[..], b"\xFE\xFF"] {
                let mut input = bom.to_vec();
                input.extend_from_slice(b"l\0a\0t\0\n\0");
                let refused = read_rows(format, input.as_slice()).map(|_| ());
                assert!(
                    matches!(refused, Err(FormatError::List(ListError::Encoding { .. }))),
                    "{format}: {refused:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_columns_carried_through_in_position_and_order() {
        let input = "x,lat,Ý kiến,lon,z\n\" a \",1,\"b\nc\",2,\n";
        let output = round_trip(Format::Csv, input.as_bytes());
        assert_eq!(
            output,
            "x,lat,Ý kiến,lon,z,code,status,postcode,distance_m,error_code,error_message\n\
             \x20a ,1,\"b\nc\",2,,700000000000,created,70000,0,,\n"
        );
        let input = r#"[{"zeta":[1,{"b":null}],"lat":"1","alpha":"x","lon":2,"nested":{"y":true,"x":1.5}}]"#;
        let output = round_trip(Format::Json, input.as_bytes());
        assert_eq!(
            output,
            "[{\"zeta\":[1,{\"b\":null}],\"lat\":\"1\",\"alpha\":\"x\",\"lon\":2,\
             \"nested\":{\"y\":true,\"x\":1.5},\"code\":\"700000000000\",\"status\":\"created\",\
             \"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null}]\n"
        );
    }

    #[test]
    fn column_count_error_rows_keep_the_output_rectangular() {
        let input = "id,lat,lon\n1,2\n2,10,106\n3,10,106,extra\n";
        let (_, rows) = read_all(Format::Csv, input.as_bytes());
        assert_eq!(rows.len(), 3);
        assert_eq!(error_code(&rows[0]), "column_count");
        let message = &rows[0].fields.as_ref().expect_err("error").message;
        assert!(
            message.contains("row 1 (line 2) has 2 fields, the header has 3"),
            "{message}"
        );
        assert_eq!(fields(&rows[1]).id, text("2"));
        assert_eq!(error_code(&rows[2]), "column_count");
        assert_eq!(rows[2].row_number, 3);
        let output = round_trip(Format::Csv, input.as_bytes());
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(
            lines[1],
            "1,2,,,error,,,column_count,\"row 1 (line 2) has 2 fields, the header has 3\""
        );
        assert_eq!(lines[2], "2,10,106,700000000000,created,70000,0,,");
        // The fields past the header are kept, in the message.
        assert_eq!(
            lines[3],
            "3,10,106,,error,,,column_count,\"row 3 (line 4) has 4 fields, the header has 3; \
             the fields past the header: extra\""
        );
        let output = round_trip(Format::Csv, b"lat;lon\n1;2;\"x;y\";z\n");
        assert!(
            output.ends_with("fields past the header: \"\"x;y\"\";z\"\n"),
            "{output}"
        );
    }

    #[test]
    fn invalid_utf8_row_is_an_error_row() {
        let input = b"id,lat,lon,street\n1,10,2,Ph\xE1\n2,10,2,ok\n";
        let (_, rows) = read_all(Format::Csv, input);
        assert_eq!(rows.len(), 2);
        assert_eq!(error_code(&rows[0]), "invalid_utf8");
        assert_eq!(fields(&rows[1]).street, text("ok"));
        let output = round_trip(Format::Csv, input);
        assert!(
            output.contains("1,10,2,Ph\u{FFFD},,error,,,invalid_utf8,"),
            "{output}"
        );
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

    #[test]
    fn every_column_is_held_to_the_cell_and_row_limits() {
        let limits = ReadLimits {
            max_cell_bytes: 8,
            max_row_bytes: 40,
        };
        let long_note = "n".repeat(9);
        let huge_note = "h".repeat(100);
        let csv = format!(
            "id,lat,lon,note\na,1,2,ok\nb,1,2,{long_note}\nc,1,2,\"{huge_note}\"\nd,1,2,fine\n"
        );
        let rows = read_limited(Format::Csv, csv.as_bytes(), limits);
        let expected = [
            Ok("a"),
            Err("cell_too_large"),
            Err("row_too_large"),
            Ok("d"),
        ];
        assert_eq!(ids_or_error_codes(&rows), expected);
        let message = &rows[1].fields.as_ref().expect_err("error").message;
        assert!(
            message.contains("column \"note\": 9 bytes, at most 8"),
            "{message}"
        );
        let output = write_back(Format::Csv, csv.as_bytes(), limits);
        let lines: Vec<&str> = output.lines().collect();
        // The over-large cell is emptied, the rest of its row carried through; a row over
        // the row limit is answered without its input columns.
        assert!(lines[2].starts_with("b,1,2,,,error,"), "{}", lines[2]);
        assert!(lines[3].starts_with(",,,,,error,"), "{}", lines[3]);
        assert!(
            lines[4].starts_with("d,1,2,fine,700000000000,"),
            "{}",
            lines[4]
        );

        for format in [Format::Json, Format::Ndjson] {
            let objects = [
                r#"{"id":"a","lat":1}"#.to_owned(),
                format!(r#"{{"id":"b","note":"{long_note}"}}"#),
                format!(r#"{{"id":"c","note":["{huge_note}"]}}"#),
                r#"{"id":"d","lat":1}"#.to_owned(),
            ];
            let input = match format {
                Format::Json => format!("[{}]", objects.join(",")),
                _ => objects.join("\n"),
            };
            let rows = read_limited(format, input.as_bytes(), limits);
            assert_eq!(ids_or_error_codes(&rows), expected, "{format}");
            let output = write_back(format, input.as_bytes(), limits);
            assert!(
                output.contains(r#"{"id":"b","note":null,"code":null,"status":"error""#),
                "{format}: {output}"
            );
        }
    }

    #[test]
    fn json_numbers_and_strings() {
        let input = r#"[{"id": 7, "lat": 10.762622, "lon": "106.660172", "house_number": 12, "street": "  Lê Lợi  ", "ward": null, "unit": ""},
            {"id": "x7", "lat": -0.5, "lon": 1e2, "alley": 123456789012345678901234567890}]"#;
        let (header, rows) = read_all(Format::Json, input.as_bytes());
        assert_eq!(header, None);
        assert_eq!(
            fields(&rows[0]),
            &RowFields {
                id: text("7"),
                lat: text("10.762622"),
                lon: text("106.660172"),
                house_number: text("12"),
                street: text("Lê Lợi"),
                ..RowFields::default()
            }
        );
        assert_eq!(fields(&rows[1]).id, text("x7"));
        assert_eq!(fields(&rows[1]).lat, text("-0.5"));
        assert_eq!(fields(&rows[1]).lon, text("100.0"));
        assert_eq!(
            fields(&rows[1]).alley.as_deref().map(str::parse::<f64>),
            Some(Ok(1.2345678901234568e29))
        );
        let (_, rows) = read_all(Format::Json, br#"[{"lat": true}, {"street": ["a"]}]"#);
        assert_eq!(error_code(&rows[0]), "invalid_field");
        assert_eq!(error_code(&rows[1]), "invalid_field");
    }

    #[test]
    fn json_non_object_elements_are_error_rows() {
        let input = br#"[1, "x", null, [{"lat":1}], {"lat": 1}, {"a":}, {"lat": 2}]"#;
        let (_, rows) = read_all(Format::Json, input);
        let codes: Vec<Result<&RowFields, &str>> = rows
            .iter()
            .map(|row| row.fields.as_ref().map_err(|error| error.code.as_str()))
            .collect();
        assert_eq!(codes.len(), 7);
        assert_eq!(codes[..4], [Err("not_an_object"); 4]);
        assert_eq!(fields(&rows[4]).lat, text("1"));
        assert_eq!(codes[5], Err("invalid_json"));
        assert_eq!(fields(&rows[6]).lat, text("2"));
        let numbers: Vec<u64> = rows.iter().map(|row| row.row_number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn json_strings_may_hold_brackets_and_escapes() {
        let input = br#"[{"a":"]},{\"[","lat":"1"} ,{"b":"\\","lat":"2"}]"#;
        let (_, rows) = read_all(Format::Json, input);
        assert_eq!(rows.len(), 2);
        assert_eq!(fields(&rows[0]).lat, text("1"));
        assert_eq!(fields(&rows[1]).lat, text("2"));
    }

    fn final_message(row: &InputRow) -> &str {
        let error = row.fields.as_ref().expect_err("final error row");
        assert_eq!(error.code, RowErrorCode::InvalidJson);
        &error.message
    }

    #[test]
    fn broken_json_array_ends_with_one_error_row() {
        let cases: [(&[u8], usize, &str); 9] = [
            (
                br#"[{"id":"1"},{"id":"2"} x {"id":"3"}]"#,
                2,
                "byte offset 23",
            ),
            (br#"[{"id":"1"},{"id":"2"#, 1, "ends at byte offset 20"),
            (br#"[{"id":"1"}"#, 1, "ends at byte offset 11"),
            (br#"[{"id":"1"},"#, 1, "ends at byte offset 12"),
            (br#"[{"id":"1"},]"#, 1, "trailing comma"),
            (
                br#"[{"id":"1"},,{"id":"2"}]"#,
                1,
                "expected a value, found ','",
            ),
            (br#"[{"id":"1"}] {"#, 1, "after the closing ']'"),
            (
                br#"{"id":"1"}"#,
                0,
                "expected a JSON array ('[') at byte offset 0, found '{'",
            ),
            (b"  \n ", 0, "the input is empty"),
        ];
        for (input, good_rows, expected) in cases {
            let (_, rows) = read_all(Format::Json, input);
            let shown = String::from_utf8_lossy(input);
            assert_eq!(rows.len(), good_rows + 1, "{shown}");
            for row in &rows[..good_rows] {
                assert!(row.fields.is_ok(), "{shown}");
            }
            let last = &rows[good_rows];
            assert_eq!(last.row_number, good_rows as u64 + 1);
            let message = final_message(last);
            assert!(message.contains(expected), "{shown}: {message}");
        }
    }

    #[test]
    fn json_accepts_bom_whitespace_and_empty_array() {
        let (_, rows) = read_all(Format::Json, b"\xEF\xBB\xBF \n[ {\"lat\":1} ]\n");
        assert_eq!(rows.len(), 1);
        let (_, rows) = read_all(Format::Json, b"[ ]");
        assert!(rows.is_empty());
        assert_eq!(round_trip(Format::Json, b"[]"), "[]\n");
        let (_, rows) = read_all(Format::Json, b"\xEF\xBB[]");
        assert!(final_message(&rows[0]).contains("byte 0xEF"));
    }

    #[test]
    fn ndjson_blank_and_bad_lines() {
        let input =
            b"\xEF\xBB\xBF{\"id\":1,\"lat\":\"10\"}\n\n   \r\n{\"id\":2,\r\n[1]\n{\"id\":3}\r\n\"x\"";
        let (header, rows) = read_all(Format::Ndjson, input);
        assert_eq!(header, None);
        assert_eq!(rows.len(), 5);
        assert_eq!(fields(&rows[0]).id, text("1"));
        assert_eq!(error_code(&rows[1]), "invalid_json");
        let message = &rows[1].fields.as_ref().expect_err("error").message;
        assert!(
            message.starts_with("row 2 (line 4) is not valid JSON"),
            "{message}"
        );
        assert_eq!(error_code(&rows[2]), "not_an_object");
        assert_eq!(fields(&rows[3]).id, text("3"));
        assert_eq!(error_code(&rows[4]), "not_an_object");
        let numbers: Vec<u64> = rows.iter().map(|row| row.row_number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn output_columns_in_the_input_are_refused() {
        for header in ["Code,lat,lon", "lat,lon, Error-Code ", "lat;lon;distance_m"] {
            let input = format!("{header}\n1,2,3\n");
            let refused = read_rows(Format::Csv, input.as_bytes()).map(|_| ());
            let Err(FormatError::List(ListError::ReservedColumn { column })) = refused else {
                panic!("{header}: {refused:?}");
            };
            assert!(header.contains(&column), "{header}: {column}");
        }
        let input = r#"[{"code":"OLD","id":"a","Status":"kept","error_message":"old"},{"id":"b"}]"#;
        let (_, rows) = read_all(Format::Json, input.as_bytes());
        assert_eq!(error_code(&rows[0]), "reserved_column");
        let message = &rows[0].fields.as_ref().expect_err("error").message;
        assert!(message.contains("\"code\", \"error_message\""), "{message}");
        assert_eq!(fields(&rows[1]).id, text("b"));
        let output = round_trip(Format::Json, input.as_bytes());
        assert!(
            output.starts_with(
                "[{\"id\":\"a\",\"Status\":\"kept\",\"code\":null,\"status\":\"error\","
            ),
            "{output}"
        );
    }

    #[test]
    fn csv_safe_defuses_formulas_and_nothing_else() {
        let input = "id,=cmd,lat,lon\n=1+2,+1,-3,-4\n@SUM(A1),\"\tx\",\"\ry\",1\nplain,'q,1=1,2\n";
        let write = |csv_safe: bool| {
            let mut reader = read_rows(Format::Csv, input.as_bytes()).expect("reader");
            let header = reader.csv_header().cloned();
            let options = WriterOptions { csv_safe };
            let mut writer =
                RowWriter::with_options(Format::Csv, header.as_ref(), Vec::new(), options)
                    .expect("writer");
            for row in reader.by_ref() {
                let row = row.expect("row");
                writer
                    .write_row(
                        &row,
                        &RowOutcome::failed(RowErrorCode::InvalidCoordinate, "-x"),
                    )
                    .expect("write");
            }
            String::from_utf8(writer.finish().expect("finish")).expect("UTF-8")
        };
        let tail = ",,error,,,invalid_coordinate";
        assert_eq!(
            write(true),
            format!(
                "id,'=cmd,lat,lon,code,status,postcode,distance_m,error_code,error_message\n\
                 '=1+2,'+1,'-3,'-4{tail},'-x\n\
                 '@SUM(A1),'\tx,\"'\ry\",1{tail},'-x\n\
                 plain,'q,1=1,2{tail},'-x\n"
            )
        );
        assert_eq!(
            write(false),
            format!(
                "id,=cmd,lat,lon,code,status,postcode,distance_m,error_code,error_message\n\
                 =1+2,+1,-3,-4{tail},-x\n\
                 @SUM(A1),\tx,\"\ry\",1{tail},-x\n\
                 plain,'q,1=1,2{tail},-x\n"
            )
        );
        // The JSON formats are never changed.
        let mut writer = RowWriter::with_options(
            Format::Ndjson,
            None,
            Vec::new(),
            WriterOptions { csv_safe: true },
        )
        .expect("writer");
        let (_, rows) = read_all(Format::Ndjson, b"{\"n\":\"=1\"}");
        writer
            .write_row(&rows[0], &outcome_for(&rows[0]))
            .expect("write");
        let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
        assert!(output.starts_with("{\"n\":\"=1\""), "{output}");
    }

    #[test]
    fn json_writer_output_byte_for_byte() {
        let input = b"[{\"id\":\"a\",\"lat\":10.5,\"lon\":\"106\"},\n 42 , {\"x\":\"\\u00e9\\n\"}]";
        assert_eq!(
            round_trip(Format::Json, input),
            "[{\"id\":\"a\",\"lat\":10.5,\"lon\":\"106\",\"code\":\"700000000000\",\"status\":\"created\",\"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null},\n\
             {\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"not_an_object\",\"error_message\":\"row 2 is a number, expected an object\"},\n\
             {\"x\":\"é\\n\",\"code\":\"700000000000\",\"status\":\"created\",\"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null}]\n"
        );
    }

    #[test]
    fn ndjson_writer_output_byte_for_byte() {
        let input = b"{\"lat\":\"1\",\"note\":\"n\"}\nnope\n";
        let (_, rows) = read_all(Format::Ndjson, input);
        let mut writer = RowWriter::new(Format::Ndjson, None, Vec::new()).expect("writer");
        writer
            .write_row(&rows[0], &created("111162RWXP69", 2.005))
            .expect("write");
        writer
            .write_row(&rows[1], &outcome_for(&rows[1]))
            .expect("write");
        let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
        let message = &rows[1].fields.as_ref().expect_err("error").message;
        assert_eq!(
            output,
            format!(
                "{{\"lat\":\"1\",\"note\":\"n\",\"code\":\"111162RWXP69\",\"status\":\"created\",\"postcode\":\"11116\",\"distance_m\":2,\"error_code\":null,\"error_message\":null}}\n\
                 {{\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"invalid_json\",\"error_message\":{}}}\n",
                serde_json::to_string(message).expect("string")
            )
        );
    }

    #[test]
    fn empty_and_header_only_csv() {
        for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n"] {
            let refused = read_rows(Format::Csv, empty).map(|_| ());
            assert!(
                matches!(refused, Err(FormatError::List(ListError::NoHeader))),
                "{empty:?}: {refused:?}"
            );
        }
        // A writer given no header (a list that failed before its header was read) writes
        // the output columns.
        let writer = RowWriter::new(Format::Csv, None, Vec::new()).expect("writer");
        assert_eq!(
            writer.finish().expect("finish"),
            b"code,status,postcode,distance_m,error_code,error_message\n"
        );
        assert_eq!(
            round_trip(Format::Csv, b"id;lat;lon\r\n"),
            "id;lat;lon;code;status;postcode;distance_m;error_code;error_message\n"
        );
        assert_eq!(round_trip(Format::Ndjson, b""), "");
    }

    #[test]
    fn an_abort_record_ends_each_format_as_a_valid_document() {
        let inputs: [(Format, &[u8]); 3] = [
            (Format::Csv, b"id;lat;lon;note\nk1;21;105;x\n"),
            (Format::Json, b"[{\"id\":\"k1\",\"lat\":21,\"lon\":105}]"),
            (Format::Ndjson, b"{\"id\":\"k1\",\"lat\":21,\"lon\":105}\n"),
        ];
        let message = "the answer stops after 1 rows: \"why\"";
        for (format, input) in inputs {
            let (header, rows) = read_all(format, input);
            let mut writer = RowWriter::new(format, header.as_ref(), Vec::new()).expect("writer");
            writer
                .write_row(&rows[0], &outcome_for(&rows[0]))
                .expect("row");
            writer.write_abort(message).expect("abort record");
            let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
            match format {
                Format::Csv => {
                    let mut lines = output.lines();
                    assert_eq!(
                        lines.next(),
                        Some(
                            "id;lat;lon;note;code;status;postcode;distance_m;error_code;error_message"
                        )
                    );
                    assert!(
                        lines
                            .next()
                            .is_some_and(|row| row.starts_with("k1;21;105;x;700000000000;created;"))
                    );
                    // Input columns empty.
                    assert_eq!(
                        lines.next(),
                        Some(
                            ";;;;;error;;;stream_aborted;\"the answer stops after 1 rows: \"\"why\"\"\""
                        )
                    );
                    assert_eq!(lines.next(), None);
                }
                Format::Json => {
                    let parsed: Vec<Value> = serde_json::from_str(&output).expect("a JSON array");
                    assert_eq!(parsed.len(), 2);
                    assert_eq!(parsed[1]["status"], "error");
                    assert_eq!(parsed[1]["error_code"], "stream_aborted");
                    assert_eq!(parsed[1]["error_message"], message);
                    assert_eq!(
                        parsed[1].as_object().map(Map::len),
                        Some(OUTPUT_COLUMNS.len())
                    );
                }
                Format::Ndjson => {
                    let last: Value =
                        serde_json::from_str(output.lines().last().expect("lines")).expect("JSON");
                    assert_eq!(output.lines().count(), 2);
                    assert_eq!(last["error_code"], "stream_aborted");
                    assert_eq!(last["error_message"], message);
                }
            }
        }
    }

    /// What the peeker says of a CSV `input` pushed in parts (cut at these offsets).
    fn peek(input: &[u8], cuts: &[usize], limits: ReadLimits) -> ListStart {
        let mut peeker = ListPeeker::new(Format::Csv, limits);
        let mut from = 0;
        for &cut in cuts.iter().chain([&input.len()]) {
            let cut = cut.clamp(from, input.len());
            if let Some(verdict) = peeker.push(&input[from..cut]) {
                return verdict;
            }
            from = cut;
        }
        peeker.finish()
    }

    fn header_of(input: &[u8], cuts: &[usize]) -> CsvHeader {
        match peek(input, cuts, ReadLimits::DEFAULT) {
            Ok(Some(header)) => header,
            other => panic!("{:?}: no header: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn refusal_of(input: &[u8], cuts: &[usize], limits: ReadLimits) -> ListError {
        match peek(input, cuts, limits) {
            Err(refusal) => refusal,
            other => panic!("{:?}: accepted: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn the_header_is_known_once_its_record_has_come() {
        let mut peeker = ListPeeker::new(Format::Csv, ReadLimits::DEFAULT);
        let parts = [
            &b"\xEF"[..],
            b"\xBB\xBF",
            b"\r\n",
            b"id;La",
            b"titude;\"a\nb\"",
        ];
        for part in parts {
            assert_eq!(peeker.push(part), None, "{part:?}");
        }
        let Some(Ok(Some(header))) = peeker.push(b";lng\r\n1;2") else {
            panic!("the line has ended");
        };
        assert_eq!(header.columns(), ["id", "Latitude", "a\nb", "lng"]);
        assert_eq!(header.separator(), b';');

        assert_eq!(
            header_of(b"id,lat,lon", &[]).columns(),
            ["id", "lat", "lon"]
        );
        // Two bytes of a BOM and no more: content, not a BOM.
        assert_eq!(
            header_of(b"\xEF\xBBx,lat,lon\n", &[2]).columns(),
            ["\u{FFFD}x", "lat", "lon"]
        );
        assert_eq!(
            header_of(b"Longitude,LAT\n", &[]).columns(),
            ["Longitude", "LAT"]
        );
        // A quoted field the line end does not close: the header waits for its end.
        let open_quote = b"a\"b,\"c\nd\",lat,lon\n";
        let mut peeker = ListPeeker::new(Format::Csv, ReadLimits::DEFAULT);
        assert_eq!(peeker.push(&open_quote[..7]), None);
        let Some(Ok(Some(header))) = peeker.push(&open_quote[7..]) else {
            panic!("the record has ended");
        };
        assert_eq!(header.columns(), ["a\"b", "c\nd", "lat", "lon"]);
        // The JSON formats have no header.
        let mut peeker = ListPeeker::new(Format::Json, ReadLimits::DEFAULT);
        assert_eq!(peeker.push(b"["), Some(Ok(None)));
    }

    #[test]
    fn a_header_without_lat_and_lon_or_over_the_row_limit_refuses_the_list() {
        let limits = ReadLimits::DEFAULT;
        for (input, missing) in [
            (&b"id,lat,street\n"[..], &["lon"][..]),
            (b"id,street\n", &["lat", "lon"]),
            (b"\xEF\xBB\xBFid;Latitude;Street\r\n", &["lon"]),
        ] {
            assert_eq!(
                refusal_of(input, &[], limits),
                ListError::MissingColumn {
                    columns: missing.to_vec()
                }
            );
        }
        for empty in [&b""[..], b"\xEF\xBB\xBF\n\n", b"\r\n"] {
            assert_eq!(refusal_of(empty, &[1], limits), ListError::NoHeader);
        }
        let refusal = refusal_of(b"id,street\n", &[], limits);
        assert_eq!(refusal.code(), "missing_column");
        let fields: Vec<String> = refusal
            .fields()
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, ["lat", "lon"]);
        // A header over the row limit is refused as soon as it passes the limit, line end or
        // not.
        let small = ReadLimits {
            max_row_bytes: 16,
            ..limits
        };
        let long = format!("id,lat,lon,{}", "x".repeat(64));
        let mut peeker = ListPeeker::new(Format::Csv, small);
        assert_eq!(
            peeker.push(long.as_bytes()),
            Some(Err(ListError::HeaderTooLarge { limit: 16 }))
        );
        assert_eq!(
            refusal_of(format!("\"{long}\n\"\n").as_bytes(), &[3, 40], small),
            ListError::HeaderTooLarge { limit: 16 }
        );
    }

    #[test]
    fn rows_without_original_and_foreign_rows_are_written() {
        let (header, _) = read_all(Format::Csv, b"id;lat;lon\n");
        let header = header.expect("header");
        let mut writer = RowWriter::new(Format::Csv, Some(&header), Vec::new()).expect("writer");
        let row = InputRow::new(1, Ok(RowFields::default()));
        writer
            .write_row(&row, &created("700000000000", 0.0))
            .expect("write");
        let (_, json_rows) = read_all(Format::Json, br#"[{"id":"1"}]"#);
        writer
            .write_row(&json_rows[0], &created("700000000000", 0.0))
            .expect("write");
        let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
        assert_eq!(
            output,
            "id;lat;lon;code;status;postcode;distance_m;error_code;error_message\n\
             ;;;700000000000;created;70000;0;;\n\
             ;;;700000000000;created;70000;0;;\n"
        );
    }

    #[test]
    fn distance_rendering() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (-0.001, "0"),
            (1.374, "1.37"),
            (1.375_1, "1.38"),
            (2.5, "2.5"),
            (10.0, "10"),
            (1234.999, "1235"),
        ];
        for (distance, expected) in cases {
            assert_eq!(
                distance_text(distance).as_deref(),
                Some(expected),
                "{distance}"
            );
        }
        assert_eq!(distance_text(f64::NAN), None);
        assert_eq!(distance_text(f64::INFINITY), None);
    }

    #[test]
    fn writer_flush_pushes_bytes_out() {
        let mut writer = RowWriter::new(Format::Ndjson, None, Vec::new()).expect("writer");
        let row = InputRow::new(1, Ok(RowFields::default()));
        writer
            .write_row(&row, &created("700000000000", 0.0))
            .expect("write");
        writer.flush().expect("flush");
        let Target::Ndjson { output } = &writer.target else {
            panic!("ndjson writer");
        };
        assert!(output.get_ref().ends_with(b"}\n"));
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
}
