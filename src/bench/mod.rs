//! `vmap bench`: how fast vmap answers on the user's own data, measured on the user's own
//! machine.
//!
//! Three modes share the query sets (drawn reproducibly from a seed: near registered
//! addresses, uniform over Vietnam, or read from a file), HDR-histogram latency figures, and
//! the plain-table and JSON output:
//!
//! - `index` ([`index`]) runs queries in process against the registry built from the
//!   database: one thread, then every core; `--check N` compares N answers with a brute-force
//!   scan.
//! - `http` ([`http`]) is a load generator against a running `vmap serve`: single-point
//!   `GET /v1/reverse` and batch `POST /v1/reverse`, each for a fixed time after a warm-up,
//!   from C keep-alive connections.
//! - `postgis` ([`postgis`]) runs the same queries as KNN SQL against the `addresses` table
//!   in PostGIS, one point per statement and batched with `LATERAL`, at 1 and C connections.
//!
//! A fourth, `geocode` ([`geocode`]), measures forward geocoding: its queries are texts
//! rendered from registered addresses, searched in process (as `index`) or sent to
//! `GET /v1/search` (with `http`'s connections and timed loads); it shares the latency
//! figures and the output forms.

pub mod geocode;
pub mod http;
pub mod index;
mod load;
pub mod postgis;

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{NearbyAddress, Registry};

pub use index::{IndexReport, bench_index, render_table};
pub use load::{LoadContext, LoadFigures, LoadReport, render_load_table};
pub(crate) use load::{LoadSpec, Outcome, Requester, run_load};

/// Where query points come from.
#[derive(Debug, Clone, PartialEq)]
pub enum QuerySet {
    /// Within 50 m of registered addresses.
    Near,
    /// Uniform over Vietnam's bounding box (8.4–23.4 N, 102.1–109.5 E).
    Uniform,
    /// `lat,lon` per line (a header line is skipped).
    File(PathBuf),
}

impl std::str::FromStr for QuerySet {
    type Err = String;

    fn from_str(text: &str) -> Result<QuerySet, String> {
        match text {
            "near" => Ok(QuerySet::Near),
            "uniform" => Ok(QuerySet::Uniform),
            other => match other.strip_prefix("file:") {
                Some(path) => Ok(QuerySet::File(PathBuf::from(path))),
                None => Err(format!(
                    "query set must be near, uniform or file:PATH, not {other:?}"
                )),
            },
        }
    }
}

impl std::fmt::Display for QuerySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuerySet::Near => f.write_str("near"),
            QuerySet::Uniform => f.write_str("uniform"),
            QuerySet::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    #[error("cannot read query file {path}: {message}")]
    QueryFile { path: String, message: String },
    #[error("no query points: the registry is empty and the query set needs addresses")]
    NoQueries,
    #[error(
        "query set `near` needs the registered addresses: pass --database-url (the database \
         the server serves), or use --queries uniform or file:PATH"
    )]
    NeedsDatabase,
    #[error("{0} of {1} checked answers differ from the reference")]
    CheckFailed(usize, usize),
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {message}")]
    Http { what: String, message: String },
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("reading the registered addresses: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error("geocode check failed: {0}")]
    GeocodeCheck(String),
    #[error("{failed} requests failed ({non_2xx} non-2xx answers, {errors} errors){first}")]
    RequestsFailed {
        failed: u64,
        non_2xx: u64,
        errors: u64,
        /// The first failure's message, with a leading separator, or empty.
        first: String,
    },
}

/// Draws `n` query points.
pub fn query_points(
    registry: &Registry,
    set: &QuerySet,
    n: usize,
    seed: u64,
) -> Result<Vec<LatLon>, BenchError> {
    query_points_from(Some(registry), set, n, seed)
}

/// Draws `n` query points; `near` needs a registry, the other sets do not. The same set,
/// count and seed give the same points in every mode.
pub fn query_points_from(
    registry: Option<&Registry>,
    set: &QuerySet,
    n: usize,
    seed: u64,
) -> Result<Vec<LatLon>, BenchError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let points = match set {
        QuerySet::Near => registry
            .ok_or(BenchError::NeedsDatabase)?
            .sample_locations(n, seed)
            .into_iter()
            .map(|point| {
                // Up to ~50 m away in each direction.
                let lat = point.lat + rng.random_range(-0.00045..0.00045);
                let lon = point.lon + rng.random_range(-0.00045..0.00045);
                LatLon::new(lat, lon).unwrap_or(point)
            })
            .collect(),
        QuerySet::Uniform => (0..n)
            .map(|_| LatLon {
                lat: rng.random_range(8.4..23.4),
                lon: rng.random_range(102.1..109.5),
            })
            .collect(),
        QuerySet::File(path) => read_query_file(path)?,
    };
    if points.is_empty() {
        return Err(BenchError::NoQueries);
    }
    Ok(points)
}

fn read_query_file(path: &PathBuf) -> Result<Vec<LatLon>, BenchError> {
    let error = |message: String| BenchError::QueryFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|io| error(io.to_string()))?;
    let mut points = Vec::new();
    for (line_idx, line) in text.lines().enumerate() {
        let mut fields = line.split([',', ';', '\t']).map(str::trim);
        let (Some(lat), Some(lon)) = (fields.next(), fields.next()) else {
            continue;
        };
        match (lat.parse::<f64>(), lon.parse::<f64>()) {
            (Ok(lat), Ok(lon)) => points.push(
                LatLon::new(lat, lon)
                    .map_err(|bad| error(format!("line {}: {bad}", line_idx + 1)))?,
            ),
            _ if line_idx == 0 => {} // a header
            _ => return Err(error(format!("line {}: expected lat,lon", line_idx + 1))),
        }
    }
    Ok(points)
}

/// Latency and throughput of one in-process run.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    pub what: String,
    pub threads: usize,
    pub queries: u64,
    pub queries_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    // Nanoseconds from 1 ns to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Records one latency; anything past the histogram's range counts as its maximum.
pub(crate) fn record_latency(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
    histogram.saturating_record(nanos);
}

/// p50, p99, p99.9 and max of a histogram of nanoseconds, in microseconds.
fn quantiles_us(histogram: &Histogram<u64>) -> [f64; 4] {
    let micros = |ns: u64| ns as f64 / 1_000.0;
    [
        micros(histogram.value_at_quantile(0.5)),
        micros(histogram.value_at_quantile(0.99)),
        micros(histogram.value_at_quantile(0.999)),
        micros(histogram.max()),
    ]
}

pub(crate) fn figures(
    what: &str,
    threads: usize,
    histogram: &Histogram<u64>,
    wall: Duration,
) -> RunFigures {
    let [p50_us, p99_us, p999_us, max_us] = quantiles_us(histogram);
    RunFigures {
        what: what.to_owned(),
        threads,
        queries: histogram.len(),
        queries_per_s: histogram.len() as f64 / wall.as_secs_f64().max(1e-9),
        p50_us,
        p99_us,
        p999_us,
        max_us,
    }
}

/// One remote answer's addresses, for `--check`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answered {
    pub code: Option<VmapCode>,
    pub raw_code: String,
    pub distance_m: f64,
}

/// Distances agree to this, metres.
pub const CHECK_TOLERANCE_M: f64 = 0.01;

/// `None` when `remote` is `reference` (same codes in the same order, distances within
/// [`CHECK_TOLERANCE_M`]); otherwise a line that says how they differ.
pub(crate) fn compare_answers(
    point: LatLon,
    remote: &[Answered],
    reference: &[NearbyAddress],
) -> Option<String> {
    let same = remote.len() == reference.len()
        && remote.iter().zip(reference).all(|(got, want)| {
            got.code == Some(want.code)
                && (got.distance_m - want.distance_m).abs() <= CHECK_TOLERANCE_M
        });
    if same {
        return None;
    }
    let got: Vec<String> = remote
        .iter()
        .map(|answer| format!("{} at {:.3} m", answer.raw_code, answer.distance_m))
        .collect();
    let want: Vec<String> = reference
        .iter()
        .map(|address| format!("{} at {:.3} m", address.code, address.distance_m))
        .collect();
    Some(format!(
        "at {:.7},{:.7}: got [{}], expected [{}]",
        point.lat,
        point.lon,
        got.join(", "),
        want.join(", ")
    ))
}

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_sets_parse_and_print_back() {
        for text in ["near", "uniform", "file:/tmp/points.csv"] {
            let set: QuerySet = text.parse().expect("parses");
            assert_eq!(set.to_string(), text);
        }
        assert!("everywhere".parse::<QuerySet>().is_err());
    }

    #[test]
    fn near_needs_a_registry_and_uniform_does_not() {
        assert!(matches!(
            query_points_from(None, &QuerySet::Near, 10, 1),
            Err(BenchError::NeedsDatabase)
        ));
        let first = query_points_from(None, &QuerySet::Uniform, 10, 1).expect("points");
        let again = query_points_from(None, &QuerySet::Uniform, 10, 1).expect("points");
        assert_eq!(first, again);
        assert_eq!(first.len(), 10);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://vmap:secret@127.0.0.1:5432/vmap?sslmode=disable"),
            "postgres://vmap:***@127.0.0.1:5432/vmap?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://vmap@localhost/vmap"),
            "postgres://vmap@localhost/vmap"
        );
        assert_eq!(redact_url("http://[::1]:80/x"), "http://[::1]:80/x");
    }
}
