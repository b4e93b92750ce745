//! `vmap bench`: how fast vmap answers on the user's own data, measured on the user's own
//! machine.
//!
//! `--mode index` runs queries in process against the registry built from the database:
//! one thread, then every core; per-query latency goes into an HDR histogram. Query points
//! are drawn reproducibly from a seed (near registered addresses, or uniform over Vietnam)
//! or read from a file; `--check N` compares N answers with a brute-force scan.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::point::LatLon;
use crate::registry::Registry;

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

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    #[error("cannot read query file {path}: {message}")]
    QueryFile { path: String, message: String },
    #[error("no query points: the registry is empty and the query set needs addresses")]
    NoQueries,
    #[error("{0} of {1} checked answers differ from the brute-force scan")]
    CheckFailed(usize, usize),
}

/// Draws `n` query points.
pub fn query_points(
    registry: &Registry,
    set: &QuerySet,
    n: usize,
    seed: u64,
) -> Result<Vec<LatLon>, BenchError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let points = match set {
        QuerySet::Near => registry
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

/// Latency and throughput of one run.
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

/// All figures of an index bench.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub addresses: u64,
    pub limit: usize,
    pub radius_m: f64,
    pub runs: Vec<RunFigures>,
    /// Answers compared with brute force, and how many differed.
    pub checked: usize,
    pub mismatches: usize,
}

fn new_histogram() -> Histogram<u64> {
    // Nanoseconds from 1 ns to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

fn figures(what: &str, threads: usize, histogram: &Histogram<u64>, wall: Duration) -> RunFigures {
    let micros = |ns: u64| ns as f64 / 1_000.0;
    RunFigures {
        what: what.to_owned(),
        threads,
        queries: histogram.len(),
        queries_per_s: histogram.len() as f64 / wall.as_secs_f64().max(1e-9),
        p50_us: micros(histogram.value_at_quantile(0.5)),
        p99_us: micros(histogram.value_at_quantile(0.99)),
        p999_us: micros(histogram.value_at_quantile(0.999)),
        max_us: micros(histogram.max()),
    }
}

/// Times `query` over `points` on `threads` threads (each takes every `threads`-th point).
fn timed_run(
    what: &str,
    threads: usize,
    points: &Arc<Vec<LatLon>>,
    query: impl Fn(LatLon) -> usize + Send + Sync + Clone + 'static,
) -> RunFigures {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|thread_idx| {
            let points = points.clone();
            let query = query.clone();
            std::thread::spawn(move || {
                let mut histogram = new_histogram();
                let mut found = 0usize;
                for point in points.iter().skip(thread_idx).step_by(threads) {
                    let one = Instant::now();
                    found += query(*point);
                    let _ = histogram.record(one.elapsed().as_nanos().max(1) as u64);
                }
                std::hint::black_box(found);
                histogram
            })
        })
        .collect();
    let mut total = new_histogram();
    for handle in handles {
        if let Ok(histogram) = handle.join() {
            let _ = total.add(&histogram);
        }
    }
    figures(what, threads, &total, started.elapsed())
}

/// Runs nearest-only and full reverse queries on one thread and on `threads`, then checks
/// `check` answers against brute force.
pub fn bench_index(
    registry: Arc<Registry>,
    points: Vec<LatLon>,
    limit: usize,
    radius_m: f64,
    threads: usize,
    check: usize,
) -> IndexReport {
    let points = Arc::new(points);
    let mut runs = Vec::new();
    for &n_threads in &[1, threads.max(1)] {
        if n_threads > 1 || runs.is_empty() {
            let nearest_registry = registry.clone();
            runs.push(timed_run("nearest", n_threads, &points, move |point| {
                nearest_registry
                    .nearest_addresses(point, limit, radius_m)
                    .len()
            }));
            let reverse_registry = registry.clone();
            runs.push(timed_run("reverse", n_threads, &points, move |point| {
                reverse_registry
                    .reverse(point, limit, radius_m)
                    .addresses
                    .len()
            }));
        }
    }
    let checked = check.min(points.len());
    let mismatches = points
        .iter()
        .take(checked)
        .filter(|&&point| {
            registry.nearest_addresses(point, limit, radius_m)
                != registry.nearest_addresses_brute_force(point, limit, radius_m)
        })
        .count();
    IndexReport {
        addresses: registry.status().n_active,
        limit,
        radius_m,
        runs,
        checked,
        mismatches,
    }
}

/// The plain-text table of a report.
pub fn render_table(report: &IndexReport) -> String {
    let mut text = format!(
        "{} addresses, limit {}, radius {} m\n{:<9} {:>7} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9}\n",
        report.addresses,
        report.limit,
        report.radius_m,
        "query",
        "threads",
        "queries",
        "queries/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs"
    );
    for run in &report.runs {
        text.push_str(&format!(
            "{:<9} {:>7} {:>10} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>9.1}\n",
            run.what,
            run.threads,
            run.queries,
            run.queries_per_s,
            run.p50_us,
            run.p99_us,
            run.p999_us,
            run.max_us
        ));
    }
    if report.checked > 0 {
        text.push_str(&format!(
            "checked {} answers against a brute-force haversine scan: {} differ\n",
            report.checked, report.mismatches
        ));
    }
    text
}
