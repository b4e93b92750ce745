//! The command line: one clap-derive struct for all configuration, and the commands.
//!
//! Every `serve` option, and every command's database URL and zone file, also reads an
//! environment variable (`#[arg(long, env)]`), so a service manager can configure vmap
//! without flags; one-off arguments (a list to assign, a point to look up) are flags only.

mod args;
mod assign;
mod bench;
mod bench_args;
mod convert;
mod data;
mod export;
mod lookup;
mod parse;
mod postal;
mod serve;

pub use args::{
    AssignArgs, BenchCommand, BenchGeocodeArgs, BenchHttpArgs, BenchIndexArgs, BenchLoadArgs,
    BenchPostgisArgs, BenchQueryArgs, CompileBoundariesArgs, ConnectionArgs, ConvertArgs, CopyArgs,
    DataArgs, DataCommand, DecodeArgs, FormatArg, GeocodeArgs, LimitsArgs, LogFormat,
    MigratePostcodesArgs, ParseArgs, ReverseArgs, SeedArgs, ServeArgs, SnapshotArgs, StoreArgs,
    SynthArgs, ZonesArgs,
};

pub use export::{ExportArgs, ExportFormatArg, StatusArg};

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::assign::AssignError;
use crate::bench::BenchError;
use crate::registry::{QueryError, Registry, RegistryError};
use crate::store::{Store, StoreError};
use crate::synth::SeedError;
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
    /// How log lines are written (to stderr): `text` for people, `json` (one object a line,
    /// with the request's span and its `request_id`) for a log collector.
    #[arg(long, global = true, env = "VMAP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
    /// Find registered addresses from their text (forward geocoding), best first: the code
    /// at level `address`, else the street, ward, district or province the text reaches.
    ///
    /// Example: `vmap geocode "9 ngõ 30 Bùi Thị Xuân, Hai Bà Trưng, Hà Nội"`
    Geocode(GeocodeArgs),
    /// Give every row of an address list (CSV, JSON or NDJSON) its code, registering new
    /// addresses.
    ///
    /// The answer is the same list with `code`, `status`, `postcode`, `distance_m`,
    /// `error_code` and `error_message` added to each row. Running a list twice gives the
    /// same codes; a list cut short by a crash is finished by running it again.
    ///
    /// Example: `vmap assign customers.csv -o customers-coded.csv`
    Assign(AssignArgs),
    /// Measure query speed on your own data and machine: `index`, `http` or `postgis`.
    ///
    /// Example: `vmap bench index --queries near --n-queries 200000 --check 1000`
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Copy a whole registry between databases (SQLite ↔ PostgreSQL), every row byte for
    /// byte; the target must be empty.
    ///
    /// Example: `vmap copy --from sqlite://vmap.db --to postgres://vmap@localhost/vmap`
    Copy(CopyArgs),
    /// Write the registry, or the part the filters keep, as a file GIS tools open: a GeoJSON
    /// text sequence, CSV or FlatGeobuf (EPSG:4326), streamed from the database.
    ///
    /// Example: `vmap export --to hanoi.fgb --bbox 105.7,20.9,106.0,21.2 --status active`
    Export(ExportArgs),
    /// Decode a code to its zone and ~3 m cell; needs no database.
    ///
    /// Example: `vmap decode "11116 2RWX P69"`
    Decode(DecodeArgs),
    /// Switch an existing registry to minting with the 2025 postal codes (Quyết định 2334).
    ///
    /// Codes already issued keep their 12 characters, postcode and status; only new codes
    /// change. A registry created empty mints 2025 codes from the start. `--dry-run`
    /// reports the counts and changes nothing.
    ///
    /// Example: `vmap migrate-postcodes --database-url sqlite://vmap.db --dry-run`
    MigratePostcodes(MigratePostcodesArgs),
    /// Read an address: house number, alley, street and its units in both administrative
    /// maps, printed as the JSON of GET /v1/parse; needs no database.
    ///
    /// Example: `vmap parse "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM"`
    Parse(ParseArgs),
    /// Convert an address list between the administrative maps: each row's text read in
    /// either map, answered with its 2025 ward, province, postal code and address, and the
    /// legacy ward(s) it lies in. CSV, JSON or NDJSON, streamed; needs no database.
    ///
    /// Example: `vmap convert orders.csv -o orders-2025.csv`
    Convert(ConvertArgs),
    /// Work on vmap's data files: `compile-boundaries`.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The arguments do not make sense together (clap catches the rest).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Zones(#[from] ZonesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Assign(#[from] AssignError),
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Boundaries(#[from] crate::boundaries::BoundaryError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// A file could not be opened, created, written or flushed.
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    /// A background task panicked or was cancelled.
    #[error("{task} failed: {source}")]
    Task {
        task: &'static str,
        source: tokio::task::JoinError,
    },
}

impl CliError {
    /// Whether the database is away: the same command may succeed later.
    pub fn is_database_unavailable(&self) -> bool {
        match self {
            CliError::Store(error) => error.is_unavailable(),
            CliError::Registry(error) => error.is_database_unavailable(),
            _ => false,
        }
    }

    fn file(path: &std::path::Path, source: std::io::Error) -> CliError {
        CliError::File {
            path: path.display().to_string(),
            source,
        }
    }

    /// `--limit` / `--radius-m` (or another query parameter) out of range.
    fn query(problems: Vec<QueryError>) -> CliError {
        let text = problems
            .iter()
            .map(|problem| format!("--{}: {problem}", problem.field().replace('_', "-")))
            .collect::<Vec<_>>()
            .join("; ");
        CliError::Usage(text)
    }
}

impl Cli {
    /// Parses the command line, first rewriting the aliases kept for one release
    /// ([`rewrite_aliases`]).
    pub fn parse_args(args: impl IntoIterator<Item = impl Into<OsString>>) -> Cli {
        Cli::parse_from(rewrite_aliases(args))
    }

    /// [`Cli::parse_args`] that returns clap's error instead of exiting.
    pub fn try_parse_args(
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(rewrite_aliases(args))
    }
}

/// `vmap bench --mode MODE …` was the bench command's form until it got subcommands; it is
/// rewritten to `vmap bench MODE …` (with a warning) for one release. A bare `vmap bench`
/// still means `vmap bench index`.
pub fn rewrite_aliases(args: impl IntoIterator<Item = impl Into<OsString>>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Some(bench_at) = args.iter().position(|arg| arg == "bench") else {
        return args;
    };
    let rest = &args[bench_at + 1..];
    let mut mode = None;
    for (offset, arg) in rest.iter().enumerate() {
        let text = arg.to_string_lossy();
        if text == "--mode" {
            if let Some(value) = rest.get(offset + 1) {
                mode = Some((offset, 2, value.clone()));
            }
            break;
        }
        if let Some(value) = text.strip_prefix("--mode=") {
            mode = Some((offset, 1, OsString::from(value)));
            break;
        }
    }
    match mode {
        Some((offset, width, value)) => {
            let at = bench_at + 1 + offset;
            args.drain(at..at + width);
            eprintln!(
                "note: `vmap bench --mode {0}` is now `vmap bench {0}`; --mode goes in the next release",
                value.to_string_lossy()
            );
            args.insert(bench_at + 1, value);
        }
        None => {
            let has_subcommand = rest.first().is_some_and(|first| {
                let first = first.to_string_lossy();
                !first.starts_with('-') || first == "-h" || first == "--help"
            });
            if !has_subcommand {
                args.insert(bench_at + 1, OsString::from("index"));
            }
        }
    }
    args
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Seed(args) => data::seed(args).await,
        Command::Reverse(args) => lookup::reverse(args).await,
        Command::Geocode(args) => lookup::geocode(args).await,
        Command::Assign(args) => assign::assign(args).await,
        Command::Synth(args) => data::synth_csv(args),
        Command::Bench(command) => bench::bench(command).await,
        Command::Copy(args) => data::copy(args).await,
        Command::Export(args) => export::export(args).await,
        Command::Decode(args) => lookup::decode(args),
        Command::Parse(args) => parse::parse(args),
        Command::Convert(args) => convert::convert(args).await,
        Command::MigratePostcodes(args) => postal::migrate_postcodes(args).await,
        Command::Data(DataCommand::CompileBoundaries(args)) => postal::compile_boundaries(args),
    }
}

fn load_zones(args: &ZonesArgs) -> Result<Arc<ZoneTable>, CliError> {
    let zones = match &args.zones_file {
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
/// Connects to the database named by `data`, with its pool settings.
async fn connect(data: &DataArgs) -> Result<Store, CliError> {
    Ok(Store::connect_with(&data.database_url, &data.store.options()).await?)
}

/// Connects to the database and builds the registry, through the snapshot file when
/// there is one.
async fn open_registry(data: &DataArgs) -> Result<Registry, CliError> {
    let zones = load_zones(&data.zones)?;
    let store = connect(data).await?;
    Ok(load_registry(&data.snapshot, store, zones).await?)
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

/// [`load_registry`] for `serve`, which writes a fresh snapshot once it is ready
/// ([`Registry::write_pending_snapshot`]).
async fn load_registry_deferring_snapshot(
    snapshot: &SnapshotArgs,
    store: Store,
    zones: Arc<ZoneTable>,
) -> Result<Registry, crate::registry::RegistryError> {
    let snapshot = snapshot.path_for(&store);
    Registry::load_deferring_snapshot(store, zones, snapshot.as_deref()).await
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

    #[test]
    fn serve_limits_default_to_the_api_defaults() {
        let cli = Cli::try_parse_args(["vmap", "serve"]).expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.limits.limits(), crate::api::Limits::DEFAULT);
    }

    #[test]
    fn serve_operations_flags_are_off_by_default_and_parse() {
        let serve = |args: &[&str]| match Cli::try_parse_args(args.iter().copied()) {
            Ok(Cli {
                command: Command::Serve(serve),
                log_format,
            }) => (serve, log_format),
            other => panic!("{other:?}"),
        };
        let (defaults, log_format) = serve(&["vmap", "serve"]);
        assert_eq!(log_format, LogFormat::Text);
        assert!(defaults.cors_origins.is_empty());
        assert_eq!(defaults.rate_limit(), None);
        assert_eq!(
            defaults.connections.limits(),
            crate::api::ConnectionLimits::DEFAULT
        );

        let (set, log_format) = serve(&[
            "vmap",
            "serve",
            "--cors-origin",
            "https://a.example,http://b.example:8443",
            "--cors-origin",
            "*",
            "--rate-limit-per-s",
            "5",
            "--shutdown-grace-s",
            "7",
            "--log-format",
            "json",
        ]);
        assert_eq!(log_format, LogFormat::Json);
        assert_eq!(
            set.cors_origins,
            ["https://a.example", "http://b.example:8443", "*"]
        );
        let five = std::num::NonZeroU32::new(5).expect("5");
        assert_eq!(
            set.rate_limit(),
            Some(crate::api::RateLimit {
                per_second: five,
                burst: five
            })
        );
        assert_eq!(
            set.connections.limits().shutdown_grace,
            std::time::Duration::from_secs(7)
        );
        let (burst, _) = serve(&[
            "vmap",
            "serve",
            "--rate-limit-per-s",
            "5",
            "--rate-limit-burst",
            "20",
        ]);
        assert_eq!(burst.rate_limit().map(|limit| limit.burst.get()), Some(20));

        for origin in ["https://a.example/path", "a.example", "ftp://a.example"] {
            assert!(
                Cli::try_parse_args(["vmap", "serve", "--cors-origin", origin]).is_err(),
                "{origin}"
            );
        }
    }

    #[test]
    fn the_map_page_basemap_is_off_by_default_and_checked() {
        let page_of = |args: &[&str]| match Cli::try_parse_args(args.iter().copied()) {
            Ok(Cli {
                command: Command::Serve(serve),
                ..
            }) => Ok(serve.page()),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(error.kind()),
        };
        assert_eq!(
            page_of(&["vmap", "serve"]),
            Ok(crate::api::PageConfig::default())
        );
        let url = "https://{s}.tile.example.org/{z}/{x}/{y}.png";
        assert_eq!(
            page_of(&[
                "vmap",
                "serve",
                "--tile-url",
                url,
                "--tile-attribution",
                "© OSM"
            ]),
            Ok(crate::api::PageConfig {
                tile_url: Some(url.to_owned()),
                tile_attribution: Some("© OSM".to_owned()),
            })
        );
        for bad in [
            "tile.example.org/{z}/{x}/{y}",
            "https://t.example/{z}/{x}.png",
            "javascript:{z}{x}{y}",
        ] {
            assert!(
                page_of(&["vmap", "serve", "--tile-url", bad]).is_err(),
                "{bad}"
            );
        }
        // An attribution without tiles would be shown for nothing.
        assert!(page_of(&["vmap", "serve", "--tile-attribution", "x"]).is_err());
    }

    #[test]
    fn bench_takes_subcommands_and_the_old_mode_flag() {
        let bench_of = |args: &[&str]| match Cli::try_parse_args(args.iter().copied()) {
            Ok(Cli {
                command: Command::Bench(command),
                ..
            }) => command,
            other => panic!("{args:?} parsed as {other:?}"),
        };
        assert!(matches!(
            bench_of(&["vmap", "bench", "http", "--url", "http://x"]),
            BenchCommand::Http(BenchHttpArgs { url, .. }) if url == "http://x"
        ));
        assert!(matches!(
            bench_of(&["vmap", "bench", "--mode", "http", "--url", "http://x"]),
            BenchCommand::Http(_)
        ));
        assert!(matches!(
            bench_of(&[
                "vmap",
                "bench",
                "--json",
                "--mode=postgis",
                "--database-url",
                "postgres://db"
            ]),
            BenchCommand::Postgis(BenchPostgisArgs {
                query: BenchQueryArgs { json: true, .. },
                ..
            })
        ));
        assert!(matches!(
            bench_of(&["vmap", "bench", "--n-queries", "5"]),
            BenchCommand::Index(BenchIndexArgs {
                query: BenchQueryArgs { n_queries: 5, .. },
                ..
            })
        ));
        // A flag of another mode is refused, not ignored.
        assert!(Cli::try_parse_args(["vmap", "bench", "index", "--url", "http://x"]).is_err());
        assert!(Cli::try_parse_args(["vmap", "bench", "http"]).is_err());
    }

    #[test]
    fn format_and_match_radius_are_checked_while_parsing() {
        let assign = |extra: &[&str]| {
            let mut args = vec!["vmap", "assign", "list.csv"];
            args.extend_from_slice(extra);
            Cli::try_parse_args(args)
        };
        assert!(assign(&["--format", "jsonl"]).is_ok());
        assert!(assign(&["--format", "xml"]).is_err());
        assert!(assign(&["--match-radius-m", "50"]).is_ok());
        assert!(assign(&["--match-radius-m", "51"]).is_err());
        assert!(assign(&["--match-radius-m", "NaN"]).is_err());
    }
}
