//! `vmap export`: the registry, or the part a filter keeps, as a file GIS tools open
//! (GeoJSON text sequence, CSV, FlatGeobuf), streamed from the store.
//!
//! Decisions:
//! - Rows are read a page at a time in id order (`Store::addresses_after`), on both backends,
//!   so memory holds two pages whatever the registry's size; a writer thread formats one page
//!   while the next is read. The filters are applied to each page rather than in SQL: they
//!   are cheap next to formatting, and one reading path serves both databases.
//! - Every address is exported by default, retired ones too (the registry is the record of
//!   every code issued); `--status active` keeps the live ones.
//! - FlatGeobuf is written with its packed Hilbert R-tree: GIS tools then read a window
//!   without the whole file. The `flatgeobuf` crate keeps ~56 bytes per feature in memory
//!   (and the features in a temporary file) until it writes the sorted file at the end: about
//!   56 MB per million addresses.

mod formats;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::address::{Address, AddressStatus};
use crate::code::Postcode;
use crate::point::LatLonBox;
use crate::progress::Progress;
use crate::store::{Store, StoreError};
use crate::zones::ZoneTable;

/// The file formats of `vmap export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 8142: each feature a GeoJSON text preceded by RS (0x1E) and followed by LF.
    GeoJsonSeq,
    /// [`COLUMNS`], with `lat` and `lon` in WGS84 degrees.
    Csv,
    /// FlatGeobuf, EPSG:4326, with a spatial index.
    FlatGeobuf,
}

/// Which addresses to export; `None` keeps all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExportFilter {
    pub bbox: Option<LatLonBox>,
    pub postcode: Option<Postcode>,
    pub status: Option<AddressStatus>,
}

impl ExportFilter {
    pub fn keeps(&self, address: &Address) -> bool {
        self.bbox.is_none_or(|bbox| bbox.contains(address.location))
            && self
                .postcode
                .is_none_or(|postcode| address.code.postcode() == postcode)
            && self.status.is_none_or(|status| address.status == status)
    }
}

/// The columns (CSV) and properties (GeoJSON, FlatGeobuf) of every exported address, in
/// this order; `lat` and `lon` are the geometry in the other formats.
pub const COLUMNS: [&str; 14] = [
    "code",
    "postcode",
    "status",
    "lat",
    "lon",
    "house_number",
    "alley",
    "street",
    "unit",
    "address",
    "client_ref",
    "successor",
    "ward",
    "province",
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Write(#[from] std::io::Error),
    #[error("writing the CSV failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the FlatGeobuf file failed: {0}")]
    FlatGeobuf(String),
    #[error("the export's writer thread stopped: {0}")]
    Writer(String),
}

/// What an export did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportSummary {
    /// Addresses read from the store.
    pub n_read: u64,
    /// Addresses the filter kept, written.
    pub n_written: u64,
    pub duration: Duration,
}

/// Rows read from the store per round trip.
const PAGE_ROWS: i64 = 10_000;

/// One exported address: what every format writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    pub code: String,
    pub postcode: String,
    pub status: &'static str,
    #[serde(skip)]
    pub lat: f64,
    #[serde(skip)]
    pub lon: f64,
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    pub address: Option<String>,
    pub client_ref: Option<String>,
    pub successor: Option<String>,
    /// The ward and province of the zone the postal code names.
    pub ward: Option<String>,
    pub province: Option<String>,
}

impl ExportRow {
    pub fn new(zones: &ZoneTable, address: Address) -> ExportRow {
        let zone = zones
            .by_postcode(address.code.postcode())
            .map(|zone_id| zones.get(zone_id));
        let parts = address.parts;
        ExportRow {
            code: address.code.canonical(),
            postcode: address.code.postcode().to_string(),
            status: address.status.as_str(),
            lat: address.location.lat,
            lon: address.location.lon,
            house_number: parts.house_number,
            alley: parts.alley,
            street: parts.street,
            unit: parts.unit,
            address: parts.address,
            client_ref: parts.client_ref,
            successor: address.successor.map(|code| code.canonical()),
            ward: zone.map(|zone| zone.ward.clone()),
            province: zone.map(|zone| zone.province.clone()),
        }
    }

    /// The text columns after `lat` and `lon`, in [`COLUMNS`] order.
    fn texts(&self) -> [Option<&str>; 12] {
        [
            Some(self.code.as_str()),
            Some(self.postcode.as_str()),
            Some(self.status),
            self.house_number.as_deref(),
            self.alley.as_deref(),
            self.street.as_deref(),
            self.unit.as_deref(),
            self.address.as_deref(),
            self.client_ref.as_deref(),
            self.successor.as_deref(),
            self.ward.as_deref(),
            self.province.as_deref(),
        ]
    }
}

/// The text columns' names, in [`ExportRow::texts`] order.
const TEXT_COLUMNS: [&str; 12] = [
    "code",
    "postcode",
    "status",
    "house_number",
    "alley",
    "street",
    "unit",
    "address",
    "client_ref",
    "successor",
    "ward",
    "province",
];

/// An OGR VRT file that gives a CSV export its geometry and EPSG:4326, which CSV itself
/// cannot state: GIS tools that open the `.vrt` see points in WGS84. `csv_file_name` is the
/// CSV's name, in the same directory.
pub fn csv_vrt(csv_file_name: &str, layer: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<OGRVRTDataSource>\n  <OGRVRTLayer name=\"{layer}\">\n    \
         <SrcDataSource relativeToVRT=\"1\">{source}</SrcDataSource>\n    \
         <GeometryType>wkbPoint</GeometryType>\n    <LayerSRS>EPSG:4326</LayerSRS>\n    \
         <GeometryField encoding=\"PointFromColumns\" x=\"lon\" y=\"lat\"/>\n  \
         </OGRVRTLayer>\n</OGRVRTDataSource>\n",
        layer = escape(layer),
        source = escape(csv_file_name),
    )
}

/// Writes the addresses `filter` keeps to `out` in `format`, reading the store a page at a
/// time; `progress` counts the rows read.
pub async fn export<W: Write + Send + 'static>(
    store: &Store,
    zones: Arc<ZoneTable>,
    filter: ExportFilter,
    format: ExportFormat,
    out: W,
    progress: &Progress,
) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    let counts = store.counts().await?;
    progress.set_total(counts.active + counts.retired);
    // Two pages in flight: one being formatted while the next is read.
    let (pages, received) = tokio::sync::mpsc::channel::<Vec<Address>>(1);
    let writer = std::thread::spawn(move || write_pages(&zones, filter, format, out, received));
    let mut n_read = 0u64;
    let mut after_id = 0;
    let read = loop {
        let page = match store.addresses_after(after_id, PAGE_ROWS).await {
            Ok(page) => page,
            Err(error) => break Err(ExportError::from(error)),
        };
        let Some(last) = page.last() else {
            break Ok(());
        };
        after_id = last.id;
        let n = page.len() as u64;
        if pages.send(page).await.is_err() {
            // The writer stopped; its error is reported below.
            break Ok(());
        }
        n_read += n;
        progress.inc(n);
    };
    drop(pages);
    let written = tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|error| ExportError::Writer(error.to_string()))?
        .map_err(|_| ExportError::Writer("it panicked".to_owned()))?;
    read?;
    let n_written = written?;
    progress.finish();
    Ok(ExportSummary {
        n_read,
        n_written,
        duration: started.elapsed(),
    })
}

/// The writer thread: formats every page it is sent; the number of rows written.
fn write_pages<W: Write + 'static>(
    zones: &ZoneTable,
    filter: ExportFilter,
    format: ExportFormat,
    out: W,
    mut pages: tokio::sync::mpsc::Receiver<Vec<Address>>,
) -> Result<u64, ExportError> {
    let mut sink = formats::sink(format, out)?;
    let mut n_written = 0u64;
    while let Some(page) = pages.blocking_recv() {
        for address in page.into_iter().filter(|address| filter.keeps(address)) {
            sink.write(&ExportRow::new(zones, address))?;
            n_written += 1;
        }
    }
    sink.finish()?;
    Ok(n_written)
}
