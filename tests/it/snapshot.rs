//! The snapshot file on SQLite and on PostgreSQL: written after a build from the database,
//! read back when it matches, caught up with the changes made since, and refused when it
//! belongs to another database or is damaged.

use std::path::Path;

use vmap::address::AddressParts;
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, AssignOutcome, AssignRow, Registry, ReverseQuery};
use vmap::store::Store;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, seeded_db, zones};

trials! {
    each_backend: [
        a_snapshot_is_written_then_read_and_answers_the_same,
        changes_after_the_snapshot_are_caught_up,
        a_snapshot_of_another_database_is_not_used,
        a_damaged_snapshot_is_rebuilt,
    ],
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
    first.retire(created[0], None).await.expect("retire");

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
