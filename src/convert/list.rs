//! `vmap convert LIST`: an address list in either map, answered row for row with its 2025
//! form and the legacy ward(s) it lies in, in the list formats of assignment (CSV, a JSON
//! array, NDJSON; [`ListKind::Convert`]), streamed: a list of millions never sits in memory.
//!
//! Decisions:
//! - A row's text is its `house_number`, `alley` and `street` (one part), then `address`,
//!   `ward`, `district` and `province`, comma-separated, each non-empty one once: a unit
//!   column whose text the `address` already holds (ignoring case, marks and spacing) is
//!   not repeated, since lists often carry both the full line and the unit columns.
//! - `lat`/`lon` are optional; given (both), the 2025 ward whose polygon holds the point
//!   decides among a split legacy ward's targets, as in `POST /v1/convert`. A coordinate
//!   given wrong (half of it, not a number, out of range) fails the row, as in assignment:
//!   the list said where the address is, and dropping that silently would lose it.
//! - `status`: `converted` (a 2025 ward, read without doubt), `ambiguous` (a ward, but the
//!   text reads as another place as well, or names units that contradict each other: check
//!   it), `unresolved` (no ward read; the province, if read, is still given), `error` (the
//!   row failed alone: `error_code` says why, with assignment's codes).
//! - `warning`: `conflict` (units of the text contradict each other), `zone_mismatch` (the
//!   row's point lies outside the ward the text converts to, and outside every target of
//!   its legacy ward); both, `;`-separated.
//! - Several values in one cell (`candidates_2025`, the legacy columns of a 2025 ward that
//!   absorbed many) are `; `-separated, the chosen or default first; candidates are written
//!   `Name (code)`.
//! - Rows are parsed in batches, in parallel (rayon), and written in input order. A list
//!   whose input fails part-way ends with the rows answered so far and one `stream_aborted`
//!   record, like an assignment list, so the document is never mistaken for a whole one.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::{Conversion, convert};
use crate::address;
use crate::admin::{AdminMaps, LegacyWardId};
use crate::assign::format::{
    Format, FormatError, InputRow, ListKind, OutputText, ReadLimits, RowFields, RowWriter,
    WriterOptions, read_list,
};
use crate::assign::{DEFAULT_MAX_FIELD_CHARS, RowErrorCode, check_field_lengths};
use crate::parse::{Parse, strip_marks};
use crate::zones::Map2025;

/// Rows parsed together, in parallel, before they are written.
pub const BATCH_ROWS: usize = 4_096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertSettings {
    pub read_limits: ReadLimits,
    /// Longest text accepted in any one field, in characters.
    pub max_field_chars: usize,
    pub writer: WriterOptions,
}

impl Default for ConvertSettings {
    fn default() -> ConvertSettings {
        ConvertSettings {
            read_limits: ReadLimits::DEFAULT,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
            writer: WriterOptions::default(),
        }
    }
}

/// What a run did, row statuses counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConvertSummary {
    pub rows: u64,
    pub converted: u64,
    pub ambiguous: u64,
    pub unresolved: u64,
    pub errors: u64,
    pub duration: Duration,
}

impl ConvertSummary {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

/// What became of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertStatus {
    Converted,
    Ambiguous,
    Unresolved,
    Error,
}

impl ConvertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConvertStatus::Converted => "converted",
            ConvertStatus::Ambiguous => "ambiguous",
            ConvertStatus::Unresolved => "unresolved",
            ConvertStatus::Error => "error",
        }
    }
}

/// Converts every row of `input` and writes the answered list to `output`; returns the
/// summary and the writer once all is written. Blocking: call it off the async runtime.
///
/// A list refused at its start ([`crate::assign::format::ListError`]) fails before anything
/// is written. An input that fails later ends the answer with a `stream_aborted` record,
/// then the error is returned.
pub fn run<R, W>(
    map: &Map2025,
    format: Format,
    input: R,
    output: W,
    settings: ConvertSettings,
) -> Result<(ConvertSummary, W), FormatError>
where
    R: Read + Send,
    W: Write,
{
    let started = Instant::now();
    let mut rows = read_list(ListKind::Convert, format, input, settings.read_limits)?;
    let mut writer = RowWriter::for_kind(
        ListKind::Convert,
        format,
        rows.csv_header(),
        output,
        settings.writer,
    )?;
    let mut summary = ConvertSummary::default();
    let mut batch: Vec<InputRow> = Vec::with_capacity(BATCH_ROWS);
    let mut failure = None;
    loop {
        let (full, ended) = match rows.next() {
            Some(Ok(row)) => {
                batch.push(row);
                (batch.len() == BATCH_ROWS, false)
            }
            Some(Err(error)) => {
                failure = Some(error);
                (true, true)
            }
            None => (true, true),
        };
        if !full {
            continue;
        }
        let answers: Vec<RowAnswer> = batch
            .par_iter()
            .map(|row| answer_row(map, row, settings.max_field_chars))
            .collect();
        for (row, answer) in batch.iter().zip(&answers) {
            writer.write_texts(row, &answer.texts(map.admin()))?;
            summary.count(answer.status());
        }
        writer.flush()?;
        batch.clear();
        if ended {
            break;
        }
    }
    if let Some(error) = failure {
        writer.write_abort(&format!(
            "the answer stops after {} rows: reading the list failed: {error}. The rows \
             above are answered; later rows were not read",
            summary.rows
        ))?;
        writer.finish()?;
        return Err(error);
    }
    let output = writer.finish()?;
    summary.duration = started.elapsed();
    Ok((summary, output))
}

impl ConvertSummary {
    fn count(&mut self, status: ConvertStatus) {
        self.rows += 1;
        match status {
            ConvertStatus::Converted => self.converted += 1,
            ConvertStatus::Ambiguous => self.ambiguous += 1,
            ConvertStatus::Unresolved => self.unresolved += 1,
            ConvertStatus::Error => self.errors += 1,
        }
    }
}

/// One row's answer, before it is written as text.
#[derive(Debug)]
enum RowAnswer {
    Converted {
        status: ConvertStatus,
        parse: Box<Parse>,
        conversion: Conversion,
        conflict: bool,
        zone_mismatch: bool,
    },
    Failed {
        code: RowErrorCode,
        message: String,
    },
}

impl RowAnswer {
    fn failed(code: RowErrorCode, message: impl Into<String>) -> RowAnswer {
        RowAnswer::Failed {
            code,
            message: message.into(),
        }
    }

    fn status(&self) -> ConvertStatus {
        match self {
            RowAnswer::Converted { status, .. } => *status,
            RowAnswer::Failed { .. } => ConvertStatus::Error,
        }
    }

    /// The output values in [`ListKind::Convert`]'s column order.
    fn texts<'a>(&'a self, maps: &'a AdminMaps) -> Vec<OutputText<'a>> {
        let owned = |text: String| Some(Cow::Owned(text));
        let borrowed = |text: &'a str| Some(Cow::Borrowed(text));
        let mut texts: Vec<OutputText<'a>> = vec![None; ListKind::Convert.output_columns().len()];
        let mut set = |column: &str, value: OutputText<'a>| {
            if let Some(index) = ListKind::Convert
                .output_columns()
                .iter()
                .position(|&name| name == column)
            {
                texts[index] = value;
            }
        };
        set("status", borrowed(self.status().as_str()));
        match self {
            RowAnswer::Failed { code, message } => {
                set("error_code", borrowed(code.as_str()));
                set("error_message", borrowed(message));
            }
            RowAnswer::Converted {
                parse,
                conversion,
                conflict,
                zone_mismatch,
                ..
            } => {
                let reading = &parse.reading;
                set("structure", borrowed(reading.structure.as_str()));
                let confidence = (reading.confidence * 10_000.0).round() / 10_000.0;
                set("confidence", owned(confidence.to_string()));
                if let Some(province) = conversion.province {
                    set("province_2025", borrowed(&maps.province(province).name));
                }
                if let Some(ward) = conversion.ward.map(|id| maps.ward(id)) {
                    set("ward_2025", borrowed(&ward.name));
                    set("ward_2025_code", borrowed(&ward.code));
                    set(
                        "postcode_2025",
                        ward.postcode.map(|p| p.to_string()).and_then(owned),
                    );
                }
                set(
                    "address_2025",
                    conversion.text.as_deref().and_then(borrowed),
                );
                set("method", borrowed(conversion.method.as_str()));
                if !conversion.candidates.is_empty() {
                    let candidates = conversion.candidates.iter().map(|&id| {
                        let ward = maps.ward(id);
                        format!("{} ({})", ward.name, ward.code)
                    });
                    set("candidates_2025", owned(joined(candidates)));
                }
                let legacy = &conversion.legacy_wards;
                if !legacy.is_empty() {
                    let provinces = legacy_values(legacy, |id| {
                        let province = maps.legacy_ward(id).province;
                        Some(maps.legacy_province(province).name.clone())
                    });
                    set("legacy_province", owned(provinces));
                    let districts = legacy_values(legacy, |id| {
                        let district = maps.legacy_ward(id).district;
                        Some(maps.legacy_district(district).name.clone())
                    });
                    set("legacy_district", owned(districts));
                    let wards = legacy_values(legacy, |id| Some(maps.legacy_ward(id).name.clone()));
                    set("legacy_ward", owned(wards));
                    let postcodes = legacy_values(legacy, |id| {
                        maps.legacy_ward(id).postcode.map(|p| p.to_string())
                    });
                    if !postcodes.is_empty() {
                        set("legacy_postcode", owned(postcodes));
                    }
                }
                let warnings: Vec<&str> =
                    [(*conflict, "conflict"), (*zone_mismatch, "zone_mismatch")]
                        .into_iter()
                        .filter_map(|(on, word)| on.then_some(word))
                        .collect();
                if !warnings.is_empty() {
                    set("warning", owned(warnings.join(";")));
                }
            }
        }
        texts
    }
}

/// Each legacy ward's value, repeats dropped, in order, `; `-separated.
fn legacy_values(wards: &[LegacyWardId], value: impl Fn(LegacyWardId) -> Option<String>) -> String {
    let mut values: Vec<String> = Vec::new();
    for &ward in wards {
        if let Some(text) = value(ward)
            && !values.contains(&text)
        {
            values.push(text);
        }
    }
    joined(values)
}

fn joined(values: impl IntoIterator<Item = String>) -> String {
    values.into_iter().collect::<Vec<_>>().join("; ")
}

/// Reads, parses and converts one row.
fn answer_row(map: &Map2025, row: &InputRow, max_field_chars: usize) -> RowAnswer {
    let fields = match &row.fields {
        Ok(fields) => fields,
        Err(error) => return RowAnswer::failed(error.code, error.message.clone()),
    };
    if let Err(error) = check_field_lengths(fields, max_field_chars) {
        return RowAnswer::failed(RowErrorCode::from(&error), error.to_string());
    }
    let point = match (&fields.lat, &fields.lon) {
        (None, None) => None,
        (lat, lon) => match address::parse_location(lat.as_deref(), lon.as_deref()) {
            Ok(point) => Some(point),
            Err(error) => return RowAnswer::failed(RowErrorCode::from(&error), error.to_string()),
        },
    };
    let text = row_text(fields);
    let parse = map.parser().parse(&text);
    let ward_at_point = point.and_then(|point| map.ward_at(point));
    let conversion = convert(map.admin(), &parse.reading, ward_at_point);
    let conflict = !parse.reading.conflicts.is_empty();
    let zone_mismatch = ward_at_point.is_some_and(|at| {
        conversion.ward.is_some_and(|ward| ward != at) && !conversion.candidates.contains(&at)
    });
    let status = match (conversion.ward, parse.reading.ambiguous || conflict) {
        (None, _) => ConvertStatus::Unresolved,
        (Some(_), true) => ConvertStatus::Ambiguous,
        (Some(_), false) => ConvertStatus::Converted,
    };
    RowAnswer::Converted {
        status,
        parse: Box::new(parse),
        conversion,
        conflict,
        zone_mismatch,
    }
}

/// The text the parser reads for a row; see the module's decisions.
pub fn row_text(fields: &RowFields) -> String {
    let line = [&fields.house_number, &fields.alley, &fields.street]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let address = fields.address.as_deref().unwrap_or_default();
    let folded_address = folded(address);
    let mut parts: Vec<&str> = Vec::with_capacity(5);
    for part in [Some(line.as_str()), fields.address.as_deref()] {
        if let Some(part) = part.filter(|part| !part.is_empty()) {
            parts.push(part);
        }
    }
    for unit in [&fields.ward, &fields.district, &fields.province]
        .into_iter()
        .flatten()
    {
        let folded_unit = folded(unit);
        if !folded_unit.is_empty() && !folded_address.contains(&folded_unit) {
            parts.push(unit);
        }
    }
    parts.join(", ")
}

/// Lower case, no marks, single spaces: for "does the address already say it".
fn folded(text: &str) -> String {
    strip_marks(&text.to_lowercase())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(address: Option<&str>, ward: &str, district: &str, province: &str) -> RowFields {
        let some = |text: &str| Some(text.to_owned()).filter(|text| !text.is_empty());
        RowFields {
            address: address.map(str::to_owned),
            ward: some(ward),
            district: some(district),
            province: some(province),
            ..RowFields::default()
        }
    }

    #[test]
    fn a_row_text_joins_its_parts_once() {
        let both = fields(
            Some("12 Lê Lợi, Phường Bến Nghé, Quận 1"),
            "Bến Nghé",
            "quan 1",
            "TP.HCM",
        );
        assert_eq!(
            row_text(&both),
            "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP.HCM"
        );
        let columns = RowFields {
            house_number: Some("7".to_owned()),
            alley: Some("ngõ 12".to_owned()),
            street: Some("phố Huế".to_owned()),
            ..fields(None, "", "Hai Bà Trưng", "Hà Nội")
        };
        assert_eq!(row_text(&columns), "7 ngõ 12 phố Huế, Hai Bà Trưng, Hà Nội");
        assert_eq!(row_text(&RowFields::default()), "");
    }
}
