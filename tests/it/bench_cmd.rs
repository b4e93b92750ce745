//! `vmap bench http` against a server on a real socket (port 0), `vmap bench postgis`
//! against PostgreSQL, its answers checked against the registry's, and `vmap bench geocode`
//! in process and against a `vmap serve` child, on both backends.

use std::sync::Arc;
use std::time::Duration;

use vmap::api::{self, AppState, Limits};
use vmap::bench::{self, BenchError, LoadContext, QuerySet};
use vmap::cli::{BenchCommand, Cli, Command};
use vmap::registry::Registry;
use vmap::registry::ReverseQuery;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, Server, run_vmap, seeded_db, seeded_registry};

trials! {
    tokio: [
        http_load_runs_both_loads_without_errors_and_answers_check,
        http_failures_are_counted_and_fail_the_verdict,
        the_command_runs_http_mode_and_exits_non_zero_on_failures,
        postgis_mode_refuses_a_sqlite_url,
        geocode_bench_checks_over_http,
    ],
    postgres: [postgis_mode_matches_the_registry],
    each_backend: [geocode_bench_checks_in_process],
}

fn context(set: QuerySet, limit: usize, warmup_ms: u64, duration_ms: u64) -> LoadContext {
    LoadContext {
        query_set: set,
        seed: 1,
        query: ReverseQuery::new(limit, 1_000.0).expect("valid query"),
        warmup: Duration::from_millis(warmup_ms),
        duration: Duration::from_millis(duration_ms),
    }
}

async fn serve(registry: Arc<Registry>) -> Server {
    Server::serve(api::app(AppState::ready(registry, Limits::default()))).await
}

async fn http_load_runs_both_loads_without_errors_and_answers_check() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 500).await;
    let server = serve(registry.clone()).await;
    let points = bench::query_points(&registry, &QuerySet::Near, 2_000, 1).expect("points");
    let settings = bench::http::HttpSettings {
        url: server.url(),
        concurrency: 4,
        batch_concurrency: 2,
        batch_size: 200,
        batch_queries: vec![String::new(), "zones=by_postcode&format=ndjson".to_owned()],
        check: 25,
        context: context(QuerySet::Near, 2, 200, 1_000),
    };
    let report = bench::http::run(&settings, points, Some(registry))
        .await
        .expect("runs");
    assert_eq!(report.runs.len(), 3, "{report:?}");
    let (get, post) = (&report.runs[0], &report.runs[1]);
    assert_eq!(
        (
            get.what.as_str(),
            post.what.as_str(),
            report.runs[2].what.as_str()
        ),
        (
            "GET /v1/reverse",
            "POST /v1/reverse",
            "POST ?zones=by_postcode&format=ndjson"
        )
    );
    for run in &report.runs {
        assert!(run.requests > 0, "{run:?}");
        assert_eq!((run.non_2xx, run.errors), (0, 0), "{run:?}");
        assert!(run.p50_us > 0.0 && run.p50_us <= run.p999_us, "{run:?}");
    }
    assert_eq!(get.points, get.requests);
    assert_eq!(post.points, post.requests * 200);
    assert_eq!((report.checked, report.mismatches), (25, 0), "{report:?}");
    report.verdict().expect("nothing failed");
    let table = bench::render_load_table(&report);
    assert!(table.contains("POST /v1/reverse"), "{table}");
}

async fn http_failures_are_counted_and_fail_the_verdict() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 50).await;
    let server = serve(registry).await;
    let points = bench::query_points_from(None, &QuerySet::Uniform, 100, 1).expect("points");
    // A path prefix the server does not have: every answer is 404.
    let settings = bench::http::HttpSettings {
        url: format!("{}/nowhere", server.url()),
        concurrency: 2,
        batch_concurrency: 1,
        batch_size: 0,
        batch_queries: Vec::new(),
        check: 0,
        context: context(QuerySet::Uniform, 1, 0, 300),
    };
    let report = bench::http::run(&settings, points.clone(), None)
        .await
        .expect("runs");
    assert_eq!(report.runs.len(), 1, "batch size 0 skips the batch load");
    assert!(report.runs[0].non_2xx > 0, "{report:?}");
    assert!(matches!(
        report.verdict(),
        Err(BenchError::RequestsFailed { .. })
    ));
    server.stop().await;

    // Nobody listens: transport errors.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let settings = bench::http::HttpSettings {
        url: format!("http://{closed}"),
        ..settings
    };
    let report = bench::http::run(&settings, points, None)
        .await
        .expect("runs");
    assert!(report.runs[0].errors > 0, "{report:?}");
    assert_eq!(report.runs[0].requests, 0);
    assert!(report.verdict().is_err());
}

/// The command line of a short `vmap bench http` run against `url`.
fn bench_http_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "bench",
        "http",
        "--url",
        url,
        "--duration",
        "400ms",
        "--warmup",
        "100ms",
        "--concurrency",
        "2",
        "--batch-size",
        "50",
        "--n-queries",
        "500",
    ];
    args.extend_from_slice(extra);
    args
}

async fn the_command_runs_http_mode_and_exits_non_zero_on_failures() {
    let (db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let server = serve(registry).await;
    let url = server.url();
    let uniform = bench_http_args(&url, &["--queries", "uniform"]);
    let cli = Cli::try_parse_args(std::iter::once("vmap").chain(uniform.iter().copied()))
        .expect("parses");
    let Command::Bench(BenchCommand::Http(parsed)) = &cli.command else {
        panic!("not bench http")
    };
    assert_eq!(
        Duration::from(parsed.load.duration),
        Duration::from_millis(400)
    );
    // Uniform points need no database.
    run_vmap(&uniform).await.assert_success();

    // `near` points come from the database the server serves; --check compares answers.
    let near_checked = ["--database-url", &db.url, "--check", "10", "--json"];
    run_vmap(bench_http_args(&url, &near_checked))
        .await
        .assert_success();

    // `near` without a database is refused before any load.
    let refused = run_vmap(bench_http_args(&url, &[])).await;
    assert!(!refused.status.success(), "{refused:?}");
    server.stop().await;

    // A server that is gone: the command fails.
    let failed = run_vmap(&uniform).await;
    assert!(!failed.status.success(), "{failed:?}");
}

async fn postgis_mode_matches_the_registry(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 2_000).await;
    let points = bench::query_points(&registry, &QuerySet::Near, 600, 3).expect("points");
    let settings = bench::postgis::PostgisSettings {
        database_url: db.url.clone(),
        concurrency: vec![1, 2],
        batch_size: 100,
        candidates: bench::postgis::DEFAULT_CANDIDATES,
        check: 600,
        keep_jit: false,
        // A batch of 100 nearest-neighbour queries can take a few hundred milliseconds on a
        // cold, shared CI machine; the window must be long enough for several to finish.
        context: context(QuerySet::Near, 3, 300, 2_000),
    };
    let report = bench::postgis::run(&settings, points, Some(registry.clone()))
        .await
        .expect("runs");
    let shape: Vec<(&str, usize, usize)> = report
        .runs
        .iter()
        .map(|run| (run.what.as_str(), run.connections, run.points_per_request))
        .collect();
    assert_eq!(
        shape,
        [
            ("knn", 1, 1),
            ("knn", 2, 1),
            ("knn-batch", 1, 100),
            ("knn-batch", 2, 100)
        ]
    );
    for run in &report.runs {
        assert!(run.requests > 0, "{run:?}");
        assert_eq!(run.errors, 0, "{run:?}");
    }
    assert_eq!(
        (report.checked, report.mismatches),
        (600, 0),
        "{:?}",
        report.mismatch_examples
    );
    report.verdict().expect("nothing failed");

    // Uniform points over the whole country, far from most addresses: answers up to 50 km
    // away (where planar and spherical order differ most) and empty ones must agree too.
    let points = bench::query_points_from(None, &QuerySet::Uniform, 300, 5).expect("points");
    let settings = bench::postgis::PostgisSettings {
        concurrency: vec![1],
        check: 300,
        context: LoadContext {
            query: ReverseQuery::new(1, 50_000.0).expect("valid query"),
            ..context(QuerySet::Uniform, 1, 0, 100)
        },
        ..settings
    };
    let report = bench::postgis::run(&settings, points, Some(registry))
        .await
        .expect("runs");
    assert_eq!(
        (report.checked, report.mismatches),
        (300, 0),
        "{:?}",
        report.mismatch_examples
    );
}

async fn postgis_mode_refuses_a_sqlite_url() {
    let points = bench::query_points_from(None, &QuerySet::Uniform, 10, 1).expect("points");
    let settings = bench::postgis::PostgisSettings {
        database_url: "sqlite://vmap.db".to_owned(),
        concurrency: vec![1],
        batch_size: 10,
        candidates: 16,
        check: 0,
        keep_jit: false,
        context: context(QuerySet::Uniform, 1, 0, 100),
    };
    assert!(matches!(
        bench::postgis::run(&settings, points, None).await,
        Err(BenchError::Invalid(_))
    ));
}

/// Addresses seeded for the geocode bench's tests.
const GEOCODE_SEEDED: u64 = 2_000;

/// Fails unless a geocode report's answer figures add up: the level shares sum to 1
/// overall and per style, the styles' answers to the total, the accuracy was computed and
/// met the targets. Returns the answers counted.
fn assert_geocode_figures_sane(report: &serde_json::Value) -> u64 {
    let answers = &report["answers"];
    let total = answers["answers"].as_u64().expect("answers counted");
    assert!(total > 0, "{report:#}");
    let sum_of = |levels: &serde_json::Value| -> f64 {
        ["address", "street", "ward", "district", "province", "none"]
            .iter()
            .map(|level| levels[level].as_f64().expect("a share"))
            .sum()
    };
    assert!(
        (sum_of(&answers["levels"]) - 1.0).abs() < 1e-9,
        "{report:#}"
    );
    let styles = answers["styles"].as_array().expect("styles");
    assert_eq!(styles.len(), 12, "every style drawn: {report:#}");
    let mut style_answers = 0;
    let mut style_top1 = 0;
    for style in styles {
        style_answers += style["answers"].as_u64().expect("answers");
        style_top1 += style["accuracy"]["top1"].as_u64().expect("per-style top-1");
        assert!((sum_of(&style["levels"]) - 1.0).abs() < 1e-9, "{style:#}");
        let rate = style["accuracy"]["top1_rate"].as_f64().expect("rate");
        assert!((0.0..=1.0).contains(&rate), "{style:#}");
    }
    assert_eq!(style_answers, total);
    let accuracy = &answers["accuracy"];
    let top1 = accuracy["top1"].as_u64().expect("top-1");
    assert_eq!(style_top1, top1);
    let top1_rate = accuracy["top1_rate"].as_f64().expect("rate");
    assert!((top1_rate - top1 as f64 / total as f64).abs() < 1e-12);
    assert!(top1_rate >= 0.99, "{report:#}");
    assert!(answers["levels"]["address"].as_f64().expect("share") >= top1_rate);
    assert_eq!(accuracy["wrong_unambiguous"], 0, "{report:#}");
    assert_eq!(report["check"]["passed"], true, "{report:#}");
    assert_eq!(report["check"]["min_top1_rate"], 0.99);
    total
}

fn json_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// `vmap bench geocode --check` in process: every query searched on one thread (and
/// counted), then on two; the queries are the same for the same seed.
async fn geocode_bench_checks_in_process(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, GEOCODE_SEEDED).await;
    let drawn = bench::geocode::draw_queries(&registry, 300, 7)
        .await
        .expect("queries");
    let again = bench::geocode::draw_queries(&registry, 300, 7)
        .await
        .expect("queries");
    assert_eq!(drawn, again, "the same seed draws the same queries");
    let other = bench::geocode::draw_queries(&registry, 300, 8)
        .await
        .expect("queries");
    assert_ne!(drawn.queries, other.queries);
    assert_eq!(drawn.drawn, 300);
    assert_eq!(drawn.queries.len() + drawn.skipped, 300);
    registry.close().await;

    let args = [
        "bench",
        "geocode",
        "--database-url",
        &db.url,
        "--n-queries",
        "600",
        "--seed",
        "3",
        "--threads",
        "2",
        "--check",
    ];
    let run = run_vmap(args.iter().copied().chain(["--json"]))
        .await
        .assert_success();
    let report = json_of(&run.stdout);
    assert_eq!(report["mode"], "in_process");
    assert_eq!(report["drawn"], 600);
    let queries = report["queries"].as_u64().expect("queries");
    assert_eq!(
        queries + report["skipped"].as_u64().expect("skipped"),
        600,
        "{report:#}"
    );
    let runs = report["runs"].as_array().expect("runs");
    let shape: Vec<(u64, u64)> = runs
        .iter()
        .map(|run| {
            (
                run["workers"].as_u64().expect("workers"),
                run["queries"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(shape, [(1, queries), (2, queries)], "{report:#}");
    for run in runs {
        let [p50, p90, p99, max] = ["p50_us", "p90_us", "p99_us", "max_us"]
            .map(|field| run[field].as_f64().expect("a latency"));
        assert!(
            0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
            "{run:#}"
        );
        assert!(run["queries_per_s"].as_f64().expect("rate") > 0.0);
    }
    assert_eq!(
        assert_geocode_figures_sane(&report),
        queries,
        "each query once"
    );

    // The table says the same.
    let table = run_vmap(args).await.assert_success().stdout;
    for expected in ["p90 µs", "top-1", "no_marks", "\nall ", ": met"] {
        assert!(table.contains(expected), "{expected:?} not in\n{table}");
    }
    // A limit /v1/search would refuse is refused before anything runs.
    run_vmap([
        "bench",
        "geocode",
        "--database-url",
        &db.url,
        "--limit",
        "21",
    ])
    .await
    .assert_failure_saying("--limit must be 1–20");

    // The autocomplete: prefixes asked once per run, not judged.
    let run = run_vmap([
        "bench",
        "geocode",
        "--database-url",
        &db.url,
        "--n-queries",
        "200",
        "--threads",
        "2",
        "--autocomplete",
        "--json",
    ])
    .await
    .assert_success();
    let report = json_of(&run.stdout);
    assert_eq!(report["endpoint"], "autocomplete", "{report:#}");
    let prefixes = report["queries"].as_u64().expect("queries");
    let runs = report["runs"].as_array().expect("runs");
    let shape: Vec<(&str, u64)> = runs
        .iter()
        .map(|run| {
            (
                run["what"].as_str().expect("what"),
                run["queries"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [("autocomplete", prefixes), ("autocomplete", prefixes)],
        "{report:#}"
    );
    assert_eq!(report["answers"]["answers"], 0, "{report:#}");
    run_vmap([
        "bench",
        "geocode",
        "--database-url",
        &db.url,
        "--autocomplete",
        "--check",
    ])
    .await
    .assert_failure_saying("--check");
}

/// `vmap bench geocode --url` with `extra`, 4 connections for 1.5 s: its JSON report, after
/// checking that it ran requests and none failed.
async fn http_geocode_report(url: &str, db_url: &str, extra: &str) -> serde_json::Value {
    let run = run_vmap([
        "bench",
        "geocode",
        "--url",
        url,
        "--database-url",
        db_url,
        "--n-queries",
        "300",
        "--concurrency",
        "4",
        "--warmup",
        "200ms",
        "--duration",
        "1500ms",
        extra,
        "--json",
    ])
    .await
    .assert_success();
    let report = json_of(&run.stdout);
    let load = &report["runs"][0];
    assert_eq!(load["workers"], 4);
    assert!(
        load["queries"].as_u64().expect("requests") > 0,
        "{report:#}"
    );
    assert_eq!((&load["non_2xx"], &load["errors"]), (&0.into(), &0.into()));
    report
}

/// `vmap bench geocode --url --check` against a `vmap serve` child: GET /v1/search over
/// keep-alive connections, every answer counted and checked. On SQLite only: over HTTP the
/// backend is the server's business, and the in-process test covers both.
async fn geocode_bench_checks_over_http() {
    let db = seeded_db(&Backend::Sqlite, GEOCODE_SEEDED).await;
    let server = Server::start_vmap_with("geocode-bench", &db.url, db.dir.path(), &[]).await;
    let url = server.url();
    let report = http_geocode_report(&url, &db.url, "--check").await;
    assert_eq!(report["mode"], "http");
    assert_eq!(report["target"], url.as_str());
    let load = &report["runs"][0];
    assert_eq!(load["what"], "GET /v1/search");
    let requests = load["queries"].as_u64().expect("requests");
    let counted = assert_geocode_figures_sane(&report);
    assert!(
        counted >= requests,
        "the warm-up's answers count too: {report:#}"
    );

    // Prefixes to GET /v1/autocomplete, every one answered and none judged.
    let report = http_geocode_report(&url, &db.url, "--autocomplete").await;
    assert_eq!(report["endpoint"], "autocomplete");
    assert_eq!(report["runs"][0]["what"], "GET /v1/autocomplete");
    assert_eq!(report["answers"]["answers"], 0, "{report:#}");

    // A server that is gone: the command fails, saying so.
    server.stop().await;
    run_vmap([
        "bench",
        "geocode",
        "--url",
        &url,
        "--database-url",
        &db.url,
        "--n-queries",
        "50",
        "--duration",
        "200ms",
        "--warmup",
        "0s",
    ])
    .await
    .assert_failure_saying("requests failed");
}
