//! `vmap copy`, SQLite → PostgreSQL → SQLite, byte for byte: ids, times, change numbers,
//! free text and geometry; refused into a database that is not empty.

use std::time::Instant;

use sqlx::{Connection, Row};

use vmap::address::AddressChange;
use vmap::code::VmapCode;
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, Registry};
use vmap::store::{Store, ewkb};

use super::{created_code, point, reverse_codes, row_at};
use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, REGISTRY_SEED, TestDb, pg_connect, run_vmap, seeded_registry, sqlite_url, zones,
};

trials! {
    postgres: [copy_moves_a_registry_both_ways_byte_for_byte],
}

/// Addresses in the SQLite registry that is copied.
const N: u64 = 3_000;

/// One `addresses` row, every column, geometry as EWKB bytes.
#[derive(Debug, Clone, PartialEq)]
struct FullRow {
    id: i64,
    code: String,
    postcode: String,
    geom: Vec<u8>,
    house_number: Option<String>,
    alley: Option<String>,
    street: Option<String>,
    unit: Option<String>,
    address: Option<String>,
    client_ref: Option<String>,
    status: String,
    successor_code: Option<String>,
    created_at: i64,
    updated_at: i64,
    change_seq: i64,
}

/// The rows of the source whose status, successor, place or free text were changed after
/// seeding.
struct Edits {
    retired: VmapCode,
    successor: VmapCode,
    moved: VmapCode,
    moved_to: LatLon,
    edited: VmapCode,
}

async fn copy_moves_a_registry_both_ways_byte_for_byte(backend: &Backend) {
    let (source, edits) = sqlite_registry_with_edits().await;
    let original = sqlite_rows(&source.url).await;
    assert_source_rows(&original, &edits);

    let target = TestDb::create(backend).await;
    let back_dir = tempfile::tempdir().expect("temp dir");
    let back_url = sqlite_url(&back_dir.path().join("back.db"));
    let started = Instant::now();
    copy(
        &source.url,
        &target.url,
        "copied 3000 addresses from sqlite to postgres",
    )
    .await;
    copy(
        &target.url,
        &back_url,
        "copied 3000 addresses from postgres to sqlite",
    )
    .await;
    eprintln!("two copies of {N} addresses took {:?}", started.elapsed());

    assert_same_rows(
        "SQLite → PostgreSQL",
        &original,
        &postgres_rows(&target.url).await,
    );
    assert_same_rows(
        "PostgreSQL → SQLite",
        &original,
        &sqlite_rows(&back_url).await,
    );
    assert_postgis_reads_the_copied_points(&target.url, &original).await;

    // Copying into a database that holds addresses fails clearly and changes nothing.
    let not_empty = "the target database is not empty (3000 addresses)";
    run_vmap(["copy", "--from", &source.url, "--to", &target.url])
        .await
        .assert_failure_saying(not_empty);
    run_vmap(["copy", "--from", &target.url, "--to", &back_url])
        .await
        .assert_failure_saying(not_empty);
    assert_same_rows(
        "PostgreSQL after a refused copy",
        &original,
        &postgres_rows(&target.url).await,
    );
    assert_same_rows(
        "SQLite after a refused copy",
        &original,
        &sqlite_rows(&back_url).await,
    );

    assert_the_copy_registers_above_the_copied_rows(&target.url, &original, &edits).await;
}

/// A SQLite registry of [`N`] seeded addresses, one retired with a successor, one moved and
/// one with edited free text.
async fn sqlite_registry_with_edits() -> (TestDb, Edits) {
    let (source, registry) = seeded_registry(&Backend::Sqlite, N).await;
    let first = registry.store().addresses_after(0, 10).await.expect("rows");
    let edits = Edits {
        retired: first[3].code,
        successor: first[4].code,
        moved: first[5].code,
        moved_to: point(
            first[5].location.lat + 0.000_271_828_182_845_9,
            first[5].location.lon - 0.000_314_159_265_358_9,
        ),
        edited: first[6].code,
    };
    registry
        .retire(edits.retired, Some(edits.successor), false)
        .await
        .expect("retire");
    let move_with_quotes = AddressChange {
        location: Some(edits.moved_to),
        street: Some(Some("Đường Mới, \"đã chuyển\"".to_owned())),
        ..AddressChange::default()
    };
    registry
        .update(edits.moved, move_with_quotes)
        .await
        .expect("move");
    let odd_free_text = AddressChange {
        unit: Some(Some("Tầng 3 – P.302".to_owned())),
        address: Some(Some("Số 7, ngõ 12; 'Phố Huế'\nHà Nội".to_owned())),
        client_ref: Some(Some("crm-42".to_owned())),
        house_number: Some(None),
        ..AddressChange::default()
    };
    registry
        .update(edits.edited, odd_free_text)
        .await
        .expect("edit");
    registry.store().close().await;
    (source, edits)
}

/// The source holds the edits, numbered after the seeding, and every stored geometry is
/// vmap's EWKB of the point it was given: the seeded points (ids in generation order) and
/// the moved one.
fn assert_source_rows(original: &[FullRow], edits: &Edits) {
    assert_eq!(original.len(), N as usize);
    let by_code = |code: VmapCode| {
        original
            .iter()
            .find(|row| row.code == code.canonical())
            .expect("row")
    };
    let retired_row = by_code(edits.retired);
    assert_eq!(retired_row.status, "retired");
    assert_eq!(
        retired_row.successor_code,
        Some(edits.successor.canonical())
    );
    assert!(retired_row.change_seq > N as i64);
    assert!(by_code(edits.moved).change_seq > retired_row.change_seq);
    assert_eq!(by_code(edits.edited).house_number, None);

    let generated: Vec<LatLon> = vmap::synth::generate(&zones(), N, REGISTRY_SEED, 50_000)
        .flatten()
        .map(|address| address.location)
        .collect();
    assert_eq!(generated.len(), N as usize);
    // A seeded SQLite file numbers each chunk's rows in code order, not generation order:
    // the points are the generator's, one each, whatever their ids.
    let mut expected: Vec<Vec<u8>> = generated
        .iter()
        .map(|&point| ewkb::encode_point(point).to_vec())
        .collect();
    expected.sort_unstable();
    let mut unmoved: Vec<Vec<u8>> = Vec::with_capacity(original.len());
    for row in original {
        if row.code == edits.moved.canonical() {
            assert_eq!(row.geom, ewkb::encode_point(edits.moved_to).to_vec());
        } else {
            unmoved.push(row.geom.clone());
        }
    }
    unmoved.sort_unstable();
    let mut missing = 0;
    let mut from_generator = expected.iter().peekable();
    for geom in &unmoved {
        loop {
            match from_generator.next() {
                Some(candidate) if candidate == geom => break,
                Some(_) => missing += 1,
                None => panic!("a row's point is not the generator's: {geom:?}"),
            }
        }
    }
    missing += from_generator.count();
    // Only the moved address left its generated point.
    assert_eq!(missing, 1);
}

/// `vmap copy --from FROM --to TO`, which must succeed and say `report`.
async fn copy(from: &str, to: &str, report: &str) {
    let run = run_vmap(["copy", "--from", from, "--to", to])
        .await
        .assert_success();
    assert!(run.stderr.contains(report), "{}", run.stderr);
}

/// PostGIS reads the copied points as the exact coordinates, in SRID 4326.
async fn assert_postgis_reads_the_copied_points(url: &str, original: &[FullRow]) {
    let mut conn = pg_connect(url).await;
    let coordinates: Vec<(i64, f64, f64, i32)> = sqlx::query_as(
        "SELECT id, ST_Y(geom), ST_X(geom), ST_SRID(geom) FROM addresses ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("coordinates");
    conn.close().await.expect("close");
    for ((id, lat, lon, srid), row) in coordinates.iter().zip(original) {
        let location = ewkb::decode_point(&row.geom).expect("EWKB");
        assert_eq!(*id, row.id);
        assert_eq!(*srid, 4326);
        assert_eq!(
            (lat.to_bits(), lon.to_bits()),
            (location.lat.to_bits(), location.lon.to_bits()),
            "id {id}"
        );
    }
}

/// A registry loaded from the copy draws ids and change numbers above the copied ones, and
/// the moved address keeps its code there, at its new place.
async fn assert_the_copy_registers_above_the_copied_rows(
    url: &str,
    original: &[FullRow],
    edits: &Edits,
) {
    let max_id = original.iter().map(|row| row.id).max().expect("rows");
    let max_seq = original
        .iter()
        .map(|row| row.change_seq)
        .max()
        .expect("rows");
    let copied = Registry::load(Store::connect(url).await.expect("connect"), zones())
        .await
        .expect("load the copy");
    assert_eq!(copied.status().data_version, max_seq);
    let outcomes = copied
        .assign_batch(
            &[
                row_at(point(21.031_234_5, 105.852_345_6), "N1"),
                row_at(point(10.771_234_5, 106.701_234_5), "N2"),
            ],
            AssignOptions::default(),
        )
        .await
        .expect("assign after the copy");
    let mut conn = pg_connect(url).await;
    for outcome in &outcomes {
        let code = created_code(outcome);
        let (id, change_seq): (i64, i64) =
            sqlx::query_as("SELECT id, change_seq FROM addresses WHERE code = $1")
                .bind(code.canonical())
                .fetch_one(&mut conn)
                .await
                .expect("new row");
        assert!(id > max_id, "new id {id} is not above {max_id}");
        assert!(
            change_seq > max_seq,
            "new change_seq {change_seq} is not above {max_seq}"
        );
    }
    conn.close().await.expect("close");
    assert_eq!(
        reverse_codes(&copied, edits.moved_to, 5.0).first(),
        Some(&edits.moved)
    );
    copied.store().close().await;
}

const FULL_COLUMNS: &str = "id, code, postcode, {geom}, house_number, alley, street, unit, address, \
     client_ref, status, successor_code, created_at, updated_at, change_seq";

fn full_row<R>(row: &R) -> FullRow
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    FullRow {
        id: row.get(0),
        code: row.get(1),
        postcode: row.get(2),
        geom: row.get(3),
        house_number: row.get(4),
        alley: row.get(5),
        street: row.get(6),
        unit: row.get(7),
        address: row.get(8),
        client_ref: row.get(9),
        status: row.get(10),
        successor_code: row.get(11),
        created_at: row.get(12),
        updated_at: row.get(13),
        change_seq: row.get(14),
    }
}

async fn sqlite_rows(url: &str) -> Vec<FullRow> {
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .expect("open the SQLite file");
    let sql = format!(
        "SELECT {} FROM addresses ORDER BY id",
        FULL_COLUMNS.replace("{geom}", "geom")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut conn)
        .await
        .expect("read SQLite rows");
    conn.close().await.expect("close");
    rows.iter().map(full_row).collect()
}

async fn postgres_rows(url: &str) -> Vec<FullRow> {
    let mut conn = pg_connect(url).await;
    let sql = format!(
        "SELECT {} FROM addresses ORDER BY id",
        FULL_COLUMNS.replace("{geom}", "ST_AsEWKB(geom, 'NDR')")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut conn)
        .await
        .expect("read PostgreSQL rows");
    conn.close().await.expect("close");
    rows.iter().map(full_row).collect()
}

#[track_caller]
fn assert_same_rows(what: &str, expected: &[FullRow], actual: &[FullRow]) {
    assert_eq!(expected.len(), actual.len(), "{what}: row counts differ");
    for (want, got) in expected.iter().zip(actual) {
        assert_eq!(want, got, "{what}: rows differ");
    }
}
