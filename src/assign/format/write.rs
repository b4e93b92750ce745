//! Writing the answered list: the input row untouched plus the output columns, in the input's
//! format.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::io::Write;

use crate::point::LatLon;

use super::write_geojson::GeojsonTarget;
use super::{
    CsvHeader, Format, FormatError, InputRow, ListKind, Original, RowErrorCode, RowOutcome,
    normalized_name,
};

/// How the answer is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterOptions {
    /// CSV answers prefix with `'` every cell (header included) that starts with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return, so that a spreadsheet shows it as text instead
    /// of running it as a formula (OWASP, CSV injection). Off by default: the answer then
    /// gives back every cell as it came. The JSON formats are never changed.
    pub csv_safe: bool,
    /// Answer as one GeoJSON FeatureCollection, whatever the input's format
    /// ([`write_geojson`](super::write_geojson)).
    pub geojson: bool,
}

/// Writes rows in the format they were read in.
pub struct RowWriter<W: Write> {
    pub(super) target: Target<W>,
    kind: ListKind,
}

pub(super) enum Target<W: Write> {
    Csv(Box<CsvTarget<W>>),
    Json {
        output: io::BufWriter<W>,
        rows_written: u64,
    },
    Ndjson {
        output: io::BufWriter<W>,
    },
    Geojson(Box<GeojsonTarget<W>>),
}

pub(super) struct CsvTarget<W: Write> {
    writer: csv::Writer<W>,
    /// For each input column, the output column (index into the kind's output columns) that
    /// replaces it.
    overwritten_by: Vec<Option<usize>>,
    /// The output columns appended after the input columns.
    appended: Vec<usize>,
    /// Whether cells a spreadsheet would read as a formula get a leading `'`.
    csv_safe: bool,
}

/// The first bytes that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
const FORMULA_STARTS: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

/// `cell`, with a `'` in front when `csv_safe` and it starts like a formula.
pub fn safe_cell(cell: &[u8], csv_safe: bool) -> Cow<'_, [u8]> {
    match cell.first() {
        Some(first) if csv_safe && FORMULA_STARTS.contains(first) => {
            let mut prefixed = Vec::with_capacity(cell.len() + 1);
            prefixed.push(b'\'');
            prefixed.extend_from_slice(cell);
            Cow::Owned(prefixed)
        }
        _ => Cow::Borrowed(cell),
    }
}

impl<W: Write> RowWriter<W> {
    /// `csv_header` is what the reader found (required for Csv; for an empty CSV input pass None
    /// and only the output header is written). Ignored for the JSON formats.
    pub fn new(
        format: Format,
        csv_header: Option<&CsvHeader>,
        output: W,
    ) -> Result<RowWriter<W>, FormatError> {
        RowWriter::with_options(format, csv_header, output, WriterOptions::default())
    }

    /// [`RowWriter::new`] with these options.
    pub fn with_options(
        format: Format,
        csv_header: Option<&CsvHeader>,
        output: W,
        options: WriterOptions,
    ) -> Result<RowWriter<W>, FormatError> {
        RowWriter::for_kind(ListKind::Assign, format, csv_header, output, options)
    }

    /// A writer of the answer to a list of `kind`, which adds that kind's output columns.
    pub fn for_kind(
        kind: ListKind,
        format: Format,
        csv_header: Option<&CsvHeader>,
        output: W,
        options: WriterOptions,
    ) -> Result<RowWriter<W>, FormatError> {
        let target = match format {
            _ if options.geojson => {
                Target::Geojson(Box::new(GeojsonTarget::new(csv_header, output)?))
            }
            Format::Csv => Target::Csv(Box::new(CsvTarget::new(
                kind,
                csv_header,
                output,
                options.csv_safe,
            )?)),
            Format::Json => {
                let mut output = io::BufWriter::new(output);
                output.write_all(b"[")?;
                Target::Json {
                    output,
                    rows_written: 0,
                }
            }
            Format::Ndjson => Target::Ndjson {
                output: io::BufWriter::new(output),
            },
        };
        Ok(RowWriter { target, kind })
    }

    /// The answer's Content-Type.
    pub fn content_type(&self) -> &'static str {
        match &self.target {
            Target::Csv(_) => Format::Csv.content_type(),
            Target::Json { .. } => Format::Json.content_type(),
            Target::Ndjson { .. } => Format::Ndjson.content_type(),
            Target::Geojson(_) => GEOJSON_CONTENT_TYPE,
        }
    }

    /// Writes an assignment row.
    pub fn write_row(&mut self, row: &InputRow, outcome: &RowOutcome) -> Result<(), FormatError> {
        self.write_located(row, outcome.location, &output_texts(outcome))
    }

    /// Writes a row with these output values, in the order of the kind's output columns
    /// (`None`: absent).
    pub fn write_texts(
        &mut self,
        row: &InputRow,
        texts: &[OutputText<'_>],
    ) -> Result<(), FormatError> {
        self.write_located(row, None, texts)
    }

    /// [`RowWriter::write_texts`]; a GeoJSON answer places the row at `location`, else at
    /// its own point.
    fn write_located(
        &mut self,
        row: &InputRow,
        location: Option<LatLon>,
        texts: &[OutputText<'_>],
    ) -> Result<(), FormatError> {
        let kind = self.kind;
        let json_original = match &row.original {
            Original::Json(object) => Some(object),
            Original::Absent | Original::Csv(_) => None,
        };
        match &mut self.target {
            Target::Csv(target) => target.write_row(row, texts)?,
            Target::Json {
                output,
                rows_written,
            } => {
                if *rows_written > 0 {
                    output.write_all(b",\n")?;
                }
                write_json_object(output, kind, json_original, texts)?;
                *rows_written += 1;
            }
            Target::Ndjson { output } => {
                write_json_object(output, kind, json_original, texts)?;
                output.write_all(b"\n")?;
            }
            Target::Geojson(target) => {
                let location = location.or_else(|| row_point(row));
                target.write_row(kind, row, location, texts)?;
            }
        }
        Ok(())
    }

    /// Writes the record that ends a list cut short: every input column empty (CSV) or just
    /// the output keys (JSON, NDJSON), `status` `error`, `error_code` `stream_aborted` and
    /// `message`. Then [`RowWriter::finish`] closes the document as usual, so it stays valid.
    pub fn write_abort(&mut self, message: &str) -> Result<(), FormatError> {
        let row = InputRow::new(0, Ok(Default::default()));
        match self.kind {
            ListKind::Assign => {
                let outcome = RowOutcome::failed(RowErrorCode::StreamAborted, message);
                self.write_row(&row, &outcome)
            }
            ListKind::Convert => {
                let columns = ListKind::Convert.output_columns();
                let texts: Vec<OutputText<'_>> = columns
                    .iter()
                    .map(|&column| match column {
                        "status" => Some(Cow::Borrowed("error")),
                        "error_code" => Some(Cow::Borrowed(RowErrorCode::StreamAborted.as_str())),
                        "error_message" => Some(Cow::Borrowed(message)),
                        _ => None,
                    })
                    .collect();
                self.write_texts(&row, &texts)
            }
        }
    }

    /// Pushes what has been written so far to the output.
    pub fn flush(&mut self) -> Result<(), FormatError> {
        match &mut self.target {
            Target::Csv(target) => target.writer.flush()?,
            Target::Json { output, .. } | Target::Ndjson { output } => output.flush()?,
            Target::Geojson(target) => target.output.flush()?,
        }
        Ok(())
    }

    /// Closes the JSON array, flushes; returns the inner writer.
    pub fn finish(self) -> Result<W, FormatError> {
        let output = match self.target {
            Target::Csv(target) => target
                .writer
                .into_inner()
                .map_err(|error| error.into_error())?,
            Target::Json { mut output, .. } => {
                output.write_all(b"]\n")?;
                output.into_inner().map_err(|error| error.into_error())?
            }
            Target::Ndjson { output } => output.into_inner().map_err(|error| error.into_error())?,
            Target::Geojson(target) => target.finish()?,
        };
        Ok(output)
    }
}

impl<W: Write> fmt::Debug for RowWriter<W> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RowWriter")
            .field("content_type", &self.content_type())
            .finish_non_exhaustive()
    }
}

impl<W: Write> CsvTarget<W> {
    fn new(
        kind: ListKind,
        csv_header: Option<&CsvHeader>,
        output: W,
        csv_safe: bool,
    ) -> Result<CsvTarget<W>, FormatError> {
        let (columns, separator) = match csv_header {
            Some(header) => (header.columns.as_slice(), header.separator),
            None => (&[][..], b','),
        };
        let mut overwritten_by = vec![None; columns.len()];
        let mut appended = Vec::new();
        let output_columns = kind.output_columns();
        for (output_index, output_column) in output_columns.iter().enumerate() {
            let existing = columns
                .iter()
                .position(|column| normalized_name(column) == *output_column);
            match existing.and_then(|index| overwritten_by.get_mut(index)) {
                Some(slot) => *slot = Some(output_index),
                None => appended.push(output_index),
            }
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(separator)
            .from_writer(output);
        for column in columns {
            writer.write_field(safe_cell(column.as_bytes(), csv_safe))?;
        }
        for &output_index in &appended {
            writer.write_field(output_columns[output_index])?;
        }
        writer.write_record(std::iter::empty::<&[u8]>())?;
        Ok(CsvTarget {
            writer,
            overwritten_by,
            appended,
            csv_safe,
        })
    }

    fn write_row(&mut self, row: &InputRow, texts: &[OutputText<'_>]) -> Result<(), FormatError> {
        let original = match &row.original {
            Original::Csv(record) => Some(record),
            Original::Absent | Original::Json(_) => None,
        };
        let csv_safe = self.csv_safe;
        for (index, overwritten_by) in self.overwritten_by.iter().enumerate() {
            match overwritten_by {
                Some(output_index) => self.writer.write_field(safe_cell(
                    output_text(texts, *output_index).as_bytes(),
                    csv_safe,
                ))?,
                None => {
                    let bytes = original.and_then(|record| record.get(index)).unwrap_or(b"");
                    let text = String::from_utf8_lossy(bytes);
                    self.writer
                        .write_field(safe_cell(text.as_bytes(), csv_safe))?;
                }
            }
        }
        for &output_index in &self.appended {
            let text = output_text(texts, output_index);
            self.writer
                .write_field(safe_cell(text.as_bytes(), csv_safe))?;
        }
        self.writer.write_record(std::iter::empty::<&[u8]>())?;
        Ok(())
    }
}

/// The Content-Type of a GeoJSON answer.
pub const GEOJSON_CONTENT_TYPE: &str = "application/geo+json";

/// The row's own point, when its `lat` and `lon` are a valid coordinate.
fn row_point(row: &InputRow) -> Option<LatLon> {
    let fields = row.fields.as_ref().ok()?;
    crate::address::parse_location(fields.lat.as_deref(), fields.lon.as_deref()).ok()
}

/// One output value as text; `None` = absent.
pub type OutputText<'o> = Option<Cow<'o, str>>;

/// An assignment row's output values, in [`OUTPUT_COLUMNS`](super::OUTPUT_COLUMNS) order.
pub(super) fn output_texts(outcome: &RowOutcome) -> [OutputText<'_>; 13] {
    [
        outcome.code.as_deref().map(Cow::Borrowed),
        Some(Cow::Borrowed(outcome.status.as_str())),
        outcome.postcode.as_deref().map(Cow::Borrowed),
        outcome.distance_m.and_then(distance_text).map(Cow::Owned),
        outcome.error_code.map(|code| Cow::Borrowed(code.as_str())),
        outcome.error_message.as_deref().map(Cow::Borrowed),
        outcome.postcode_2025.as_deref().map(Cow::Borrowed),
        outcome.ward_2025.as_deref().map(Cow::Borrowed),
        outcome.province_2025.as_deref().map(Cow::Borrowed),
        outcome
            .warning
            .map(|warning| Cow::Borrowed(warning.as_str())),
        outcome.match_level.map(Cow::Borrowed),
        outcome.confidence.and_then(confidence_text).map(Cow::Owned),
        outcome.matched_label.as_deref().map(Cow::Borrowed),
    ]
}

pub(super) fn output_text<'t>(texts: &'t [OutputText<'_>], output_index: usize) -> &'t str {
    texts
        .get(output_index)
        .and_then(|text| text.as_deref())
        .unwrap_or("")
}

/// A plain decimal with at most two decimals, valid as CSV text and as a JSON number.
pub(super) fn distance_text(distance_m: f64) -> Option<String> {
    decimal_text(distance_m, 2)
}

/// A confidence in [0, 1] with at most four decimals, as `GET /v1/search` gives it.
fn confidence_text(confidence: f64) -> Option<String> {
    decimal_text(confidence, 4)
}

/// `value` with at most `decimals` decimals, trailing zeros dropped.
fn decimal_text(value: f64, decimals: usize) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    let mut text = format!("{value:.decimals$}");
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    Some(text)
}

pub(super) fn write_json_object(
    output: &mut impl Write,
    kind: ListKind,
    original: Option<&Map<String, Value>>,
    texts: &[OutputText<'_>],
) -> io::Result<()> {
    let output_columns = kind.output_columns();
    let number_columns = kind.number_columns();
    let mut written = vec![false; output_columns.len()];
    let mut first = true;
    output.write_all(b"{")?;
    for (key, value) in original.into_iter().flatten() {
        write_json_key(output, key, &mut first)?;
        match output_columns.iter().position(|column| column == key) {
            Some(output_index) => {
                written[output_index] = true;
                write_json_output_value(output, texts, output_index, number_columns)?;
            }
            None => serde_json::to_writer(&mut *output, value)?,
        }
    }
    for (output_index, column) in output_columns.iter().enumerate() {
        if !written[output_index] {
            write_json_key(output, column, &mut first)?;
            write_json_output_value(output, texts, output_index, number_columns)?;
        }
    }
    output.write_all(b"}")
}

pub(super) fn write_json_key(
    output: &mut impl Write,
    key: &str,
    first: &mut bool,
) -> io::Result<()> {
    if !std::mem::take(first) {
        output.write_all(b",")?;
    }
    serde_json::to_writer(&mut *output, key)?;
    output.write_all(b":")
}

pub(super) fn write_json_output_value(
    output: &mut impl Write,
    texts: &[OutputText<'_>],
    output_index: usize,
    number_columns: &[usize],
) -> io::Result<()> {
    match texts.get(output_index).and_then(|text| text.as_deref()) {
        None => output.write_all(b"null"),
        // A number column's text (distance_text, a confidence) already is a valid JSON
        // number.
        Some(text) if number_columns.contains(&output_index) => output.write_all(text.as_bytes()),
        Some(text) => Ok(serde_json::to_writer(&mut *output, text)?),
    }
}
