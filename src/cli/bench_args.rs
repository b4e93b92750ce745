//! The arguments of `vmap bench` (their doc comments are `--help`), apart from
//! `args.rs` because they are a command group of their own.

use clap::{Args, Subcommand};

use super::args::{DataArgs, SnapshotArgs, StoreArgs, ZonesArgs};
use crate::api::Limits;
use crate::registry::{self, QueryError, ReverseQuery};

/// What `vmap bench` measures.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Queries in process against the index built from the database.
    ///
    /// Example: `vmap bench index --queries near --n-queries 200000 --check 1000`
    Index(BenchIndexArgs),
    /// Load on a running `vmap serve`: GET and batch POST /v1/reverse over keep-alive
    /// connections.
    ///
    /// Example: `vmap bench http --url http://127.0.0.1:8080 --concurrency 64 --duration 20s`
    Http(BenchHttpArgs),
    /// The same queries as KNN SQL against the addresses table in PostGIS: the yardstick.
    ///
    /// Example: `vmap bench postgis --database-url postgres://vmap@localhost/vmap`
    Postgis(BenchPostgisArgs),
    /// Forward geocoding: texts rendered from registered addresses in every style the
    /// parser reads, searched in process (one thread, then every core) or, with `--url`,
    /// sent to a running `vmap serve` as GET /v1/search.
    ///
    /// Example: `vmap bench geocode --n-queries 20000 --check`
    Geocode(BenchGeocodeArgs),
}

/// The query points and what each query asks, common to every mode.
#[derive(Debug, Clone, Args)]
pub struct BenchQueryArgs {
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
    /// How many addresses each query asks for (1–100).
    #[arg(long, default_value_t = registry::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Search radius of each query, metres (0–50 000).
    #[arg(long, default_value_t = registry::DEFAULT_RADIUS_M)]
    pub radius_m: f64,
    /// Compare this many answers with a brute-force scan (see each mode); any difference
    /// fails the command.
    #[arg(long, default_value_t = 0)]
    pub check: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl BenchQueryArgs {
    pub fn reverse_query(&self) -> Result<ReverseQuery, Vec<QueryError>> {
        ReverseQuery::new(self.limit, self.radius_m)
    }
}

/// How long a load runs.
#[derive(Debug, Clone, Args)]
pub struct BenchLoadArgs {
    /// How long each load is measured, e.g. `30s`, `2m`.
    #[arg(long, default_value = "30s")]
    pub duration: humantime::Duration,
    /// Load before measuring, not counted in the figures.
    #[arg(long, default_value = "1s")]
    pub warmup: humantime::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct BenchIndexArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub query: BenchQueryArgs,
    /// Threads of the all-cores run; every core by default. `--check` compares answers
    /// with a brute-force scan (slow: a full scan each).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchHttpArgs {
    /// The server, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub url: String,
    /// The database the server serves: needed for `--queries near` and for `--check`, which
    /// compares GET answers with an in-process brute-force scan.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub zones: ZonesArgs,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub query: BenchQueryArgs,
    #[command(flatten)]
    pub load: BenchLoadArgs,
    /// Concurrent connections of the GET load, one worker each.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Connections of the batch load; by default the smallest of `--concurrency`, this
    /// machine's cores (the server already spreads each batch over its cores, so a few at a
    /// time saturate it and more only queue) and the server's default
    /// `--max-concurrent-batches`.
    #[arg(long)]
    pub batch_concurrency: Option<usize>,
    /// Points per batch request (the server's default maximum); 0 skips the batch load.
    #[arg(long, default_value_t = Limits::DEFAULT.max_batch_items)]
    pub batch_size: usize,
    /// The query string of the batch requests, e.g. `zones=by_postcode&format=ndjson`; given
    /// more than once, one batch load runs per value, in turn (default: none, the inline
    /// JSON answer).
    #[arg(long = "batch-query", value_name = "QUERY")]
    pub batch_queries: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchPostgisArgs {
    /// The PostgreSQL + PostGIS database (vmap's) to query.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    #[command(flatten)]
    pub zones: ZonesArgs,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub query: BenchQueryArgs,
    #[command(flatten)]
    pub load: BenchLoadArgs,
    /// Connections of the second run of each load (the first uses 1); every core by default.
    /// `--check` compares answers, single and batched, with the registry loaded from the
    /// same database.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Points per batch statement (one LATERAL KNN statement); 0 skips the batch load.
    #[arg(long, default_value_t = crate::bench::postgis::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// KNN candidates per requested address, taken by planar distance and re-ranked by
    /// spherical distance.
    #[arg(long, default_value_t = crate::bench::postgis::DEFAULT_CANDIDATES)]
    pub candidates: usize,
    /// Keep the server's JIT setting; by default the bench's sessions turn JIT off
    /// (compiling a batch statement costs more than running it).
    #[arg(long)]
    pub pg_jit: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BenchGeocodeArgs {
    /// The database the queries are drawn from (with `--url`: the one the server serves).
    #[command(flatten)]
    pub data: DataArgs,
    /// A running `vmap serve`, e.g. `http://127.0.0.1:8080`: send the queries as
    /// GET /v1/search (GET /v1/autocomplete with `--autocomplete`) over `--concurrency` keep-alive connections instead of searching in
    /// process.
    #[arg(long)]
    pub url: Option<String>,
    /// How many registered addresses to draw; each becomes one query text (those without a
    /// street or house number are skipped).
    #[arg(long, default_value_t = 20_000)]
    pub n_queries: usize,
    /// Seed for drawing the addresses, their styles and their renderings.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Results asked per query (1–20); the first is judged.
    #[arg(long, default_value_t = crate::bench::geocode::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Compare every answer's first result with the address its text was rendered from:
    /// print the top-1 accuracy and the rate of wrong codes given as unambiguous, per style,
    /// and fail when top-1 is below 99 % or wrong-and-unambiguous above 0.1 %.
    #[arg(long)]
    pub check: bool,
    /// Ask the autocomplete (GET /v1/autocomplete) with prefixes of the texts, as typed so
    /// far (3 characters to the whole text, uniformly), instead of searching whole texts.
    #[arg(long, conflicts_with = "check")]
    pub autocomplete: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Threads of the in-process all-cores run; every core by default.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Connections of the `--url` load, one worker each.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The `--url` load's window (in process, every query is searched once per run).
    #[command(flatten)]
    pub load: BenchLoadArgs,
}
