//! The three file formats of an export, behind one [`Sink`].

use std::io::Write;

use flatgeobuf::geozero::error::GeozeroError;
use flatgeobuf::geozero::{ColumnValue, GeomProcessor, GeozeroGeometry, PropertyProcessor};
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};

use super::{COLUMNS, ExportError, ExportFormat, ExportRow, TEXT_COLUMNS};

/// Where exported rows go, one at a time.
pub(super) trait Sink {
    fn write(&mut self, row: &ExportRow) -> Result<(), ExportError>;
    /// Writes what is held back (FlatGeobuf: everything) and flushes.
    fn finish(self: Box<Self>) -> Result<(), ExportError>;
}

pub(super) fn sink<W: Write + 'static>(
    format: ExportFormat,
    out: W,
) -> Result<Box<dyn Sink>, ExportError> {
    Ok(match format {
        ExportFormat::GeoJsonSeq => Box::new(GeoJsonSeq {
            out: std::io::BufWriter::new(out),
        }),
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(COLUMNS)?;
            Box::new(Csv {
                csv,
                lat: String::new(),
                lon: String::new(),
            })
        }
        ExportFormat::FlatGeobuf => Box::new(FlatGeobuf::new(out)?),
    })
}

/// RFC 8142: RS, a GeoJSON Feature, LF.
struct GeoJsonSeq<W: Write> {
    out: std::io::BufWriter<W>,
}

#[derive(serde::Serialize)]
struct Feature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    geometry: Point,
    properties: &'a ExportRow,
}

#[derive(serde::Serialize)]
struct Point {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

impl<W: Write> Sink for GeoJsonSeq<W> {
    fn write(&mut self, row: &ExportRow) -> Result<(), ExportError> {
        self.out.write_all(b"\x1e")?;
        let feature = Feature {
            kind: "Feature",
            geometry: Point {
                kind: "Point",
                coordinates: [row.lon, row.lat],
            },
            properties: row,
        };
        serde_json::to_writer(&mut self.out, &feature).map_err(std::io::Error::from)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.flush()?;
        Ok(())
    }
}

struct Csv<W: Write> {
    csv: csv::Writer<W>,
    /// Reused for each row's coordinates.
    lat: String,
    lon: String,
}

impl<W: Write> Sink for Csv<W> {
    fn write(&mut self, row: &ExportRow) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        self.lat.clear();
        self.lon.clear();
        // Rust's float formatting is the shortest text that reads back to the same f64.
        let _ = write!(self.lat, "{}", row.lat);
        let _ = write!(self.lon, "{}", row.lon);
        let texts = row.texts();
        let (head, rest) = texts.split_at(3);
        let cells = head
            .iter()
            .map(|text| text.unwrap_or(""))
            .chain([self.lat.as_str(), self.lon.as_str()])
            .chain(rest.iter().map(|text| text.unwrap_or("")));
        self.csv.write_record(cells)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.csv.flush()?;
        Ok(())
    }
}

struct FlatGeobuf<W: Write> {
    writer: FgbWriter<'static>,
    out: W,
}

/// A point for the FlatGeobuf writer.
struct XY(f64, f64);

impl GeozeroGeometry for XY {
    fn process_geom<P: GeomProcessor>(&self, processor: &mut P) -> Result<(), GeozeroError> {
        processor.point_begin(0)?;
        processor.xy(self.0, self.1, 0)?;
        processor.point_end(0)
    }
}

fn fgb_error(error: impl std::fmt::Display) -> ExportError {
    ExportError::FlatGeobuf(error.to_string())
}

impl<W: Write> FlatGeobuf<W> {
    fn new(out: W) -> Result<FlatGeobuf<W>, ExportError> {
        let options = FgbWriterOptions {
            write_index: true,
            detect_type: false,
            promote_to_multi: false,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 4326,
                ..FgbCrs::default()
            },
            ..FgbWriterOptions::default()
        };
        let mut writer = FgbWriter::create_with_options("addresses", GeometryType::Point, options)
            .map_err(fgb_error)?;
        for name in TEXT_COLUMNS {
            writer.add_column(name, ColumnType::String, |_, column| {
                column.nullable = name != "code" && name != "postcode" && name != "status";
            });
        }
        Ok(FlatGeobuf { writer, out })
    }
}

impl<W: Write> Sink for FlatGeobuf<W> {
    fn write(&mut self, row: &ExportRow) -> Result<(), ExportError> {
        let texts = row.texts();
        let mut written = Ok(());
        self.writer
            .add_feature_geom(XY(row.lon, row.lat), |feature| {
                written = TEXT_COLUMNS
                    .iter()
                    .zip(texts)
                    .enumerate()
                    // A property left out is null to FlatGeobuf readers.
                    .filter_map(|(idx, (name, text))| text.map(|text| (idx, name, text)))
                    .try_for_each(|(idx, name, text)| {
                        feature
                            .property(idx, name, &ColumnValue::String(text))
                            .map(|_| ())
                    });
            })
            .map_err(fgb_error)?;
        written.map_err(fgb_error)
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        let FlatGeobuf { writer, mut out } = *self;
        let mut buffered = std::io::BufWriter::new(&mut out);
        writer.write(&mut buffered).map_err(fgb_error)?;
        buffered.flush()?;
        Ok(())
    }
}
