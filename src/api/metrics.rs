//! `GET /metrics`: Prometheus text exposition, and the middleware that counts requests.
//!
//! Decisions:
//! - Counters and histograms go through the `metrics` facade into one process-wide
//!   `metrics-exporter-prometheus` recorder, installed on first use: the assign engine counts
//!   its rows where it decides them (`assign::ROWS_METRIC`), with no handle passed down, and
//!   `vmap assign` (no recorder) pays nothing. Figures of the registry (index size, data version, load time,
//!   the change number followed) are read from the state at each scrape and written by the
//!   handler itself, so two routers in one process (the tests) each report their own.
//! - A request is timed and held in flight until its answer's body is sent or dropped, not
//!   until its head is ready: a streamed assignment is in flight for as long as it streams.
//! - The route label is the matched route template (`/v1/codes/{code}`), never the raw path,
//!   so a scan of made-up paths cannot grow the label set; an unmatched path is `unmatched`,
//!   and a method outside the standard ones is `other`.
//! - `/metrics` needs no token: like every read of vmap it is open, and it holds counts and
//!   timings only, no address and no token. Keep it from the public with the network (a
//!   proxy that does not forward it), as the probes.
//! - How far a replica is behind its database in changes is not known without asking the
//!   database, which a scrape should not do; what is exported is the change number memory
//!   holds (`vmap_followed_change_seq`, to compare between replicas and with the writer) and
//!   the age of the last successful follow.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::server::HeldBody;

/// Requests answered, by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "vmap_http_requests_total";
/// Seconds from a request's head to the end of its answer's body, by `method` and `route`.
pub const HTTP_DURATION: &str = "vmap_http_request_duration_seconds";
/// Requests whose answer is not sent yet, by `method` and `route`.
pub const HTTP_IN_FLIGHT: &str = "vmap_http_requests_in_flight";
/// Rows of assigned lists, by `status` (`created`, `existing`, `error`).
pub const ASSIGN_ROWS: &str = crate::assign::ROWS_METRIC;
/// Changes applied by following other writers.
pub const FOLLOW_CHANGES: &str = "vmap_follow_changes_total";

/// Buckets of the latency histogram, seconds: a reverse from memory takes well under a
/// millisecond, an assignment of a large list minutes.
const DURATION_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0,
];

/// How often histograms are folded in while nobody scrapes (they grow until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Milliseconds since the epoch of the last successful follow; 0 before the first.
static LAST_FOLLOW_MS: AtomicU64 = AtomicU64::new(0);

/// The process's recorder, installed on first use. `None` when another recorder was
/// installed first (then `/metrics` has the registry's figures only).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS);
    let recorder = match builder {
        Ok(builder) => builder.build_recorder(),
        Err(error) => {
            tracing::error!(%error, "the metrics recorder was not built");
            return None;
        }
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics has no request counts");
        return None;
    }
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered");
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request duration, to the end of the answer's body"
    );
    metrics::describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests whose answer is not sent yet");
    metrics::describe_counter!(ASSIGN_ROWS, "Rows of assigned lists, by status");
    metrics::describe_counter!(FOLLOW_CHANGES, "Changes applied by following other writers");
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no metrics upkeep thread; histograms are folded at each scrape");
    }
    Some(handle)
}

/// Installs the recorder now, so that counts made before the first request (rows assigned
/// by the first list) are kept. [`app`](super::app) calls it.
pub(super) fn init() {
    let _ = handle();
}

/// `serve` followed other writers: `n_changes` applied.
pub fn note_followed(n_changes: usize) {
    metrics::counter!(FOLLOW_CHANGES).increment(n_changes as u64);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    LAST_FOLLOW_MS.store(now_ms, Ordering::Relaxed);
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Metrics in the Prometheus text format; see the README for each", body = String, content_type = "text/plain"))
)]
pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    let mut text = handle().map(PrometheusHandle::render).unwrap_or_default();
    registry_figures(&state, &mut text);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The registry's figures, read now: absent while it loads, except `vmap_ready`.
fn registry_figures(state: &AppState, text: &mut String) {
    let registry = state.registry().ok();
    gauge(
        text,
        "vmap_ready",
        "1 once the index is loaded, 0 while loading",
        f64::from(u8::from(registry.is_some())),
    );
    gauge(
        text,
        "vmap_draining",
        "1 while the server drains before it exits",
        f64::from(u8::from(state.drain.is_draining())),
    );
    let Some(registry) = registry else { return };
    let status = registry.status();
    gauge(
        text,
        "vmap_index_addresses",
        "Points in the in-memory index (active and retired addresses)",
        status.n_indexed as f64,
    );
    gauge(
        text,
        "vmap_active_addresses",
        "Active addresses",
        status.n_active as f64,
    );
    gauge(
        text,
        "vmap_data_version",
        "Data version: the highest change number memory holds",
        status.data_version as f64,
    );
    gauge(
        text,
        "vmap_followed_change_seq",
        "The change number up to which memory holds every change",
        registry.followed_seq() as f64,
    );
    let source = if status.from_snapshot {
        "snapshot"
    } else {
        "database"
    };
    text.push_str(
        "# HELP vmap_index_load_seconds Seconds it took to load the registry at start-up, by source\n\
         # TYPE vmap_index_load_seconds gauge\n",
    );
    text.push_str(&format!(
        "vmap_index_load_seconds{{source=\"{source}\"}} {}\n",
        status.build_duration.as_secs_f64()
    ));
    gauge(
        text,
        "vmap_database_available",
        "0 while the database is known to be away (an outage), else 1",
        f64::from(u8::from(registry.database_outage().is_none())),
    );
    let last_ms = LAST_FOLLOW_MS.load(Ordering::Relaxed);
    if last_ms > 0 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(last_ms, |since| since.as_millis() as u64);
        gauge(
            text,
            "vmap_follow_age_seconds",
            "Seconds since other writers were last followed successfully",
            now_ms.saturating_sub(last_ms) as f64 / 1000.0,
        );
    }
}

fn gauge(text: &mut String, name: &str, help: &str, value: f64) {
    text.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    ));
}

/// Counts and times every request, by its route template.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let labels = [("method", method), ("route", route)];
    let in_flight = metrics::gauge!(HTTP_IN_FLIGHT, &labels);
    in_flight.increment(1.0);
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        HTTP_REQUESTS,
        &[
            ("method", labels[0].1.clone()),
            ("route", labels[1].1.clone()),
            ("status", status),
        ]
    )
    .increment(1);
    let done = Done {
        in_flight,
        duration: metrics::histogram!(HTTP_DURATION, &labels),
        started,
    };
    response.map(|body| Body::new(HeldBody { body, _guard: done }))
}

/// The method as a label: the standard ones by name, any other `other`, so that made-up
/// methods cannot grow the label set either.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Ends a request's figures when its answer's body is sent (or dropped).
struct Done {
    in_flight: metrics::Gauge,
    duration: metrics::Histogram,
    started: Instant,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.in_flight.decrement(1.0);
        self.duration.record(self.started.elapsed().as_secs_f64());
    }
}
