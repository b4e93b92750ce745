//! The arguments of every command; their doc comments are `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::registry;
use crate::store::Store;

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
    pub(super) fn path_for(&self, store: &Store) -> Option<PathBuf> {
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
