//! `vmap export`: the registry (or a part) as a GIS file. Its arguments live here rather
//! than in `args.rs`, which is at its size limit.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::args::DataArgs;
use super::{CliError, connect, load_zones};
use crate::address::AddressStatus;
use crate::code::Postcode;
use crate::export::{ExportFilter, ExportFormat};
use crate::point::LatLonBox;
use crate::progress::Progress;

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The file to write; written under FILE.partial and renamed once complete.
    #[arg(long)]
    pub to: PathBuf,
    /// The format; by default from the file's extension (.csv, .fgb; else geojsonseq).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormatArg>,
    /// Only addresses in this box: min_lon,min_lat,max_lon,max_lat (edges included).
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<LatLonBox>,
    /// Only addresses whose code has this 5-digit postal code.
    #[arg(long)]
    pub postcode: Option<Postcode>,
    /// Only active or only retired addresses; both by default.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    /// GeoJSON text sequence (RFC 8142), one Feature per line.
    Geojsonseq,
    /// CSV with lat and lon columns (WGS84).
    Csv,
    /// FlatGeobuf with a spatial index, EPSG:4326.
    Flatgeobuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Active,
    Retired,
}

impl ExportArgs {
    pub fn format(&self) -> ExportFormat {
        let by_extension = || match self
            .to
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => ExportFormatArg::Csv,
            Some("fgb") => ExportFormatArg::Flatgeobuf,
            _ => ExportFormatArg::Geojsonseq,
        };
        match self.format.unwrap_or_else(by_extension) {
            ExportFormatArg::Geojsonseq => ExportFormat::GeoJsonSeq,
            ExportFormatArg::Csv => ExportFormat::Csv,
            ExportFormatArg::Flatgeobuf => ExportFormat::FlatGeobuf,
        }
    }

    pub fn filter(&self) -> ExportFilter {
        ExportFilter {
            bbox: self.bbox,
            postcode: self.postcode,
            status: self.status.map(|status| match status {
                StatusArg::Active => AddressStatus::Active,
                StatusArg::Retired => AddressStatus::Retired,
            }),
        }
    }
}

pub(super) async fn export(args: ExportArgs) -> Result<(), CliError> {
    let zones = load_zones(&args.data.zones)?;
    let store = connect(&args.data).await?;
    let partial = partial_path(&args.to);
    let file = std::fs::File::create(&partial).map_err(|error| CliError::file(&partial, error))?;
    let progress = Progress::new("exporting", 0);
    let result =
        crate::export::export(&store, zones, args.filter(), args.format(), file, &progress).await;
    store.close().await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.into());
        }
    };
    std::fs::rename(&partial, &args.to).map_err(|error| CliError::file(&args.to, error))?;
    if args.format() == ExportFormat::Csv {
        write_vrt(&args.to)?;
    }
    let seconds = summary.duration.as_secs_f64();
    eprintln!(
        "exported {} of {} addresses to {} in {seconds:.1} s ({:.0} rows/s)",
        summary.n_written,
        summary.n_read,
        args.to.display(),
        summary.n_read as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// `FILE.vrt` beside a CSV export: its geometry and SRS for GIS tools.
fn write_vrt(csv: &Path) -> Result<(), CliError> {
    let name = csv
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let layer = csv
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let vrt = csv.with_extension("vrt");
    std::fs::write(&vrt, crate::export::csv_vrt(&name, &layer))
        .map_err(|error| CliError::file(&vrt, error))
}

/// `FILE.partial`, beside `FILE`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
