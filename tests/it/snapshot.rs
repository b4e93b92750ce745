//! The snapshot file on SQLite and on PostgreSQL: written after a build from the database,
//! read back when it matches, caught up with the changes made since, and refused when it
//! belongs to another database, to a copy of it whose history went another way, or is
//! damaged. `serve` writes its snapshot once it is ready, while writes go on.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;

use vmap::address::{AddressChange, AddressParts};
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, AssignOutcome, AssignRow, Registry, ReverseQuery};
use vmap::store::Store;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, Server, TestDb, pg_connect, seeded_db, zones};

trials! {
    each_backend: [
        a_snapshot_is_written_then_read_and_answers_the_same,
        changes_after_the_snapshot_are_caught_up,
        a_snapshot_of_another_database_is_not_used,
        a_damaged_snapshot_is_rebuilt,
        a_snapshot_of_a_diverged_copy_is_refused_and_rebuilt,
        a_snapshot_whose_history_a_copy_continues_is_used,
        a_snapshot_that_cannot_be_written_leaves_no_partial_file,
        a_snapshot_written_while_writes_go_on_is_used_and_caught_up,
        serve_writes_its_snapshot_after_it_is_ready,
    ],
    postgres: [a_snapshot_of_a_copy_diverged_by_plain_sql_is_refused],
}

/// Points spread over the seeded area and beyond, for comparing two registries.
fn probe_points() -> Vec<LatLon> {
    let mut points = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            points.push(LatLon {
                lat: 8.6 + f64::from(i) * 0.37,
                lon: 102.2 + f64::from(j) * 0.18,
            });
        }
    }
    points
}

fn assert_same_answers(a: &Registry, b: &Registry) {
    assert_eq!(a.status().n_active, b.status().n_active);
    assert_eq!(a.status().n_retired, b.status().n_retired);
    assert_eq!(a.status().n_indexed, b.status().n_indexed);
    for point in probe_points() {
        assert_eq!(
            a.reverse(point, ReverseQuery::new(5, 50_000.0).expect("valid query")),
            b.reverse(point, ReverseQuery::new(5, 50_000.0).expect("valid query")),
            "at {point:?}"
        );
    }
}

/// Where the lists of the copy tests go: a corner of Đà Nẵng.
const LIST_CORNER: LatLon = LatLon {
    lat: 16.05,
    lon: 108.2,
};

/// `rows × columns` new addresses on a grid of ~33 m steps from `corner`, all on `street`.
fn list_at(corner: LatLon, rows: u32, columns: u32, street: &str) -> Vec<AssignRow> {
    let mut list = Vec::new();
    for i in 0..rows {
        for j in 0..columns {
            list.push(AssignRow {
                location: LatLon {
                    lat: corner.lat + f64::from(i) * 0.0003,
                    lon: corner.lon + f64::from(j) * 0.0003,
                },
                parts: AddressParts {
                    house_number: Some(format!("{}", i * columns + j + 1)),
                    street: Some(street.to_owned()),
                    ..AddressParts::default()
                },
            });
        }
    }
    list
}

/// 1 000 points over the lists' area and a little around it.
fn list_probe_points() -> Vec<LatLon> {
    let mut points = Vec::new();
    for i in 0..25 {
        for j in 0..40 {
            points.push(LatLon {
                lat: LIST_CORNER.lat - 0.001 + f64::from(i) * 0.000_27,
                lon: LIST_CORNER.lon - 0.001 + f64::from(j) * 0.000_21,
            });
        }
    }
    points
}

/// How many of the 1 000 reverse answers over the lists' area differ between `a` and `b`.
fn differing_list_answers(a: &Registry, b: &Registry) -> usize {
    let query = ReverseQuery::new(5, 2_000.0).expect("valid query");
    list_probe_points()
        .into_iter()
        .filter(|&point| a.reverse(point, query) != b.reverse(point, query))
        .count()
}

/// Assigns `list` through a registry of `db` that uses no snapshot (another process, as it
/// were), and closes it; returns how many addresses were created.
async fn write_list(db: &TestDb, list: &[AssignRow]) -> usize {
    let registry = load(db, None).await;
    let outcomes = registry
        .assign_batch(list, AssignOptions::default())
        .await
        .expect("assign");
    registry.close().await;
    outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AssignOutcome::Created { .. }))
        .count()
}

async fn load(db: &TestDb, snapshot: Option<&Path>) -> Registry {
    let store = Store::connect(&db.url).await.expect("connect");
    Registry::load_with_snapshot(store, zones(), snapshot)
        .await
        .expect("load")
}

async fn a_snapshot_is_written_then_read_and_answers_the_same(backend: &Backend) {
    let db = seeded_db(backend, 3_000).await;
    let path = db.dir.path().join("index.snapshot");
    let built = load(&db, Some(&path)).await;
    assert!(!built.status().from_snapshot);
    assert!(path.exists(), "no snapshot written");
    let read = load(&db, Some(&path)).await;
    assert!(read.status().from_snapshot, "the snapshot was not used");
    assert_same_answers(&built, &read);
    let plain = load(&db, None).await;
    assert_same_answers(&plain, &read);
}

async fn changes_after_the_snapshot_are_caught_up(backend: &Backend) {
    let db = seeded_db(backend, 3_000).await;
    let path = db.dir.path().join("index.snapshot");
    let first = load(&db, Some(&path)).await;
    // New addresses and a retirement after the snapshot was written.
    let rows: Vec<AssignRow> = (0..50)
        .map(|i| AssignRow {
            location: LatLon {
                lat: 16.05 + f64::from(i) * 0.0003,
                lon: 108.2,
            },
            parts: AddressParts {
                house_number: Some(format!("{}", i + 1)),
                street: Some("Đường Sau Ảnh Chụp".to_owned()),
                ..AddressParts::default()
            },
        })
        .collect();
    let outcomes = first
        .assign_batch(&rows, AssignOptions::default())
        .await
        .expect("assign");
    let created: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            AssignOutcome::Created { code } => Some(*code),
            _ => None,
        })
        .collect();
    assert!(created.len() > 40, "{outcomes:?}");
    first.retire(created[0], None, false).await.expect("retire");

    let read = load(&db, Some(&path)).await;
    assert!(read.status().from_snapshot);
    assert_eq!(read.status().n_active, 3_000 + created.len() as u64 - 1);
    assert_eq!(read.status().n_retired, 1);
    assert_same_answers(&load(&db, None).await, &read);
    assert_same_answers(&first, &read);
}

async fn a_snapshot_of_another_database_is_not_used(backend: &Backend) {
    let one = seeded_db(backend, 1_000).await;
    let other = seeded_db(backend, 1_000).await;
    let path = one.dir.path().join("index.snapshot");
    drop(load(&one, Some(&path)).await);
    // Same seed, same rows, same change numbers: only the database's identity differs.
    let from_other = load(&other, Some(&path)).await;
    assert!(
        !from_other.status().from_snapshot,
        "a snapshot of another database was used"
    );
    assert_same_answers(&load(&other, None).await, &from_other);
}

async fn a_damaged_snapshot_is_rebuilt(backend: &Backend) {
    let db = seeded_db(backend, 2_000).await;
    let path = db.dir.path().join("index.snapshot");
    drop(load(&db, Some(&path)).await);
    let mut bytes = std::fs::read(&path).expect("read snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, &bytes).expect("damage snapshot");
    let rebuilt = load(&db, Some(&path)).await;
    assert!(
        !rebuilt.status().from_snapshot,
        "a damaged snapshot was used"
    );
    // The rebuild wrote a good snapshot again.
    let read = load(&db, Some(&path)).await;
    assert!(read.status().from_snapshot);
    assert_same_answers(&rebuilt, &read);
    // A truncated file is refused too.
    std::fs::write(&path, &bytes[..bytes.len() / 3]).expect("truncate snapshot");
    assert!(!load(&db, Some(&path)).await.status().from_snapshot);
}

/// A backup restored elsewhere: the copy has the original's `instance_id`. Each then takes a
/// list of its own; the original's snapshot, put beside the copy, describes a history the
/// copy does not share, and must be refused even though the copy holds more changes.
async fn a_snapshot_of_a_diverged_copy_is_refused_and_rebuilt(backend: &Backend) {
    let original = seeded_db(backend, 2_000).await;
    let copy = original.copy().await;
    let list_a = list_at(LIST_CORNER, 10, 20, "Đường Bản Gốc");
    assert_eq!(write_list(&original, &list_a).await, list_a.len());
    let snapshot = original.dir.path().join("index.snapshot");
    let made = load(&original, Some(&snapshot)).await;
    assert!(!made.status().from_snapshot);
    made.close().await;
    // Another list, written by a process that does not use that snapshot: more addresses,
    // so the copy's data version and highest id pass the snapshot's.
    let corner_b = LatLon {
        lat: LIST_CORNER.lat + 0.000_13,
        lon: LIST_CORNER.lon + 0.000_17,
    };
    let list_b = list_at(corner_b, 15, 20, "Đường Bản Sao");
    assert_eq!(write_list(&copy, &list_b).await, list_b.len());

    let beside = copy.dir.path().join("index.snapshot");
    std::fs::copy(&snapshot, &beside).expect("put the snapshot beside the copy");
    let loaded = load(&copy, Some(&beside)).await;
    let plain = load(&copy, None).await;
    let differing = differing_list_answers(&plain, &loaded);
    assert_eq!(
        differing, 0,
        "{differing} of 1000 reverse answers differ from the database's"
    );
    assert!(
        !loaded.status().from_snapshot,
        "the snapshot of a diverged history was used"
    );
    assert_same_answers(&plain, &loaded);
    loaded.close().await;
    // The rebuild wrote the copy's own snapshot, which the next start uses.
    let again = load(&copy, Some(&beside)).await;
    assert!(
        again.status().from_snapshot,
        "the rebuilt snapshot was not used"
    );
    assert_eq!(differing_list_answers(&plain, &again), 0);
    assert_same_answers(&plain, &again);
}

/// A copy made after the snapshot continues its history: the snapshot is used there (and
/// caught up), even though the original went on differently after the copy.
async fn a_snapshot_whose_history_a_copy_continues_is_used(backend: &Backend) {
    let original = seeded_db(backend, 2_000).await;
    let list_a = list_at(LIST_CORNER, 10, 20, "Đường Bản Gốc");
    assert_eq!(write_list(&original, &list_a).await, list_a.len());
    let snapshot = original.dir.path().join("index.snapshot");
    let made = load(&original, Some(&snapshot)).await;
    assert!(!made.status().from_snapshot);
    made.close().await;
    let copy = original.copy().await;
    let corner_b = LatLon {
        lat: LIST_CORNER.lat + 0.000_13,
        lon: LIST_CORNER.lon + 0.000_17,
    };
    let list_b = list_at(corner_b, 15, 20, "Đường Bản Sao");
    assert_eq!(write_list(&copy, &list_b).await, list_b.len());
    let corner_c = LatLon {
        lat: LIST_CORNER.lat - 0.000_11,
        lon: LIST_CORNER.lon + 0.000_07,
    };
    let list_c = list_at(corner_c, 5, 20, "Đường Sau Bản Sao");
    assert_eq!(write_list(&original, &list_c).await, list_c.len());

    let beside = copy.dir.path().join("index.snapshot");
    std::fs::copy(&snapshot, &beside).expect("put the snapshot beside the copy");
    let loaded = load(&copy, Some(&beside)).await;
    assert!(
        loaded.status().from_snapshot,
        "a snapshot whose history the copy continues was not used"
    );
    let plain = load(&copy, None).await;
    assert_eq!(differing_list_answers(&plain, &loaded), 0);
    assert_same_answers(&plain, &loaded);
}

/// On PostgreSQL a trigger adds the history entries, so writes by plain SQL (here,
/// retirements) make a diverged copy's snapshot refused as vmap's own writes do.
async fn a_snapshot_of_a_copy_diverged_by_plain_sql_is_refused(backend: &Backend) {
    let original = seeded_db(backend, 2_000).await;
    let copy = original.copy().await;
    retire_by_plain_sql(&original, 1, 50).await;
    let snapshot = original.dir.path().join("index.snapshot");
    let made = load(&original, Some(&snapshot)).await;
    assert_eq!(made.status().n_retired, 50);
    made.close().await;
    // More changes than the original's, so the copy's data version passes the snapshot's.
    retire_by_plain_sql(&copy, 51, 150).await;

    let beside = copy.dir.path().join("index.snapshot");
    std::fs::copy(&snapshot, &beside).expect("put the snapshot beside the copy");
    let loaded = load(&copy, Some(&beside)).await;
    assert!(
        !loaded.status().from_snapshot,
        "the snapshot of a history diverged by plain SQL was used"
    );
    assert_eq!(loaded.status().n_retired, 100);
    assert_same_answers(&load(&copy, None).await, &loaded);
}

/// Retires the addresses with ids `first..=last`, one statement, as a person at psql would.
async fn retire_by_plain_sql(db: &TestDb, first: i64, last: i64) {
    let mut conn = pg_connect(&db.url).await;
    let retired = sqlx::query("UPDATE addresses SET status = 'retired' WHERE id BETWEEN $1 AND $2")
        .bind(first)
        .bind(last)
        .execute(&mut conn)
        .await
        .expect("retire by plain SQL");
    assert_eq!(retired.rows_affected(), (last - first + 1) as u64);
    conn.close().await.expect("close");
}

async fn a_snapshot_that_cannot_be_written_leaves_no_partial_file(backend: &Backend) {
    let db = seeded_db(backend, 300).await;
    // A directory with a file in it where the snapshot goes: it cannot be read, and the
    // finished file cannot be renamed over it.
    let path = db.dir.path().join("blocked.snapshot");
    std::fs::create_dir(&path).expect("directory");
    std::fs::write(path.join("keep"), b"x").expect("file");
    let registry = load(&db, Some(&path)).await;
    assert_eq!(registry.status().n_active, 300, "built from the database");
    registry.close().await;
    let partial: Vec<String> = std::fs::read_dir(db.dir.path())
        .expect("list")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

/// The codes `registry` created for `list`.
async fn assign(registry: &Registry, list: &[AssignRow]) -> Vec<vmap::code::VmapCode> {
    registry
        .assign_batch(list, AssignOptions::default())
        .await
        .expect("assign")
        .iter()
        .filter_map(|outcome| match outcome {
            AssignOutcome::Created { code } => Some(*code),
            _ => None,
        })
        .collect()
}

/// `serve`'s order: the registry is handed back first, and its snapshot written later while
/// writes go on. The index then has points outside its tree (a list), a point taken out of
/// it (a move) and a retirement; another list is written while the snapshot is.
async fn a_snapshot_written_while_writes_go_on_is_used_and_caught_up(backend: &Backend) {
    let db = seeded_db(backend, 3_000).await;
    let path = db.dir.path().join("index.snapshot");
    let store = Store::connect(&db.url).await.expect("connect");
    let serving = Registry::load_deferring_snapshot(store, zones(), Some(&path))
        .await
        .expect("load");
    assert!(!serving.status().from_snapshot);
    assert!(
        !path.exists(),
        "written before the registry was handed back"
    );
    let created = assign(&serving, &list_at(LIST_CORNER, 5, 10, "Đường Trước Ảnh")).await;
    assert_eq!(created.len(), 50);
    let moved_to = LatLon {
        lat: LIST_CORNER.lat + 0.004,
        lon: LIST_CORNER.lon + 0.004,
    };
    serving
        .update(
            created[0],
            AddressChange {
                location: Some(moved_to),
                ..AddressChange::default()
            },
        )
        .await
        .expect("move");
    serving
        .retire(created[1], None, false)
        .await
        .expect("retire");
    // A move of a seeded address takes a point out of the tree itself.
    let seeded = serving
        .reverse(
            LatLon {
                lat: 21.0285,
                lon: 105.8542,
            },
            ReverseQuery::new(1, 50_000.0).expect("valid query"),
        )
        .addresses[0]
        .clone();
    serving
        .update(
            seeded.code,
            AddressChange {
                location: Some(LatLon {
                    lat: seeded.lat + 0.001,
                    lon: seeded.lon,
                }),
                ..AddressChange::default()
            },
        )
        .await
        .expect("move a seeded address");
    let corner_b = LatLon {
        lat: LIST_CORNER.lat + 0.000_13,
        lon: LIST_CORNER.lon + 0.000_17,
    };
    let during = list_at(corner_b, 5, 10, "Đường Trong Ảnh");
    let ((), during_created) =
        tokio::join!(serving.write_pending_snapshot(), assign(&serving, &during));
    assert_eq!(during_created.len(), 50);
    assert!(path.exists(), "no snapshot written");

    let read = load(&db, Some(&path)).await;
    assert!(read.status().from_snapshot, "the snapshot was not used");
    assert_eq!(read.status().n_retired, 1);
    assert_eq!(differing_list_answers(&serving, &read), 0);
    assert_same_answers(&serving, &read);
    assert_same_answers(&load(&db, None).await, &read);
    // Due once: a second call writes nothing.
    std::fs::remove_file(&path).expect("remove");
    serving.write_pending_snapshot().await;
    assert!(!path.exists(), "written twice");
}

/// `vmap serve` on a database without a snapshot is ready before its snapshot is written,
/// and writes it afterwards; the next start reads it.
async fn serve_writes_its_snapshot_after_it_is_ready(backend: &Backend) {
    let db = seeded_db(backend, 2_000).await;
    let path = db.dir.path().join("served.snapshot");
    let snapshot = path.to_string_lossy().into_owned();
    let env = [("VMAP_SNAPSHOT", snapshot.as_str())];
    let server = Server::start_vmap_with("first", &db.url, db.dir.path(), &env).await;
    let waited = Instant::now();
    while !path.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no snapshot written: {}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log_text();
    server.stop().await;
    let line_of = |what: &dyn Fn(&str) -> bool| log.lines().position(what);
    let ready = line_of(&|line| line.contains("cli::serve") && line.contains(" ready "))
        .expect("ready logged");
    let written = line_of(&|line| line.contains("snapshot written")).expect("written logged");
    assert!(
        ready < written,
        "the snapshot was written before ready:\n{log}"
    );
    let again = Server::start_vmap_with("second", &db.url, db.dir.path(), &env).await;
    let status = again.get("/v1/status").await.json();
    assert_eq!(status["index_source"], "snapshot", "{status}");
    again.stop().await;
}
