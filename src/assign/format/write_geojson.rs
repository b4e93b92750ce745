//! The answered list as one GeoJSON FeatureCollection (RFC 7946), streamed: a Feature per
//! row, in input order, for GIS tools that open the answer as a layer.
//!
//! Decisions:
//! - A row's geometry is its own point (`lat`, `lon` as the row gives them, `[lon, lat]`);
//!   a row without one (an error row, the abort record) has `"geometry": null`, which RFC 7946
//!   allows, so no row is dropped and the count of features is the count of rows.
//! - Its properties are the input row (a JSON row's object as it came; a CSV row's cells as
//!   strings under their column names, a column without a name as `column_N`, 1-based) then
//!   the output columns, as in the JSON answer.
//! - The collection is written as it goes and closed at the end; a list cut short ends
//!   with the abort record as its last feature, like the other formats.

use std::io::{self, Write};

use serde_json::{Map, Value};

use super::write::{OutputText, write_json_object};
use super::{CsvHeader, InputRow, ListKind, Original};
use crate::point::LatLon;

pub(super) struct GeojsonTarget<W: Write> {
    pub(super) output: io::BufWriter<W>,
    features_written: u64,
    /// A CSV list's property names, one per column.
    csv_columns: Vec<String>,
}

impl<W: Write> GeojsonTarget<W> {
    pub(super) fn new(csv_header: Option<&CsvHeader>, output: W) -> io::Result<GeojsonTarget<W>> {
        let csv_columns = csv_header
            .map(|header| {
                header
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(index, column)| match column.trim() {
                        "" => format!("column_{}", index + 1),
                        _ => column.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut output = io::BufWriter::new(output);
        output.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
        Ok(GeojsonTarget {
            output,
            features_written: 0,
            csv_columns,
        })
    }

    pub(super) fn write_row(
        &mut self,
        kind: ListKind,
        row: &InputRow,
        location: Option<LatLon>,
        texts: &[OutputText<'_>],
    ) -> io::Result<()> {
        if self.features_written > 0 {
            self.output.write_all(b",\n")?;
        }
        self.output
            .write_all(b"{\"type\":\"Feature\",\"geometry\":")?;
        match location {
            Some(point) => {
                let coordinates = serde_json::json!([point.lon, point.lat]);
                write!(
                    self.output,
                    "{{\"type\":\"Point\",\"coordinates\":{coordinates}}}"
                )?;
            }
            None => self.output.write_all(b"null")?,
        }
        self.output.write_all(b",\"properties\":")?;
        let csv_properties;
        let original = match &row.original {
            Original::Json(object) => Some(object),
            Original::Csv(record) => {
                csv_properties = self.csv_properties(record);
                Some(&csv_properties)
            }
            Original::Absent => None,
        };
        write_json_object(&mut self.output, kind, original, texts)?;
        self.output.write_all(b"}")?;
        self.features_written += 1;
        Ok(())
    }

    fn csv_properties(&self, record: &csv::ByteRecord) -> Map<String, Value> {
        self.csv_columns
            .iter()
            .zip(record.iter())
            .map(|(column, cell)| {
                let text = String::from_utf8_lossy(cell).into_owned();
                (column.clone(), Value::String(text))
            })
            .collect()
    }

    pub(super) fn finish(mut self) -> io::Result<W> {
        self.output.write_all(b"\n]}\n")?;
        self.output.into_inner().map_err(|error| error.into_error())
    }
}
