//! Crash safety and concurrency of bulk assignment (DESIGN §3 "Assign"): a list cut short by
//! SIGKILL is finished by running it again, with the codes a clean run gives; and two lists
//! assigned at once never issue one code twice.
//!
//! The crash test and the two-process test drive the real binary; the in-process
//! concurrency test goes through the router. Every test runs on SQLite and, when
//! `VMAP_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

use common::{Backend, DirectPool, TestDb, column, parse_csv, post_as, synth_csv, test_app_on};
use vmap::api::Limits;
use vmap::point::{LatLon, haversine_m};
use vmap::registry::DEFAULT_MATCH_RADIUS_M;

const VMAP: &str = env!("CARGO_BIN_EXE_vmap");

backend_tests!(
    killed_assignment_finishes_on_rerun_with_the_codes_of_a_clean_run,
    overlapping_lists_at_once_issue_no_code_twice,
    two_processes_assigning_overlapping_lists_at_once_issue_no_code_twice,
    two_processes_at_once_register_nothing_twice_and_a_rerun_finishes_the_job,
);

/// `vmap` as a child process, quiet unless something goes wrong.
fn vmap_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(VMAP);
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("VMAP_ZONES_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `vmap` to completion and fails the test, with its stderr, if it fails.
fn run_vmap<I, S>(args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = vmap_command(args);
    let output = command.output().expect("vmap starts");
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn seed_database(database_url: &str, addresses: u64, seed: u64) {
    run_vmap([
        "seed".to_owned(),
        "--addresses".to_owned(),
        addresses.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
        "--database-url".to_owned(),
        database_url.to_owned(),
    ]);
}

fn synth_list(path: &Path, addresses: u64, seed: u64) {
    run_vmap([
        "synth".to_owned(),
        "--addresses".to_owned(),
        addresses.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
        "-o".to_owned(),
        path.display().to_string(),
    ]);
}

/// `vmap assign LIST -o OUTPUT --batch-rows N` on `database`, not yet waited for.
fn spawn_assign(list: &Path, output: &Path, database_url: &str, batch_rows: usize) -> Child {
    vmap_command([
        "assign".to_owned(),
        list.display().to_string(),
        "-o".to_owned(),
        output.display().to_string(),
        "--batch-rows".to_owned(),
        batch_rows.to_string(),
        "--database-url".to_owned(),
        database_url.to_owned(),
    ])
    // Nobody reads the child's pipes while it runs, so a chatty child must not block on them.
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("vmap assign starts")
}

/// Waits for a child and fails the test, with its stderr, unless it succeeded.
fn wait_success(child: Child, what: &str) {
    let output = child.wait_with_output().expect("wait for vmap");
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_csv_file(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    parse_csv(&std::fs::read_to_string(path).expect("read the answered list"))
}

fn codes_of(header: &[String], rows: &[Vec<String>]) -> Vec<String> {
    rows.iter()
        .map(|row| column(header, row, "code").to_owned())
        .collect()
}

async fn count_addresses(pool: &DirectPool) -> u64 {
    let count: i64 = pool.fetch_scalar("SELECT COUNT(*) FROM addresses").await;
    u64::try_from(count).expect("a count is not negative")
}

/// Codes stored more than once: always empty while `code` is UNIQUE, checked all the same
/// because it is the property that matters.
async fn duplicate_codes(pool: &DirectPool) -> Vec<(String, i64)> {
    pool.fetch_all("SELECT code, COUNT(*) FROM addresses GROUP BY code HAVING COUNT(*) > 1")
        .await
}

/// List rows registered more than once (seeded addresses have no client reference).
async fn duplicate_client_refs(pool: &DirectPool) -> Vec<(String, i64)> {
    pool.fetch_all(
        "SELECT client_ref, COUNT(*) FROM addresses WHERE client_ref IS NOT NULL \
         GROUP BY client_ref HAVING COUNT(*) > 1",
    )
    .await
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

// ---------------------------------------------------------------------------------------
// 1. Crash safety
// ---------------------------------------------------------------------------------------

const CRASH_REGISTRY_ADDRESSES: u64 = 20_000;
const CRASH_REGISTRY_SEED: u64 = 1;
const CRASH_LIST_SEED: u64 = 7;
const CRASH_BATCH_ROWS: usize = 500;
/// A debug build assigns about 6 000 rows/s here, so the first size runs for ~5 s and the
/// kill lands mid-way with room to spare; the bigger sizes are only for a much faster
/// machine or build, where the first run could finish before the poller sees it.
const CRASH_LIST_SIZES: [u64; 3] = [30_000, 120_000, 480_000];
/// Kill once 1/N of the list is committed (a quarter), so that both the committed and the
/// uncommitted part are large.
const KILL_AFTER_ONE_PART_IN: u64 = 4;
const POLL_EVERY: Duration = Duration::from_millis(20);

/// What the killed run left behind.
struct KilledRun {
    /// Addresses in the database once the process was dead.
    addresses_after_kill: u64,
    /// (client_ref, code) of the list rows it had committed.
    committed: BTreeSet<(String, String)>,
}

/// Starts the assignment, watches the database and SIGKILLs the process once a quarter of
/// the list is committed. `None` when the run finished before it could be killed.
async fn assign_and_kill_midway(
    list: &Path,
    output: &Path,
    database_url: &str,
    list_rows: u64,
    seeded: u64,
) -> Option<KilledRun> {
    let watcher = DirectPool::open_read_only(database_url).await;
    let mut child = spawn_assign(list, output, database_url, CRASH_BATCH_ROWS);
    let started = Instant::now();
    let kill_at = seeded + list_rows / KILL_AFTER_ONE_PART_IN;
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
        addresses_after_kill: count_addresses(&pool).await,
        committed: registered_from_lists(&pool).await,
    };
    pool.close().await;
    Some(killed)
}

async fn killed_assignment_finishes_on_rerun_with_the_codes_of_a_clean_run(backend: &Backend) {
    for list_rows in CRASH_LIST_SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let list = dir.path().join("list.csv");
        let clean_db = TestDb::create(backend).await;
        let crash_db = TestDb::create(backend).await;
        let clean_csv = dir.path().join("clean.csv");
        let part_csv = dir.path().join("part.csv");
        let rerun_csv = dir.path().join("rerun.csv");
        synth_list(&list, list_rows, CRASH_LIST_SEED);
        // Seeding is deterministic, so two seeded databases are the same registry; seeding
        // twice avoids copying a SQLite file whose WAL may still hold part of it, and works
        // the same on PostgreSQL.
        seed_database(&clean_db.url, CRASH_REGISTRY_ADDRESSES, CRASH_REGISTRY_SEED);
        seed_database(&crash_db.url, CRASH_REGISTRY_ADDRESSES, CRASH_REGISTRY_SEED);
        let seeded = {
            let pool = DirectPool::open(&crash_db.url).await;
            let seeded = count_addresses(&pool).await;
            pool.close().await;
            seeded
        };
        assert_eq!(seeded, CRASH_REGISTRY_ADDRESSES);

        // The clean run works on its own database meanwhile: it saves time, and slowing the
        // crash run down only makes the kill land more surely mid-way.
        let clean_run = spawn_assign(&list, &clean_csv, &clean_db.url, CRASH_BATCH_ROWS);
        let killed =
            assign_and_kill_midway(&list, &part_csv, &crash_db.url, list_rows, seeded).await;
        wait_success(clean_run, "the clean run");
        let Some(killed) = killed else {
            eprintln!("{list_rows} rows were assigned before the kill; trying a longer list");
            continue;
        };

        let (header, clean_rows) = read_csv_file(&clean_csv);
        assert_eq!(clean_rows.len() as u64, list_rows);
        assert!(
            clean_rows
                .iter()
                .all(|row| column(&header, row, "status") != "error"),
            "the synthetic list has no bad rows"
        );
        let clean_codes = codes_of(&header, &clean_rows);
        let clean_created: Vec<(String, String)> = clean_rows
            .iter()
            .filter(|row| column(&header, row, "status") == "created")
            .map(|row| {
                (
                    column(&header, row, "id").to_owned(),
                    column(&header, row, "code").to_owned(),
                )
            })
            .collect();

        // Killed mid-way: some but not all of the list is registered.
        let committed_rows = killed.addresses_after_kill - seeded;
        assert!(
            committed_rows > 0 && committed_rows < clean_created.len() as u64,
            "killed after {committed_rows} of {} new addresses",
            clean_created.len()
        );
        assert_eq!(killed.committed.len() as u64, committed_rows);
        // Nothing half-written: what the killed run committed is exactly the rows created by
        // the first k whole batches of the clean run, for some k.
        let mut committed_batches = None;
        let mut created_so_far = BTreeSet::new();
        for (batch, rows) in clean_rows.chunks(CRASH_BATCH_ROWS).enumerate() {
            if created_so_far.len() == killed.committed.len() {
                committed_batches = Some(batch);
                break;
            }
            for row in rows {
                if column(&header, row, "status") == "created" {
                    created_so_far.insert((
                        column(&header, row, "id").to_owned(),
                        column(&header, row, "code").to_owned(),
                    ));
                }
            }
        }
        let committed_batches = committed_batches.unwrap_or_else(|| {
            panic!(
                "{committed_rows} committed rows are not a whole number of the clean run's batches"
            )
        });
        assert_eq!(
            killed.committed, created_so_far,
            "the killed run committed the first {committed_batches} batches exactly"
        );

        // Run the list again to the end.
        let rerun = spawn_assign(&list, &rerun_csv, &crash_db.url, CRASH_BATCH_ROWS);
        wait_success(rerun, "the rerun");
        let (rerun_header, rerun_rows) = read_csv_file(&rerun_csv);
        assert_eq!(rerun_header, header);
        assert_eq!(rerun_rows.len() as u64, list_rows);
        let rerun_codes = codes_of(&header, &rerun_rows);
        for (row_index, (clean_code, rerun_code)) in
            clean_codes.iter().zip(&rerun_codes).enumerate()
        {
            assert_eq!(
                rerun_code, clean_code,
                "row {row_index}: the rerun's code differs from the clean run's"
            );
        }
        // Rows of committed batches are found again; the others are decided as the clean
        // run decided them.
        let committed_list_rows = committed_batches * CRASH_BATCH_ROWS;
        for (row_index, (clean_row, rerun_row)) in clean_rows.iter().zip(&rerun_rows).enumerate() {
            let rerun_status = column(&header, rerun_row, "status");
            if row_index < committed_list_rows {
                assert_eq!(rerun_status, "existing", "row {row_index} was committed");
            } else {
                assert_eq!(
                    rerun_status,
                    column(&header, clean_row, "status"),
                    "row {row_index}"
                );
            }
        }
        let rerun_created = rerun_rows
            .iter()
            .filter(|row| column(&header, row, "status") == "created")
            .count();
        assert_eq!(
            committed_rows + rerun_created as u64,
            clean_created.len() as u64
        );

        let clean_pool = DirectPool::open(&clean_db.url).await;
        let crash_pool = DirectPool::open(&crash_db.url).await;
        let crash_count = count_addresses(&crash_pool).await;
        assert_eq!(crash_count, seeded + clean_created.len() as u64);
        assert_eq!(crash_count, count_addresses(&clean_pool).await);
        assert_eq!(duplicate_codes(&crash_pool).await, []);
        assert_eq!(duplicate_client_refs(&crash_pool).await, []);
        // Every row of the list that is a new place is registered exactly once, under the
        // code the clean run gave it.
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
        return;
    }
    panic!("every list was assigned before it could be killed");
}

// ---------------------------------------------------------------------------------------
// 2. Concurrency
// ---------------------------------------------------------------------------------------

const CONCURRENT_REGISTRY_ADDRESSES: u64 = 2_000;
/// The seed `common::seeded_registry` uses; the two-process test seeds the same registry.
const CONCURRENT_REGISTRY_SEED: u64 = 42;
const CONCURRENT_LIST_SEED: u64 = 9;
const CONCURRENT_LIST_ROWS: usize = 6_000;
/// Rows 0..4000 and 2000..6000: 2 000 rows are in both lists.
const FIRST_LIST: std::ops::Range<usize> = 0..4_000;
const SECOND_LIST: std::ops::Range<usize> = 2_000..6_000;

/// The synthetic list, its two overlapping parts as CSV bodies.
struct OverlappingLists {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    first_csv: String,
    second_csv: String,
}

fn csv_text(header: &[String], rows: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("write header");
    for row in rows {
        writer.write_record(row).expect("write row");
    }
    String::from_utf8(writer.into_inner().expect("flush csv")).expect("utf-8")
}

fn overlapping_lists() -> OverlappingLists {
    let (header, rows) = parse_csv(&synth_csv(
        CONCURRENT_LIST_ROWS as u64,
        CONCURRENT_LIST_SEED,
    ));
    assert_eq!(rows.len(), CONCURRENT_LIST_ROWS);
    let first_csv = csv_text(&header, &rows[FIRST_LIST]);
    let second_csv = csv_text(&header, &rows[SECOND_LIST]);
    OverlappingLists {
        header,
        rows,
        first_csv,
        second_csv,
    }
}

/// How many new places the whole list holds: the codes it creates when assigned alone, in
/// one request, on a twin of the registry. Rows that are the same place get one code, so
/// this is the list's size minus its in-list duplicates (and minus places already
/// registered).
async fn places_created_alone(backend: &Backend, lists: &OverlappingLists) -> usize {
    let (_db, _registry, router) =
        test_app_on(backend, CONCURRENT_REGISTRY_ADDRESSES, Limits::default()).await;
    let response = post_as(
        &router,
        "/v1/assign",
        "text/csv",
        None,
        csv_text(&lists.header, &lists.rows),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(rows.len(), CONCURRENT_LIST_ROWS);
    rows.iter()
        .filter(|row| column(&header, row, "status") == "created")
        .count()
}

/// A registered address, as the checks need it.
struct Registered {
    location: LatLon,
    house_number: Option<String>,
    /// The list row that registered it; none for seeded addresses.
    client_ref: Option<String>,
}

async fn registered_by_code(pool: &DirectPool) -> HashMap<String, Registered> {
    let sql = format!(
        "SELECT code, {} AS geom, house_number, client_ref FROM addresses",
        pool.geom_as_ewkb()
    );
    pool.fetch_all::<(String, Vec<u8>, Option<String>, Option<String>)>(&sql)
        .await
        .into_iter()
        .map(|(code, geom, house_number, client_ref)| {
            (
                code,
                Registered {
                    location: vmap::store::ewkb::decode_point(&geom).expect("stored EWKB"),
                    house_number,
                    client_ref,
                },
            )
        })
        .collect()
}

fn house_key(text: Option<&str>) -> String {
    text.unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Checks the two answers to the overlapping lists and the database they were written to.
/// `every_creation_answered` is false when a run was cut short and its list run again: the
/// rows it had registered are then answered `existing`.
async fn check_overlapping_answers(
    lists: &OverlappingLists,
    first_answer: &str,
    second_answer: &str,
    database_url: &str,
    places_alone: usize,
    every_creation_answered: bool,
) {
    let list_header = &lists.header;
    let mut code_by_id: HashMap<String, String> = HashMap::new();
    // (id, code) of every row answered `created`.
    let mut created: Vec<(String, String)> = Vec::new();
    let mut row_by_id: HashMap<String, &Vec<String>> = HashMap::new();
    for (name, answer, range) in [
        ("first", first_answer, FIRST_LIST),
        ("second", second_answer, SECOND_LIST),
    ] {
        let (header, rows) = parse_csv(answer);
        assert_eq!(
            rows.len(),
            range.len(),
            "the {name} answer has one row per input row"
        );
        for (input, output) in lists.rows[range].iter().zip(&rows) {
            let id = column(list_header, input, "id");
            assert_eq!(column(&header, output, "id"), id, "{name} answer order");
            let status = column(&header, output, "status");
            assert!(
                status == "created" || status == "existing",
                "{name} answer, row {id}: {status} {} {}",
                column(&header, output, "error_code"),
                column(&header, output, "error_message")
            );
            let code = column(&header, output, "code").to_owned();
            if status == "created" {
                created.push((id.to_owned(), code.clone()));
            }
            // A row in both lists gets the same code in both answers.
            if let Some(earlier) = code_by_id.insert(id.to_owned(), code.clone()) {
                assert_eq!(earlier, code, "row {id} got two codes");
            }
            row_by_id.insert(id.to_owned(), input);
        }
    }
    assert_eq!(code_by_id.len(), CONCURRENT_LIST_ROWS);

    // No code was created twice, not even for a row of both lists.
    let created_codes: HashSet<&String> = created.iter().map(|(_, code)| code).collect();
    assert_eq!(
        created_codes.len(),
        created.len(),
        "a code was created twice"
    );

    let pool = DirectPool::open(database_url).await;
    assert_eq!(duplicate_codes(&pool).await, []);
    assert_eq!(duplicate_client_refs(&pool).await, []);
    let registered = registered_by_code(&pool).await;
    let minted: HashMap<&String, &String> = registered
        .iter()
        .filter_map(|(code, address)| address.client_ref.as_ref().map(|id| (code, id)))
        .collect();
    // As many new places as the whole list makes when assigned alone, each registered once.
    assert_eq!(minted.len(), places_alone);
    assert_eq!(
        count_addresses(&pool).await,
        CONCURRENT_REGISTRY_ADDRESSES + minted.len() as u64,
        "the database holds the seeded addresses and one per new place"
    );
    // Each registered row was registered by a row of the list that was answered its code.
    for (code, id) in &minted {
        assert_eq!(
            code_by_id.get(*id),
            Some(*code),
            "{code} was registered for row {id}, which was answered another code"
        );
    }
    for (id, code) in &created {
        assert_eq!(
            minted.get(code),
            Some(&id),
            "row {id} was answered created {code}, which is not registered for it"
        );
    }
    if every_creation_answered {
        assert_eq!(
            created.len(),
            minted.len(),
            "every new place was answered created"
        );
    }
    // Rows share a code only when they are the same place: every row's code is a
    // registered address within the match radius with the same house number.
    for (id, code) in &code_by_id {
        let Some(address) = registered.get(code) else {
            panic!("row {id} got {code}, which is not registered");
        };
        let row = row_by_id[id];
        let location = LatLon::new(
            column(list_header, row, "lat").parse().expect("lat"),
            column(list_header, row, "lon").parse().expect("lon"),
        )
        .expect("a valid point");
        let distance_m = haversine_m(location, address.location);
        assert!(
            distance_m <= DEFAULT_MATCH_RADIUS_M + 1e-6,
            "row {id} got {code}, registered {distance_m} m away"
        );
        assert_eq!(
            house_key(Some(column(list_header, row, "house_number"))),
            house_key(address.house_number.as_deref()),
            "row {id} got {code} of another house number"
        );
    }
    pool.close().await;
}

async fn overlapping_lists_at_once_issue_no_code_twice(backend: &Backend) {
    let lists = overlapping_lists();
    let places_alone = places_created_alone(backend, &lists).await;
    let (db, _registry, router) =
        test_app_on(backend, CONCURRENT_REGISTRY_ADDRESSES, Limits::default()).await;
    // Both requests start before either is answered; join! polls them together and reads
    // both bodies to the end.
    let (first, second) = tokio::join!(
        post_as(
            &router,
            "/v1/assign",
            "text/csv",
            None,
            lists.first_csv.clone()
        ),
        post_as(
            &router,
            "/v1/assign",
            "text/csv",
            None,
            lists.second_csv.clone()
        ),
    );
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.text());
    check_overlapping_answers(
        &lists,
        &first.text(),
        &second.text(),
        &db.url,
        places_alone,
        true,
    )
    .await;
}

/// Batches small enough that the two processes' transactions interleave on the one database.
const TWO_PROCESS_BATCH_ROWS: usize = 500;

/// Two `vmap assign` processes on one database, started together and both waited for.
struct TwoProcessRun {
    _dir: tempfile::TempDir,
    database: TestDb,
    /// (list, answered list, what the process did), first then second.
    runs: [(PathBuf, PathBuf, std::process::Output); 2],
}

async fn assign_in_two_processes_at_once(
    backend: &Backend,
    lists: &OverlappingLists,
) -> TwoProcessRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDb::create(backend).await;
    seed_database(
        &database.url,
        CONCURRENT_REGISTRY_ADDRESSES,
        CONCURRENT_REGISTRY_SEED,
    );
    let first_list = dir.path().join("first.csv");
    let second_list = dir.path().join("second.csv");
    std::fs::write(&first_list, &lists.first_csv).expect("write the first list");
    std::fs::write(&second_list, &lists.second_csv).expect("write the second list");
    let first_output = dir.path().join("first-coded.csv");
    let second_output = dir.path().join("second-coded.csv");
    let first = spawn_assign(
        &first_list,
        &first_output,
        &database.url,
        TWO_PROCESS_BATCH_ROWS,
    );
    let second = spawn_assign(
        &second_list,
        &second_output,
        &database.url,
        TWO_PROCESS_BATCH_ROWS,
    );
    // Both are waited for before either is judged, so that neither outlives the test.
    let first = first
        .wait_with_output()
        .expect("wait for the first process");
    let second = second
        .wait_with_output()
        .expect("wait for the second process");
    TwoProcessRun {
        _dir: dir,
        database,
        runs: [
            (first_list, first_output, first),
            (second_list, second_output, second),
        ],
    }
}

// Two processes on one database: each knows only its own rows in memory, so the second to
// reach the overlap mints codes the first already holds; UNIQUE(code) refuses its batch, it
// catches up with the database and decides the batch again, now finding those places.
async fn two_processes_assigning_overlapping_lists_at_once_issue_no_code_twice(backend: &Backend) {
    let lists = overlapping_lists();
    let places_alone = places_created_alone(backend, &lists).await;
    let two = assign_in_two_processes_at_once(backend, &lists).await;
    for (name, (_, _, output)) in ["first", "second"].into_iter().zip(&two.runs) {
        assert!(
            output.status.success(),
            "the {name} process failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    check_overlapping_answers(
        &lists,
        &std::fs::read_to_string(&two.runs[0].1).expect("first answer"),
        &std::fs::read_to_string(&two.runs[1].1).expect("second answer"),
        &two.database.url,
        places_alone,
        true,
    )
    .await;
}

/// What holds today for two processes at once: a process may stop on a code the other took,
/// but nothing is registered twice, and running its list again finishes the job with the
/// same codes as the other process gave the overlap.
async fn two_processes_at_once_register_nothing_twice_and_a_rerun_finishes_the_job(
    backend: &Backend,
) {
    let lists = overlapping_lists();
    let places_alone = places_created_alone(backend, &lists).await;
    let two = assign_in_two_processes_at_once(backend, &lists).await;
    let pool = DirectPool::open(&two.database.url).await;
    assert_eq!(duplicate_codes(&pool).await, []);
    assert_eq!(duplicate_client_refs(&pool).await, []);
    pool.close().await;
    for (name, (list, answer, output)) in ["first", "second"].into_iter().zip(&two.runs) {
        if output.status.success() {
            continue;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("already taken"),
            "the {name} process failed for another reason ({}): {stderr}",
            output.status
        );
        // Alone now, it loads the other's rows and finishes.
        wait_success(
            spawn_assign(list, answer, &two.database.url, TWO_PROCESS_BATCH_ROWS),
            "the rerun",
        );
    }
    check_overlapping_answers(
        &lists,
        &std::fs::read_to_string(&two.runs[0].1).expect("first answer"),
        &std::fs::read_to_string(&two.runs[1].1).expect("second answer"),
        &two.database.url,
        places_alone,
        false,
    )
    .await;
}
