//! `vmap assign`: a list file in, the answered list out, with progress.

use std::sync::Arc;

use super::args::AssignArgs;
use super::{CliError, open_registry};
use crate::progress::Progress;

pub(super) async fn assign(args: AssignArgs) -> Result<(), CliError> {
    use crate::assign::{self, AssignSettings, format::Format};
    use std::io::Write as _;
    let format = match &args.format {
        Some(name) => Format::parse_name(name).ok_or_else(|| {
            CliError::Usage(format!(
                "--format must be csv, json or ndjson, not {name:?}"
            ))
        })?,
        None => Format::from_path(&args.input).ok_or_else(|| {
            CliError::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv|json|ndjson",
                args.input.display()
            ))
        })?,
    };
    if !(0.0..=crate::registry::MAX_MATCH_RADIUS_M).contains(&args.match_radius_m) {
        return Err(CliError::Usage(format!(
            "--match-radius-m must be between 0 and {}",
            crate::registry::MAX_MATCH_RADIUS_M
        )));
    }
    let registry = Arc::new(
        open_registry(
            &args.data.database_url,
            args.data.zones_file.as_ref(),
            &args.data.snapshot,
        )
        .await?,
    );

    let reading_stdin = args.input.as_os_str() == "-";
    let (input, total_bytes): (Box<dyn std::io::Read + Send>, u64) = if reading_stdin {
        (Box::new(std::io::stdin()), 0)
    } else {
        let file = std::fs::File::open(&args.input).map_err(|error| {
            CliError::Usage(format!("cannot open {}: {error}", args.input.display()))
        })?;
        let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        (Box::new(file), size)
    };
    let progress = Arc::new(Progress::bytes("assigning", total_bytes));
    let input = ProgressReader {
        inner: input,
        progress: progress.clone(),
    };
    let output: Box<dyn std::io::Write + Send> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|error| {
            CliError::Usage(format!("cannot create {}: {error}", path.display()))
        })?),
        None => Box::new(std::io::stdout()),
    };
    let settings = AssignSettings {
        options: crate::registry::AssignOptions {
            match_radius_m: args.match_radius_m,
            dry_run: args.dry_run,
        },
        batch_rows: args.batch_rows.max(1),
        ..AssignSettings::default()
    };
    let (summary, mut output) =
        assign::run(registry.clone(), format, input, output, settings, None)
            .await
            .map_err(|error| CliError::Usage(error.to_string()))?;
    output.flush().map_err(CliError::Serve)?;
    progress.finish();
    registry.store().close().await;
    eprintln!(
        "{} rows: {} created, {} existing, {} errors in {:.1} s ({:.0} rows/s){}",
        summary.rows,
        summary.created,
        summary.existing,
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

/// Counts what is read into a progress bar.
struct ProgressReader<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: std::io::Read> std::io::Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
