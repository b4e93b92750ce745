//! The database away: a locked or read-only SQLite file, a PostgreSQL server that cannot be
//! reached. What touches the database answers 503 `database_unavailable` with `Retry-After`
//! within about the database timeout; what memory answers keeps answering; `/readyz` says
//! the service is degraded until the database is back; and `serve` started while PostgreSQL
//! is unreachable waits for it instead of giving up.
//!
//! Every server here is a real `vmap serve` configured through its environment, with a
//! database timeout of [`DB_TIMEOUT_MS`].

use std::future::Future;
use std::time::{Duration, Instant};

use crate::helpers::harness::trials;
use crate::helpers::proxy::target_of;
use crate::helpers::{
    Backend, DirectPool, Server, TcpProxy, TestResponse, assert_problem, seeded_db,
};

trials! {
    tokio: [
        a_locked_sqlite_database_answers_writes_503_within_the_timeout,
        a_read_only_sqlite_database_answers_writes_503_at_once,
    ],
    postgres: [
        an_unreachable_postgres_answers_503_within_the_timeout,
        serve_waits_for_an_unreachable_postgres_and_turns_ready_when_it_is_back,
    ],
}

/// The database timeout every server here is given.
const DB_TIMEOUT_MS: u64 = 500;

/// The bound asserted on an answer while the database is away: three times the timeout,
/// generous on a loaded machine, and far below the 30 s such answers used to take.
const ANSWER_WITHIN: Duration = Duration::from_millis(3 * DB_TIMEOUT_MS);

/// How long the service may take to notice that the database went away or came back.
const NOTICE_WITHIN: Duration = Duration::from_secs(15);

/// The settings of every server here.
fn settings() -> [(&'static str, &'static str); 2] {
    [
        ("VMAP_DB_TIMEOUT_MS", "500"),
        ("VMAP_FOLLOW_INTERVAL_MS", "100"),
    ]
}

/// A new address: no registered address has this house number, so it is a write.
fn new_address(n: u32) -> String {
    format!(r#"{{"lat":21.0285,"lon":105.8542,"house_number":"outage-{n}"}}"#)
}

const REVERSE: &str = "/v1/reverse?lat=21.0285&lon=105.8542&radius_m=50000";

/// Runs `request`; returns its answer and how long it took.
async fn timed(request: impl Future<Output = TestResponse>) -> (TestResponse, Duration) {
    let started = Instant::now();
    let response = request.await;
    (response, started.elapsed())
}

/// A 503 problem with the machine-readable code `database_unavailable` and a Retry-After.
#[track_caller]
fn assert_database_unavailable(response: &TestResponse, what: &str) {
    let problem = assert_problem(response, 503, None);
    assert_eq!(problem["code"], "database_unavailable", "{what}: {problem}");
    let retry_after = response.header("retry-after");
    assert!(
        retry_after.is_some_and(|seconds| seconds.parse::<u64>().is_ok_and(|s| s > 0)),
        "{what}: Retry-After is {retry_after:?}"
    );
}

/// [`assert_database_unavailable`], answered within [`ANSWER_WITHIN`].
#[track_caller]
fn assert_unavailable_within(response: &TestResponse, took: Duration, what: &str) {
    assert_database_unavailable(response, what);
    assert!(
        took < ANSWER_WITHIN,
        "{what} took {took:?} to answer; the database timeout is {DB_TIMEOUT_MS} ms"
    );
}

/// One registered code, read from the database itself.
async fn a_registered_code(url: &str) -> String {
    let pool = DirectPool::open(url).await;
    let code: String = pool
        .fetch_scalar("SELECT code FROM addresses ORDER BY id LIMIT 1")
        .await;
    pool.close().await;
    code
}

/// Another connection holds SQLite's write lock (`BEGIN EXCLUSIVE`): a write waits the
/// database timeout and answers 503; reads, from memory and (WAL) from the file, go on.
async fn a_locked_sqlite_database_answers_writes_503_within_the_timeout() {
    let db = seeded_db(&Backend::Sqlite, 300).await;
    let code = a_registered_code(&db.url).await;
    let mut server = Server::start_vmap_with("locked", &db.url, db.dir.path(), &settings()).await;

    let lock = rusqlite::Connection::open(db.dir.path().join("vmap.db")).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("take the lock");

    let (response, took) =
        timed(server.post("/v1/addresses", "application/json", new_address(1))).await;
    assert_unavailable_within(&response, took, "POST /v1/addresses on a locked database");
    // A writer's lock does not stop readers of a WAL database.
    let response = server.get(&format!("/v1/codes/{code}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.get(REVERSE).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let readyz = server.wait_for_status("/readyz", 503, NOTICE_WITHIN).await;
    assert_database_unavailable(&readyz, "/readyz on a locked database");

    lock.execute_batch("ROLLBACK").expect("let the lock go");
    drop(lock);
    server.wait_ready(NOTICE_WITHIN).await;
    let response = server
        .post("/v1/addresses", "application/json", new_address(2))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
}

/// A database opened read-only: a write answers 503 at once, reads go on, `/readyz` says
/// degraded.
async fn a_read_only_sqlite_database_answers_writes_503_at_once() {
    let db = seeded_db(&Backend::Sqlite, 300).await;
    let code = a_registered_code(&db.url).await;
    let url = format!("{}?mode=ro", db.url);
    let mut server = Server::start_vmap_with("read-only", &url, db.dir.path(), &settings()).await;

    let (response, took) =
        timed(server.post("/v1/addresses", "application/json", new_address(1))).await;
    assert_unavailable_within(
        &response,
        took,
        "POST /v1/addresses on a read-only database",
    );
    let response = server.get(&format!("/v1/codes/{code}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.get(REVERSE).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let readyz = server.wait_for_status("/readyz", 503, NOTICE_WITHIN).await;
    assert_database_unavailable(&readyz, "/readyz on a read-only database");
}

/// PostgreSQL behind a proxy that stops listening and cuts its connections, as when the
/// server is stopped: every request that needs the database answers 503 within the timeout,
/// reverse answers from memory, `/readyz` is degraded; once the proxy listens again the
/// service is ready and writes again.
async fn an_unreachable_postgres_answers_503_within_the_timeout(backend: &Backend) {
    let db = seeded_db(backend, 300).await;
    let code = a_registered_code(&db.url).await;
    let proxy = TcpProxy::open_to(target_of(&db.url)).await;
    let mut server = Server::start_vmap_with(
        "behind-proxy",
        &proxy.url_for(&db.url),
        db.dir.path(),
        &settings(),
    )
    .await;

    proxy.close().await;
    let readyz = server.wait_for_status("/readyz", 503, NOTICE_WITHIN).await;
    assert_database_unavailable(&readyz, "/readyz without PostgreSQL");

    let (response, took) = timed(server.get(&format!("/v1/codes/{code}"))).await;
    assert_unavailable_within(&response, took, "GET /v1/codes/{code} without PostgreSQL");
    let body = format!(r#"{{"codes":["{code}"]}}"#);
    let (response, took) = timed(server.post("/v1/codes", "application/json", body)).await;
    assert_unavailable_within(&response, took, "POST /v1/codes without PostgreSQL");
    let (response, took) =
        timed(server.post("/v1/addresses", "application/json", new_address(1))).await;
    assert_unavailable_within(&response, took, "POST /v1/addresses without PostgreSQL");
    let response = server.get(REVERSE).await;
    assert_eq!(response.status, 200, "{}", response.text());

    proxy.open().await;
    server.wait_ready(NOTICE_WITHIN).await;
    let response = server
        .post("/v1/addresses", "application/json", new_address(2))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let response = server.get(&format!("/v1/codes/{code}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

/// `serve` on a PostgreSQL URL nobody answers yet: it listens (`/healthz` 200, `/readyz`
/// 503), retries with a warning each time, and turns ready once the database answers.
async fn serve_waits_for_an_unreachable_postgres_and_turns_ready_when_it_is_back(
    backend: &Backend,
) {
    let db = seeded_db(backend, 300).await;
    let proxy = TcpProxy::closed_to(target_of(&db.url)).await;
    let mut server = Server::spawn_vmap(
        "waiting",
        &proxy.url_for(&db.url),
        db.dir.path(),
        &settings(),
    )
    .await;

    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(server.get("/readyz").await.status, 503);
    let started = Instant::now();
    while retry_warnings(&server.log_text()) < 2 {
        assert!(
            started.elapsed() < NOTICE_WITHIN,
            "no two warnings about retrying within {NOTICE_WITHIN:?}:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.get("/healthz").await.status, 200);

    proxy.open().await;
    server.wait_ready(Duration::from_secs(60)).await;
    let response = server.get(REVERSE).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

/// Lines of a log that warn that the database is being waited for.
fn retry_warnings(log: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("WARN") && line.contains("retrying"))
        .count()
}
