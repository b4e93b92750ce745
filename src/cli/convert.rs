//! `vmap convert LIST`: an address list in, the list with both maps out, with progress.

use std::io::Write;

use super::CliError;
use super::args::ConvertArgs;
use super::assign::{OpenList, open_list, open_output};
use crate::assign::AssignError;
use crate::assign::format::{ListKind, WriterOptions};
use crate::convert::list::{self, ConvertSettings};
use crate::zones::Map2025;

pub(super) async fn convert(args: ConvertArgs) -> Result<(), CliError> {
    let read_limits = args.list.read_limits();
    let OpenList {
        format,
        input,
        progress,
    } = open_list(
        &args.input,
        args.format,
        ListKind::Convert,
        read_limits,
        "converting",
    )
    .await?;
    let map = Map2025::embedded().map_err(crate::zones::ZonesError::from)?;
    let (output, output_name) = open_output(args.output.as_deref())?;
    let settings = ConvertSettings {
        read_limits,
        writer: WriterOptions {
            csv_safe: args.csv_safe,
            ..WriterOptions::default()
        },
        ..ConvertSettings::default()
    };
    let (summary, mut output) = tokio::task::spawn_blocking(move || {
        // The parser is built once, before the first batch fans out.
        map.parser();
        list::run(&map, format, input, output, settings)
    })
    .await
    .map_err(|source| CliError::Task {
        task: "converting the list",
        source,
    })?
    .map_err(AssignError::from)?;
    output.flush().map_err(|source| CliError::File {
        path: output_name,
        source,
    })?;
    progress.finish();
    eprintln!(
        "{} rows: {} converted, {} ambiguous, {} unresolved, {} errors in {:.1} s ({:.0} rows/s)",
        summary.rows,
        summary.converted,
        summary.ambiguous,
        summary.unresolved,
        summary.errors,
        summary.duration.as_secs_f64(),
        summary.rows_per_second(),
    );
    Ok(())
}
