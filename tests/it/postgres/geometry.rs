//! Geometry written by vmap, read by PostGIS: the exact coordinates, SRID 4326, vmap's own
//! EWKB, and a GiST index that serves nearest-neighbour queries.

use std::collections::HashMap;

use sqlx::{Connection, Row};

use vmap::api::{self, AppState, Limits};
use vmap::code::VmapCode;
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, Registry};
use vmap::store::ewkb;

use super::{created_code, point, row_at};
use crate::helpers::harness::trials;
use crate::helpers::{Backend, pg_connect, post_json, seeded_registry};

trials! {
    postgres: [points_written_by_vmap_read_back_in_postgis],
}

const SEEDED: u64 = 5_000;
/// Points registered by the test: 12 in each of three cities.
const SENT: usize = 36;

async fn points_written_by_vmap_read_back_in_postgis(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, SEEDED).await;
    let sent = register_points_both_ways(&registry).await;
    assert_eq!(sent.len(), SENT);

    let mut conn = pg_connect(&db.url).await;
    for (code, location) in &sent {
        assert_postgis_reads_what_vmap_sent(&mut conn, *code, *location).await;
    }
    assert_every_row_is_a_point_postgis_reads_exactly(&mut conn, &registry).await;
    assert_knn_uses_the_gist_index_and_finds(&mut conn, sent[0]).await;
    conn.close().await.expect("close");
    registry.store().close().await;
}

/// Points with long binary fractions in three cities; half registered through the
/// registry, half through the HTTP API. Returns (code, point sent) of each.
async fn register_points_both_ways(registry: &std::sync::Arc<Registry>) -> Vec<(VmapCode, LatLon)> {
    let router = api::app(AppState::ready(registry.clone(), Limits::default()));
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
                continue;
            }
            let body = serde_json::json!({
                "lat": location.lat, "lon": location.lon, "house_number": house,
            });
            let response = post_json(&router, "/v1/addresses", body.to_string()).await;
            assert_eq!(response.status, 201, "{}", response.text());
            let code = response.json()["code"]
                .as_str()
                .map(VmapCode::parse)
                .expect("code")
                .expect("well-formed code");
            sent.push((code, location));
        }
    }
    let rows: Vec<_> = through_registry
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
    sent
}

/// The row of `code` is a 2-D point in SRID 4326 at exactly `location`, stored as vmap's
/// EWKB of it, in the postal zone of the code.
async fn assert_postgis_reads_what_vmap_sent(
    conn: &mut sqlx::PgConnection,
    code: VmapCode,
    location: LatLon,
) {
    let row = sqlx::query(
        "SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom), GeometryType(geom), \
         ST_AsEWKB(geom, 'NDR'), postcode FROM addresses WHERE code = $1",
    )
    .bind(code.canonical())
    .fetch_one(conn)
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
        ewkb::encode_point(location).to_vec(),
        "{code}"
    );
    assert_eq!(row.get::<String, _>(5), code.postcode().to_string());
}

/// Every row, seeded ones included: a 2-D point in SRID 4326 whose coordinates PostGIS
/// reads exactly as vmap's own EWKB decoder does.
async fn assert_every_row_is_a_point_postgis_reads_exactly(
    conn: &mut sqlx::PgConnection,
    registry: &Registry,
) {
    let odd: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM addresses WHERE ST_SRID(geom) <> 4326 OR GeometryType(geom) <> 'POINT' \
         OR ST_NDims(geom) <> 2",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("count");
    assert_eq!(odd, 0);
    let coordinates: HashMap<i64, (u64, u64)> =
        sqlx::query("SELECT id, ST_Y(geom), ST_X(geom) FROM addresses")
            .fetch_all(&mut *conn)
            .await
            .expect("coordinates")
            .iter()
            .map(|row| {
                let lat: f64 = row.get(1);
                let lon: f64 = row.get(2);
                (row.get(0), (lat.to_bits(), lon.to_bits()))
            })
            .collect();
    let n_rows = SEEDED as usize + SENT;
    assert_eq!(coordinates.len(), n_rows);
    let stored = registry
        .store()
        .addresses_after(0, 10_000)
        .await
        .expect("rows");
    assert_eq!(stored.len(), n_rows);
    for row in &stored {
        assert_eq!(
            coordinates.get(&row.id),
            Some(&(row.location.lat.to_bits(), row.location.lon.to_bits())),
            "id {}",
            row.id
        );
    }
}

/// The GiST index serves nearest-neighbour queries, and the nearest active address to the
/// place of `first` is `first`.
async fn assert_knn_uses_the_gist_index_and_finds(
    conn: &mut sqlx::PgConnection,
    first: (VmapCode, LatLon),
) {
    sqlx::query("ANALYZE addresses")
        .execute(&mut *conn)
        .await
        .expect("analyze");
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT code FROM addresses \
         ORDER BY geom <-> ST_SetSRID(ST_MakePoint(105.8542, 21.0285), 4326) LIMIT 5",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("explain");
    let plan = plan.join("\n");
    assert!(
        plan.contains("addresses_geom"),
        "the KNN query does not use the GiST index:\n{plan}"
    );
    let (code, at) = first;
    let nearest: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM addresses WHERE status = 'active' \
         ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326), id LIMIT 1",
    )
    .bind(at.lon)
    .bind(at.lat)
    .fetch_all(&mut *conn)
    .await
    .expect("knn");
    assert_eq!(nearest, vec![code.canonical()]);
}
