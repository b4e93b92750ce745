//! `vmap assign`: a list file in, the answered list out, with progress.

use std::sync::Arc;

use super::args::AssignArgs;
use super::{CliError, open_registry};
use crate::progress::Progress;

pub(super) async fn assign(args: AssignArgs) -> Result<(), CliError> {
    use crate::assign::format::{self, Format, FormatError};
    use crate::assign::{self, AssignError, AssignSettings};
    use std::io::Write as _;
    let format = match args.format {
        Some(format) => Format::from(format),
        None => Format::from_path(&args.input).ok_or_else(|| {
            CliError::Usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv|json|ndjson",
                args.input.display()
            ))
        })?,
    };
    let reading_stdin = args.input.as_os_str() == "-";
    let (input, total_bytes): (Box<dyn std::io::Read + Send>, u64) = if reading_stdin {
        (Box::new(std::io::stdin()), 0)
    } else {
        let file =
            std::fs::File::open(&args.input).map_err(|error| CliError::file(&args.input, error))?;
        let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        (Box::new(file), size)
    };
    let progress = Arc::new(Progress::bytes("assigning", total_bytes));
    let input = ProgressReader {
        inner: input,
        progress: progress.clone(),
    };
    // A list refused at its start fails here, by the reader's own rules, before the registry
    // loads and before the output file is made; the list is then read from its first byte.
    let read_limits = args.list.read_limits();
    let (verdict, input) =
        tokio::task::spawn_blocking(move || format::peek_list(format, input, read_limits))
            .await
            .map_err(|source| CliError::Task {
                task: "reading the list",
                source,
            })?
            .map_err(|error| CliError::file(&args.input, error))?;
    verdict.map_err(|refusal| AssignError::from(FormatError::from(refusal)))?;
    let registry = Arc::new(open_registry(&args.data).await?);
    let output: Box<dyn std::io::Write + Send> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|error| CliError::file(path, error))?)
        }
        None => Box::new(std::io::stdout()),
    };
    let settings = AssignSettings {
        options: crate::registry::AssignOptions {
            match_radius: args.match_radius_m.0,
            dry_run: args.dry_run,
        },
        batch_rows: args.batch_rows.max(1),
        read_limits,
        writer: assign::format::WriterOptions {
            csv_safe: args.csv_safe,
        },
        ..AssignSettings::default()
    };
    let (summary, mut output) =
        assign::run(registry.clone(), format, input, output, settings, None).await?;
    let output_name = args.output.as_ref().map_or_else(
        || "standard output".into(),
        |path| path.display().to_string(),
    );
    output.flush().map_err(|source| CliError::File {
        path: output_name,
        source,
    })?;
    progress.finish();
    registry.close().await;
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
