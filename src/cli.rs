//! The command line: one clap-derive struct for all configuration, and the commands.
//!
//! Every `serve` option, and every command's database URL and zone file, also reads an
//! environment variable (`#[arg(long, env)]`), so a service manager can configure vmap
//! without flags; one-off arguments (a list to assign, a point to look up) are flags only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::api::{self, AppState, Limits};
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::progress::Progress;
use crate::registry::{self, Registry, RegistryError};
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

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Database URL: `sqlite://FILE` (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://vmap.db")]
    pub database_url: String,
    /// Zone table CSV in the layout of data/vn_wards_63.csv; the built-in table when absent.
    #[arg(long, env = "VMAP_ZONES_FILE")]
    pub zones_file: Option<PathBuf>,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// The snapshot file of the in-memory index.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Snapshot of the in-memory index: read at start-up when it matches the database,
    /// written after a build from the database. Default: FILE.snapshot next to a SQLite
    /// database FILE; none for PostgreSQL.
    #[arg(long, env = "VMAP_SNAPSHOT")]
    pub snapshot: Option<PathBuf>,
    /// Neither read nor write a snapshot.
    #[arg(long, env = "VMAP_NO_SNAPSHOT", conflicts_with = "snapshot")]
    pub no_snapshot: bool,
}

impl SnapshotArgs {
    /// The snapshot file to use with `store`, if any.
    fn path_for(&self, store: &Store) -> Option<PathBuf> {
        if self.no_snapshot {
            return None;
        }
        self.snapshot
            .clone()
            .or_else(|| store.default_snapshot_path())
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address and port to listen on.
    #[arg(long, env = "VMAP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed synthetic demo addresses first when the database is empty.
    #[arg(long, env = "VMAP_DEMO")]
    pub demo: bool,
    /// How many addresses `--demo` seeds.
    #[arg(long, env = "VMAP_DEMO_ADDRESSES", default_value_t = 1_000_000)]
    pub demo_addresses: u64,
    /// Most points (or codes) in one batch request.
    #[arg(long, env = "VMAP_MAX_BATCH_ITEMS", default_value_t = 10_000)]
    pub max_batch_items: usize,
    /// Largest request body in bytes.
    #[arg(long, env = "VMAP_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Longest a request may run, in seconds, before it is answered 503.
    #[arg(long, env = "VMAP_REQUEST_TIMEOUT_S", default_value_t = 30)]
    pub request_timeout_s: u64,
    /// Bearer tokens allowed to write (register, edit, retire, assign); repeat the flag or
    /// separate with commas. Without tokens, writes are open, which vmap allows only on a
    /// loopback address.
    #[arg(
        long = "api-token",
        env = "VMAP_API_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Vec<String>,
    /// Serve reads only: the write endpoints are not mounted.
    #[arg(long, env = "VMAP_READ_ONLY")]
    pub read_only: bool,
    /// Most rows of one POST /v1/assign; later rows answer `row_limit`.
    #[arg(long, env = "VMAP_MAX_ASSIGN_ROWS", default_value_t = 1_000_000)]
    pub max_assign_rows: u64,
    /// Largest POST /v1/assign body, bytes.
    #[arg(long, env = "VMAP_MAX_ASSIGN_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_assign_bytes: u64,
    /// Assignments running at once; more answer 429.
    #[arg(long, env = "VMAP_MAX_CONCURRENT_ASSIGN", default_value_t = 4)]
    pub max_concurrent_assign: usize,
    /// Longest text of one address field, characters.
    #[arg(long, env = "VMAP_MAX_FIELD_CHARS", default_value_t = crate::assign::DEFAULT_MAX_FIELD_CHARS)]
    pub max_field_chars: usize,
    /// How often to pick up writes made by other processes or replicas on the same
    /// database, in milliseconds; 0 turns following off.
    #[arg(long, env = "VMAP_FOLLOW_INTERVAL_MS", default_value_t = 200)]
    pub follow_interval_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct CopyArgs {
    /// The database to read.
    #[arg(long)]
    pub from: String,
    /// The database to fill; it must hold no address.
    #[arg(long)]
    pub to: String,
}

/// What `vmap bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchMode {
    /// Queries in process against the index built from the database.
    Index,
    /// Load on a running `vmap serve`: GET and batch POST /v1/reverse over keep-alive
    /// connections.
    Http,
    /// The same queries as KNN SQL against the addresses table in PostGIS.
    Postgis,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Database URL. index: the registry to query (`sqlite://vmap.db` when absent).
    /// postgis: the PostGIS database to query (required). http: optional, the database the
    /// server serves, needed for `--queries near` and `--check`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Zone table CSV in the layout of data/vn_wards_63.csv; the built-in table when absent.
    #[arg(long, env = "VMAP_ZONES_FILE")]
    pub zones_file: Option<PathBuf>,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    #[arg(long, value_enum, default_value_t = BenchMode::Index)]
    pub mode: BenchMode,
    /// Query points: `near` (within 50 m of registered addresses; needs the database),
    /// `uniform` (over Vietnam), or `file:PATH` (lat,lon per line).
    #[arg(long, default_value = "near")]
    pub queries: crate::bench::QuerySet,
    /// How many query points (http and postgis cycle through them for `--duration`).
    #[arg(long, default_value_t = 200_000)]
    pub n_queries: usize,
    /// Seed for drawing query points.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1)]
    pub limit: usize,
    #[arg(long, default_value_t = registry::DEFAULT_RADIUS_M)]
    pub radius_m: f64,
    /// Threads for index mode's all-cores run; every core by default.
    #[arg(long)]
    pub threads: Option<usize>,
    /// index: compare this many answers with a brute-force scan (slow: a full scan each).
    /// http: compare this many GET answers with an in-process brute-force scan (needs
    /// --database-url). postgis: compare this many answers, single and batched, with the
    /// registry loaded from the same database. Any difference fails the command.
    #[arg(long, default_value_t = 0)]
    pub check: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// http: the server, e.g. `http://127.0.0.1:8080`.
    #[arg(long, required_if_eq("mode", "http"))]
    pub url: Option<String>,
    /// Concurrent connections, one worker each. http: 64 by default. postgis: every core by
    /// default; each load runs on 1 connection and then on this many.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// http: connections of the batch load; by default the smaller of `--concurrency` and
    /// this machine's cores (the server already spreads each batch over its cores, so a few
    /// at a time saturate it and more only queue).
    #[arg(long)]
    pub batch_concurrency: Option<usize>,
    /// http, postgis: how long each load is measured, e.g. `30s`, `2m`.
    #[arg(long, default_value = "30s")]
    pub duration: humantime::Duration,
    /// http, postgis: load before measuring, not counted in the figures.
    #[arg(long, default_value = "1s")]
    pub warmup: humantime::Duration,
    /// Points per batch request: http 10 000 (the server's default maximum), postgis 1 000
    /// (one LATERAL KNN statement); 0 skips the batch load.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// postgis: KNN candidates per requested address, taken by planar distance and re-ranked
    /// by spherical distance.
    #[arg(long, default_value_t = crate::bench::postgis::DEFAULT_CANDIDATES)]
    pub candidates: usize,
    /// postgis: keep the server's JIT setting; by default the bench's sessions turn JIT off
    /// (compiling a batch statement costs more than running it).
    #[arg(long)]
    pub pg_jit: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// How many addresses.
    #[arg(long, default_value_t = 100_000)]
    pub addresses: u64,
    /// Seed of the generator; use another seed than the database's for new addresses.
    #[arg(long, default_value_t = 2)]
    pub seed: u64,
    /// The CSV file to write; standard output when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Zone table CSV; the built-in table when absent.
    #[arg(long, env = "VMAP_ZONES_FILE")]
    pub zones_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The list: a .csv, .json or .ndjson file, or - for standard input.
    pub input: PathBuf,
    /// Where to write the answered list; standard output when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// csv, json or ndjson; by default from the input's extension.
    #[arg(long)]
    pub format: Option<String>,
    /// Decide codes but register nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// An address this close (metres), with the same house number/unit when given, is the
    /// same place.
    #[arg(long, default_value_t = crate::registry::DEFAULT_MATCH_RADIUS_M)]
    pub match_radius_m: f64,
    /// Rows decided and committed together (one transaction each).
    #[arg(long, default_value_t = crate::assign::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// How many addresses to make.
    #[arg(long, env = "VMAP_SEED_ADDRESSES", default_value_t = 1_000_000)]
    pub addresses: u64,
    /// Seed of the generator: the same seed and count give the same addresses.
    #[arg(long, env = "VMAP_SEED", default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ReverseArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Latitude, WGS84 degrees.
    #[arg(long, allow_hyphen_values = true)]
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    #[arg(long, allow_hyphen_values = true)]
    pub lon: f64,
    /// How many addresses (1–100).
    #[arg(long, default_value_t = registry::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Search radius in metres (0–50 000).
    #[arg(long, default_value_t = registry::DEFAULT_RADIUS_M)]
    pub radius_m: f64,
}

#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// The code; any case, spaces, hyphens and '+' are accepted.
    pub code: String,
    /// Zone table CSV; the built-in table when absent.
    #[arg(long, env = "VMAP_ZONES_FILE")]
    pub zones_file: Option<PathBuf>,
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
        Command::Serve(args) => serve(args).await,
        Command::Seed(args) => seed(args).await,
        Command::Reverse(args) => reverse(args).await,
        Command::Assign(args) => assign(args).await,
        Command::Synth(args) => synth_csv(args),
        Command::Bench(args) => bench(args).await,
        Command::Copy(args) => copy(args).await,
        Command::Decode(args) => decode(args),
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

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    check_write_safety(args.listen, &args.api_tokens, args.read_only)?;
    let zones = load_zones(args.data.zones_file.as_ref())?;
    let store = Store::connect(&args.data.database_url).await?;
    if args.demo {
        let counts = store.counts().await?;
        if counts.active + counts.retired == 0 {
            eprintln!(
                "Empty database: seeding {} demo addresses…",
                args.demo_addresses
            );
            let progress = Progress::new("seeding", args.demo_addresses);
            let report =
                registry::seed(&store, zones.clone(), args.demo_addresses, 1, &progress).await?;
            eprintln!(
                "Seeded {} addresses in {:.1} s",
                report.n_addresses,
                report.duration.as_secs_f64()
            );
        }
    }
    let limits = Limits {
        max_batch_items: args.max_batch_items,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_s),
        max_assign_rows: args.max_assign_rows,
        max_assign_bytes: args.max_assign_bytes,
        max_concurrent_assign: args.max_concurrent_assign.max(1),
        max_field_chars: args.max_field_chars,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| CliError::Listen {
            address: args.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(CliError::Serve)?;
    let state = AppState::loading(limits).with_tokens(args.api_tokens.clone());
    let router = if args.read_only {
        api::read_only_app(state.clone())
    } else {
        api::app(state.clone())
    };
    let server = tokio::spawn(api::serve(listener, router));
    tracing::info!(%address, "listening; loading the registry");
    let started = Instant::now();
    let registry = Arc::new(load_registry(&args.data.snapshot, store, zones).await?);
    let status = registry.status();
    state.set_registry(registry.clone());
    if args.follow_interval_ms > 0 {
        tokio::spawn(follow(
            registry,
            Duration::from_millis(args.follow_interval_ms),
        ));
    }
    let ready_after = started.elapsed();
    tracing::info!(
        seconds = ready_after.as_secs_f64(),
        addresses = status.n_active,
        "ready"
    );
    print_welcome(address, status.n_active, ready_after);
    server
        .await
        .map_err(|error| CliError::Serve(std::io::Error::other(error)))?
        .map_err(CliError::Serve)
}

/// Applies other writers' changes to memory, every `interval`, for as long as the server runs.
async fn follow(registry: Arc<Registry>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match registry.catch_up().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(changes = n, "followed other writers"),
            Err(error) => tracing::warn!(%error, "following other writers failed; retrying"),
        }
    }
}

fn print_welcome(address: SocketAddr, n_active: u64, ready_after: Duration) {
    eprintln!();
    eprintln!(
        "vmap is ready on http://{address} with {n_active} addresses (index built in {:.1} s)",
        ready_after.as_secs_f64()
    );
    eprintln!("Try:");
    eprintln!("  curl 'http://{address}/v1/reverse?lat=21.0285&lon=105.8542&limit=3'");
    eprintln!("  curl 'http://{address}/v1/zones?lat=10.7769&lon=106.7009'");
    eprintln!("The API is described at http://{address}/openapi.json; stop with Ctrl-C.");
}

async fn seed(args: SeedArgs) -> Result<(), CliError> {
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

async fn reverse(args: ReverseArgs) -> Result<(), CliError> {
    let point =
        LatLon::new(args.lat, args.lon).map_err(|error| CliError::Usage(error.to_string()))?;
    if !(1..=registry::MAX_LIMIT).contains(&args.limit) {
        return Err(CliError::Usage(format!(
            "--limit must be between 1 and {}",
            registry::MAX_LIMIT
        )));
    }
    if !(0.0..=registry::MAX_RADIUS_M).contains(&args.radius_m) {
        return Err(CliError::Usage(format!(
            "--radius-m must be between 0 and {}",
            registry::MAX_RADIUS_M
        )));
    }
    let registry = open_registry(
        &args.data.database_url,
        args.data.zones_file.as_ref(),
        &args.data.snapshot,
    )
    .await?;
    let answer = registry.reverse(point, args.limit, args.radius_m);
    match answer.zone {
        Some(resolved) => {
            let zone = registry.zones().get(resolved.zone_id);
            println!(
                "zone:      {} {}, {}, {} ({:?})",
                zone.postcode, zone.ward, zone.district, zone.province, resolved.method
            );
        }
        None => println!("zone:      outside coverage"),
    }
    if let Some(code) = answer.grid_code {
        println!("grid code: {} ({})", code, code.pretty());
    }
    if answer.addresses.is_empty() {
        println!("no active address within {} m", args.radius_m);
    }
    for address in &answer.addresses {
        println!(
            "{:>10.1} m  {:<16} {:.7}, {:.7}",
            address.distance_m,
            address.code.pretty(),
            address.lat,
            address.lon
        );
    }
    registry.store().close().await;
    Ok(())
}

async fn assign(args: AssignArgs) -> Result<(), CliError> {
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

/// A load report of `vmap bench`, as a table or as JSON.
fn print_load_report(report: &crate::bench::LoadReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", crate::bench::render_load_table(report));
    }
}

async fn bench(args: BenchArgs) -> Result<(), CliError> {
    use crate::bench::{self, BenchError, LoadContext, QuerySet};
    let usage = |error: BenchError| CliError::Usage(error.to_string());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let given_url = args
        .database_url
        .clone()
        .filter(|url| !url.trim().is_empty());
    let database_url = match (args.mode, given_url) {
        (BenchMode::Index, None) => Some("sqlite://vmap.db".to_owned()),
        (BenchMode::Postgis, None) => {
            return Err(CliError::Usage(
                "--mode postgis needs --database-url postgres://… (vmap's database)".to_owned(),
            ));
        }
        (_, url) => url,
    };
    if args.mode != BenchMode::Index {
        if !(1..=registry::MAX_LIMIT).contains(&args.limit) {
            return Err(CliError::Usage(format!(
                "--limit must be between 1 and {}",
                registry::MAX_LIMIT
            )));
        }
        if !(0.0..=registry::MAX_RADIUS_M).contains(&args.radius_m) {
            return Err(CliError::Usage(format!(
                "--radius-m must be between 0 and {}",
                registry::MAX_RADIUS_M
            )));
        }
    }
    // The registry: what index mode queries; elsewhere the source of `near` points and the
    // reference of `--check`, loaded only for those.
    let needs_registry =
        args.mode == BenchMode::Index || args.queries == QuerySet::Near || args.check > 0;
    let registry = match (&database_url, needs_registry) {
        (Some(url), true) => Some(Arc::new(
            open_registry(url, args.zones_file.as_ref(), &args.snapshot).await?,
        )),
        _ => None,
    };
    let points = bench::query_points_from(
        registry.as_deref(),
        &args.queries,
        args.n_queries,
        args.seed,
    )
    .map_err(usage)?;
    let context = LoadContext {
        query_set: args.queries.clone(),
        seed: args.seed,
        limit: args.limit,
        radius_m: args.radius_m,
        warmup: args.warmup.into(),
        duration: args.duration.into(),
    };
    fn print_json(report: &impl serde::Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    }
    let outcome = match (args.mode, registry.clone()) {
        (BenchMode::Index, Some(registry)) => {
            let threads = args.threads.unwrap_or(cores);
            let (limit, radius_m, check) = (args.limit, args.radius_m, args.check);
            let report = tokio::task::spawn_blocking(move || {
                bench::bench_index(registry, points, limit, radius_m, threads, check)
            })
            .await
            .map_err(|error| CliError::Usage(format!("bench failed: {error}")))?;
            if args.json {
                print_json(&report);
            } else {
                print!("{}", bench::render_table(&report));
            }
            if report.mismatches > 0 {
                Err(BenchError::CheckFailed(report.mismatches, report.checked))
            } else {
                Ok(())
            }
        }
        (BenchMode::Index, None) => Err(BenchError::NeedsDatabase),
        (BenchMode::Http, registry) => {
            let url = args.url.clone().ok_or_else(|| {
                CliError::Usage("--mode http needs --url http://HOST:PORT".to_owned())
            })?;
            let concurrency = args.concurrency.unwrap_or(64);
            let settings = bench::http::HttpSettings {
                url,
                concurrency,
                batch_concurrency: args
                    .batch_concurrency
                    .unwrap_or_else(|| concurrency.min(cores)),
                batch_size: args.batch_size.unwrap_or(10_000),
                check: args.check,
                context,
            };
            let report = bench::http::run(&settings, points, registry)
                .await
                .map_err(usage)?;
            print_load_report(&report, args.json);
            report.verdict()
        }
        (BenchMode::Postgis, registry) => {
            let settings = bench::postgis::PostgisSettings {
                database_url: database_url.unwrap_or_default(),
                concurrency: vec![1, args.concurrency.or(args.threads).unwrap_or(cores)],
                batch_size: args
                    .batch_size
                    .unwrap_or(bench::postgis::DEFAULT_BATCH_SIZE),
                candidates: args.candidates,
                check: args.check,
                keep_jit: args.pg_jit,
                context,
            };
            let report = bench::postgis::run(&settings, points, registry)
                .await
                .map_err(usage)?;
            print_load_report(&report, args.json);
            report.verdict()
        }
    };
    if let Some(registry) = registry {
        registry.store().close().await;
    }
    outcome.map_err(usage)
}

async fn copy(args: CopyArgs) -> Result<(), CliError> {
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

fn synth_csv(args: SynthArgs) -> Result<(), CliError> {
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

fn decode(args: DecodeArgs) -> Result<(), CliError> {
    let code = VmapCode::parse(&args.code)
        .map_err(|error| CliError::Usage(format!("malformed code: {error}")))?;
    let zones = load_zones(args.zones_file.as_ref())?;
    let zone_id = zones
        .by_postcode(code.postcode())
        .ok_or(RegistryError::UnknownPostcode(code.postcode()))?;
    let zone = zones.get(zone_id);
    let reference = zones.reference_of(zone_id);
    let cell = code.cell(reference);
    let center = cell.center();
    println!("code:      {} ({})", code, code.pretty());
    println!(
        "zone:      {} {}, {}, {}",
        zone.postcode, zone.ward, zone.district, zone.province
    );
    println!("plus code: {}", code.full_olc(reference));
    println!("centre:    {:.7}, {:.7}", center.lat, center.lon);
    println!(
        "cell:      south {:.7} west {:.7} north {:.7} east {:.7}",
        cell.south, cell.west, cell.north, cell.east
    );
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
