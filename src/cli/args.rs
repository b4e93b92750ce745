//! The arguments of every command; their doc comments are `--help`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, Subcommand, ValueEnum};

use crate::api::{ConnectionLimits, Limits, PageConfig, RateLimit};
use crate::assign::format::{Format, ReadLimits};
use crate::registry::{self, MatchRadius, QueryError, ReverseQuery};
use crate::store::{Store, StoreOptions};

pub use super::bench_args::{
    BenchCommand, BenchGeocodeArgs, BenchHttpArgs, BenchIndexArgs, BenchLoadArgs, BenchPostgisArgs,
    BenchQueryArgs,
};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event, for people.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://vmap.db")]
    pub database_url: String,
    #[command(flatten)]
    pub zones: ZonesArgs,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The zone table.
#[derive(Debug, Clone, Default, Args)]
pub struct ZonesArgs {
    /// Legacy zone table CSV in the layout of data/vn_wards_63.csv; the built-in table when
    /// absent. The 2025 zones (wards, postcodes, boundaries) are always the built-in ones.
    #[arg(long, env = "VMAP_ZONES_FILE")]
    pub zones_file: Option<PathBuf>,
}

/// Connections and threads of the database.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Most connections of the PostgreSQL pool.
    #[arg(long, env = "VMAP_PG_MAX_CONNECTIONS", default_value_t = StoreOptions::DEFAULT_PG_MAX_CONNECTIONS)]
    pub pg_max_connections: u32,
    /// Connections of the SQLite read pool (writes always use one connection).
    #[arg(long, env = "VMAP_SQLITE_READERS", default_value_t = StoreOptions::DEFAULT_SQLITE_READERS)]
    pub sqlite_readers: u32,
    /// Threads that read a SQLite database at start-up, each over its own range of rows;
    /// by default one per core, at most 4.
    #[arg(long, env = "VMAP_LOAD_THREADS", default_value_t = StoreOptions::default_load_threads())]
    pub load_threads: usize,
    /// Longest wait for the database, in milliseconds: for a connection (an unreachable
    /// server) and for another writer's lock. Past it a request answers 503
    /// `database_unavailable`.
    #[arg(long, env = "VMAP_DB_TIMEOUT_MS", default_value_t = StoreOptions::DEFAULT_DB_TIMEOUT.as_millis() as u64)]
    pub db_timeout_ms: u64,
}

impl StoreArgs {
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            pg_max_connections: self.pg_max_connections,
            sqlite_readers: self.sqlite_readers,
            load_threads: self.load_threads,
            db_timeout: Duration::from_millis(self.db_timeout_ms.max(1)),
        }
    }
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
    #[command(flatten)]
    pub limits: LimitsArgs,
    #[command(flatten)]
    pub connections: ConnectionArgs,
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
    /// Serve reads only: writes answer 403 problem+json (`read-only`); assign dry runs work.
    #[arg(long, env = "VMAP_READ_ONLY")]
    pub read_only: bool,
    /// How often to pick up writes made by other processes or replicas on the same
    /// database, in milliseconds; 0 turns following off.
    #[arg(long, env = "VMAP_FOLLOW_INTERVAL_MS", default_value_t = 200)]
    pub follow_interval_ms: u64,
    /// Origins a browser may call the API from (CORS); repeat the flag or separate with
    /// commas; `*` allows any. Off when none is given.
    #[arg(long = "cors-origin", env = "VMAP_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
    /// Requests one client (its bearer token, else its IP address) may send per second on
    /// average; more answer 429 `rate_limited` with `Retry-After`. 0 turns the limit off.
    #[arg(long, env = "VMAP_RATE_LIMIT_PER_S", default_value_t = 0)]
    pub rate_limit_per_s: u32,
    /// Requests one client may send at once before the rate limit holds it to its rate;
    /// by default as many as one second of its rate.
    #[arg(long, env = "VMAP_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// A basemap for the map page at `/`: an XYZ tile URL template with `{z}`, `{x}` and
    /// `{y}` (and optionally `{s}`, `{r}`), e.g. `https://tile.example.org/{z}/{x}/{y}.png`.
    /// Without it the page draws a plain background with province and ward reference
    /// points, and needs no internet.
    #[arg(long, env = "VMAP_TILE_URL", value_parser = parse_tile_url)]
    pub tile_url: Option<String>,
    /// The basemap's attribution, shown as text in the map's corner (e.g.
    /// `© OpenStreetMap contributors`).
    #[arg(long, env = "VMAP_TILE_ATTRIBUTION", requires = "tile_url")]
    pub tile_attribution: Option<String>,
}

impl ServeArgs {
    /// The per-client rate limit, if one is set.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        let per_second = NonZeroU32::new(self.rate_limit_per_s)?;
        let burst = self
            .rate_limit_burst
            .and_then(NonZeroU32::new)
            .unwrap_or(per_second);
        Some(RateLimit { per_second, burst })
    }

    /// The map page's basemap.
    pub fn page(&self) -> PageConfig {
        PageConfig {
            tile_url: self.tile_url.clone(),
            tile_attribution: self.tile_attribution.clone(),
        }
    }
}

/// An XYZ tile URL template: http(s) or a path on this server, naming `{z}`, `{x}`, `{y}`.
fn parse_tile_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let scheme_ok =
        text.starts_with("https://") || text.starts_with("http://") || text.starts_with('/');
    if !scheme_ok || text.contains(char::is_whitespace) {
        return Err(format!(
            "{text:?} is not a tile URL: http(s)://… or /… without spaces"
        ));
    }
    if let Some(missing) = ["{z}", "{x}", "{y}"]
        .into_iter()
        .find(|part| !text.contains(part))
    {
        return Err(format!(
            "{text:?} has no {missing}: a tile URL names {{z}}, {{x}} and {{y}}"
        ));
    }
    Ok(text.to_owned())
}

/// An origin as a header value: `https://example.org` (scheme, host, port), or `*`.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let text = text.trim();
    let well_formed = text == "*"
        || ((text.starts_with("http://") || text.starts_with("https://"))
            && !text.contains(char::is_whitespace)
            && text.matches('/').count() == 2);
    if !well_formed {
        return Err(format!(
            "{text:?} is not an origin: scheme://host[:port] without a path, or *"
        ));
    }
    HeaderValue::from_str(text).map_err(|error| format!("{text:?}: {error}"))
}

/// The limits of the API; their defaults are [`Limits::DEFAULT`].
#[derive(Debug, Clone, Args)]
pub struct LimitsArgs {
    /// Most points (or codes) in one batch request.
    #[arg(long, env = "VMAP_MAX_BATCH_ITEMS", default_value_t = Limits::DEFAULT.max_batch_items)]
    pub max_batch_items: usize,
    /// Most addresses one batch reverse may ask for: points × limit; more answer 413.
    #[arg(long, env = "VMAP_MAX_BATCH_ANSWERS", default_value_t = Limits::DEFAULT.max_batch_answers)]
    pub max_batch_answers: usize,
    /// Batch requests (POST /v1/reverse, POST /v1/codes) answered at once; more answer 429.
    #[arg(long, env = "VMAP_MAX_CONCURRENT_BATCHES", default_value_t = Limits::DEFAULT.max_concurrent_batches)]
    pub max_concurrent_batches: usize,
    /// Largest request body in bytes.
    #[arg(long, env = "VMAP_MAX_BODY_BYTES", default_value_t = Limits::DEFAULT.max_body_bytes)]
    pub max_body_bytes: usize,
    /// Longest a request may run, in seconds, before it is answered 503.
    #[arg(long, env = "VMAP_REQUEST_TIMEOUT_S", default_value_t = Limits::DEFAULT.request_timeout.as_secs())]
    pub request_timeout_s: u64,
    /// Most rows of one POST /v1/assign; later rows answer `row_limit`.
    #[arg(long, env = "VMAP_MAX_ASSIGN_ROWS", default_value_t = Limits::DEFAULT.max_assign_rows)]
    pub max_assign_rows: u64,
    /// Largest POST /v1/assign body, bytes.
    #[arg(long, env = "VMAP_MAX_ASSIGN_BYTES", default_value_t = Limits::DEFAULT.max_assign_bytes)]
    pub max_assign_bytes: u64,
    /// Assignments running at once; more answer 429.
    #[arg(long, env = "VMAP_MAX_CONCURRENT_ASSIGN", default_value_t = Limits::DEFAULT.max_concurrent_assign)]
    pub max_concurrent_assign: usize,
    /// Longest text of one address field, characters.
    #[arg(long, env = "VMAP_MAX_FIELD_CHARS", default_value_t = Limits::DEFAULT.max_field_chars)]
    pub max_field_chars: usize,
    /// Longest address text GET /v1/parse reads, characters; longer answers 422.
    #[arg(long, env = "VMAP_MAX_PARSE_CHARS", default_value_t = Limits::DEFAULT.max_parse_chars)]
    pub max_parse_chars: usize,
    /// Most addresses in one POST /v1/convert; more answer 413.
    #[arg(long, env = "VMAP_MAX_CONVERT_ITEMS", default_value_t = Limits::DEFAULT.max_convert_items)]
    pub max_convert_items: usize,
    /// Most features one GET /v1/addresses?bbox may ask for; a larger limit answers 422.
    #[arg(long, env = "VMAP_MAX_BBOX_LIMIT", default_value_t = Limits::DEFAULT.max_bbox_limit)]
    pub max_bbox_limit: usize,
    #[command(flatten)]
    pub list: ListLimitsArgs,
}

/// The byte limits of an assign list, for `serve` and `assign`; their defaults are
/// [`ReadLimits::DEFAULT`].
#[derive(Debug, Clone, Args)]
pub struct ListLimitsArgs {
    /// Longest cell of an assign list, any column (carried-through ones included), bytes;
    /// a row with a longer one answers `cell_too_large`.
    #[arg(long, env = "VMAP_MAX_CELL_BYTES", default_value_t = ReadLimits::DEFAULT.max_cell_bytes)]
    pub max_cell_bytes: usize,
    /// Longest row of an assign list (CSV record, JSON element, NDJSON line), bytes; a
    /// longer one answers `row_too_large`.
    #[arg(long, env = "VMAP_MAX_ROW_BYTES", default_value_t = ReadLimits::DEFAULT.max_row_bytes)]
    pub max_row_bytes: usize,
}

impl ListLimitsArgs {
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_cell_bytes: self.max_cell_bytes,
            max_row_bytes: self.max_row_bytes,
        }
    }
}

impl LimitsArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_batch_items: self.max_batch_items,
            max_batch_answers: self.max_batch_answers,
            max_concurrent_batches: self.max_concurrent_batches.max(1),
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_s),
            max_assign_rows: self.max_assign_rows,
            max_assign_bytes: self.max_assign_bytes,
            max_concurrent_assign: self.max_concurrent_assign.max(1),
            max_field_chars: self.max_field_chars,
            max_parse_chars: self.max_parse_chars,
            max_convert_items: self.max_convert_items,
            max_cell_bytes: self.list.max_cell_bytes,
            max_row_bytes: self.list.max_row_bytes,
            max_bbox_limit: self.max_bbox_limit,
        }
    }
}

/// The timeouts of a client connection; their defaults are [`ConnectionLimits::DEFAULT`].
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Longest a client may take to send a request's headers, from their first byte, in
    /// milliseconds; then the connection is closed.
    #[arg(long, env = "VMAP_HEADER_READ_TIMEOUT_MS", default_value_t = ConnectionLimits::DEFAULT.header_read_timeout.as_millis() as u64)]
    pub header_read_timeout_ms: u64,
    /// Longest a connection stays open without a request (kept alive between requests), in
    /// milliseconds.
    #[arg(long, env = "VMAP_IDLE_TIMEOUT_MS", default_value_t = ConnectionLimits::DEFAULT.idle_timeout.as_millis() as u64)]
    pub idle_timeout_ms: u64,
    /// Longest a request body may send nothing while it is read, in milliseconds; then the
    /// request fails (an assignment stops and frees its slot).
    #[arg(long, env = "VMAP_BODY_READ_TIMEOUT_MS", default_value_t = ConnectionLimits::DEFAULT.body_read_timeout.as_millis() as u64)]
    pub body_read_timeout_ms: u64,
    /// After SIGTERM or ctrl-c, longest the server drains (finishes the requests in flight,
    /// answers `/readyz` 503) before it exits anyway, in seconds.
    #[arg(long, env = "VMAP_SHUTDOWN_GRACE_S", default_value_t = ConnectionLimits::DEFAULT.shutdown_grace.as_secs())]
    pub shutdown_grace_s: u64,
}

impl ConnectionArgs {
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            body_read_timeout: Duration::from_millis(self.body_read_timeout_ms.max(1)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_s),
        }
    }
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
    #[command(flatten)]
    pub zones: ZonesArgs,
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
    /// The list's format; by default from the input's extension.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Decide codes but register nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// An address this close (metres), with the same house number/unit when given, is the
    /// same place.
    #[arg(long, default_value_t = MatchRadiusArg(MatchRadius::default()), value_parser = parse_match_radius)]
    pub match_radius_m: MatchRadiusArg,
    /// Rows decided and committed together (one transaction each).
    #[arg(long, default_value_t = crate::assign::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
    #[command(flatten)]
    pub list: ListLimitsArgs,
    /// CSV answers: prefix with ' every cell that starts with =, +, -, @, a tab or a carriage
    /// return, so that a spreadsheet shows it as text instead of running it as a formula.
    /// Off by default: the answer gives back every cell as it came.
    #[arg(long)]
    pub csv_safe: bool,
    /// Write the answer as one GeoJSON FeatureCollection (a point per row) instead of the
    /// list's own format; also when --output ends in .geojson.
    #[arg(long)]
    pub geojson: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ConvertArgs {
    /// The list: a .csv, .json or .ndjson file, or - for standard input. Rows need an
    /// `address` column (or `ward`, `district`, `province` columns); `lat`/`lon` optional.
    pub input: PathBuf,
    /// Where to write the answered list; standard output when absent.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The list's format; by default from the input's extension.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub list: ListLimitsArgs,
    /// CSV answers: prefix with ' every cell that starts with =, +, -, @, a tab or a carriage
    /// return (see `vmap assign --csv-safe`).
    #[arg(long)]
    pub csv_safe: bool,
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

impl ReverseArgs {
    pub fn reverse_query(&self) -> Result<ReverseQuery, Vec<QueryError>> {
        ReverseQuery::new(self.limit, self.radius_m)
    }
}

#[derive(Debug, Clone, Args)]
pub struct GeocodeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The address text, in either administrative map; or a list to geocode (a .csv, .json,
    /// .ndjson or .jsonl file that exists, or - for standard input).
    pub text: String,
    /// How many results (1–20), for one text.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// A list: where to write the answered list (standard output when absent). Giving it
    /// makes TEXT a list.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// A list: its format; by default from its extension.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// A list: answer as one GeoJSON FeatureCollection (also when --output ends in .geojson).
    #[arg(long)]
    pub geojson: bool,
    /// A list: defuse cells a spreadsheet would run as formulas (see `vmap assign`).
    #[arg(long)]
    pub csv_safe: bool,
    #[command(flatten)]
    pub list: ListLimitsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigratePostcodesArgs {
    /// Database URL: `sqlite://FILE` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://vmap.db")]
    pub database_url: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Report what would change (counts) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Work on vmap's embedded data files.
#[derive(Debug, Clone, Subcommand)]
pub enum DataCommand {
    /// Compile the 2025 ward boundaries (GeoJSON sequence, one Feature per line) into
    /// vmap's boundary file.
    ///
    /// Example: `vmap data compile-boundaries --from vn_wards_34_boundaries.geojsonseq --to data/vn_wards_34_boundaries.bin`
    CompileBoundaries(CompileBoundariesArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompileBoundariesArgs {
    /// The GeoJSON sequence to read.
    #[arg(long)]
    pub from: PathBuf,
    /// The boundary file to write.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// The code; any case, spaces, hyphens and '+' are accepted.
    pub code: String,
    #[command(flatten)]
    pub zones: ZonesArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ParseArgs {
    /// The address text, e.g. "so 7 ngo 12 pho hue, hai ba trung, ha noi".
    pub text: String,
    /// One line of JSON instead of an indented document.
    #[arg(long)]
    pub compact: bool,
}

/// A list format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
    /// One JSON object per line (also `jsonl`).
    #[value(alias = "jsonl")]
    Ndjson,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
        }
    }
}

/// `--match-radius-m`, checked while parsing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRadiusArg(pub MatchRadius);

impl std::fmt::Display for MatchRadiusArg {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0.metres())
    }
}

fn parse_match_radius(text: &str) -> Result<MatchRadiusArg, String> {
    let metres: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number of metres: {text:?}"))?;
    MatchRadius::new(metres)
        .map(MatchRadiusArg)
        .map_err(|error| error.to_string())
}
