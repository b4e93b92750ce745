//! `vmap bench --mode http` against a server on a real socket (port 0), and `--mode postgis`
//! against PostgreSQL when `VMAP_TEST_DATABASE_URL` is set, its answers checked against the
//! registry's.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::Backend;
use vmap::api::{self, AppState, Limits};
use vmap::bench::{self, BenchError, LoadContext, QuerySet};
use vmap::cli::{BenchCommand, Cli, Command};
use vmap::registry::Registry;
use vmap::registry::ReverseQuery;

fn context(set: QuerySet, limit: usize, warmup_ms: u64, duration_ms: u64) -> LoadContext {
    LoadContext {
        query_set: set,
        seed: 1,
        query: ReverseQuery::new(limit, 1_000.0).expect("valid query"),
        warmup: Duration::from_millis(warmup_ms),
        duration: Duration::from_millis(duration_ms),
    }
}

async fn start_server(registry: Arc<Registry>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = api::app(AppState::ready(registry, Limits::default()));
    let server = tokio::spawn(async move {
        let _ = api::serve(listener, router).await;
    });
    (address, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_load_runs_both_loads_without_errors_and_answers_check() {
    let (_db, registry) = common::seeded_registry(500).await;
    let (address, server) = start_server(registry.clone()).await;
    let points = bench::query_points(&registry, &QuerySet::Near, 2_000, 1).expect("points");
    let settings = bench::http::HttpSettings {
        url: format!("http://{address}"),
        concurrency: 4,
        batch_concurrency: 2,
        batch_size: 200,
        check: 25,
        context: context(QuerySet::Near, 2, 200, 1_000),
    };
    let report = bench::http::run(&settings, points, Some(registry))
        .await
        .expect("runs");
    assert_eq!(report.runs.len(), 2, "{report:?}");
    let (get, post) = (&report.runs[0], &report.runs[1]);
    assert_eq!(
        (get.what.as_str(), post.what.as_str()),
        ("GET /v1/reverse", "POST /v1/reverse")
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
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_failures_are_counted_and_fail_the_verdict() {
    let (_db, registry) = common::seeded_registry(50).await;
    let (address, server) = start_server(registry).await;
    let points = bench::query_points_from(None, &QuerySet::Uniform, 100, 1).expect("points");
    // A path prefix the server does not have: every answer is 404.
    let settings = bench::http::HttpSettings {
        url: format!("http://{address}/nowhere"),
        concurrency: 2,
        batch_concurrency: 1,
        batch_size: 0,
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
    server.abort();

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_runs_http_mode_and_exits_non_zero_on_failures() {
    let (db, registry) = common::seeded_registry(300).await;
    let (address, server) = start_server(registry).await;
    let url = format!("http://{address}");
    let args = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "vmap",
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
        Cli::try_parse_args(args).expect("parses")
    };
    let cli = args(&url, &["--queries", "uniform"]);
    let Command::Bench(parsed) = &cli.command else {
        panic!("not bench")
    };
    let BenchCommand::Http(parsed) = parsed else {
        panic!("not bench http")
    };
    assert_eq!(
        Duration::from(parsed.load.duration),
        Duration::from_millis(400)
    );
    vmap::cli::run(cli)
        .await
        .expect("uniform points need no database");

    // `near` points come from the database the server serves; --check compares answers.
    let cli = args(
        &url,
        &["--database-url", &db.url, "--check", "10", "--json"],
    );
    vmap::cli::run(cli).await.expect("near points and a check");

    // `near` without a database is refused before any load.
    let cli = args(&url, &[]);
    assert!(vmap::cli::run(cli).await.is_err());
    server.abort();

    // A server that is gone: the command fails.
    let cli = args(&url, &["--queries", "uniform"]);
    assert!(vmap::cli::run(cli).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgis_mode_matches_the_registry() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("skipped: set VMAP_TEST_DATABASE_URL to run on PostgreSQL");
        return;
    };
    let (db, registry) = common::seeded_registry_on(&backend, 2_000).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
