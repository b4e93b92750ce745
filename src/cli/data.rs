//! Commands that make or move data: `seed`, `synth`, `copy`.

use super::args::{CopyArgs, SeedArgs, SynthArgs};
use super::{CliError, connect, load_zones};
use crate::progress::Progress;
use crate::store::Store;
use crate::synth::SeedError;

pub(super) async fn seed(args: SeedArgs) -> Result<(), CliError> {
    let zones = load_zones(&args.data.zones)?;
    let store = connect(&args.data).await?;
    let progress = Progress::new("seeding", args.addresses);
    let report = match store.sqlite_file().map(std::path::Path::to_path_buf) {
        // A SQLite file is built beside the empty target and renamed into place, which
        // needs every connection to it closed (`synth::seed_new_sqlite_file`).
        Some(path) => {
            let counts = store.counts().await?;
            if counts.active + counts.retired > 0 {
                return Err(SeedError::NotEmpty(counts.active + counts.retired).into());
            }
            // Closed and dropped: a closed pool was seen to keep a connection open (and so
            // the file's `-wal`) for seconds while its handles lived.
            store.close().await;
            drop(store);
            let (n_addresses, seed) = (args.addresses, args.seed);
            let busy_timeout = args.data.store.options().db_timeout;
            tokio::task::spawn_blocking(move || {
                crate::synth::seed_new_sqlite_file(
                    &path,
                    &zones,
                    n_addresses,
                    seed,
                    busy_timeout,
                    &progress,
                )
            })
            .await
            .map_err(|source| CliError::Task {
                task: "seeding",
                source,
            })??
        }
        None => {
            let report =
                crate::synth::seed(&store, zones, args.addresses, args.seed, &progress).await?;
            store.close().await;
            report
        }
    };
    let seconds = report.duration.as_secs_f64();
    println!(
        "seeded {} addresses in {seconds:.1} s ({:.0} addresses/s)",
        report.n_addresses,
        report.n_addresses as f64 / seconds.max(1e-9)
    );
    Ok(())
}

pub(super) async fn copy(args: CopyArgs) -> Result<(), CliError> {
    let source = Store::connect(&args.from).await?;
    let target = Store::connect(&args.to).await?;
    let report =
        crate::store::copy_registry(&source, &target, &Progress::new("copying", 0)).await?;
    source.close().await;
    target.close().await;
    eprintln!(
        "copied {} addresses from {} to {} in {:.1} s",
        report.rows,
        source.backend_name(),
        target.backend_name(),
        report.duration.as_secs_f64()
    );
    Ok(())
}

pub(super) fn synth_csv(args: SynthArgs) -> Result<(), CliError> {
    let zones = load_zones(&args.zones)?;
    let output: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| CliError::file(path, error))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let n_rows =
        crate::synth::write_csv(&zones, args.addresses, args.seed, output).map_err(|error| {
            CliError::File {
                path: args.output.as_ref().map_or_else(
                    || "standard output".to_owned(),
                    |path| path.display().to_string(),
                ),
                source: std::io::Error::other(error),
            }
        })?;
    eprintln!("wrote {n_rows} synthetic addresses");
    Ok(())
}
