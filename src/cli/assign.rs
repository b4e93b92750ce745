//! `vmap assign`: a list file in, the answered list out, with progress.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::args::{AssignArgs, FormatArg};
use super::{CliError, open_registry};
use crate::assign::format::{self, Format, FormatError, ListKind, ReadLimits};
use crate::assign::{self, AssignError, AssignSettings};
use crate::progress::{Progress, ProgressReader};

/// A list file (or `-`, standard input) opened for reading, with a progress bar of its
/// bytes, after its start was judged by the reader's own rules ([`format::peek_list`]): a
/// refused list fails here, before anything loads and before the output file is made.
pub(super) struct OpenList {
    pub format: Format,
    pub input: Box<dyn Read + Send>,
    pub progress: Arc<Progress>,
}

pub(super) async fn open_list(
    path: &Path,
    format: Option<FormatArg>,
    kind: ListKind,
    read_limits: ReadLimits,
    label: &'static str,
) -> Result<OpenList, CliError> {
    let format = match format {
        Some(format) => Format::from(format),
        None => Format::from_path(path).ok_or_else(|| {
            CliError::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv|json|ndjson",
                path.display()
            ))
        })?,
    };
    let (input, total_bytes): (Box<dyn Read + Send>, u64) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let file = std::fs::File::open(path).map_err(|error| CliError::file(path, error))?;
        let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        (Box::new(file), size)
    };
    let progress = Arc::new(Progress::bytes(label, total_bytes));
    let input = ProgressReader::new(input, progress.clone());
    let (verdict, input) =
        tokio::task::spawn_blocking(move || format::peek_list(kind, format, input, read_limits))
            .await
            .map_err(|source| CliError::Task {
                task: "reading the list",
                source,
            })?
            .map_err(|error| CliError::file(path, error))?;
    verdict.map_err(|refusal| AssignError::from(FormatError::from(refusal)))?;
    Ok(OpenList {
        format,
        input: Box::new(input),
        progress,
    })
}

/// Whether the answer goes to a `.geojson` file (any case), which makes it GeoJSON.
fn is_geojson_path(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("geojson"))
}

/// Where the answered list goes: the file, else standard output; and its name for messages.
pub(super) fn open_output(
    path: Option<&Path>,
) -> Result<(Box<dyn Write + Send>, String), CliError> {
    match path {
        Some(path) => Ok((
            Box::new(std::fs::File::create(path).map_err(|error| CliError::file(path, error))?),
            path.display().to_string(),
        )),
        None => Ok((Box::new(std::io::stdout()), "standard output".to_owned())),
    }
}

pub(super) async fn assign(args: AssignArgs) -> Result<(), CliError> {
    let read_limits = args.list.read_limits();
    let OpenList {
        format,
        input,
        progress,
    } = open_list(
        &args.input,
        args.format,
        ListKind::Assign,
        read_limits,
        "assigning",
    )
    .await?;
    let registry = Arc::new(open_registry(&args.data).await?);
    let (output, output_name) = open_output(args.output.as_deref())?;
    let settings = AssignSettings {
        options: crate::registry::AssignOptions {
            match_radius: args.match_radius_m.0,
            dry_run: args.dry_run,
        },
        batch_rows: args.batch_rows.max(1),
        read_limits,
        writer: format::WriterOptions {
            csv_safe: args.csv_safe,
            geojson: args.geojson || args.output.as_deref().is_some_and(is_geojson_path),
        },
        ..AssignSettings::default()
    };
    let (summary, mut output) =
        assign::run(registry.clone(), format, input, output, settings, None).await?;
    output.flush().map_err(|source| CliError::File {
        path: output_name,
        source,
    })?;
    progress.finish();
    registry.close().await;
    eprintln!(
        "{} rows: {} created, {} existing, {}{} errors in {:.1} s ({:.0} rows/s){}",
        summary.rows,
        summary.created,
        summary.existing,
        match summary.unmatched {
            0 => String::new(),
            unmatched => format!("{unmatched} unmatched, "),
        },
        summary.errors,
        summary.duration.as_secs_f64(),
        summary.rows_per_second(),
        if args.dry_run {
            " — dry run, nothing registered"
        } else {
            ""
        }
    );
    Ok(())
}
