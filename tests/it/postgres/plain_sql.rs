//! Rows written by plain SQL, as a person at psql would: numbered by the database's trigger,
//! served by a registry loaded afterwards, and followed by one loaded before.

use sqlx::Connection;

use vmap::address::AddressStatus;
use vmap::code::VmapCode;
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, AssignOutcome, CodeLookup, Registry};
use vmap::store::Store;
use vmap::zones::ZoneTable;

use super::{point, reverse_codes, row_at};
use crate::helpers::harness::trials;
use crate::helpers::{Backend, pg_connect, seeded_registry, zones};

trials! {
    postgres: [rows_inserted_by_plain_sql_are_served],
}

const SEEDED: u64 = 2_000;

/// An address a plain SQL writer registers: a valid code it computed, its zone, its point.
#[derive(Debug, Clone)]
struct PlainAddress {
    code: VmapCode,
    postcode: String,
    at: LatLon,
}

async fn rows_inserted_by_plain_sql_are_served(backend: &Backend) {
    // Loaded before anything is written by plain SQL; it has no follower task.
    let (db, before) = seeded_registry(backend, SEEDED).await;
    let zones = zones();
    let addresses = unregistered_addresses(&before, &zones).await;
    let mut conn = pg_connect(&db.url).await;

    let seeded_max_seq = insert_by_plain_sql(&mut conn, &addresses).await;
    let after = Registry::load(
        Store::connect(&db.url).await.expect("connect"),
        zones.clone(),
    )
    .await
    .expect("load");
    assert_serves(&after, &addresses).await;
    after.store().close().await;

    // The registry loaded before does not know them until it catches up.
    for address in &addresses {
        assert!(!reverse_codes(&before, address.at, 5.0).contains(&address.code));
    }
    assert_eq!(before.catch_up().await.expect("catch up"), 3);
    assert_eq!(before.followed_seq(), seeded_max_seq + 3);
    assert_serves(&before, &addresses).await;
    assert_eq!(before.status().n_active, SEEDED + 3);

    // A move and a retirement by plain SQL are followed too (the trigger numbers them).
    let moved = addresses[0].clone();
    let moved_to = point(moved.at.lat + 0.000_4, moved.at.lon - 0.000_3); // ~55 m
    let retired = addresses[1].clone();
    move_and_retire_by_plain_sql(&mut conn, &moved, moved_to, &retired).await;
    let renumbered: Vec<String> =
        sqlx::query_scalar("SELECT code FROM addresses WHERE change_seq > $1 ORDER BY change_seq")
            .bind(seeded_max_seq + 3)
            .fetch_all(&mut conn)
            .await
            .expect("renumbered rows");
    assert_eq!(
        renumbered,
        vec![moved.code.canonical(), retired.code.canonical()]
    );
    assert!(reverse_codes(&before, moved.at, 5.0).contains(&moved.code));
    assert_eq!(before.catch_up().await.expect("catch up"), 2);
    assert_eq!(before.followed_seq(), seeded_max_seq + 5);
    assert!(!reverse_codes(&before, moved.at, 5.0).contains(&moved.code));
    assert_moved_and_retired(&before, &moved, moved_to, &retired).await;
    let status = before.status();
    assert_eq!((status.n_active, status.n_retired), (SEEDED + 2, 1));
    assert_eq!(before.catch_up().await.expect("catch up"), 0);

    // Registering the place of a plain SQL row again answers its code.
    let outcomes = before
        .assign_batch(&[row_at(addresses[2].at, "5")], AssignOptions::default())
        .await
        .expect("assign");
    assert_eq!(
        outcomes,
        vec![AssignOutcome::Existing {
            code: addresses[2].code,
            distance_m: 0.0
        }]
    );

    // And a registry loaded now sees the same.
    let later = Registry::load(Store::connect(&db.url).await.expect("connect"), zones)
        .await
        .expect("load");
    assert_moved_and_retired(&later, &moved, moved_to, &retired).await;
    later.store().close().await;
    before.store().close().await;
    conn.close().await.expect("close");
}

/// Three places in three cities whose codes no seeded address holds.
async fn unregistered_addresses(registry: &Registry, zones: &ZoneTable) -> Vec<PlainAddress> {
    let places = [
        point(16.463_712_345_678_9, 107.590_912_345_678_9), // Huế
        point(10.045_212_345_678_9, 105.746_912_345_678_9), // Cần Thơ
        point(20.844_912_345_678_9, 106.688_112_345_678_9), // Hải Phòng
    ];
    let mut addresses = Vec::new();
    for at in places {
        let address = plain_sql_address(zones, at);
        assert!(
            matches!(
                registry.lookup(address.code).await.expect("lookup"),
                CodeLookup::Unregistered { .. }
            ),
            "{} is already taken by a seeded address; pick another point",
            address.code
        );
        addresses.push(address);
    }
    addresses
}

/// A point, its zone's postal code and the (valid) code a plain SQL writer computes for it.
fn plain_sql_address(zones: &ZoneTable, at: LatLon) -> PlainAddress {
    let (zone_id, _) = zones
        .resolve_by_geometry(at, vmap::code::PostalScheme::Legacy)
        .expect("the point is in coverage");
    let postcode = zones.get(zone_id).postcode;
    let code = VmapCode::encode(postcode, zones.reference_of(zone_id), at).expect("encode");
    PlainAddress {
        code,
        postcode: postcode.to_string(),
        at,
    }
}

/// Inserts the addresses with literal SQL and checks that the database numbered and stamped
/// them; returns the highest change number before the inserts.
async fn insert_by_plain_sql(conn: &mut sqlx::PgConnection, addresses: &[PlainAddress]) -> i64 {
    let seeded_max_seq: i64 = sqlx::query_scalar("SELECT max(change_seq) FROM addresses")
        .fetch_one(&mut *conn)
        .await
        .expect("max change_seq");
    for address in addresses {
        let sql = format!(
            "INSERT INTO addresses (code, postcode, geom, house_number) \
             VALUES ('{}', '{}', ST_SetSRID(ST_MakePoint({:?}, {:?}), 4326), '5')",
            address.code.canonical(),
            address.postcode,
            address.at.lon,
            address.at.lat
        );
        sqlx::raw_sql(&sql)
            .execute(&mut *conn)
            .await
            .expect("plain insert");
    }
    let stamped: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT change_seq, created_at, updated_at FROM addresses WHERE change_seq > $1 ORDER BY change_seq",
    )
    .bind(seeded_max_seq)
    .fetch_all(&mut *conn)
    .await
    .expect("stamped rows");
    assert_eq!(stamped.len(), addresses.len(), "{stamped:?}");
    assert!(
        stamped
            .iter()
            .all(|&(_, created, updated)| created > 0 && updated >= created)
    );
    seeded_max_seq
}

async fn move_and_retire_by_plain_sql(
    conn: &mut sqlx::PgConnection,
    moved: &PlainAddress,
    moved_to: LatLon,
    retired: &PlainAddress,
) {
    sqlx::raw_sql(&format!(
        "UPDATE addresses SET geom = ST_SetSRID(ST_MakePoint({:?}, {:?}), 4326) WHERE code = '{}'",
        moved_to.lon,
        moved_to.lat,
        moved.code.canonical()
    ))
    .execute(&mut *conn)
    .await
    .expect("plain move");
    sqlx::raw_sql(&format!(
        "UPDATE addresses SET status = 'retired' WHERE code = '{}'",
        retired.code.canonical()
    ))
    .execute(&mut *conn)
    .await
    .expect("plain retire");
}

/// Reverse answers each address first at its place, and a lookup finds it there, active.
async fn assert_serves(registry: &Registry, addresses: &[PlainAddress]) {
    for address in addresses {
        assert_eq!(
            reverse_codes(registry, address.at, 5.0).first(),
            Some(&address.code),
            "reverse at {:?}",
            address.at
        );
        assert_registered_at(registry, address.code, address.at, AddressStatus::Active).await;
    }
}

/// `moved` is answered at `moved_to`, its code unchanged; `retired` is no longer answered
/// but its code still looks up, retired, at its place.
async fn assert_moved_and_retired(
    registry: &Registry,
    moved: &PlainAddress,
    moved_to: LatLon,
    retired: &PlainAddress,
) {
    assert_eq!(
        reverse_codes(registry, moved_to, 5.0).first(),
        Some(&moved.code)
    );
    assert_registered_at(registry, moved.code, moved_to, AddressStatus::Active).await;
    assert!(!reverse_codes(registry, retired.at, 5.0).contains(&retired.code));
    assert_registered_at(registry, retired.code, retired.at, AddressStatus::Retired).await;
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
