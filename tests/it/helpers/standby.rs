//! A PostgreSQL primary and its streaming hot standby (`.ci/postgres start-standby`), named
//! by `VMAP_TEST_STANDBY_PRIMARY_URL` and `VMAP_TEST_STANDBY_URL`, and a fresh database on
//! the pair for each test ([`StandbyDb`]).
//!
//! Decision: the same gate as the PostgreSQL variants, on its own pair of variables: without
//! them a standby test is ignored (and says what to set when run anyway), and under
//! `CI=true` it fails, so CI cannot pass without the pair.

use std::future::Future;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use sqlx::Connection;

use super::database::{Backend, TestDb, database_url};
use super::harness::{block_on, on_ci, timed_trial};

pub const PRIMARY_VARIABLE: &str = "VMAP_TEST_STANDBY_PRIMARY_URL";
pub const STANDBY_VARIABLE: &str = "VMAP_TEST_STANDBY_URL";

/// How long a database made on the primary may take to replay on the standby.
const REPLAY_WITHIN: Duration = Duration::from_secs(20);

/// The servers' URLs (any database on each; a test makes its own).
#[derive(Debug, Clone)]
pub struct StandbyPair {
    pub primary: String,
    pub standby: String,
}

impl StandbyPair {
    /// Both variables set: the pair; neither: `None`; one only: the pair is misconfigured.
    fn from_env() -> Result<Option<StandbyPair>, String> {
        let read = |name| {
            std::env::var(name)
                .ok()
                .filter(|url: &String| !url.trim().is_empty())
        };
        match (read(PRIMARY_VARIABLE), read(STANDBY_VARIABLE)) {
            (Some(primary), Some(standby)) => Ok(Some(StandbyPair { primary, standby })),
            (None, None) => Ok(None),
            _ => Err(format!(
                "set both {PRIMARY_VARIABLE} and {STANDBY_VARIABLE}, or neither"
            )),
        }
    }
}

fn missing_pair() -> String {
    format!(
        "{PRIMARY_VARIABLE} and {STANDBY_VARIABLE} are not set: set them to a PostgreSQL \
         primary and its streaming hot standby (`.ci/postgres start-standby` starts a pair \
         and prints their URLs)"
    )
}

/// A test on the primary–standby pair: run when the pair is given, failed under `CI=true`
/// when it is not, ignored otherwise.
pub fn standby<F, Fut>(name: String, test: F) -> Trial
where
    F: FnOnce(StandbyPair) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    match StandbyPair::from_env() {
        Ok(Some(pair)) => timed_trial(name, move || block_on(test(pair))),
        Ok(None) if !on_ci() => {
            Trial::test(name, || Err(missing_pair().into())).with_ignored_flag(true)
        }
        Ok(None) => Trial::test(name, || {
            Err(format!("CI=true, but {}", missing_pair()).into())
        }),
        Err(misconfigured) => Trial::test(name, move || Err(misconfigured.into())),
    }
}

/// A fresh database made on the primary (with PostGIS, from its template, and nothing
/// else: no migration), once it has replayed on the standby. Dropped on the primary at the
/// end, which drops it on the standby too.
#[derive(Debug)]
pub struct StandbyDb {
    pub primary: TestDb,
    pub standby_url: String,
}

impl StandbyDb {
    pub async fn create(pair: &StandbyPair) -> StandbyDb {
        let primary = TestDb::create(&Backend::Postgres(pair.primary.clone())).await;
        let name = database_name(&primary.url);
        let standby_url = database_url(&pair.standby, name);
        let started = Instant::now();
        loop {
            match sqlx::PgConnection::connect(&standby_url).await {
                Ok(connection) => {
                    let _ = connection.close().await;
                    break;
                }
                Err(error) => assert!(
                    started.elapsed() < REPLAY_WITHIN,
                    "database {name} made on the primary is not on the standby after \
                     {REPLAY_WITHIN:?}: {error}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        StandbyDb {
            primary,
            standby_url,
        }
    }
}

/// The database name of a PostgreSQL URL.
fn database_name(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}
