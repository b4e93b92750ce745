//! PostgreSQL + PostGIS specific tests (issue 4): geometry as PostGIS sees it, rows written
//! by plain SQL, `vmap copy` both ways byte for byte, and two real `vmap serve` replicas on
//! one database (DESIGN §8).
//!
//! Every test runs only when `VMAP_TEST_DATABASE_URL` names a PostgreSQL server (each test
//! gets a fresh database of its own on it); otherwise it prints "skipped: …" and passes.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::{Connection, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vmap::address::{AddressChange, AddressParts, AddressStatus};
use vmap::code::VmapCode;
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, AssignOutcome, AssignRow, CodeLookup, Registry, ReverseQuery};
use vmap::store::{Store, ewkb};
use vmap::zones::ZoneTable;

use common::{Backend, TestDb};

/// The PostgreSQL backend, or `None` after saying the test is skipped.
fn postgres_or_skip(test: &str) -> Option<Backend> {
    let backend = Backend::postgres();
    if backend.is_none() {
        eprintln!("skipped: {test}: set VMAP_TEST_DATABASE_URL to run on PostgreSQL");
    }
    backend
}

async fn pg_connect(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test database")
}

fn point(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).expect("valid point")
}

fn row_at(location: LatLon, house_number: &str) -> AssignRow {
    AssignRow {
        location,
        parts: AddressParts {
            house_number: Some(house_number.to_owned()),
            street: Some("Đường Thử Nghiệm".to_owned()),
            ..AddressParts::default()
        },
    }
}

fn created_code(outcome: &AssignOutcome) -> VmapCode {
    match outcome {
        AssignOutcome::Created { code } => *code,
        other => panic!("expected a new code, got {other:?}"),
    }
}

/// Codes of the addresses `registry` answers within `radius_m` of `at`.
fn reverse_codes(registry: &Registry, at: LatLon, radius_m: f64) -> Vec<VmapCode> {
    registry
        .reverse(at, ReverseQuery::new(10, radius_m).expect("valid query"))
        .addresses
        .iter()
        .map(|address| address.code)
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Geometry written by vmap, read by PostGIS
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_written_by_vmap_read_back_in_postgis() {
    let Some(backend) = postgres_or_skip("points_written_by_vmap_read_back_in_postgis") else {
        return;
    };
    let (db, registry) = common::seeded_registry_on(&backend, 5_000).await;
    let router = vmap::api::app(vmap::api::AppState::ready(
        registry.clone(),
        vmap::api::Limits::default(),
    ));

    // Points with long binary fractions in three cities; half registered through the
    // registry, half through the HTTP API.
    let centres = [
        (21.0285, 105.8542),
        (10.7769, 106.7009),
        (16.0544, 108.2022),
    ];
    let mut sent: Vec<(VmapCode, LatLon)> = Vec::new();
    let mut through_registry = Vec::new();
    for (city, &(lat, lon)) in centres.iter().enumerate() {
        for step in 0..12 {
            let offset = f64::from(step);
            let location = point(
                lat + offset * 0.000_337_123_456_789_1 + 1.0e-13 * offset,
                lon + offset * 0.000_291_987_654_321_7 - 3.0e-14 * offset,
            );
            let house = format!("T{city}-{step}");
            if step % 2 == 0 {
                through_registry.push((row_at(location, &house), location));
            } else {
                let body = serde_json::json!({
                    "lat": location.lat, "lon": location.lon, "house_number": house,
                });
                let response = common::post_json(&router, "/v1/addresses", body.to_string()).await;
                assert_eq!(response.status, 201, "{}", response.text());
                let code = response.json()["code"]
                    .as_str()
                    .map(VmapCode::parse)
                    .expect("code")
                    .expect("well-formed code");
                sent.push((code, location));
            }
        }
    }
    let rows: Vec<AssignRow> = through_registry
        .iter()
        .map(|(row, _)| row.clone())
        .collect();
    let outcomes = registry
        .assign_batch(&rows, AssignOptions::default())
        .await
        .expect("assign");
    for (outcome, (_, location)) in outcomes.iter().zip(&through_registry) {
        sent.push((created_code(outcome), *location));
    }
    assert_eq!(sent.len(), 36);

    let mut conn = pg_connect(&db.url).await;
    for (code, location) in &sent {
        let row = sqlx::query(
            "SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom), GeometryType(geom), \
             ST_AsEWKB(geom, 'NDR'), postcode FROM addresses WHERE code = $1",
        )
        .bind(code.canonical())
        .fetch_one(&mut conn)
        .await
        .expect("the registered row");
        let x: f64 = row.get(0);
        let y: f64 = row.get(1);
        assert_eq!(
            (x.to_bits(), y.to_bits()),
            (location.lon.to_bits(), location.lat.to_bits()),
            "{code}: PostGIS has ({y}, {x}), vmap sent ({}, {})",
            location.lat,
            location.lon
        );
        assert_eq!(row.get::<i32, _>(2), 4326, "{code}");
        assert_eq!(row.get::<String, _>(3), "POINT", "{code}");
        assert_eq!(
            row.get::<Vec<u8>, _>(4),
            ewkb::encode_point(*location).to_vec(),
            "{code}"
        );
        assert_eq!(row.get::<String, _>(5), code.postcode().to_string());
    }

    // Every row, seeded ones included: a 2-D point in SRID 4326 whose coordinates PostGIS
    // reads exactly as vmap's own EWKB decoder does.
    let odd: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM addresses WHERE ST_SRID(geom) <> 4326 OR GeometryType(geom) <> 'POINT' \
         OR ST_NDims(geom) <> 2",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    assert_eq!(odd, 0);
    let coordinates: HashMap<i64, (u64, u64)> =
        sqlx::query("SELECT id, ST_Y(geom), ST_X(geom) FROM addresses")
            .fetch_all(&mut conn)
            .await
            .expect("coordinates")
            .iter()
            .map(|row| {
                let lat: f64 = row.get(1);
                let lon: f64 = row.get(2);
                (row.get(0), (lat.to_bits(), lon.to_bits()))
            })
            .collect();
    assert_eq!(coordinates.len(), 5_036);
    let stored = registry
        .store()
        .addresses_after(0, 10_000)
        .await
        .expect("rows");
    assert_eq!(stored.len(), 5_036);
    for row in &stored {
        assert_eq!(
            coordinates.get(&row.id),
            Some(&(row.location.lat.to_bits(), row.location.lon.to_bits())),
            "id {}",
            row.id
        );
    }

    // The GiST index serves nearest-neighbour queries.
    sqlx::query("ANALYZE addresses")
        .execute(&mut conn)
        .await
        .expect("analyze");
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT code FROM addresses \
         ORDER BY geom <-> ST_SetSRID(ST_MakePoint(105.8542, 21.0285), 4326) LIMIT 5",
    )
    .fetch_all(&mut conn)
    .await
    .expect("explain");
    let plan = plan.join("\n");
    eprintln!("KNN plan:\n{plan}");
    assert!(
        plan.contains("addresses_geom"),
        "the KNN query does not use the GiST index:\n{plan}"
    );
    // And it finds the address registered at the query point first.
    let nearest: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM addresses WHERE status = 'active' \
         ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326), id LIMIT 1",
    )
    .bind(sent[0].1.lon)
    .bind(sent[0].1.lat)
    .fetch_all(&mut conn)
    .await
    .expect("knn");
    assert_eq!(nearest, vec![sent[0].0.canonical()]);
    conn.close().await.expect("close");
    registry.store().close().await;
}

// ---------------------------------------------------------------------------------------
// 2. Rows written by plain SQL
// ---------------------------------------------------------------------------------------

/// A point, its zone's postal code and the (valid) code a plain SQL writer computes for it.
fn plain_sql_address(zones: &ZoneTable, location: LatLon) -> (VmapCode, String) {
    let (zone_id, _) = zones
        .resolve_by_geometry(location)
        .expect("the point is in coverage");
    let postcode = zones.get(zone_id).postcode;
    let code = VmapCode::encode(postcode, zones.reference_of(zone_id), location).expect("encode");
    (code, postcode.to_string())
}

async fn insert_by_plain_sql(
    conn: &mut sqlx::PgConnection,
    code: VmapCode,
    postcode: &str,
    at: LatLon,
) {
    // Literal SQL, as a person at psql would type it.
    let sql = format!(
        "INSERT INTO addresses (code, postcode, geom, house_number) \
         VALUES ('{}', '{postcode}', ST_SetSRID(ST_MakePoint({:?}, {:?}), 4326), '5')",
        code.canonical(),
        at.lon,
        at.lat
    );
    sqlx::raw_sql(&sql)
        .execute(conn)
        .await
        .expect("plain insert");
}

async fn assert_registered_at(
    registry: &Registry,
    code: VmapCode,
    at: LatLon,
    status: AddressStatus,
) {
    match registry.lookup(code).await.expect("lookup") {
        CodeLookup::Registered { address, .. } => {
            assert_eq!(address.code, code);
            assert_eq!(
                (
                    address.location.lat.to_bits(),
                    address.location.lon.to_bits()
                ),
                (at.lat.to_bits(), at.lon.to_bits()),
                "{code} is at {:?}, expected {at:?}",
                address.location
            );
            assert_eq!(address.parts.house_number.as_deref(), Some("5"));
            assert_eq!(address.status, status);
        }
        other => panic!("{code} is not registered: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_inserted_by_plain_sql_are_served() {
    let Some(backend) = postgres_or_skip("rows_inserted_by_plain_sql_are_served") else {
        return;
    };
    // Loaded before anything is written by plain SQL; it has no follower task.
    let (db, before) = common::seeded_registry_on(&backend, 2_000).await;
    let zones = common::zones();
    let places = [
        point(16.463_712_345_678_9, 107.590_912_345_678_9), // Huế
        point(10.045_212_345_678_9, 105.746_912_345_678_9), // Cần Thơ
        point(20.844_912_345_678_9, 106.688_112_345_678_9), // Hải Phòng
    ];
    let mut addresses = Vec::new();
    for &at in &places {
        let (code, postcode) = plain_sql_address(&zones, at);
        assert!(
            matches!(
                before.lookup(code).await.expect("lookup"),
                CodeLookup::Unregistered { .. }
            ),
            "{code} is already taken by a seeded address; pick another point"
        );
        addresses.push((code, postcode, at));
    }

    let mut conn = pg_connect(&db.url).await;
    let seeded_max_seq: i64 = sqlx::query_scalar("SELECT max(change_seq) FROM addresses")
        .fetch_one(&mut conn)
        .await
        .expect("max change_seq");
    for (code, postcode, at) in &addresses {
        insert_by_plain_sql(&mut conn, *code, postcode, *at).await;
    }
    // The plain rows got change numbers (and times) from the database.
    let stamped: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT change_seq, created_at, updated_at FROM addresses WHERE change_seq > $1 ORDER BY change_seq",
    )
    .bind(seeded_max_seq)
    .fetch_all(&mut conn)
    .await
    .expect("stamped rows");
    assert_eq!(stamped.len(), 3, "{stamped:?}");
    assert!(
        stamped
            .iter()
            .all(|&(_, created, updated)| created > 0 && updated >= created)
    );

    // (a) A registry loaded afterwards answers them.
    let after = Registry::load(
        Store::connect(&db.url).await.expect("connect"),
        zones.clone(),
    )
    .await
    .expect("load");
    for (code, _, at) in &addresses {
        assert!(
            reverse_codes(&after, *at, 5.0).first() == Some(code),
            "reverse at {at:?}: {:?}",
            reverse_codes(&after, *at, 5.0)
        );
        assert_registered_at(&after, *code, *at, AddressStatus::Active).await;
    }
    after.store().close().await;

    // (b) The registry loaded before does not know them until it catches up.
    for (code, _, at) in &addresses {
        assert!(!reverse_codes(&before, *at, 5.0).contains(code));
    }
    assert_eq!(before.catch_up().await.expect("catch up"), 3);
    assert_eq!(before.followed_seq(), seeded_max_seq + 3);
    for (code, _, at) in &addresses {
        assert_eq!(reverse_codes(&before, *at, 5.0).first(), Some(code));
        assert_registered_at(&before, *code, *at, AddressStatus::Active).await;
    }
    assert_eq!(before.status().n_active, 2_003);

    // A move and a retirement by plain SQL are followed too (the trigger numbers them).
    let (moved_code, _, moved_from) = addresses[0].clone();
    let moved_to = point(moved_from.lat + 0.000_4, moved_from.lon - 0.000_3); // ~55 m
    sqlx::raw_sql(&format!(
        "UPDATE addresses SET geom = ST_SetSRID(ST_MakePoint({:?}, {:?}), 4326) WHERE code = '{}'",
        moved_to.lon,
        moved_to.lat,
        moved_code.canonical()
    ))
    .execute(&mut conn)
    .await
    .expect("plain move");
    let (retired_code, _, retired_at) = addresses[1].clone();
    sqlx::raw_sql(&format!(
        "UPDATE addresses SET status = 'retired' WHERE code = '{}'",
        retired_code.canonical()
    ))
    .execute(&mut conn)
    .await
    .expect("plain retire");
    let renumbered: Vec<String> =
        sqlx::query_scalar("SELECT code FROM addresses WHERE change_seq > $1 ORDER BY change_seq")
            .bind(seeded_max_seq + 3)
            .fetch_all(&mut conn)
            .await
            .expect("renumbered rows");
    assert_eq!(
        renumbered,
        vec![moved_code.canonical(), retired_code.canonical()]
    );

    assert!(reverse_codes(&before, moved_from, 5.0).contains(&moved_code));
    assert_eq!(before.catch_up().await.expect("catch up"), 2);
    assert_eq!(before.followed_seq(), seeded_max_seq + 5);
    assert_eq!(
        reverse_codes(&before, moved_to, 5.0).first(),
        Some(&moved_code)
    );
    assert!(!reverse_codes(&before, moved_from, 5.0).contains(&moved_code));
    assert_registered_at(&before, moved_code, moved_to, AddressStatus::Active).await;
    assert!(!reverse_codes(&before, retired_at, 5.0).contains(&retired_code));
    assert_registered_at(&before, retired_code, retired_at, AddressStatus::Retired).await;
    let status = before.status();
    assert_eq!((status.n_active, status.n_retired), (2_002, 1));
    assert_eq!(before.catch_up().await.expect("catch up"), 0);

    // Registering the place of a plain SQL row again answers its code.
    let outcomes = before
        .assign_batch(&[row_at(addresses[2].2, "5")], AssignOptions::default())
        .await
        .expect("assign");
    assert_eq!(
        outcomes,
        vec![AssignOutcome::Existing {
            code: addresses[2].0,
            distance_m: 0.0
        }]
    );

    // And a registry loaded now sees the same.
    let later = Registry::load(Store::connect(&db.url).await.expect("connect"), zones)
        .await
        .expect("load");
    assert_eq!(
        reverse_codes(&later, moved_to, 5.0).first(),
        Some(&moved_code)
    );
    assert!(!reverse_codes(&later, retired_at, 5.0).contains(&retired_code));
    assert_registered_at(&later, retired_code, retired_at, AddressStatus::Retired).await;
    later.store().close().await;
    before.store().close().await;
    conn.close().await.expect("close");
}

// ---------------------------------------------------------------------------------------
// 3. vmap copy, both ways
// ---------------------------------------------------------------------------------------

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

fn assert_same_rows(what: &str, expected: &[FullRow], actual: &[FullRow]) {
    assert_eq!(expected.len(), actual.len(), "{what}: row counts differ");
    for (want, got) in expected.iter().zip(actual) {
        assert_eq!(want, got, "{what}: rows differ");
    }
}

/// Runs the real binary; returns (success, stdout, stderr).
async fn run_vmap(args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_vmap"))
        .args(args)
        .env("RUST_LOG", "info,sqlx=error")
        .output()
        .await
        .expect("run vmap");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_a_registry_both_ways_byte_for_byte() {
    let Some(backend) = postgres_or_skip("copy_moves_a_registry_both_ways_byte_for_byte") else {
        return;
    };
    const N: u64 = 3_000;
    let (source, registry) = common::seeded_registry(N).await;

    // Rows whose status, successor, times, change numbers and free-text columns are not
    // the defaults.
    let first = registry.store().addresses_after(0, 10).await.expect("rows");
    let retired = first[3].code;
    let successor = first[4].code;
    registry
        .retire(retired, Some(successor))
        .await
        .expect("retire");
    let moved = first[5].code;
    let moved_to = point(
        first[5].location.lat + 0.000_271_828_182_845_9,
        first[5].location.lon - 0.000_314_159_265_358_9,
    );
    registry
        .update(
            moved,
            AddressChange {
                location: Some(moved_to),
                street: Some(Some("Đường Mới, \"đã chuyển\"".to_owned())),
                ..AddressChange::default()
            },
        )
        .await
        .expect("move");
    let edited = first[6].code;
    registry
        .update(
            edited,
            AddressChange {
                unit: Some(Some("Tầng 3 – P.302".to_owned())),
                address: Some(Some("Số 7, ngõ 12; 'Phố Huế'\nHà Nội".to_owned())),
                client_ref: Some(Some("crm-42".to_owned())),
                house_number: Some(None),
                ..AddressChange::default()
            },
        )
        .await
        .expect("edit");
    registry.store().close().await;
    drop(registry);

    let original = sqlite_rows(&source.url).await;
    assert_eq!(original.len(), N as usize);
    let by_code = |code: VmapCode| {
        original
            .iter()
            .find(|row| row.code == code.canonical())
            .expect("row")
            .clone()
    };
    let retired_row = by_code(retired);
    assert_eq!(retired_row.status, "retired");
    assert_eq!(retired_row.successor_code, Some(successor.canonical()));
    assert!(retired_row.change_seq > N as i64);
    assert!(by_code(moved).change_seq > retired_row.change_seq);
    assert_eq!(by_code(edited).house_number, None);

    // Every stored geometry is vmap's EWKB of the point it was given: the seeded points
    // (ids in generation order) and the moved one.
    let zones = common::zones();
    let generated: Vec<LatLon> = vmap::synth::generate(&zones, N, 42, 50_000)
        .flatten()
        .map(|address| address.location)
        .collect();
    assert_eq!(generated.len(), N as usize);
    for row in &original {
        let expected = if row.code == moved.canonical() {
            moved_to
        } else {
            generated[row.id as usize - 1]
        };
        assert_eq!(
            row.geom,
            ewkb::encode_point(expected).to_vec(),
            "id {}",
            row.id
        );
    }

    // SQLite → PostgreSQL → a new SQLite file.
    let target = TestDb::create(&backend).await;
    let back_dir = tempfile::tempdir().expect("temp dir");
    let back_url = format!("sqlite://{}", back_dir.path().join("back.db").display());
    let started = Instant::now();
    let (ok, _, stderr) = run_vmap(&["copy", "--from", &source.url, "--to", &target.url]).await;
    assert!(ok, "copy to PostgreSQL failed:\n{stderr}");
    assert!(
        stderr.contains("copied 3000 addresses from sqlite to postgres"),
        "{stderr}"
    );
    let (ok, _, stderr) = run_vmap(&["copy", "--from", &target.url, "--to", &back_url]).await;
    assert!(ok, "copy back to SQLite failed:\n{stderr}");
    assert!(
        stderr.contains("copied 3000 addresses from postgres to sqlite"),
        "{stderr}"
    );
    eprintln!("two copies of {N} addresses took {:?}", started.elapsed());

    let in_postgres = postgres_rows(&target.url).await;
    let back = sqlite_rows(&back_url).await;
    assert_same_rows("SQLite → PostgreSQL", &original, &in_postgres);
    assert_same_rows("PostgreSQL → SQLite", &original, &back);

    // PostGIS reads the copied points as the exact coordinates.
    let mut conn = pg_connect(&target.url).await;
    let coordinates: Vec<(i64, f64, f64, i32)> = sqlx::query_as(
        "SELECT id, ST_Y(geom), ST_X(geom), ST_SRID(geom) FROM addresses ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("coordinates");
    for ((id, lat, lon, srid), row) in coordinates.iter().zip(&original) {
        let location = ewkb::decode_point(&row.geom).expect("EWKB");
        assert_eq!(*id, row.id);
        assert_eq!(*srid, 4326);
        assert_eq!(
            (lat.to_bits(), lon.to_bits()),
            (location.lat.to_bits(), location.lon.to_bits()),
            "id {id}"
        );
    }

    // Copying into a database that holds addresses fails clearly and changes nothing.
    let (ok, _, stderr) = run_vmap(&["copy", "--from", &source.url, "--to", &target.url]).await;
    assert!(!ok, "copy into a non-empty PostgreSQL database succeeded");
    assert!(
        stderr.contains("the target database is not empty (3000 addresses)"),
        "{stderr}"
    );
    let (ok, _, stderr) = run_vmap(&["copy", "--from", &target.url, "--to", &back_url]).await;
    assert!(!ok, "copy into a non-empty SQLite file succeeded");
    assert!(
        stderr.contains("the target database is not empty (3000 addresses)"),
        "{stderr}"
    );
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

    // New registrations after the copy draw ids and change numbers above the copied ones.
    let max_id = original.iter().map(|row| row.id).max().expect("rows");
    let max_seq = original
        .iter()
        .map(|row| row.change_seq)
        .max()
        .expect("rows");
    let copied = Registry::load(
        Store::connect(&target.url).await.expect("connect"),
        zones.clone(),
    )
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
    // The moved address keeps its code on the copy, at its new place.
    assert_eq!(reverse_codes(&copied, moved_to, 5.0).first(), Some(&moved));
    copied.store().close().await;
    conn.close().await.expect("close");
}

// ---------------------------------------------------------------------------------------
// 4. Two replicas on one database (DESIGN §8)
// ---------------------------------------------------------------------------------------

/// Addresses `vmap seed` puts in the replicas' database first.
const REPLICA_SEEDED: u64 = 20_000;
/// How long a replica may take to see another's write (DESIGN §8: within a second).
const FOLLOW_BOUND: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut body = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n").ok_or_else(|| bad("chunk size line"))?;
        let size_text = std::str::from_utf8(&raw[..line_end]).map_err(|_| bad("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if raw.len() < size + 2 {
            return Err(bad("truncated chunk"));
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
async fn try_http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 60 s"))??;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = find(&raw, b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("headers"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[head_end + 4..];
    response.body = if response
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("content-length"))?;
        if length != response.body.len() {
            return Err(bad("body shorter than its content-length"));
        }
    }
    Ok(response)
}

async fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    try_http(port, method, path, content_type, body)
        .await
        .unwrap_or_else(|err| panic!("{method} {path} on port {port}: {err}"))
}

async fn http_get(port: u16, path: &str) -> HttpResponse {
    http(port, "GET", path, None, b"").await
}

/// A port nobody listened on a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// A running `vmap serve`; killed when dropped, whatever happened.
#[derive(Debug)]
struct Server {
    name: &'static str,
    port: u16,
    log: PathBuf,
    child: std::process::Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- log of replica {} ---\n{}", self.name, self.log_text());
        }
    }
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts `vmap serve` on a free port and waits until it answers `/readyz` with 200.
    async fn start(name: &'static str, database_url: &str, log_dir: &Path) -> Server {
        for _ in 0..3 {
            let port = free_port();
            let log = log_dir.join(format!("replica-{name}.log"));
            let log_file = std::fs::File::create(&log).expect("log file");
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_vmap"))
                .args(["serve", "--database-url", database_url, "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .env_remove("VMAP_API_TOKENS")
                .env_remove("VMAP_READ_ONLY")
                .env_remove("VMAP_FOLLOW_INTERVAL_MS")
                .env("RUST_LOG", "info,sqlx=error")
                .stdin(std::process::Stdio::null())
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                .spawn()
                .expect("start vmap serve");
            let mut server = Server {
                name,
                port,
                log,
                child,
            };
            if server.wait_ready().await {
                return server;
            }
            // Someone took the port between our probe and the server's bind: try another.
        }
        panic!("replica {name} could not find a free port in 3 attempts");
    }

    /// `true` once ready; `false` when the server exited because its port was taken.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                let log = self.log_text();
                if log.contains("cannot listen") {
                    return false;
                }
                panic!("replica {} exited with {status}:\n{log}", self.name);
            }
            if let Ok(response) = try_http(self.port, "GET", "/readyz", None, b"").await
                && response.status == 200
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not ready after 120 s:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Two replicas on one PostgreSQL database seeded with [`REPLICA_SEEDED`] addresses.
/// Field order matters: the servers are killed before the database is dropped.
struct Replicas {
    a: Server,
    b: Server,
    db: TestDb,
}

async fn start_replicas(backend: &Backend) -> Replicas {
    let db = TestDb::create(backend).await;
    let count = REPLICA_SEEDED.to_string();
    let (ok, stdout, stderr) = run_vmap(&[
        "seed",
        "--database-url",
        &db.url,
        "--addresses",
        &count,
        "--seed",
        "1",
    ])
    .await;
    assert!(ok, "vmap seed failed:\n{stdout}\n{stderr}");
    let started = Instant::now();
    let (a, b) = tokio::join!(
        Server::start("a", &db.url, db.dir.path()),
        Server::start("b", &db.url, db.dir.path())
    );
    eprintln!(
        "two replicas with {REPLICA_SEEDED} addresses ready in {:?}",
        started.elapsed()
    );
    Replicas { a, b, db }
}

/// Codes in a `/v1/reverse` answer.
fn answered_codes(response: &HttpResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|address| address["code"].as_str().map(str::to_owned))
        .collect()
}

fn reverse_path(at: LatLon) -> String {
    format!(
        "/v1/reverse?lat={:?}&lon={:?}&radius_m=5&limit=10",
        at.lat, at.lon
    )
}

/// Polls `port`'s reverse at `at` every 20 ms until `done` holds for the codes answered;
/// returns how long that took from `since`. Gives up (and fails) after 10 s.
async fn poll_reverse_until(
    port: u16,
    at: LatLon,
    since: Instant,
    done: impl Fn(&[String]) -> bool,
) -> Duration {
    let path = reverse_path(at);
    loop {
        let codes = answered_codes(&http_get(port, &path).await);
        if done(&codes) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "replica on port {port} still answers {codes:?} at {at:?} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_assigned_through_one_replica_is_answered_by_the_other_within_a_second() {
    let Some(backend) = postgres_or_skip(
        "an_address_assigned_through_one_replica_is_answered_by_the_other_within_a_second",
    ) else {
        return;
    };
    let replicas = start_replicas(&backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let places = [
        point(21.030_123_456_789, 105.852_345_678_91),
        point(10.776_543_210_987, 106.700_123_456_78),
        point(16.054_321_098_765, 108.202_987_654_32),
        point(12.238_765_432_109, 109.196_543_210_98),
        point(20.950_123_987_654, 107.080_456_789_01),
    ];
    let mut delays = Vec::new();
    for (n, at) in places.iter().enumerate() {
        let body = serde_json::json!({
            "lat": at.lat, "lon": at.lon, "house_number": format!("R{n}"), "street": "Phố Thử",
        });
        let response = http(
            a.port,
            "POST",
            "/v1/addresses",
            Some("application/json"),
            body.to_string().as_bytes(),
        )
        .await;
        let answered = Instant::now();
        assert_eq!(response.status, 201, "{}", response.text());
        let code = response.json()["code"].as_str().expect("code").to_owned();
        // The replica that wrote answers at once.
        assert_eq!(
            answered_codes(&http_get(a.port, &reverse_path(*at)).await).first(),
            Some(&code)
        );
        let delay =
            poll_reverse_until(b.port, *at, answered, |codes| codes.first() == Some(&code)).await;
        eprintln!("replica b answered {code} {delay:?} after replica a registered it");
        delays.push(delay);
        // B's lookup reads the database: it knows the code whatever its memory holds.
        let lookup = http_get(b.port, &format!("/v1/codes/{code}")).await;
        assert_eq!(lookup.status, 200, "{}", lookup.text());
        assert_eq!(lookup.json()["status"], "active");
    }
    let slowest = delays.iter().max().copied().unwrap_or_default();
    eprintln!("catch-up delays: {delays:?} (slowest {slowest:?})");
    assert!(
        slowest < FOLLOW_BOUND,
        "replica b took {slowest:?} to answer an address registered on replica a"
    );
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retire_through_one_replica_disappears_from_the_other() {
    let Some(backend) = postgres_or_skip("a_retire_through_one_replica_disappears_from_the_other")
    else {
        return;
    };
    let replicas = start_replicas(&backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let mut conn = pg_connect(&replicas.db.url).await;
    let victims: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT code, ST_Y(geom), ST_X(geom) FROM addresses WHERE status = 'active' \
         ORDER BY id LIMIT 3 OFFSET 1000",
    )
    .fetch_all(&mut conn)
    .await
    .expect("victims");
    conn.close().await.expect("close");
    assert_eq!(victims.len(), 3);
    let mut delays = Vec::new();
    for (code, lat, lon) in &victims {
        let at = point(*lat, *lon);
        assert!(answered_codes(&http_get(b.port, &reverse_path(at)).await).contains(code));
        let response = http(
            a.port,
            "DELETE",
            &format!("/v1/addresses/{code}"),
            None,
            b"",
        )
        .await;
        let answered = Instant::now();
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json()["status"], "retired");
        assert!(!answered_codes(&http_get(a.port, &reverse_path(at)).await).contains(code));
        let delay = poll_reverse_until(b.port, at, answered, |codes| !codes.contains(code)).await;
        eprintln!("replica b dropped retired {code} {delay:?} after replica a retired it");
        delays.push(delay);
        let lookup = http_get(b.port, &format!("/v1/codes/{code}")).await;
        assert_eq!(lookup.status, 200, "{}", lookup.text());
        let lookup = lookup.json();
        assert_eq!(lookup["registered"], true);
        assert_eq!(lookup["status"], "retired");
    }
    let slowest = delays.iter().max().copied().unwrap_or_default();
    eprintln!("retire catch-up delays: {delays:?} (slowest {slowest:?})");
    assert!(
        slowest < FOLLOW_BOUND,
        "replica b took {slowest:?} to drop an address retired on replica a"
    );
    // Both replicas agree on the counts once b has followed.
    let status_a = http_get(a.port, "/v1/status").await.json();
    let status_b = http_get(b.port, "/v1/status").await.json();
    assert_eq!(status_a["retired_addresses"], 3);
    assert_eq!(status_b["retired_addresses"], 3);
    assert_eq!(status_a["active_addresses"], status_b["active_addresses"]);
    drop(replicas);
}

/// The answered list by input id: (code, status).
fn answers_by_id(
    response: &HttpResponse,
    expected_rows: usize,
) -> BTreeMap<String, (String, String)> {
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = common::parse_csv(&response.text());
    assert_eq!(rows.len(), expected_rows, "rows answered");
    let mut answers = BTreeMap::new();
    for row in &rows {
        let status = common::column(&header, row, "status");
        assert!(
            status == "created" || status == "existing",
            "row {row:?} answered {status}"
        );
        assert!(
            common::column(&header, row, "error_code").is_empty(),
            "{row:?}"
        );
        let code = common::column(&header, row, "code").to_owned();
        assert!(VmapCode::parse(&code).is_ok(), "{row:?}");
        answers.insert(
            common::column(&header, row, "id").to_owned(),
            (code, status.to_owned()),
        );
    }
    assert_eq!(answers.len(), expected_rows, "ids are unique");
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_assigning_overlapping_lists_at_once_never_issue_one_code_twice() {
    let Some(backend) = postgres_or_skip(
        "two_replicas_assigning_overlapping_lists_at_once_never_issue_one_code_twice",
    ) else {
        return;
    };
    let replicas = start_replicas(&backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let list = common::synth_csv(4_500, 9);
    let mut lines = list.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4_500);
    let list_a = format!("{header}\n{}\n", rows[..3_000].join("\n"));
    let list_b = format!("{header}\n{}\n", rows[1_500..].join("\n"));

    let started = Instant::now();
    let (answer_a, answer_b) = tokio::join!(
        http(
            a.port,
            "POST",
            "/v1/assign",
            Some("text/csv"),
            list_a.as_bytes()
        ),
        http(
            b.port,
            "POST",
            "/v1/assign",
            Some("text/csv"),
            list_b.as_bytes()
        ),
    );
    eprintln!(
        "two overlapping lists of 3000 rows assigned at once in {:?}",
        started.elapsed()
    );
    let answers_a = answers_by_id(&answer_a, 3_000);
    let answers_b = answers_by_id(&answer_b, 3_000);
    for server in [a, b] {
        let retries = server
            .log_text()
            .matches("another writer took a code first")
            .count();
        eprintln!(
            "replica {} retried {retries} batch(es) after a code conflict",
            server.name
        );
    }

    // Rows in both lists got one code, created by at most one replica.
    let mut overlap = 0;
    for (id, (code_a, status_a)) in &answers_a {
        if let Some((code_b, status_b)) = answers_b.get(id) {
            overlap += 1;
            assert_eq!(code_a, code_b, "row {id}: a said {code_a}, b said {code_b}");
            assert!(
                !(status_a == "created" && status_b == "created"),
                "row {id}: both replicas say they created {code_a}"
            );
        }
    }
    assert_eq!(overlap, 1_500);
    let created = |answers: &BTreeMap<String, (String, String)>| {
        answers
            .values()
            .filter(|(_, status)| status == "created")
            .count() as i64
    };
    let (created_a, created_b) = (created(&answers_a), created(&answers_b));
    eprintln!("replica a created {created_a}, replica b created {created_b}");

    let mut conn = pg_connect(&replicas.db.url).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(total, REPLICA_SEEDED as i64 + created_a + created_b);
    let duplicated: Vec<String> =
        sqlx::query_scalar("SELECT code FROM addresses GROUP BY code HAVING count(*) > 1")
            .fetch_all(&mut conn)
            .await
            .expect("duplicates");
    assert!(duplicated.is_empty(), "codes issued twice: {duplicated:?}");
    let same_place: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT ST_AsText(geom), house_number, count(DISTINCT code) FROM addresses \
         WHERE status = 'active' GROUP BY geom, house_number HAVING count(DISTINCT code) > 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("same places");
    assert!(
        same_place.is_empty(),
        "one place under several codes: {same_place:?}"
    );
    // Every code either replica answered is registered.
    let answered: Vec<String> = answers_a
        .values()
        .chain(answers_b.values())
        .map(|(code, _)| code.clone())
        .collect();
    let registered: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT code) FROM addresses WHERE code = ANY($1)")
            .bind(&answered)
            .fetch_one(&mut conn)
            .await
            .expect("registered");
    let distinct: std::collections::BTreeSet<&String> = answered.iter().collect();
    assert_eq!(registered, distinct.len() as i64);
    let max_seq: i64 = sqlx::query_scalar("SELECT max(change_seq) FROM addresses")
        .fetch_one(&mut conn)
        .await
        .expect("max change_seq");
    conn.close().await.expect("close");

    // Once both have followed every change, the replicas decide the whole list alike.
    let deadline = Instant::now() + Duration::from_secs(10);
    for server in [a, b] {
        loop {
            let status = http_get(server.port, "/v1/status").await.json();
            if status["data_version"].as_i64() == Some(max_seq) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} is at {} of {max_seq}",
                server.name,
                status["data_version"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (dry_a, dry_b) = tokio::join!(
        http(
            a.port,
            "POST",
            "/v1/assign?dry_run=true",
            Some("text/csv"),
            list.as_bytes()
        ),
        http(
            b.port,
            "POST",
            "/v1/assign?dry_run=true",
            Some("text/csv"),
            list.as_bytes()
        ),
    );
    let dry_a = answers_by_id(&dry_a, 4_500);
    let dry_b = answers_by_id(&dry_b, 4_500);
    assert_eq!(
        dry_a, dry_b,
        "the replicas decide the same list differently"
    );
    for (id, (code, status)) in &dry_a {
        assert_eq!(status, "existing", "row {id} would be new again");
        let first = answers_a
            .get(id)
            .or_else(|| answers_b.get(id))
            .expect("row");
        assert_eq!(code, &first.0, "row {id} now matches another code");
    }
    drop(replicas);
}
