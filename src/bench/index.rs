//! `vmap bench index`: queries in process against the registry built from the database, on one
//! thread and then on every core.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{RunFigures, figures, new_histogram, record_latency};
use crate::point::LatLon;
use crate::registry::{Registry, ReverseQuery};

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
                    record_latency(&mut histogram, one.elapsed());
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
    query: ReverseQuery,
    threads: usize,
    check: usize,
) -> IndexReport {
    let points = Arc::new(points);
    let mut runs = Vec::new();
    for &n_threads in &[1, threads.max(1)] {
        if n_threads > 1 || runs.is_empty() {
            let nearest_registry = registry.clone();
            runs.push(timed_run("nearest", n_threads, &points, move |point| {
                nearest_registry.nearest_addresses(point, query).len()
            }));
            let reverse_registry = registry.clone();
            runs.push(timed_run("reverse", n_threads, &points, move |point| {
                reverse_registry.reverse(point, query).addresses.len()
            }));
        }
    }
    let checked = check.min(points.len());
    let mismatches = points
        .iter()
        .take(checked)
        .filter(|&&point| {
            registry.nearest_addresses(point, query)
                != registry.nearest_addresses_brute_force(point, query)
        })
        .count();
    IndexReport {
        addresses: registry.status().n_active,
        limit: query.limit(),
        radius_m: query.radius_m(),
        runs,
        checked,
        mismatches,
    }
}

/// The plain-text table of an index report.
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
