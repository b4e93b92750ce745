//! Timed loads over connections (the http and postgis modes): a warm-up and a measured
//! window, workers that each drive one connection, their tallies merged into figures, and the
//! report with its plain-text table.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{BenchError, QuerySet, new_histogram, quantiles_us, record_latency};
use crate::registry::{Registry, ReverseQuery};

/// How long a load runs: requests that complete before `measure_from` are the warm-up and
/// are not measured; workers stop at `stop_at`, abandoning what is still in flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub measure_from: Instant,
    pub stop_at: Instant,
}

impl Window {
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let measure_from = Instant::now() + warmup;
        Window {
            measure_from,
            stop_at: measure_from + duration,
        }
    }

    pub fn measured(&self) -> Duration {
        self.stop_at.saturating_duration_since(self.measure_from)
    }
}

/// How one request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answered; this many points were asked.
    Answered { points: u64 },
    /// Answered with a status outside 2xx.
    Status(u16),
    /// No answer: connection, protocol or database error.
    Failed(String),
}

/// One worker's counts; merged into a [`LoadFigures`] at the end.
#[derive(Debug)]
pub(crate) struct Tally {
    histogram: Histogram<u64>,
    points: u64,
    non_2xx: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            histogram: new_histogram(),
            points: 0,
            non_2xx: 0,
            errors: 0,
            first_error: None,
        }
    }

    /// Counts a request that started at `started` and just ended. Latency and throughput
    /// count only answers completed inside the measured window; failures count always,
    /// warm-up included.
    pub fn record(&mut self, window: &Window, started: Instant, outcome: Outcome) {
        let ended = Instant::now();
        match outcome {
            Outcome::Answered { points } => {
                if ended >= window.measure_from && ended <= window.stop_at {
                    record_latency(&mut self.histogram, ended - started);
                    self.points += points;
                }
            }
            Outcome::Status(status) => {
                self.non_2xx += 1;
                self.first_error
                    .get_or_insert_with(|| format!("HTTP status {status}"));
            }
            Outcome::Failed(message) => {
                self.errors += 1;
                self.first_error.get_or_insert(message);
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        let _ = self.histogram.add(&other.histogram);
        self.points += other.points;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn figures(
        &self,
        what: &str,
        connections: usize,
        points_per_request: usize,
        window: &Window,
    ) -> LoadFigures {
        let seconds = window.measured().as_secs_f64().max(1e-9);
        let [p50_us, p99_us, p999_us, max_us] = quantiles_us(&self.histogram);
        LoadFigures {
            what: what.to_owned(),
            connections,
            points_per_request,
            requests: self.histogram.len(),
            requests_per_s: self.histogram.len() as f64 / seconds,
            points: self.points,
            points_per_s: self.points as f64 / seconds,
            p50_us,
            p90_us: self.histogram.value_at_quantile(0.9) as f64 / 1_000.0,
            p99_us,
            p999_us,
            max_us,
            non_2xx: self.non_2xx,
            errors: self.errors,
            first_error: self.first_error.clone(),
        }
    }
}

/// A failed request is followed by this pause before the next (a refused connection would
/// otherwise spin).
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// One worker's connection and what it sends: implemented by the http and postgis loads.
pub(crate) trait Requester: Send + 'static {
    /// Opens the connection before the first request, so that the first latency is the
    /// request's alone.
    fn connect(&mut self) -> impl Future<Output = Result<(), String>> + Send;
    /// Sends request number `item` (of the load's items) and waits for its whole answer,
    /// reconnecting first when the connection was lost.
    fn request(&mut self, item: usize) -> impl Future<Output = Outcome> + Send;
}

/// One worker: items `offset, offset + stride, …` (wrapping at `items`) until the window
/// closes; a request still in flight then is abandoned and not counted.
async fn drive<R: Requester>(
    mut requester: R,
    items: usize,
    offset: usize,
    stride: usize,
    window: Window,
) -> Tally {
    let mut tally = Tally::new();
    let stop_at = tokio::time::Instant::from_std(window.stop_at);
    if let Err(message) = requester.connect().await {
        tally.record(&window, Instant::now(), Outcome::Failed(message));
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    let items = items.max(1);
    let mut item = offset % items;
    while Instant::now() < window.stop_at {
        let started = Instant::now();
        let Ok(outcome) = tokio::time::timeout_at(stop_at, requester.request(item)).await else {
            break;
        };
        let failed = !matches!(outcome, Outcome::Answered { .. });
        tally.record(&window, started, outcome);
        if failed {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        item = (item + stride) % items;
    }
    tally
}

/// What one load is: its name, how many points one request asks, how many distinct requests
/// there are (workers cycle through them).
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    pub what: String,
    pub points_per_request: usize,
    pub items: usize,
}

/// Runs one load from `connections` workers (each made by `make`) for the warm-up and the
/// measured window.
pub(crate) async fn run_load<R: Requester>(
    spec: &LoadSpec,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    make: impl Fn() -> R,
) -> LoadFigures {
    let connections = connections.max(1);
    let window = Window::starting_now(warmup, duration);
    let workers: Vec<_> = (0..connections)
        .map(|offset| tokio::spawn(drive(make(), spec.items, offset, connections, window)))
        .collect();
    let mut total = Tally::new();
    for handle in workers {
        match handle.await {
            Ok(tally) => total.merge(tally),
            Err(error) => total.record(
                &window,
                Instant::now(),
                Outcome::Failed(format!("worker failed: {error}")),
            ),
        }
    }
    total.figures(&spec.what, connections, spec.points_per_request, &window)
}

/// Latency and throughput of one load (http and postgis modes).
#[derive(Debug, Clone, Serialize)]
pub struct LoadFigures {
    /// `GET /v1/reverse`, `POST /v1/reverse`, `knn` or `knn-batch`.
    pub what: String,
    /// Concurrent connections, one worker each.
    pub connections: usize,
    /// Points asked per request (the batch size for batches).
    pub points_per_request: usize,
    /// Requests (HTTP requests or SQL statements) answered inside the measured window.
    pub requests: u64,
    pub requests_per_s: f64,
    pub points: u64,
    pub points_per_s: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Answers outside 2xx (http mode).
    pub non_2xx: u64,
    /// Requests that got no answer: connection, protocol or database errors.
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// All figures of an http or postgis bench.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `http` or `postgis`.
    pub mode: String,
    /// The server's URL, or the database URL without its password.
    pub target: String,
    /// Active addresses of the registry loaded for `near` or `--check`, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<u64>,
    pub query_set: String,
    pub query_points: usize,
    pub seed: u64,
    pub limit: usize,
    pub radius_m: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// postgis mode: KNN candidates fetched per requested address before re-ranking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates_per_address: Option<usize>,
    /// postgis mode: whether the sessions kept PostgreSQL's JIT (off unless `--pg-jit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jit: Option<bool>,
    pub runs: Vec<LoadFigures>,
    /// Answers compared with the reference (`--check`), and how many differed.
    pub checked: usize,
    pub mismatches: usize,
    /// The first few differences, for a human to look at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatch_examples: Vec<String>,
    /// Why the check could not run, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_error: Option<String>,
}

/// What a load report needs beyond its runs.
#[derive(Debug, Clone)]
pub struct LoadContext {
    pub query_set: QuerySet,
    pub seed: u64,
    pub query: ReverseQuery,
    pub warmup: Duration,
    pub duration: Duration,
}

impl LoadReport {
    pub(crate) fn new(
        mode: &str,
        target: String,
        registry: Option<&Registry>,
        query_points: usize,
        context: &LoadContext,
    ) -> LoadReport {
        LoadReport {
            mode: mode.to_owned(),
            target,
            addresses: registry.map(|registry| registry.status().n_active),
            query_set: context.query_set.to_string(),
            query_points,
            seed: context.seed,
            limit: context.query.limit(),
            radius_m: context.query.radius_m(),
            warmup_s: context.warmup.as_secs_f64(),
            duration_s: context.duration.as_secs_f64(),
            candidates_per_address: None,
            jit: None,
            runs: Vec::new(),
            checked: 0,
            mismatches: 0,
            mismatch_examples: Vec::new(),
            check_error: None,
        }
    }

    /// Keeps the outcome of `--check`: (checked, mismatches, examples), or why it failed.
    pub(crate) fn record_check(
        &mut self,
        asked: usize,
        outcome: Result<(usize, usize, Vec<String>), BenchError>,
    ) {
        match outcome {
            Ok((checked, mismatches, examples)) => {
                self.checked = checked;
                self.mismatches = mismatches;
                self.mismatch_examples = examples;
            }
            Err(error) => {
                self.checked = 0;
                self.check_error = Some(format!("checking {asked} answers failed: {error}"));
            }
        }
    }

    /// Failed requests over every run.
    pub fn failures(&self) -> (u64, u64) {
        self.runs.iter().fold((0, 0), |(non_2xx, errors), run| {
            (non_2xx + run.non_2xx, errors + run.errors)
        })
    }

    /// An error when a request failed or a checked answer differed: the command then exits
    /// non-zero, after printing the report.
    pub fn verdict(&self) -> Result<(), BenchError> {
        let (non_2xx, errors) = self.failures();
        if non_2xx + errors > 0 {
            let first = self
                .runs
                .iter()
                .find_map(|run| run.first_error.as_ref())
                .map(|message| format!("; first: {message}"))
                .unwrap_or_default();
            return Err(BenchError::RequestsFailed {
                failed: non_2xx + errors,
                non_2xx,
                errors,
                first,
            });
        }
        if let Some(error) = &self.check_error {
            return Err(BenchError::Invalid(error.clone()));
        }
        if self.mismatches > 0 {
            return Err(BenchError::CheckFailed(self.mismatches, self.checked));
        }
        Ok(())
    }
}

/// A run with fewer measured requests than this gets a note: its figures are coarse.
const FEW_REQUESTS: u64 = 20;

/// The plain-text table of an http or postgis report.
pub fn render_load_table(report: &LoadReport) -> String {
    let mut text = format!(
        "{} {}: {} query points ({}, seed {}), limit {}, radius {} m; {} s per load after {} s warm-up\n",
        report.mode,
        report.target,
        report.query_points,
        report.query_set,
        report.seed,
        report.limit,
        report.radius_m,
        report.duration_s,
        report.warmup_s,
    );
    if let Some(addresses) = report.addresses {
        text.push_str(&format!(
            "{addresses} active addresses in the reference registry\n"
        ));
    }
    if let Some(candidates) = report.candidates_per_address {
        text.push_str(&format!(
            "KNN takes {candidates} candidates per requested address by planar distance, \
             re-ranked by spherical distance; JIT {}\n",
            if report.jit == Some(true) {
                "as the server sets it"
            } else {
                "off"
            }
        ));
    }
    text.push_str(&format!(
        "{:<17} {:>5} {:>6} {:>9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6}\n",
        "load",
        "conns",
        "pts/rq",
        "requests",
        "req/s",
        "points/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "non-2xx",
        "errors"
    ));
    for run in &report.runs {
        text.push_str(&format!(
            "{:<17} {:>5} {:>6} {:>9} {:>10.1} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>9.1} {:>7} {:>6}\n",
            run.what,
            run.connections,
            run.points_per_request,
            run.requests,
            run.requests_per_s,
            run.points_per_s,
            run.p50_us / 1_000.0,
            run.p99_us / 1_000.0,
            run.p999_us / 1_000.0,
            run.max_us / 1_000.0,
            run.non_2xx,
            run.errors
        ));
    }
    for run in &report.runs {
        if let Some(message) = &run.first_error {
            text.push_str(&format!("{}: first failure: {message}\n", run.what));
        }
        if run.requests < FEW_REQUESTS && run.non_2xx + run.errors == 0 {
            text.push_str(&format!(
                "{} on {} connection{}: only {} requests completed in the window; a longer \
                 --duration gives steadier figures\n",
                run.what,
                run.connections,
                if run.connections == 1 { "" } else { "s" },
                run.requests
            ));
        }
    }
    if report.checked > 0 {
        text.push_str(&format!(
            "checked {} answers against {}: {} differ\n",
            report.checked,
            match report.mode.as_str() {
                "http" => "an in-process brute-force haversine scan",
                _ => "the in-process registry (code and distance to 0.01 m)",
            },
            report.mismatches
        ));
        for example in &report.mismatch_examples {
            text.push_str(&format!("  {example}\n"));
        }
    }
    if let Some(error) = &report.check_error {
        text.push_str(&format!("{error}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_answers_are_not_measured_but_failures_count() {
        let window = Window::starting_now(Duration::from_secs(60), Duration::from_secs(1));
        let mut tally = Tally::new();
        tally.record(&window, Instant::now(), Outcome::Answered { points: 5 });
        tally.record(&window, Instant::now(), Outcome::Status(500));
        tally.record(&window, Instant::now(), Outcome::Failed("reset".to_owned()));
        let figures = tally.figures("GET", 1, 1, &window);
        assert_eq!((figures.requests, figures.points), (0, 0));
        assert_eq!((figures.non_2xx, figures.errors), (1, 1));
        assert_eq!(figures.first_error.as_deref(), Some("HTTP status 500"));
    }
}
