//! A list assignment killed (SIGKILL) mid-way leaves whole batches and nothing else; run
//! again, it finishes with the codes a clean run of the same list on a twin registry gives.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::Connection;

use super::{
    count_addresses, duplicate_client_refs, duplicate_codes, seed_database, spawn_assign,
    wait_success,
};
use crate::helpers::harness::trials;
use crate::helpers::{Backend, DirectPool, TestDb, column, parse_csv, run_vmap};

// A debug build assigns about 6 000 rows/s here, so the 30 000-row list runs for ~5 s and the
// kill lands mid-way with room to spare. The bigger lists cost minutes each in a debug build
// and check nothing the small one does not; they are for a machine or build fast enough to
// finish the small list before the poller sees a quarter of it committed (that test then
// fails and names them), and run with `--include-ignored`.
trials! {
    each_backend: [killed_assignment_of_30_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run],
    each_backend_ignored: [
        killed_assignment_of_120_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run,
        killed_assignment_of_480_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run,
    ],
}

const REGISTRY_ADDRESSES: u64 = 20_000;
const REGISTRY_SEED: u64 = 1;
const LIST_SEED: u64 = 7;
const BATCH_ROWS: usize = 500;
/// Kill once 1/N of the list is committed (a quarter), so that both the committed and the
/// uncommitted part are large.
const KILL_AFTER_ONE_PART_IN: u64 = 4;
const POLL_EVERY: Duration = Duration::from_millis(20);

async fn killed_assignment_of_30_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run(
    backend: &Backend,
) {
    check_killed_assignment(backend, 30_000).await;
}

async fn killed_assignment_of_120_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run(
    backend: &Backend,
) {
    check_killed_assignment(backend, 120_000).await;
}

async fn killed_assignment_of_480_000_rows_finishes_on_rerun_with_the_codes_of_a_clean_run(
    backend: &Backend,
) {
    check_killed_assignment(backend, 480_000).await;
}

/// Assigns a list of `list_rows` rows twice, on twin registries: cleanly on one, killed
/// mid-way and then run again on the other; checks what the kill left and what the rerun
/// made of it.
async fn check_killed_assignment(backend: &Backend, list_rows: u64) {
    let twins = Twins::seed(backend, list_rows).await;

    // The clean run works on its own database meanwhile: it saves time, and slowing the
    // crash run down only makes the kill land more surely mid-way.
    let clean_run = spawn_assign(&twins.list, &twins.clean_csv, &twins.clean.url, BATCH_ROWS);
    let killed = assign_and_kill_midway(&twins, list_rows).await;
    wait_success(clean_run, "the clean run");
    let killed = killed.unwrap_or_else(|| {
        panic!(
            "all {list_rows} rows were assigned before the kill could land: run the bigger \
             lists (`cargo test --test it killed_assignment -- --include-ignored`)"
        )
    });
    let clean = AnsweredList::read(&twins.clean_csv);
    assert_eq!(clean.rows.len() as u64, list_rows);
    assert!(
        clean.rows.iter().all(|row| clean.status(row) != "error"),
        "the synthetic list has no bad rows"
    );
    let committed_batches = assert_killed_run_committed_whole_batches(&clean, &killed);

    wait_success(
        spawn_assign(
            &twins.list,
            &twins.rerun_csv,
            &twins.crashed.url,
            BATCH_ROWS,
        ),
        "the rerun",
    );
    let rerun = AnsweredList::read(&twins.rerun_csv);
    assert_rerun_answers_as_the_clean_run(&clean, &rerun, &killed, committed_batches);
    assert_twins_hold_the_same_addresses(&twins, &clean).await;
}

/// A list and two registries seeded alike, one for a clean run and one for the crash.
struct Twins {
    _dir: tempfile::TempDir,
    list: PathBuf,
    clean: TestDb,
    crashed: TestDb,
    clean_csv: PathBuf,
    killed_csv: PathBuf,
    rerun_csv: PathBuf,
    /// Addresses in each registry before the list.
    seeded: u64,
}

impl Twins {
    async fn seed(backend: &Backend, list_rows: u64) -> Twins {
        let dir = tempfile::tempdir().expect("temp dir");
        let list = dir.path().join("list.csv");
        run_vmap([
            "synth".to_owned(),
            "--addresses".to_owned(),
            list_rows.to_string(),
            "--seed".to_owned(),
            LIST_SEED.to_string(),
            "-o".to_owned(),
            list.display().to_string(),
        ])
        .await
        .assert_success();
        let clean = TestDb::create(backend).await;
        let crashed = TestDb::create(backend).await;
        // Seeding is deterministic, so two seeded databases are the same registry; seeding
        // twice avoids copying a SQLite file whose WAL may still hold part of it, and works
        // the same on PostgreSQL.
        seed_database(&clean.url, REGISTRY_ADDRESSES, REGISTRY_SEED).await;
        seed_database(&crashed.url, REGISTRY_ADDRESSES, REGISTRY_SEED).await;
        let pool = DirectPool::open(&crashed.url).await;
        let seeded = count_addresses(&pool).await;
        pool.close().await;
        assert_eq!(seeded, REGISTRY_ADDRESSES);
        Twins {
            clean_csv: dir.path().join("clean.csv"),
            killed_csv: dir.path().join("part.csv"),
            rerun_csv: dir.path().join("rerun.csv"),
            _dir: dir,
            list,
            clean,
            crashed,
            seeded,
        }
    }
}

/// What the killed run left behind.
struct KilledRun {
    /// List rows in the database once the process was dead.
    committed_rows: u64,
    /// (client_ref, code) of the list rows it had committed.
    committed: BTreeSet<(String, String)>,
}

/// An answered list, as read back from its file.
struct AnsweredList {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl AnsweredList {
    fn read(path: &Path) -> AnsweredList {
        let text = std::fs::read_to_string(path).expect("read the answered list");
        let (header, rows) = parse_csv(&text);
        AnsweredList { header, rows }
    }

    fn status<'a>(&self, row: &'a [String]) -> &'a str {
        column(&self.header, row, "status")
    }

    fn codes(&self) -> Vec<&str> {
        self.rows
            .iter()
            .map(|row| column(&self.header, row, "code"))
            .collect()
    }

    /// (id, code) of the rows answered `created`, in list order.
    fn created(&self) -> Vec<(String, String)> {
        self.rows
            .iter()
            .filter(|row| self.status(row) == "created")
            .map(|row| {
                (
                    column(&self.header, row, "id").to_owned(),
                    column(&self.header, row, "code").to_owned(),
                )
            })
            .collect()
    }
}

/// Starts the assignment on the crash twin, watches its database and SIGKILLs the process
/// once a quarter of the list is committed. `None` when the run finished before it could be
/// killed.
async fn assign_and_kill_midway(twins: &Twins, list_rows: u64) -> Option<KilledRun> {
    let database_url = &twins.crashed.url;
    let watcher = DirectPool::open_read_only(database_url).await;
    let mut child = spawn_assign(&twins.list, &twins.killed_csv, database_url, BATCH_ROWS);
    let started = Instant::now();
    let kill_at = twins.seeded + list_rows / KILL_AFTER_ONE_PART_IN;
    loop {
        if let Some(status) = child.try_wait().expect("poll the assignment") {
            let stderr = child
                .wait_with_output()
                .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
                .unwrap_or_default();
            assert!(
                status.success(),
                "the assignment failed on its own ({status}): {stderr}"
            );
            watcher.close().await;
            return None;
        }
        if count_addresses(&watcher).await >= kill_at {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the assignment committed less than 1/{KILL_AFTER_ONE_PART_IN} of the list in 2 minutes"
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    // std's Child::kill sends SIGKILL on Unix: no destructor, no rollback, no flush runs.
    child.kill().expect("kill the assignment");
    let status = child.wait().expect("reap the killed assignment");
    watcher.close().await;
    if status.success() {
        // It finished between the last poll and the kill.
        return None;
    }
    Some(what_the_kill_left(database_url, twins.seeded).await)
}

/// The killed run's database, once it is sound again.
async fn what_the_kill_left(database_url: &str, seeded: u64) -> KilledRun {
    if !database_url.starts_with("sqlite:") {
        // Before this test opens sessions of its own, which the wait would count.
        wait_for_other_sessions_to_end(database_url).await;
    }
    let pool = DirectPool::open(database_url).await;
    match &pool {
        DirectPool::Sqlite(sqlite) => {
            assert_eq!(integrity_check(sqlite).await, "ok", "the killed database");
        }
        // No PostgreSQL counterpart: the killed process was only a client, and the server
        // that writes the files lived on, so the kill had no file to damage. What a killed
        // client can leave is an open session, waited for above.
        DirectPool::Postgres(_) => {}
    }
    let killed = KilledRun {
        committed_rows: count_addresses(&pool).await - seeded,
        committed: registered_from_lists(&pool).await,
    };
    pool.close().await;
    killed
}

/// Killed mid-way: some but not all of the list is registered, and nothing half-written:
/// what the killed run committed is exactly the rows created by the first k whole batches
/// of the clean run, for some k. Returns k.
#[track_caller]
fn assert_killed_run_committed_whole_batches(clean: &AnsweredList, killed: &KilledRun) -> usize {
    let n_created = clean.created().len() as u64;
    let committed_rows = killed.committed_rows;
    assert!(
        committed_rows > 0 && committed_rows < n_created,
        "killed after {committed_rows} of {n_created} new addresses"
    );
    assert_eq!(killed.committed.len() as u64, committed_rows);
    let mut committed_batches = None;
    let mut created_so_far = BTreeSet::new();
    for (batch, rows) in clean.rows.chunks(BATCH_ROWS).enumerate() {
        if created_so_far.len() == killed.committed.len() {
            committed_batches = Some(batch);
            break;
        }
        for row in rows.iter().filter(|row| clean.status(row) == "created") {
            created_so_far.insert((
                column(&clean.header, row, "id").to_owned(),
                column(&clean.header, row, "code").to_owned(),
            ));
        }
    }
    let committed_batches = committed_batches.unwrap_or_else(|| {
        panic!("{committed_rows} committed rows are not a whole number of the clean run's batches")
    });
    assert_eq!(
        killed.committed, created_so_far,
        "the killed run committed the first {committed_batches} batches exactly"
    );
    committed_batches
}

/// The rerun answers every row with the clean run's code: rows of committed batches are
/// found again, the others are decided as the clean run decided them.
#[track_caller]
fn assert_rerun_answers_as_the_clean_run(
    clean: &AnsweredList,
    rerun: &AnsweredList,
    killed: &KilledRun,
    committed_batches: usize,
) {
    assert_eq!(rerun.header, clean.header);
    assert_eq!(rerun.rows.len(), clean.rows.len());
    for (row_index, (clean_code, rerun_code)) in clean.codes().iter().zip(rerun.codes()).enumerate()
    {
        assert_eq!(
            &rerun_code, clean_code,
            "row {row_index}: the rerun's code differs from the clean run's"
        );
    }
    let committed_list_rows = committed_batches * BATCH_ROWS;
    for (row_index, (clean_row, rerun_row)) in clean.rows.iter().zip(&rerun.rows).enumerate() {
        let rerun_status = rerun.status(rerun_row);
        if row_index < committed_list_rows {
            assert_eq!(rerun_status, "existing", "row {row_index} was committed");
        } else {
            assert_eq!(rerun_status, clean.status(clean_row), "row {row_index}");
        }
    }
    assert_eq!(
        killed.committed_rows + rerun.created().len() as u64,
        clean.created().len() as u64
    );
}

/// After the rerun, the crash twin holds what the clean twin holds: every row of the list
/// that is a new place registered exactly once, under the code the clean run gave it, at
/// the same place.
async fn assert_twins_hold_the_same_addresses(twins: &Twins, clean: &AnsweredList) {
    let clean_created = clean.created();
    let clean_pool = DirectPool::open(&twins.clean.url).await;
    let crash_pool = DirectPool::open(&twins.crashed.url).await;
    let crash_count = count_addresses(&crash_pool).await;
    assert_eq!(crash_count, twins.seeded + clean_created.len() as u64);
    assert_eq!(crash_count, count_addresses(&clean_pool).await);
    assert_eq!(duplicate_codes(&crash_pool).await, []);
    assert_eq!(duplicate_client_refs(&crash_pool).await, []);
    let expected_registered: BTreeSet<(String, String)> = clean_created.into_iter().collect();
    assert_eq!(
        registered_from_lists(&crash_pool).await,
        expected_registered
    );
    let clean_geometries = code_geometries(&clean_pool).await;
    let crash_geometries = code_geometries(&crash_pool).await;
    assert_eq!(clean_geometries.len() as u64, crash_count);
    assert!(
        clean_geometries == crash_geometries,
        "(code, geom) differ: {} only after the crash, {} only after the clean run",
        crash_geometries.difference(&clean_geometries).count(),
        clean_geometries.difference(&crash_geometries).count()
    );
    clean_pool.close().await;
    crash_pool.close().await;
}

/// (client_ref, code) of every address registered from a list.
async fn registered_from_lists(pool: &DirectPool) -> BTreeSet<(String, String)> {
    pool.fetch_all::<(String, String)>(
        "SELECT client_ref, code FROM addresses WHERE client_ref IS NOT NULL",
    )
    .await
    .into_iter()
    .collect()
}

/// Every address as (code, EWKB geometry, client_ref).
async fn code_geometries(pool: &DirectPool) -> BTreeSet<(String, Vec<u8>, Option<String>)> {
    let sql = format!(
        "SELECT code, {} AS geom, client_ref FROM addresses",
        pool.geom_as_ewkb()
    );
    pool.fetch_all::<(String, Vec<u8>, Option<String>)>(&sql)
        .await
        .into_iter()
        .collect()
}

/// SQLite's own check of a file a killed writer left behind.
async fn integrity_check(pool: &sqlx::SqlitePool) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool)
        .await
        .expect("integrity check")
}

/// Polls until no session other than the caller's is connected to the PostgreSQL database
/// at `database_url`. A killed client's server session may still be finishing a COMMIT the
/// client sent just before it died, or rolling back its open transaction; only once that
/// session has ended does the database hold exactly what the killed run committed.
async fn wait_for_other_sessions_to_end(database_url: &str) {
    let mut connection = sqlx::postgres::PgConnection::connect(database_url)
        .await
        .expect("connect to watch sessions");
    let started = Instant::now();
    loop {
        let other_sessions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut connection)
        .await
        .expect("count sessions");
        if other_sessions == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{other_sessions} sessions of the killed run still open after 30 s"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
    connection.close().await.expect("close the session watcher");
}
