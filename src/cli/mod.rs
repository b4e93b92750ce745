//! The command line: one clap-derive struct for all configuration, and the commands.
//!
//! Every `serve` option, and every command's database URL and zone file, also reads an
//! environment variable (`#[arg(long, env)]`), so a service manager can configure vmap
//! without flags; one-off arguments (a list to assign, a point to look up) are flags only.

mod args;
mod assign;
mod bench;
mod data;
mod lookup;
mod serve;

pub use args::{
    AssignArgs, BenchArgs, BenchMode, CopyArgs, DataArgs, DecodeArgs, ReverseArgs, SeedArgs,
    ServeArgs, SnapshotArgs, SynthArgs,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::registry::{Registry, RegistryError};
use crate::store::{Store, StoreError};
use crate::zones::{ZoneTable, ZonesError};

/// vmap: address codes for Vietnam.
///
/// A code is the 5-digit postal code of a zone followed by 7 characters of an Open Location
/// Code grid cell of about 3 m × 3 m, e.g. `11116 2RWX P69`. vmap keeps a registry of
/// addresses with their coordinates and codes and answers "which code is here?" and "where is
/// this code?".
#[derive(Debug, Parser)]
#[command(name = "vmap", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (see /openapi.json once it runs).
    ///
    /// Example: `vmap serve --demo` fills an empty database with 1 000 000 synthetic
    /// addresses first, then serves them on 127.0.0.1:8080.
    Serve(ServeArgs),
    /// Fill an empty database with synthetic addresses (deterministic from --seed).
    ///
    /// Example: `vmap seed --addresses 1000000 --seed 1`
    Seed(SeedArgs),
    /// Write synthetic addresses as a CSV list to assign (nothing is registered).
    ///
    /// Example: `vmap synth --addresses 100000 --seed 2 -o list.csv`
    Synth(SynthArgs),
    /// Print the registered addresses nearest to a coordinate.
    ///
    /// Example: `vmap reverse --lat 21.0468 --lon 105.8481 --limit 3`
    Reverse(ReverseArgs),
    /// Give every row of an address list (CSV, JSON or NDJSON) its code, registering new
    /// addresses.
    ///
    /// The answer is the same list with `code`, `status`, `postcode`, `distance_m`,
    /// `error_code` and `error_message` added to each row. Running a list twice gives the
    /// same codes; a list cut short by a crash is finished by running it again.
    ///
    /// Example: `vmap assign customers.csv -o customers-coded.csv`
    Assign(AssignArgs),
    /// Measure query speed on your own data and machine.
    ///
    /// Example: `vmap bench --mode index --queries near --n-queries 200000 --check 1000`
    Bench(BenchArgs),
    /// Copy a whole registry between databases (SQLite ↔ PostgreSQL), every row byte for
    /// byte; the target must be empty.
    ///
    /// Example: `vmap copy --from sqlite://vmap.db --to postgres://vmap@localhost/vmap`
    Copy(CopyArgs),
    /// Decode a code to its zone and ~3 m cell; needs no database.
    ///
    /// Example: `vmap decode "11116 2RWX P69"`
    Decode(DecodeArgs),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    #[error(transparent)]
    Zones(#[from] ZonesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Usage(String),
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Seed(args) => data::seed(args).await,
        Command::Reverse(args) => lookup::reverse(args).await,
        Command::Assign(args) => assign::assign(args).await,
        Command::Synth(args) => data::synth_csv(args),
        Command::Bench(args) => bench::bench(args).await,
        Command::Copy(args) => data::copy(args).await,
        Command::Decode(args) => lookup::decode(args),
    }
}

fn load_zones(zones_file: Option<&PathBuf>) -> Result<Arc<ZoneTable>, CliError> {
    let zones = match zones_file {
        Some(path) => ZoneTable::load_file(path)?,
        None => ZoneTable::load_default()?,
    };
    for skipped in zones.skipped() {
        tracing::debug!(line = skipped.line, ward = %skipped.ward, reason = %skipped.reason, "zone row skipped");
    }
    tracing::info!(
        zones = zones.len(),
        skipped = zones.skipped().len(),
        "zone table loaded"
    );
    Ok(Arc::new(zones))
}

/// Open writes are only for a machine's own users.
pub fn check_write_safety(
    listen: SocketAddr,
    tokens: &[String],
    read_only: bool,
) -> Result<(), CliError> {
    let open_writes = !read_only && tokens.iter().all(|token| token.is_empty());
    if open_writes && !listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "refusing to listen on {listen} with open writes: set --api-token (VMAP_API_TOKENS) \
             or --read-only, or listen on a loopback address"
        )));
    }
    Ok(())
}
/// Connects to the database and builds the registry, through the snapshot file when
/// there is one.
async fn open_registry(
    database_url: &str,
    zones_file: Option<&PathBuf>,
    snapshot: &SnapshotArgs,
) -> Result<Registry, CliError> {
    let zones = load_zones(zones_file)?;
    let store = Store::connect(database_url).await?;
    Ok(load_registry(snapshot, store, zones).await?)
}

/// Builds the registry, through the snapshot file when there is one.
async fn load_registry(
    snapshot: &SnapshotArgs,
    store: Store,
    zones: Arc<ZoneTable>,
) -> Result<Registry, crate::registry::RegistryError> {
    let snapshot = snapshot.path_for(&store);
    Registry::load_with_snapshot(store, zones, snapshot.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_are_the_documented_ones() {
        let cli = Cli::try_parse_from(["vmap", "serve"]).expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert!(!args.demo);
        assert_eq!(args.demo_addresses, 1_000_000);
    }

    #[test]
    fn reverse_takes_negative_coordinates_and_rejects_words() {
        let cli = Cli::try_parse_from(["vmap", "reverse", "--lat", "-33.5", "--lon", "-70.6"])
            .expect("parses");
        let Command::Reverse(args) = cli.command else {
            panic!("not reverse")
        };
        assert_eq!((args.lat, args.lon), (-33.5, -70.6));
        assert!(Cli::try_parse_from(["vmap", "reverse", "--lat", "north", "--lon", "1"]).is_err());
    }

    #[test]
    fn seed_takes_count_and_seed() {
        let cli = Cli::try_parse_from([
            "vmap",
            "seed",
            "--addresses",
            "25",
            "--seed",
            "7",
            "--database-url",
            "sqlite://x.db",
        ])
        .expect("parses");
        let Command::Seed(args) = cli.command else {
            panic!("not seed")
        };
        assert_eq!(
            (args.addresses, args.seed, args.data.database_url.as_str()),
            (25, 7, "sqlite://x.db")
        );
    }
}
