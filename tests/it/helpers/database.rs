//! A fresh database per test, SQLite or PostgreSQL, and direct SQL on it.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// Which database a test runs on: SQLite, or the PostgreSQL server named by
/// `VMAP_TEST_DATABASE_URL` (any database on it: each test gets a fresh database of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// A fresh, empty database for one test: a SQLite file in a temporary directory, or a new
/// database on the PostgreSQL server, dropped again when the test ends.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    /// A directory of the test's own: the SQLite file, snapshots, logs.
    pub dir: tempfile::TempDir,
    postgres_drop: Option<(String, String)>,
}

static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub async fn create(backend: &Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let Backend::Postgres(server_url) = backend else {
            let url = sqlite_url(&dir.path().join("vmap.db"));
            return TestDb {
                url,
                dir,
                postgres_drop: None,
            };
        };
        let name = create_postgres_database(server_url).await;
        TestDb {
            url: database_url(server_url, &name),
            dir,
            postgres_drop: Some((server_url.clone(), name)),
        }
    }
}

impl TestDb {
    /// A copy of this database, as a backup restored elsewhere would be: the same rows, the
    /// same `vmap_meta.instance_id`, the same history. Nothing may be connected to this
    /// database meanwhile (PostgreSQL copies from a template only when it is idle).
    pub async fn copy(&self) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let Some((server_url, name)) = &self.postgres_drop else {
            let from = self.dir.path().join("vmap.db");
            let to = dir.path().join("vmap.db");
            std::fs::copy(&from, &to).expect("copy the SQLite file");
            // A WAL left by a connection that did not checkpoint holds committed rows too.
            let wal = self.dir.path().join("vmap.db-wal");
            if wal.exists() {
                std::fs::copy(&wal, dir.path().join("vmap.db-wal")).expect("copy the WAL");
            }
            return TestDb {
                url: sqlite_url(&to),
                dir,
                postgres_drop: None,
            };
        };
        let copy = format!("{name}_copy");
        let mut admin = pg_connect(server_url).await;
        sqlx::query(&format!("CREATE DATABASE {copy} TEMPLATE {name}"))
            .execute(&mut admin)
            .await
            .expect("copy the test database");
        admin.close().await.expect("close the admin connection");
        TestDb {
            url: database_url(server_url, &copy),
            dir,
            postgres_drop: Some((server_url.clone(), copy)),
        }
    }
}

pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Creates a database with a name no other test uses and returns the name.
async fn create_postgres_database(server_url: &str) -> String {
    let name = format!(
        "vmap_test_{}_{}_{}",
        std::process::id(),
        DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0)
    );
    let mut admin = pg_connect(server_url).await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.expect("close the admin connection");
    name
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

pub async fn pg_connect(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect to {url}: {err}"))
}

/// What every PostgreSQL variant needs of the server: a database created there has PostGIS.
pub async fn assert_fresh_database_has_postgis(server_url: &str) {
    let db = TestDb::create(&Backend::Postgres(server_url.to_owned())).await;
    let mut conn = pg_connect(&db.url).await;
    let version: Result<String, _> = sqlx::query_scalar("SELECT postgis_version()")
        .fetch_one(&mut conn)
        .await;
    conn.close().await.expect("close");
    let version = version.unwrap_or_else(|err| {
        panic!("a new database on {server_url} has no PostGIS ({err}): create the extension in template1")
    });
    assert!(!version.is_empty());
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
