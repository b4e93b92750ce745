//! What an answered row says: its status and, for a row that failed, a machine-readable
//! error code. The strings are part of the output format (CSV cells, JSON values) and are
//! listed in the README; a test pins the two together.

use std::fmt;

use crate::point::LatLon;

/// What became of a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RowStatus {
    /// A new address was registered (or would be, in a dry run).
    Created,
    /// The same place is registered already (or came earlier in the list); for a row
    /// without coordinates, its text found this registered address.
    Existing,
    /// A row without coordinates whose text did not find one registered address
    /// (`error_code` says whether none or several); nothing is minted from text.
    Unmatched,
    /// The row failed alone; `error_code` says why.
    #[default]
    Error,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Created => "created",
            RowStatus::Existing => "existing",
            RowStatus::Unmatched => "unmatched",
            RowStatus::Error => "error",
        }
    }
}

impl fmt::Display for RowStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a row failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowErrorCode {
    /// `lat` or `lon` is absent or empty, and the row has no address text to find instead.
    MissingCoordinate,
    /// `lat` or `lon` is not a decimal number.
    InvalidCoordinate,
    /// `lat` outside -90..90 or `lon` outside -180..180.
    CoordinateOutOfRange,
    /// No zone covers the point: with the 2025 scheme it is in no ward and no ward boundary
    /// is within 2 km; with the legacy scheme no postal zone is within 50 km.
    OutsideCoverage,
    /// The point is too far from its zone's reference point for a code to decode.
    TooFarFromReference,
    /// The point's cell has run out of `-N` suffixes.
    InvalidSuffix,
    /// A text field is longer than the configured limit.
    FieldTooLong,
    /// A cell of any column is over the byte limit of a cell.
    CellTooLarge,
    /// The row is over the byte limit of a row.
    RowTooLarge,
    /// A CSV row with another number of fields than the header.
    ColumnCount,
    /// A CSV row that is not valid UTF-8.
    InvalidUtf8,
    /// A CSV row the CSV reader refused.
    InvalidCsv,
    /// A JSON element (or NDJSON line) that does not parse, or a fault in the array itself.
    InvalidJson,
    /// A JSON element that is not an object.
    NotAnObject,
    /// A known field with a boolean, array or object value.
    InvalidField,
    /// A JSON row with a key the answer adds (`code`, `status`, …).
    ReservedColumn,
    /// A row past the request's row limit.
    RowLimit,
    /// The server failed to decide the row; it is logged.
    Internal,
    /// A row without coordinates whose text finds no registered address (`match_level`
    /// says how far it got).
    AddressNotFound,
    /// A row without coordinates whose text finds several registered addresses that cannot
    /// be told apart.
    AddressAmbiguous,
    /// Not a row of the list: the last record of an answer cut short (the database went
    /// away, the body passed its byte limit or failed). The rows before it are answered;
    /// the rest were not processed.
    StreamAborted,
}

impl RowErrorCode {
    /// Every code, in the order the README lists them.
    pub const ALL: [RowErrorCode; 21] = [
        RowErrorCode::MissingCoordinate,
        RowErrorCode::InvalidCoordinate,
        RowErrorCode::CoordinateOutOfRange,
        RowErrorCode::OutsideCoverage,
        RowErrorCode::FieldTooLong,
        RowErrorCode::CellTooLarge,
        RowErrorCode::RowTooLarge,
        RowErrorCode::ColumnCount,
        RowErrorCode::InvalidUtf8,
        RowErrorCode::InvalidCsv,
        RowErrorCode::InvalidJson,
        RowErrorCode::NotAnObject,
        RowErrorCode::InvalidField,
        RowErrorCode::ReservedColumn,
        RowErrorCode::RowLimit,
        RowErrorCode::TooFarFromReference,
        RowErrorCode::InvalidSuffix,
        RowErrorCode::AddressNotFound,
        RowErrorCode::AddressAmbiguous,
        RowErrorCode::Internal,
        RowErrorCode::StreamAborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RowErrorCode::MissingCoordinate => "missing_coordinate",
            RowErrorCode::InvalidCoordinate => "invalid_coordinate",
            RowErrorCode::CoordinateOutOfRange => "coordinate_out_of_range",
            RowErrorCode::OutsideCoverage => "outside_coverage",
            RowErrorCode::TooFarFromReference => "too_far_from_reference",
            RowErrorCode::InvalidSuffix => "invalid_suffix",
            RowErrorCode::FieldTooLong => "field_too_long",
            RowErrorCode::CellTooLarge => "cell_too_large",
            RowErrorCode::RowTooLarge => "row_too_large",
            RowErrorCode::ColumnCount => "column_count",
            RowErrorCode::InvalidUtf8 => "invalid_utf8",
            RowErrorCode::InvalidCsv => "invalid_csv",
            RowErrorCode::InvalidJson => "invalid_json",
            RowErrorCode::NotAnObject => "not_an_object",
            RowErrorCode::InvalidField => "invalid_field",
            RowErrorCode::ReservedColumn => "reserved_column",
            RowErrorCode::RowLimit => "row_limit",
            RowErrorCode::AddressNotFound => "address_not_found",
            RowErrorCode::AddressAmbiguous => "address_ambiguous",
            RowErrorCode::Internal => "internal",
            RowErrorCode::StreamAborted => "stream_aborted",
        }
    }
}

impl fmt::Display for RowErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the engine decided for a row: exactly what the writer appends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowOutcome {
    pub code: Option<String>,
    pub status: RowStatus,
    pub postcode: Option<String>,
    pub distance_m: Option<f64>,
    pub error_code: Option<RowErrorCode>,
    pub error_message: Option<String>,
    /// The point's 2025 ward (by its boundary): postal code, ward and province names.
    pub postcode_2025: Option<String>,
    pub ward_2025: Option<String>,
    pub province_2025: Option<String>,
    pub warning: Option<RowWarning>,
    /// A row found from its text: how far the search got (`address`, `street`, …), how
    /// surely, and the best match as Vietnam Post writes it.
    pub match_level: Option<&'static str>,
    pub confidence: Option<f64>,
    pub matched_label: Option<String>,
    /// Where a row found from its text is: the registered address's point (GeoJSON answers).
    pub location: Option<LatLon>,
}

/// Something a row's answer should be read with, though the row did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowWarning {
    /// The row's own `ward`, `district` or `province` text names units none of which
    /// holds its point (a wrong pin, or a wrong address).
    ZoneMismatch,
}

impl RowWarning {
    pub fn as_str(self) -> &'static str {
        match self {
            RowWarning::ZoneMismatch => "zone_mismatch",
        }
    }
}

impl RowOutcome {
    /// The outcome of a row that failed with `code`.
    pub fn failed(code: RowErrorCode, message: impl Into<String>) -> RowOutcome {
        RowOutcome {
            status: RowStatus::Error,
            error_code: Some(code),
            error_message: Some(message.into()),
            ..RowOutcome::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_listed_in_the_readme_in_order() {
        // The README's table of row error codes: the lines after the one that introduces it,
        // up to the first blank line; the first backticked word of each row.
        let readme = include_str!("../../README.md");
        let in_readme: Vec<&str> = readme
            .lines()
            .skip_while(|line| !line.starts_with("Row error codes"))
            .skip(1)
            .skip_while(|line| line.trim().is_empty())
            .take_while(|line| !line.trim().is_empty())
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        let in_code: Vec<&str> = RowErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(in_readme, in_code);
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in RowErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{text}"
            );
        }
    }
}
