//! Commands that make or move data: `seed`, `synth`, `copy`.

use super::args::{CopyArgs, SeedArgs, SynthArgs};
use super::{CliError, load_zones};
use crate::progress::Progress;
use crate::registry;
use crate::store::Store;

pub(super) async fn seed(args: SeedArgs) -> Result<(), CliError> {
    let zones = load_zones(args.data.zones_file.as_ref())?;
    let store = Store::connect(&args.data.database_url).await?;
    let progress = Progress::new("seeding", args.addresses);
    let report = registry::seed(&store, zones, args.addresses, args.seed, &progress).await?;
    store.close().await;
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
    let report = crate::store::copy_registry(&source, &target, true).await?;
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
    let zones = load_zones(args.zones_file.as_ref())?;
    let output: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                CliError::Usage(format!("cannot create {}: {error}", path.display()))
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let n_rows = crate::synth::write_csv(&zones, args.addresses, args.seed, output)
        .map_err(|error| CliError::Usage(format!("writing the list failed: {error}")))?;
    eprintln!("wrote {n_rows} synthetic addresses");
    Ok(())
}
