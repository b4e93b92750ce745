//! Helpers shared by the integration tests: a fresh database per test, SQLite or PostgreSQL.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use sqlx::Connection;
use tower::ServiceExt;
use vmap::api::{self, AppState, Limits};
use vmap::progress::Progress;
use vmap::registry::Registry;
use vmap::store::Store;
use vmap::zones::ZoneTable;

/// Which database a test runs on. SQLite always; PostgreSQL when `VMAP_TEST_DATABASE_URL`
/// names a server (any database on it: each test gets a fresh database of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend, when the environment names a server.
    pub fn postgres() -> Option<Backend> {
        std::env::var("VMAP_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(Backend::Postgres)
    }

    pub fn all() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        backends.extend(Backend::postgres());
        backends
    }
}

/// Runs each named `async fn name(backend: &Backend)` as two tests, `name::sqlite` and
/// `name::postgres`; the second says "skipped" without `VMAP_TEST_DATABASE_URL`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(&$crate::common::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::common::Backend::postgres() {
                        Some(backend) => super::$name(&backend).await,
                        None => eprintln!("skipped: set VMAP_TEST_DATABASE_URL to run on PostgreSQL"),
                    }
                }
            }
        )*
    };
}

/// A fresh, empty database for one test: a SQLite file in a temporary directory, or a new
/// database on the PostgreSQL server, dropped again when the test ends.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// The SQLite file's directory (kept alive for the test).
    pub dir: tempfile::TempDir,
    postgres_drop: Option<(String, String)>,
}

static DATABASE_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl TestDb {
    /// A SQLite database.
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("vmap.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            dir,
            postgres_drop: None,
        }
    }

    pub async fn create(backend: &Backend) -> TestDb {
        let Backend::Postgres(server_url) = backend else {
            return TestDb::new();
        };
        let name = format!(
            "vmap_test_{}_{}_{}",
            std::process::id(),
            DATABASE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.subsec_nanos())
                .unwrap_or(0)
        );
        let mut admin = sqlx::postgres::PgConnection::connect(server_url)
            .await
            .expect("connect to VMAP_TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = database_url(server_url, &name);
        let dir = tempfile::tempdir().expect("temp dir");
        TestDb {
            url,
            backend: backend.clone(),
            dir,
            postgres_drop: Some((server_url.clone(), name)),
        }
    }
}

/// `server_url` with its database name replaced.
pub fn database_url(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    // postgres://user:pass@host:port/dbname: the database is after the third '/'.
    let prefix = match base.match_indices('/').nth(2) {
        Some((at, _)) => &base[..at],
        None => base,
    };
    format!("{prefix}/{database}{query}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server_url, name)) = self.postgres_drop.take() else {
            return;
        };
        // Drop runs inside the test's runtime; a thread with its own runtime may block.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(&server_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A direct connection to a test database, for checks that read the `addresses` table
/// itself rather than through vmap. The same SQL runs on either backend; the one column
/// that differs is the geometry (see [`DirectPool::geom_as_ewkb`]).
pub enum DirectPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl DirectPool {
    /// A read-write pool on an existing database: no creation, no migration. Read-write
    /// even for checks, because a read-only SQLite connection might not be allowed to
    /// recover the WAL a killed writer left behind.
    pub async fn open(url: &str) -> DirectPool {
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rw"))
                .await
                .expect("open the SQLite database");
            DirectPool::Sqlite(pool)
        } else {
            let pool = sqlx::PgPool::connect(url)
                .await
                .expect("open the PostgreSQL database");
            DirectPool::Postgres(pool)
        }
    }

    /// One read-only connection, for watching a database while another process writes it.
    pub async fn open_read_only(url: &str) -> DirectPool {
        if url.starts_with("sqlite:") {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("{url}?mode=ro"))
                .await
                .expect("open the SQLite database read-only");
            DirectPool::Sqlite(pool)
        } else {
            let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a PostgreSQL URL");
            let options = options.options([("default_transaction_read_only", "on")]);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("open the PostgreSQL database read-only");
            DirectPool::Postgres(pool)
        }
    }

    /// The SQL for the `geom` column as EWKB bytes: SQLite stores those bytes, PostGIS
    /// stores a geometry and gives the same bytes only when asked for little-endian EWKB.
    pub fn geom_as_ewkb(&self) -> &'static str {
        match self {
            DirectPool::Sqlite(_) => "geom",
            DirectPool::Postgres(_) => "ST_AsEWKB(geom, 'NDR')",
        }
    }

    /// Every row `sql` selects, as tuples (or anything both backends can decode).
    pub async fn fetch_all<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let rows = match self {
            DirectPool::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            DirectPool::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        };
        rows.unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    /// The one value of a one-row, one-column query (a count, for instance).
    pub async fn fetch_scalar<T>(&self, sql: &str) -> T
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let rows: Vec<(T,)> = self.fetch_all(sql).await;
        let [(value,)] = <[(T,); 1]>::try_from(rows)
            .unwrap_or_else(|rows| panic!("{sql}: {} rows, expected one", rows.len()));
        value
    }

    pub async fn close(self) {
        match self {
            DirectPool::Sqlite(pool) => pool.close().await,
            DirectPool::Postgres(pool) => pool.close().await,
        }
    }
}

pub fn zones() -> Arc<ZoneTable> {
    Arc::new(ZoneTable::load_default().expect("default zones load"))
}

/// A real SQLite file seeded with `n` synthetic addresses, loaded into a registry.
pub async fn seeded_registry(n: u64) -> (TestDb, Arc<Registry>) {
    seeded_registry_on(&Backend::Sqlite, n).await
}

/// A fresh database of `backend` seeded with `n` synthetic addresses, loaded into a registry.
pub async fn seeded_registry_on(backend: &Backend, n: u64) -> (TestDb, Arc<Registry>) {
    let db = TestDb::create(backend).await;
    let zones = zones();
    let store = Store::connect(&db.url).await.expect("connect");
    vmap::synth::seed(&store, zones.clone(), n, 42, &Progress::quiet("seeding", n))
        .await
        .expect("seed");
    let registry = Registry::load(store, zones).await.expect("load");
    (db, Arc::new(registry))
}

pub async fn test_app(n: u64, limits: Limits) -> (TestDb, Arc<Registry>, Router) {
    test_app_on(&Backend::Sqlite, n, limits).await
}

/// The router over a fresh seeded database of `backend`.
pub async fn test_app_on(
    backend: &Backend,
    n: u64,
    limits: Limits,
) -> (TestDb, Arc<Registry>, Router) {
    let (db, registry) = seeded_registry_on(backend, n).await;
    let router = api::app(AppState::ready(registry.clone(), limits));
    (db, registry, router)
}

pub struct TestResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    TestResponse {
        status,
        content_type,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> TestResponse {
    send(
        router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub async fn post_json(router: &Router, uri: &str, body: impl Into<Body>) -> TestResponse {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request");
    send(router, request).await
}

/// Asserts a problem+json answer with this status that names `field` (when given).
pub fn assert_problem(
    response: &TestResponse,
    status: u16,
    field: Option<&str>,
) -> serde_json::Value {
    assert_eq!(
        response.status.as_u16(),
        status,
        "body: {}",
        response.text()
    );
    assert_eq!(
        response.content_type,
        "application/problem+json",
        "body: {}",
        response.text()
    );
    let problem = response.json();
    assert_eq!(problem["status"], status);
    assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["detail"].as_str().is_some_and(|t| !t.is_empty()));
    if let Some(field) = field {
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["field"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            fields.contains(&field),
            "expected field {field} in {problem}"
        );
    }
    problem
}

/// A synthetic CSV list of `n` addresses (not registered).
pub fn synth_csv(n: u64, seed: u64) -> String {
    let mut bytes = Vec::new();
    vmap::synth::write_csv(&zones(), n, seed, &mut bytes).expect("write csv");
    String::from_utf8(bytes).expect("utf-8")
}

/// POSTs `body` with a content type (and optional bearer token).
pub async fn post_as(
    router: &Router,
    uri: &str,
    content_type: &str,
    token: Option<&str>,
    body: impl Into<Body>,
) -> TestResponse {
    let mut request = Request::post(uri).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(router, request.body(body.into()).expect("request")).await
}

/// Parses a CSV answer into its header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The value of `column` in `row`.
pub fn column<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let position = header
        .iter()
        .position(|name| name == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    row[position].as_str()
}
