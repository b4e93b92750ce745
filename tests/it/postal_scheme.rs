//! The registry's postal scheme on SQLite and PostgreSQL: recorded in `vmap_meta`, 2025 for
//! a new registry, legacy for one that held addresses until `vmap migrate-postcodes`
//! (dry run and real run); old codes keep their 12 characters and are still looked up and
//! decoded; replicas agree; a far-apart legacy number never collides with a 2025 code.

use std::sync::Arc;

use vmap::address::{AddressParts, NewAddress};
use vmap::code::{PostalScheme, Postcode, VmapCode};
use vmap::point::LatLon;
use vmap::registry::{AssignOptions, AssignOutcome, AssignRow, CodeLookup, Registry};
use vmap::store::Store;
use vmap::zones::ZoneTable;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, run_vmap, zones};

trials! {
    each_backend: [
        a_new_registry_mints_2025_codes,
        migrate_postcodes_switches_minting_and_keeps_every_issued_code,
        a_far_apart_legacy_code_never_collides_with_a_2025_code,
    ],
}

/// Hoàn Kiếm, Hà Nội; Quận 1, Hồ Chí Minh; Đà Lạt.
const POINTS: [LatLon; 3] = [
    LatLon {
        lat: 21.0285,
        lon: 105.8542,
    },
    LatLon {
        lat: 10.7769,
        lon: 106.7009,
    },
    LatLon {
        lat: 11.9404,
        lon: 108.4583,
    },
];

fn rows(points: &[LatLon]) -> Vec<AssignRow> {
    points
        .iter()
        .map(|&location| AssignRow {
            location,
            parts: AddressParts::default(),
        })
        .collect()
}

async fn assign(registry: &Registry, points: &[LatLon]) -> Vec<VmapCode> {
    registry
        .assign_batch(&rows(points), AssignOptions::default())
        .await
        .expect("assign")
        .into_iter()
        .map(|outcome| match outcome {
            AssignOutcome::Created { code } => code,
            other => panic!("not created: {other:?}"),
        })
        .collect()
}

/// The postcode each table gives a point: the 2025 ward by polygon, the legacy zone by box.
fn expected_postcode(zones: &ZoneTable, point: LatLon, scheme: PostalScheme) -> Postcode {
    let (zone_id, _) = zones
        .resolve_by_geometry(point, scheme)
        .expect("in coverage");
    zones.get(zone_id).postcode
}

async fn a_new_registry_mints_2025_codes(backend: &Backend) {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    assert_eq!(
        store.postal_scheme().await.expect("scheme"),
        PostalScheme::Y2025
    );
    let registry = Registry::load(store, zones()).await.expect("load");
    assert_eq!(registry.postal_scheme(), PostalScheme::Y2025);
    let codes = assign(&registry, &POINTS).await;
    for (code, &point) in codes.iter().zip(&POINTS) {
        assert_eq!(
            code.postcode(),
            expected_postcode(registry.zones(), point, PostalScheme::Y2025)
        );
        let zone = registry.resolve_zone(point).expect("a zone");
        assert_eq!(
            registry.zones().get(zone.zone_id).scheme,
            PostalScheme::Y2025
        );
    }
}

async fn migrate_postcodes_switches_minting_and_keeps_every_issued_code(backend: &Backend) {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    // A registry from before this change: the migration found addresses and recorded legacy.
    store
        .set_postal_scheme(PostalScheme::Legacy)
        .await
        .expect("set legacy");
    let writer = Registry::load(store, zones()).await.expect("load");
    let replica = Registry::load(Store::connect(&db.url).await.expect("connect"), zones())
        .await
        .expect("load replica");
    assert_eq!(writer.postal_scheme(), PostalScheme::Legacy);
    let old_codes = assign(&writer, &POINTS).await;
    for (code, &point) in old_codes.iter().zip(&POINTS) {
        assert_eq!(
            code.postcode(),
            expected_postcode(writer.zones(), point, PostalScheme::Legacy),
            "a legacy registry mints legacy codes"
        );
    }

    let dry = run_vmap(["migrate-postcodes", "--database-url", &db.url, "--dry-run"])
        .await
        .assert_success();
    assert!(
        dry.stdout.contains("registry mints legacy codes"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("addresses: 3 active, 0 retired"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    let check = Store::connect(&db.url).await.expect("connect");
    assert_eq!(
        check.postal_scheme().await.expect("scheme"),
        PostalScheme::Legacy
    );

    let real = run_vmap(["migrate-postcodes", "--database-url", &db.url])
        .await
        .assert_success();
    assert!(
        real.stdout.contains("now minted with the 2025"),
        "{}",
        real.stdout
    );
    assert_eq!(
        check.postal_scheme().await.expect("scheme"),
        PostalScheme::Y2025
    );

    // The replica has not caught up: its next batch is refused by the database, which it
    // notices, and decided again in 2025.
    let new_points = POINTS.map(|point| LatLon {
        lat: point.lat + 0.001,
        lon: point.lon + 0.001,
    });
    let new_codes = assign(&replica, &new_points).await;
    assert_eq!(replica.postal_scheme(), PostalScheme::Y2025);
    for (code, &point) in new_codes.iter().zip(&new_points) {
        assert_eq!(
            code.postcode(),
            expected_postcode(replica.zones(), point, PostalScheme::Y2025)
        );
    }
    // The writer learns it at its next catch-up.
    writer.catch_up().await.expect("catch up");
    assert_eq!(writer.postal_scheme(), PostalScheme::Y2025);

    // Old codes: same 12 characters, still found and decoded to the cell of their point.
    for (code, &point) in old_codes.iter().zip(&POINTS) {
        let stored = check
            .get_by_code(code)
            .await
            .expect("read")
            .expect("still there");
        assert_eq!(stored.code.canonical(), code.canonical());
        match writer.lookup(*code).await.expect("lookup") {
            CodeLookup::Registered { address, cell, .. } => {
                assert_eq!(address.location, point);
                assert!(
                    (cell.south..=cell.north).contains(&point.lat)
                        && (cell.west..=cell.east).contains(&point.lon),
                    "{code} decodes elsewhere"
                );
            }
            other => panic!("{other:?}"),
        }
        // Decoding without the registry: the 2025 table first, then the legacy one.
        let reference = writer
            .zones()
            .reference_point(code.postcode())
            .expect("a known number");
        let cell = code.cell(reference);
        assert!(
            (cell.south..=cell.north).contains(&point.lat)
                && (cell.west..=cell.east).contains(&point.lon),
            "{code} decodes elsewhere offline"
        );
    }
    check.close().await;
}

async fn a_far_apart_legacy_code_never_collides_with_a_2025_code(backend: &Backend) {
    let zones: Arc<ZoneTable> = zones();
    let number = Postcode::parse("66662").expect("postcode");
    let legacy_zone = zones
        .by_postcode_in(number, PostalScheme::Legacy)
        .expect("legacy 66662");
    let legacy_reference = zones.get(legacy_zone).center;
    let zone_2025 = zones
        .by_postcode_in(number, PostalScheme::Y2025)
        .expect("2025 66662");
    let (map, ward) = zones.boundary_ward_of_zone(zone_2025).expect("a 2025 ward");
    // A point of the 2025 ward, and the point a whole number of degrees away whose legacy
    // code (made through the legacy reference, in Lai Châu) has the same 12 characters.
    let bbox = map.index().ward(ward).bbox;
    let mut pair = None;
    'search: for i in 0..40 {
        for j in 0..40 {
            let here = LatLon {
                lat: bbox.south + (bbox.north - bbox.south) * (f64::from(i) + 0.5) / 40.0,
                lon: bbox.west + (bbox.east - bbox.west) * (f64::from(j) + 0.5) / 40.0,
            };
            if map.index().ward_at(here) != Some(ward) {
                continue;
            }
            let there = LatLon {
                lat: here.lat + (legacy_reference.lat - here.lat).round(),
                lon: here.lon + (legacy_reference.lon - here.lon).round(),
            };
            if let Ok(legacy_code) = VmapCode::encode(number, legacy_reference, there) {
                pair = Some((here, there, legacy_code));
                break 'search;
            }
        }
    }
    let (here, there, legacy_code) = pair.expect("such a pair exists");

    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    // Issued by the registry before the 2025 table existed.
    store
        .insert_addresses(&[NewAddress {
            code: legacy_code,
            location: there,
            parts: AddressParts::default(),
        }])
        .await
        .expect("insert the legacy code");
    let registry = Registry::load(store, zones.clone()).await.expect("load");
    assert_eq!(registry.postal_scheme(), PostalScheme::Y2025);
    let minted = assign(&registry, &[here]).await;
    assert_eq!(
        minted[0].base(),
        legacy_code.base(),
        "the same 12 characters"
    );
    assert_eq!(minted[0].suffix(), Some(2), "{}", minted[0]);
    // The legacy code is still found, in Lai Châu.
    match registry.lookup(legacy_code).await.expect("lookup") {
        CodeLookup::Registered {
            address, zone_id, ..
        } => {
            assert_eq!(address.location, there);
            assert_eq!(zone_id, legacy_zone);
        }
        other => panic!("{other:?}"),
    }
}
