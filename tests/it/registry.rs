//! The registry on SQLite and on PostgreSQL: seeding, loading, lookups, zone resolution.

use std::collections::HashSet;

use vmap::address::AddressStatus;
use vmap::code::{PostalScheme, VmapCode};
use vmap::point::LatLon;
use vmap::progress::Progress;
use vmap::registry::{CodeLookup, Registry, RegistryError, ReverseQuery};
use vmap::store::Store;
use vmap::zones::ZoneMethod;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, seeded_registry, zones};

trials! {
    each_backend: [
        seeding_is_deterministic_and_codes_are_unique,
        seeding_refuses_a_non_empty_database,
        every_seeded_code_decodes_to_a_cell_holding_its_point,
        lookup_finds_registered_and_decodes_unregistered,
        zone_resolution_prefers_nearby_addresses_then_geometry,
        reload_gives_the_same_answers,
    ],
}

async fn all_rows(store: &Store) -> Vec<(i64, String, LatLon)> {
    let mut rows = Vec::new();
    store
        .for_each_index_row(|row| {
            rows.push((row.id, row.code.canonical(), row.location));
            Ok(())
        })
        .await
        .expect("read");
    // Rows arrive in no particular order (several connections read at once).
    rows.sort_by_key(|row| row.0);
    rows
}

async fn seeding_is_deterministic_and_codes_are_unique(backend: &Backend) {
    let first = TestDb::create(backend).await;
    let second = TestDb::create(backend).await;
    let mut results = Vec::new();
    for db in [&first, &second] {
        let store = Store::connect(&db.url).await.expect("connect");
        let report = vmap::synth::seed(
            &store,
            zones(),
            5_000,
            9,
            &Progress::quiet("seeding", 5_000),
        )
        .await
        .expect("seed");
        assert_eq!(report.n_addresses, 5_000);
        results.push(all_rows(&store).await);
    }
    assert_eq!(results[0], results[1]);
    let codes: HashSet<&String> = results[0].iter().map(|(_, code, _)| code).collect();
    assert_eq!(codes.len(), 5_000, "a code was issued twice");
}

async fn seeding_refuses_a_non_empty_database(backend: &Backend) {
    let (db, _registry) = seeded_registry(backend, 100).await;
    let store = Store::connect(&db.url).await.expect("connect");
    let error = vmap::synth::seed(&store, zones(), 10, 1, &Progress::quiet("seeding", 10)).await;
    assert!(
        matches!(error, Err(vmap::synth::SeedError::NotEmpty(100))),
        "{error:?}"
    );
}

async fn every_seeded_code_decodes_to_a_cell_holding_its_point(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 2_000).await;
    let store = Store::connect(&db.url).await.expect("connect");
    for (_, code, location) in all_rows(&store).await {
        let code: VmapCode = code.parse().expect("stored code parses");
        let reference = registry
            .zones()
            .reference_point(code.postcode())
            .expect("known postcode");
        let cell = code.cell(reference);
        assert!(
            cell.south <= location.lat
                && location.lat < cell.north
                && cell.west <= location.lon
                && location.lon < cell.east,
            "{code} cell {cell:?} misses {location:?}"
        );
    }
}

async fn lookup_finds_registered_and_decodes_unregistered(backend: &Backend) {
    let (_db, registry) = seeded_registry(backend, 1_000).await;
    let near = registry.reverse(
        LatLon {
            lat: 16.0544,
            lon: 108.2022,
        },
        ReverseQuery::new(1, 50_000.0).expect("valid query"),
    );
    let address = near.addresses.first().expect("an address near Da Nang");
    match registry.lookup(address.code).await.expect("lookup") {
        CodeLookup::Registered { address: row, .. } => {
            assert_eq!(row.code, address.code);
            assert_eq!(row.status, AddressStatus::Active);
            assert_eq!(
                row.location,
                LatLon {
                    lat: address.lat,
                    lon: address.lon
                }
            );
        }
        other => panic!("expected registered, got {other:?}"),
    }
    let unregistered = address.code.base().with_suffix(500).expect("suffix");
    assert!(matches!(
        registry.lookup(unregistered).await,
        Ok(CodeLookup::Unregistered { .. })
    ));
    let unknown: VmapCode = "000002RWXP69".parse().expect("well-formed");
    assert!(matches!(
        registry.lookup(unknown).await,
        Err(RegistryError::UnknownPostcode(_))
    ));
}

async fn zone_resolution_prefers_nearby_addresses_then_geometry(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 3_000).await;
    let near = registry.reverse(
        LatLon {
            lat: 21.0285,
            lon: 105.8542,
        },
        ReverseQuery::new(1, 50_000.0).expect("valid query"),
    );
    let address = near.addresses.first().expect("an address near Hanoi");
    let at_address = LatLon {
        lat: address.lat,
        lon: address.lon,
    };
    let remote_point = LatLon {
        lat: 22.3,
        lon: 103.2,
    };
    let mid_ocean = LatLon {
        lat: 15.0,
        lon: 114.5,
    };
    // A new registry mints 2025 codes: the ward whose polygon holds the point, whatever
    // the addresses around it say.
    assert_eq!(registry.postal_scheme(), PostalScheme::Y2025);
    for point in [at_address, remote_point] {
        let resolved = registry.resolve_zone(point).expect("covered");
        assert_eq!(resolved.method, ZoneMethod::Polygon);
        let (map, ward) = registry
            .zones()
            .boundary_ward_of_zone(resolved.zone_id)
            .expect("a 2025 zone");
        assert_eq!(map.index().ward_at(point), Some(ward));
    }
    assert!(registry.resolve_zone(mid_ocean).is_none());

    // A registry minting legacy codes: the nearby addresses' zone, else by geometry.
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .set_postal_scheme(PostalScheme::Legacy)
        .await
        .expect("legacy");
    registry.catch_up().await.expect("catch up");
    assert_eq!(registry.postal_scheme(), PostalScheme::Legacy);
    let resolved = registry.resolve_zone(at_address).expect("covered");
    assert_eq!(resolved.method, ZoneMethod::Addresses);
    // Far from addresses but inside Vietnam: by box or nearest reference.
    let remote = registry.resolve_zone(remote_point).expect("covered");
    assert_ne!(remote.method, ZoneMethod::Addresses);
    // Mid-ocean: outside coverage.
    assert!(registry.resolve_zone(mid_ocean).is_none());
}

async fn reload_gives_the_same_answers(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 2_000).await;
    let query = LatLon {
        lat: 10.78,
        lon: 106.70,
    };
    let before = registry.reverse(query, ReverseQuery::new(10, 50_000.0).expect("valid query"));
    let store = Store::connect(&db.url).await.expect("connect");
    let reloaded = Registry::load(store, zones()).await.expect("reload");
    assert_eq!(
        reloaded.reverse(query, ReverseQuery::new(10, 50_000.0).expect("valid query")),
        before
    );
    assert_eq!(reloaded.status().n_active, 2_000);
}
