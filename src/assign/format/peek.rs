//! A list's start, judged as its bytes come: whether the list is refused before any row is
//! answered ([`ListError`]: UTF-16, and for CSV its header), and the CSV header its rows are
//! read under.
//!
//! Decisions: this is the one place a list's start is judged. The reader pushes its input
//! through a [`ListPeeker`] and goes on with the CSV parser where the peeker left it
//! ([`read_rows`](super::read_rows)); the server pushes a request body's first parts through
//! one before it answers, and `vmap assign` its input before it makes the output file
//! ([`peek_list`]), so a refused list is refused by the reader's own code, on the same bytes,
//! however they were cut up (a property test holds the peek and the reader together). The
//! header line is found before the header is parsed, because its separator must be known
//! before the parser starts; a header line with no end within the row limit is taken as it is,
//! its separator decided on what came, and the parser then refuses a header over the limit.
//! So the verdict always comes within about the row limit's bytes.

use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;

use super::read_csv::{Parsed, Record, RecordReader, accept_header, detect_separator};
use super::{CsvHeader, Format, ListKind, ReadLimits, UTF8_BOM, fill_buffer};

/// What a list's start says: the CSV header (None for the JSON formats), or why the list is
/// refused.
pub type ListStart = Result<Option<CsvHeader>, ListError>;

/// Why a whole list is refused, from its start, before any row is answered (the API answers
/// 422, `vmap assign` fails before it makes its output file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    #[error("the CSV header is larger than {limit} bytes")]
    HeaderTooLarge { limit: usize },
    #[error(
        "the list has a column {column:?}, which the answer adds ({}); rename or remove it",
        kind.output_columns().join(", ")
    )]
    ReservedColumn { column: String, kind: ListKind },
    #[error("the columns {first:?} and {column:?} both name {meaning:?}; keep one or rename it")]
    DuplicateColumn {
        column: String,
        first: String,
        meaning: String,
    },
    #[error("the list is {encoding} (it starts with that byte-order mark); send it as UTF-8")]
    Encoding { encoding: &'static str },
    /// The CSV header lacks what the list's kind needs (`columns`: which, in order): `lat`
    /// or `lon` for assignment, `address` (or a unit column) for conversion.
    #[error("the CSV header has no {} column: {}", columns.join(" or "), needs(columns))]
    MissingColumn { columns: Vec<&'static str> },
    /// The CSV list is empty: no header line at all.
    #[error("the list has no header line: {}", needs(kind.required_columns()))]
    NoHeader { kind: ListKind },
}

impl ListError {
    /// Machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            ListError::HeaderTooLarge { .. } => "header_too_large",
            ListError::ReservedColumn { .. } => "reserved_column",
            ListError::DuplicateColumn { .. } => "duplicate_column",
            ListError::Encoding { .. } => "encoding",
            ListError::MissingColumn { .. } | ListError::NoHeader { .. } => "missing_column",
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
            ListError::ReservedColumn { column, .. }
            | ListError::DuplicateColumn { column, .. } => {
                vec![(column.clone(), self.to_string())]
            }
            ListError::Encoding { .. } => vec![("body".to_owned(), self.to_string())],
            ListError::MissingColumn { columns } => {
                missing(columns, "the CSV header has no such column")
            }
            ListError::NoHeader { kind } => {
                missing(kind.required_columns(), "the list has no header line")
            }
        }
    }
}

/// What a CSV list needs of these columns, with the names each may have.
fn needs(columns: &[&str]) -> String {
    let named: Vec<&str> = columns
        .iter()
        .map(|&column| match column {
            "lat" => "a lat or latitude column",
            "lon" => "a lon, lng, long or longitude column",
            _ => "an address column (or ward, district, province columns) to convert",
        })
        .collect();
    format!("a CSV list needs {}", named.join(" and "))
}

/// Judges the start of a list from its bytes, pushed as they come.
#[derive(Debug)]
pub struct ListPeeker {
    kind: ListKind,
    format: Format,
    limits: ReadLimits,
    /// Every byte pushed so far.
    bytes: Vec<u8>,
    /// Where the content starts (after a UTF-8 BOM), once enough bytes came to tell.
    content_start: Option<usize>,
    scan: HeaderScan,
    /// The CSV header line (offsets into `bytes`), once its end came or the scan gave up.
    line: Option<Range<usize>>,
    /// The CSV parser, from the header line's start, and its separator.
    parser: Option<(RecordReader, u8)>,
    /// How far into `bytes` the parser has read.
    fed: usize,
    verdict: Option<ListStart>,
}

impl ListPeeker {
    /// A peeker for an assignment list.
    pub fn new(format: Format, limits: ReadLimits) -> ListPeeker {
        ListPeeker::for_kind(ListKind::Assign, format, limits)
    }

    pub fn for_kind(kind: ListKind, format: Format, limits: ReadLimits) -> ListPeeker {
        ListPeeker {
            kind,
            format,
            limits,
            bytes: Vec::new(),
            content_start: None,
            scan: HeaderScan::default(),
            line: None,
            parser: None,
            fed: 0,
            verdict: None,
        }
    }

    /// Takes the next part of the input; the verdict, once the bytes so far decide it.
    pub fn push(&mut self, part: &[u8]) -> Option<ListStart> {
        if self.verdict.is_some() {
            return self.verdict.clone();
        }
        // An empty part says nothing (and the parser would read it as the end).
        if part.is_empty() {
            return None;
        }
        self.bytes.extend_from_slice(part);
        self.judge(false)
    }

    /// The input ended: the verdict on what came.
    pub fn finish(&mut self) -> ListStart {
        if let Some(verdict) = &self.verdict {
            return verdict.clone();
        }
        // At the end every step decides, so `judge` has a verdict; should it ever not, the
        // list is taken as it is and the reader says the rest.
        self.judge(true).unwrap_or(Ok(None))
    }

    /// Pushes `input` through until the verdict, consuming what it pushed.
    pub(super) fn read_from(&mut self, input: &mut impl BufRead) -> io::Result<ListStart> {
        loop {
            fill_buffer(input)?;
            let part = input.fill_buf()?;
            if part.is_empty() {
                return Ok(self.finish());
            }
            let verdict = self.push(part);
            let taken = part.len();
            input.consume(taken);
            if let Some(verdict) = verdict {
                return Ok(verdict);
            }
        }
    }

    /// What the reader goes on from, once the start is accepted: the bytes the parser has not
    /// read (all of them for the JSON formats) and, for CSV, the parser itself.
    pub(super) fn into_rest(self) -> (Vec<u8>, Option<RecordReader>) {
        let mut bytes = self.bytes;
        match self.parser {
            Some((parser, _)) => {
                bytes.drain(..self.fed);
                (bytes, Some(parser))
            }
            None => (bytes, None),
        }
    }

    fn judge(&mut self, ended: bool) -> Option<ListStart> {
        // Every format is UTF-8: a UTF-16 list (Excel's "Unicode text") would read as garbage
        // rows, so its byte-order mark refuses it.
        let encoding = match self.bytes.as_slice() {
            [0xFF, 0xFE, ..] => Some("UTF-16 little-endian"),
            [0xFE, 0xFF, ..] => Some("UTF-16 big-endian"),
            // The first byte of one: the next decides.
            [0xFF] | [0xFE] if !ended => return None,
            _ => None,
        };
        if let Some(encoding) = encoding {
            return self.decide(Err(ListError::Encoding { encoding }));
        }
        if self.format != Format::Csv {
            return self.decide(Ok(None));
        }
        let content_start = self.content_start(ended)?;
        let line = self.header_line(content_start, ended)?;
        if self.parser.is_none() {
            // csv_core skips a BOM only when its first input holds all three bytes: it gets at
            // least three (or the end), so the verdict does not depend on how the bytes came.
            if self.bytes.len() - line.start < UTF8_BOM.len() && !ended {
                return None;
            }
            let separator = detect_separator(self.bytes.get(line.clone()).unwrap_or_default());
            self.parser = Some((RecordReader::new(separator, self.limits), separator));
            self.fed = line.start;
        }
        let (parser, separator) = self.parser.as_mut()?;
        let too_large = ListError::HeaderTooLarge {
            limit: self.limits.max_row_bytes,
        };
        let verdict = loop {
            let input = self.bytes.get(self.fed..).unwrap_or_default();
            if input.is_empty() && !ended {
                return None;
            }
            let (used, parsed) = parser.feed(input);
            self.fed += used;
            match parsed {
                Parsed::NeedMore if parser.over_limit() => break Err(too_large),
                // Every byte is taken: more input decides, or (at the end) the end does.
                Parsed::NeedMore => {}
                Parsed::Record(Record::TooLarge { .. }) => break Err(too_large),
                Parsed::Record(Record::Fields(record)) => {
                    break accept_header(&record, *separator, self.kind).map(Some);
                }
                Parsed::End => break Err(ListError::NoHeader { kind: self.kind }),
            }
        };
        self.decide(verdict)
    }

    fn decide(&mut self, verdict: ListStart) -> Option<ListStart> {
        self.verdict = Some(verdict);
        self.verdict.clone()
    }

    /// Where the content starts: after a UTF-8 BOM, when there is one.
    fn content_start(&mut self, ended: bool) -> Option<usize> {
        if self.content_start.is_none() {
            let known = UTF8_BOM.len().min(self.bytes.len());
            if !ended && known < UTF8_BOM.len() && self.bytes[..known] == UTF8_BOM[..known] {
                // The first bytes of a BOM: the rest decides whether it is one.
                return None;
            }
            let start = if self.bytes.starts_with(UTF8_BOM) {
                UTF8_BOM.len()
            } else {
                0
            };
            self.content_start = Some(start);
        }
        self.content_start
    }

    /// The header line: the first non-blank line, or what came of it within the row limit.
    fn header_line(&mut self, content_start: usize, ended: bool) -> Option<Range<usize>> {
        if self.line.is_none() {
            let cap = content_start.saturating_add(self.limits.max_row_bytes);
            let end = self.bytes.len().min(cap);
            let from = content_start + self.scan.scanned;
            let found = match self.bytes.get(from..end) {
                Some(part) if !part.is_empty() => self.scan.feed(part),
                _ => None,
            };
            self.line = match found {
                Some(line) => Some(line),
                None if ended || end == cap => Some(self.scan.at_end()),
                None => None,
            };
        }
        let line = self.line.as_ref()?;
        Some(content_start + line.start..content_start + line.end)
    }
}

/// Reads `input` until its start is judged ([`ListPeeker`]): the verdict, and a reader that
/// gives every byte of `input` again from the first. `vmap assign` refuses a list with it
/// before it makes its output file.
pub fn peek_list<'a>(
    kind: ListKind,
    format: Format,
    input: impl Read + Send + 'a,
    limits: ReadLimits,
) -> io::Result<(ListStart, impl Read + Send + 'a)> {
    let mut input = BufReader::new(input);
    let mut peeker = ListPeeker::for_kind(kind, format, limits);
    let verdict = peeker.read_from(&mut input)?;
    Ok((verdict, io::Cursor::new(peeker.bytes).chain(input)))
}

/// Finds the header line, fed the input a part at a time: the first non-blank line, whose end
/// is a line end outside double quotes.
#[derive(Debug, Default)]
struct HeaderScan {
    /// Bytes fed so far.
    scanned: usize,
    /// Where the current line starts.
    line_start: usize,
    in_quotes: bool,
}

impl HeaderScan {
    /// Scans the next part of the input; returns the header line's range once its end is in
    /// `part` (offsets from the start of the input, the end not included).
    fn feed(&mut self, part: &[u8]) -> Option<Range<usize>> {
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

    /// The header line when no line end came: what follows the blank lines.
    fn at_end(&self) -> Range<usize> {
        self.line_start.min(self.scanned)..self.scanned
    }
}
