//! `vmap seed` into a new SQLite file: the registry built beside the target and renamed into
//! place (`store/sqlite_fresh.rs`) is the registry the ordinary path writes, with its
//! indexes, history and WAL mode; a non-empty or open target is refused; a seed killed
//! mid-way leaves the target empty and the next seed starts clean.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmap::progress::Progress;
use vmap::registry::{CodeLookup, Registry};
use vmap::store::{Store, StoreError};
use vmap::synth::SeedError;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, run_vmap, seeded_db, vmap_command, zones};

trials! {
    tokio: [
        a_seeded_file_is_the_registry_the_ordinary_path_writes,
        a_non_empty_or_open_file_is_refused_and_left_as_it_was,
        a_seed_killed_midway_leaves_an_empty_registry_and_the_next_one_starts_clean,
    ],
}

const ADDRESSES: u64 = 6_000;
const SEED: u64 = 9;
/// How long a seed waits for other connections to the file to close before refusing it.
const BUSY_TIMEOUT: Duration = Duration::from_millis(300);

/// Every column but the times, in id order.
type Row = (
    i64,
    String,
    String,
    Vec<u8>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
);

fn db_path(db: &TestDb) -> PathBuf {
    db.dir.path().join("vmap.db")
}

fn open(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open the SQLite file")
}

fn rows(path: &Path) -> Vec<Row> {
    let connection = open(path);
    let mut statement = connection
        .prepare(
            "SELECT id, code, postcode, geom, house_number, alley, street, unit, address, \
             client_ref, status, change_seq FROM addresses ORDER BY id",
        )
        .expect("prepare");
    statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
                row.get(11)?,
            ))
        })
        .expect("query")
        .collect::<Result<Vec<Row>, _>>()
        .expect("rows")
}

fn count(path: &Path) -> i64 {
    open(path)
        .query_row("SELECT COUNT(*) FROM addresses", [], |row| row.get(0))
        .expect("count")
}

fn seeding_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".seeding");
    PathBuf::from(name)
}

/// A new, empty registry file, as the store leaves it (migrated, no connection open).
async fn empty_registry() -> (TestDb, PathBuf) {
    let db = TestDb::create(&Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.expect("connect");
    store.close().await;
    let path = db_path(&db);
    (db, path)
}

fn seed_file(path: &Path, total: u64) -> Result<vmap::synth::SeedReport, SeedError> {
    vmap::synth::seed_new_sqlite_file(
        path,
        &zones(),
        total,
        SEED,
        BUSY_TIMEOUT,
        &Progress::quiet("seeding", total),
    )
}

async fn a_seeded_file_is_the_registry_the_ordinary_path_writes() {
    let (_first_db, first) = empty_registry().await;
    let (_second_db, second) = empty_registry().await;
    for path in [&first, &second] {
        let report = seed_file(path, ADDRESSES).expect("seed the file");
        assert_eq!(report.n_addresses, ADDRESSES);
        assert!(!seeding_file(path).exists(), "the seeding file was left");
    }
    let ordinary_db = TestDb::create(&Backend::Sqlite).await;
    let store = Store::connect(&ordinary_db.url).await.expect("connect");
    vmap::synth::seed(
        &store,
        zones(),
        ADDRESSES,
        SEED,
        &Progress::quiet("seeding", ADDRESSES),
    )
    .await
    .expect("seed through the store");
    store.close().await;

    let written = rows(&first);
    assert_eq!(written.len() as u64, ADDRESSES);
    assert!(written == rows(&second), "two seeds with one seed differ");
    assert!(
        written == rows(&db_path(&ordinary_db)),
        "the file path and the ordinary path wrote different rows"
    );

    let connection = open(&first);
    let text = |sql: &str| -> String {
        connection
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    };
    assert_eq!(text("PRAGMA journal_mode"), "wal");
    assert_eq!(text("PRAGMA integrity_check"), "ok");
    let unique_on_code: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_list('addresses') AS list \
             JOIN pragma_index_info(list.name) AS info \
             WHERE list.\"unique\" = 1 AND info.name = 'code'",
            [],
            |row| row.get(0),
        )
        .expect("index list");
    assert_eq!(unique_on_code, 1, "no unique index on code");
    assert_eq!(
        text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'addresses' AND name = 'addresses_change_seq'"
        ),
        "addresses_change_seq"
    );
    let duplicate = connection.execute(
        "INSERT INTO addresses (code, postcode, geom, created_at, updated_at, change_seq) \
         SELECT code, postcode, geom, 0, 0, 0 FROM addresses LIMIT 1",
        [],
    );
    assert!(duplicate.is_err(), "a code was taken twice");
    drop(connection);

    // The whole fill is one history entry at its data version; the registry loads and finds
    // a seeded code.
    let store = Store::connect(&vmap_url(&first)).await.expect("connect");
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts.active, ADDRESSES);
    assert_eq!(counts.data_version, ADDRESSES as i64);
    assert!(
        store
            .history_at(counts.data_version)
            .await
            .expect("history")
            .is_some(),
        "no history entry"
    );
    let registry = Registry::load(store, zones()).await.expect("load");
    let code = written[ADDRESSES as usize / 2]
        .1
        .parse()
        .expect("a stored code");
    assert!(matches!(
        registry.lookup(code).await.expect("lookup"),
        CodeLookup::Registered { .. }
    ));
}

async fn a_non_empty_or_open_file_is_refused_and_left_as_it_was() {
    let seeded = seeded_db(&Backend::Sqlite, 100).await;
    let error = seed_file(&db_path(&seeded), 10).expect_err("a non-empty file");
    assert!(
        matches!(error, SeedError::Store(StoreError::NotEmpty(100))),
        "{error:?}"
    );
    assert_eq!(count(&db_path(&seeded)), 100);

    let (db, path) = empty_registry().await;
    let store = Store::connect(&db.url).await.expect("connect");
    let error = seed_file(&path, 10).expect_err("a file another connection has open");
    assert!(
        matches!(error, SeedError::Store(StoreError::InUse(_))),
        "{error:?}"
    );
    store.close().await;
    assert_eq!(count(&path), 0);
    assert!(!seeding_file(&path).exists());

    // The command refuses a non-empty file too, before building anything.
    run_vmap(["seed", "--addresses", "10", "--database-url", &seeded.url])
        .await
        .assert_failure_saying("not empty");
}

async fn a_seed_killed_midway_leaves_an_empty_registry_and_the_next_one_starts_clean() {
    // `vmap seed` makes the file itself, as it does for a user.
    let db = TestDb::create(&Backend::Sqlite).await;
    let path = db_path(&db);
    // Far more than a debug build writes before the kill lands.
    let mut child = vmap_command(["seed", "--addresses", "5000000", "--database-url", &db.url])
        .spawn()
        .expect("start vmap seed");
    let started = Instant::now();
    while !seeding_file(&path).exists() {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            panic!(
                "vmap seed ended before building its file: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no seeding file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Into the fill: rows are being written.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        child.try_wait().expect("wait").is_none(),
        "vmap seed finished before the kill"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    assert_eq!(count(&path), 0, "a killed seed left rows in the registry");
    assert!(
        seeding_file(&path).exists(),
        "the kill landed after the rename"
    );
    run_vmap(["seed", "--addresses", "2000", "--database-url", &db.url])
        .await
        .assert_success();
    assert_eq!(count(&path), 2_000);
    assert!(
        !seeding_file(&path).exists(),
        "the stale seeding file stayed"
    );
}

fn vmap_url(path: &Path) -> String {
    crate::helpers::sqlite_url(path)
}
