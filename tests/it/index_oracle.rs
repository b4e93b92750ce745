//! The index against its oracle: every answer must equal a brute-force haversine scan.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmap::index::{IndexEntry, PointIndex, brute_force_nearest};
use vmap::point::{LatLon, LatLonBox};

use crate::helpers::harness::trials;

trials! {
    plain: [
        nearest_equals_brute_force_on_10000_queries,
        equal_distances_are_ordered_by_id,
        inserts_and_removals_are_seen_at_once,
        radius_and_limit_are_respected,
        inserts_after_a_bulk_load_of_any_size_work_and_stay_exact,
        stacked_points_and_rejections_widen_the_search_and_stay_exact,
        for_each_within_covers_the_radius,
        nearest_in_box_equals_brute_force_with_live_points,
    ],
}

/// Cities (dense clusters), a sparse countryside, exact duplicates, and a regular grid whose
/// centre is equidistant from many points.
fn points() -> Vec<IndexEntry> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cities = [
        (21.0285, 105.8542),
        (10.7769, 106.7009),
        (16.0544, 108.2022),
        (20.8449, 106.6881),
    ];
    let mut locations = Vec::new();
    for &(lat, lon) in &cities {
        for _ in 0..1_500 {
            let spread = if rng.random_bool(0.8) { 0.01 } else { 0.1 };
            locations.push((
                lat + rng.random_range(-spread..spread),
                lon + rng.random_range(-spread..spread),
            ));
        }
    }
    for _ in 0..1_500 {
        locations.push((rng.random_range(8.5..23.4), rng.random_range(102.1..109.5)));
    }
    // Exact duplicates (flats in one building).
    for idx in 0..200 {
        let (lat, lon) = locations[idx * 7];
        locations.push((lat, lon));
    }
    // A regular grid around a centre, 10 m apart.
    for row in -5..=5 {
        for col in -5..=5 {
            locations.push((12.0 + row as f64 * 0.0001, 107.0 + col as f64 * 0.0001));
        }
    }
    locations
        .into_iter()
        .enumerate()
        .map(|(id, (lat, lon))| IndexEntry::new(LatLon { lat, lon }, id as u32))
        .collect()
}

fn query_strategy(entries: &[IndexEntry]) -> impl Strategy<Value = LatLon> + use<> {
    let on_points: Vec<LatLon> = entries.iter().map(|entry| entry.location).collect();
    let on_points_again = on_points.clone();
    prop_oneof![
        // Inside dense clusters.
        (
            prop::sample::select(on_points),
            -0.002f64..0.002,
            -0.002f64..0.002
        )
            .prop_map(|(point, dlat, dlon)| LatLon {
                lat: point.lat + dlat,
                lon: point.lon + dlon
            }),
        // Exactly on address points.
        prop::sample::select(on_points_again),
        // Between cities, anywhere over Vietnam.
        (8.0f64..24.0, 102.0f64..110.0).prop_map(|(lat, lon)| LatLon { lat, lon }),
        // At equal distances: grid centre and midpoints of the grid.
        (-5i32..=5, -5i32..=5).prop_map(|(row, col)| LatLon {
            lat: 12.0 + row as f64 * 0.0001 + 0.00005,
            lon: 107.0 + col as f64 * 0.0001 + 0.00005,
        }),
        Just(LatLon {
            lat: 12.0,
            lon: 107.0
        }),
        // Far outside Vietnam, poles and the antimeridian included.
        (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| LatLon { lat, lon }),
        Just(LatLon {
            lat: 90.0,
            lon: 0.0
        }),
        Just(LatLon {
            lat: -10.0,
            lon: -75.0
        }),
    ]
}

fn nearest_equals_brute_force_on_10000_queries() {
    let entries = points();
    let index = PointIndex::bulk_load(entries.clone());
    assert_eq!(index.len(), entries.len());
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        query_strategy(&entries),
        prop_oneof![Just(1usize), Just(3), Just(10), Just(100)],
        prop_oneof![
            Just(1.0f64),
            Just(50.0),
            Just(1_000.0),
            Just(50_000.0),
            Just(20_000_000.0)
        ],
        any::<bool>(),
    );
    runner
        .run(&strategy, |(query, limit, radius_m, filtered)| {
            // A filter like "active only": it must not end the search early.
            let accept = |id: u32| !filtered || !id.is_multiple_of(3);
            let expected = brute_force_nearest(&entries, query, limit, radius_m, accept);
            let got = index.nearest(query, limit, radius_m, accept);
            prop_assert_eq!(
                got,
                expected,
                "query {:?} limit {} radius {}",
                query,
                limit,
                radius_m
            );
            Ok(())
        })
        .expect("index disagrees with brute force");
}

fn equal_distances_are_ordered_by_id() {
    let center = LatLon {
        lat: 12.0,
        lon: 107.0,
    };
    // Four points symmetric around the centre in longitude: pairs at equal distance.
    let entries = vec![
        IndexEntry::new(
            LatLon {
                lat: 12.0,
                lon: 107.001,
            },
            9,
        ),
        IndexEntry::new(
            LatLon {
                lat: 12.0,
                lon: 106.999,
            },
            4,
        ),
        IndexEntry::new(
            LatLon {
                lat: 12.0,
                lon: 107.001,
            },
            2,
        ),
        IndexEntry::new(
            LatLon {
                lat: 12.0,
                lon: 106.999,
            },
            7,
        ),
    ];
    let index = PointIndex::bulk_load(entries.clone());
    let got = index.nearest(center, 4, 1_000.0, |_| true);
    assert_eq!(
        got,
        brute_force_nearest(&entries, center, 4, 1_000.0, |_| true)
    );
    // Mirror images in longitude are exactly equally far: the order falls back to the id.
    assert!(
        got.iter()
            .all(|neighbor| neighbor.distance_m == got[0].distance_m),
        "{got:?}"
    );
    let ids: Vec<u32> = got.iter().map(|neighbor| neighbor.id).collect();
    assert_eq!(ids, vec![2, 4, 7, 9]);
}

fn inserts_and_removals_are_seen_at_once() {
    let mut index = PointIndex::bulk_load(points());
    let spot = LatLon {
        lat: 15.5,
        lon: 104.5,
    };
    index.insert(IndexEntry::new(spot, 999_999));
    let found = index.nearest(spot, 1, 1.0, |_| true);
    assert_eq!(found.first().map(|neighbor| neighbor.id), Some(999_999));
    assert!(index.remove(spot, 999_999));
    assert!(!index.remove(spot, 999_999));
    assert!(index.nearest(spot, 1, 1.0, |_| true).is_empty());
}

fn radius_and_limit_are_respected() {
    let entries = points();
    let index = PointIndex::bulk_load(entries);
    let query = LatLon {
        lat: 21.0285,
        lon: 105.8542,
    };
    let found = index.nearest(query, 100, 500.0, |_| true);
    assert!(!found.is_empty() && found.len() <= 100);
    assert!(found.iter().all(|neighbor| neighbor.distance_m <= 500.0));
    assert!(
        found
            .windows(2)
            .all(|pair| pair[0].distance_m <= pair[1].distance_m)
    );
    assert!(index.nearest(query, 0, 500.0, |_| true).is_empty());
    assert!(
        index
            .nearest(
                LatLon {
                    lat: -40.0,
                    lon: -60.0
                },
                5,
                50_000.0,
                |_| true
            )
            .is_empty()
    );
}

/// rstar 0.12's bulk loader can leave leaves at different depths and a later insert into
/// such a tree panics (georust/rstar#243) at sizes like these; the index must not.
fn inserts_after_a_bulk_load_of_any_size_work_and_stay_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for size in [3_100usize, 3_300, 25_000, 27_000] {
        let mut entries: Vec<IndexEntry> = (0..size)
            .map(|id| {
                let location = LatLon {
                    lat: rng.random_range(8.5..23.4),
                    lon: rng.random_range(102.1..109.5),
                };
                IndexEntry::new(location, id as u32)
            })
            .collect();
        let mut index = PointIndex::bulk_load(entries.clone());
        // Enough inserts to fold the live tree into the main one at least once.
        for id in size..size + 60_000 {
            let location = LatLon {
                lat: rng.random_range(8.5..23.4),
                lon: rng.random_range(102.1..109.5),
            };
            let entry = IndexEntry::new(location, id as u32);
            index.insert(entry);
            entries.push(entry);
        }
        // Move some points (remove + insert), from both the bulk-loaded and the inserted ones.
        for id in (0..entries.len()).step_by(997) {
            let old = entries[id];
            assert!(
                index.remove(old.location, old.id),
                "size {size}: point {id} not found"
            );
            let moved = IndexEntry::new(
                LatLon {
                    lat: old.location.lat + 0.001,
                    lon: old.location.lon,
                },
                old.id,
            );
            index.insert(moved);
            entries[id] = moved;
        }
        assert_eq!(index.len(), entries.len());
        for _ in 0..200 {
            let query = LatLon {
                lat: rng.random_range(8.5..23.4),
                lon: rng.random_range(102.1..109.5),
            };
            assert_eq!(
                index.nearest(query, 5, 50_000.0, |_| true),
                brute_force_nearest(&entries, query, 5, 50_000.0, |_| true),
                "size {size}"
            );
        }
    }
}

/// Hundreds of points on one spot and a filter that rejects most of them: the k-d tree's
/// first few candidates cannot settle the answer, so the search must widen until it can.
fn stacked_points_and_rejections_widen_the_search_and_stay_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let spot = LatLon {
        lat: 10.7769,
        lon: 106.7009,
    };
    let mut entries: Vec<IndexEntry> = (0..600u32).map(|id| IndexEntry::new(spot, id)).collect();
    for id in 600..20_000u32 {
        let location = LatLon {
            lat: spot.lat + rng.random_range(-0.01..0.01),
            lon: spot.lon + rng.random_range(-0.01..0.01),
        };
        entries.push(IndexEntry::new(location, id));
    }
    let mut index = PointIndex::bulk_load(entries.clone());
    // Remove a few of the stacked points from the (immutable) main tree.
    for id in [3u32, 100, 599] {
        assert!(index.remove(spot, id));
        assert!(!index.remove(spot, id));
    }
    entries.retain(|entry| ![3, 100, 599].contains(&entry.id));
    let odd_only = |id: u32| id % 7 == 3;
    for limit in [1usize, 3, 50, 1_000, usize::MAX] {
        for query in [
            spot,
            LatLon {
                lat: spot.lat + 0.00001,
                lon: spot.lon,
            },
        ] {
            assert_eq!(
                index.nearest(query, limit, 2_000.0, odd_only),
                brute_force_nearest(&entries, query, limit, 2_000.0, odd_only),
                "limit {limit}"
            );
            assert_eq!(
                index.nearest(query, limit, 2_000.0, |_| true),
                brute_force_nearest(&entries, query, limit, 2_000.0, |_| true),
                "limit {limit}"
            );
        }
    }
    index.fold_live();
    assert_eq!(index.len(), entries.len());
    assert_eq!(
        index.nearest(spot, 10, 100.0, |_| true),
        brute_force_nearest(&entries, spot, 10, 100.0, |_| true)
    );
}

/// `for_each_within` hands out every point within the radius (and at most a hair more),
/// from the main tree and the live tree alike, and none that was removed.
fn for_each_within_covers_the_radius() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut entries = points();
    let mut index = PointIndex::bulk_load(entries.clone());
    for id in 0..2_000u32 {
        let base = entries[(id as usize * 31) % entries.len()].location;
        let entry = IndexEntry::new(
            LatLon {
                lat: base.lat + rng.random_range(-0.00003..0.00003),
                lon: base.lon + rng.random_range(-0.00003..0.00003),
            },
            1_000_000 + id,
        );
        index.insert(entry);
        entries.push(entry);
    }
    let removed = entries.swap_remove(10);
    assert!(index.remove(removed.location, removed.id));
    for probe in entries.iter().step_by(97).take(300) {
        let mut got: Vec<u32> = Vec::new();
        index.for_each_within(probe.location, 5.0, |id| got.push(id));
        got.sort_unstable();
        let mut want: Vec<u32> =
            brute_force_nearest(&entries, probe.location, usize::MAX, 5.0, |_| true)
                .iter()
                .map(|neighbor| neighbor.id)
                .collect();
        want.sort_unstable();
        assert!(
            want.iter().all(|id| got.binary_search(id).is_ok()),
            "missed a point"
        );
        assert!(!got.contains(&removed.id));
        let beyond = brute_force_nearest(&entries, probe.location, usize::MAX, 5.001, |_| true);
        assert!(got.len() <= beyond.len(), "far points handed out");
    }
}

/// Boxes over the main tree and the live one, after removals: the box's points nearest its
/// centre, as a scan of the box finds them.
fn nearest_in_box_equals_brute_force_with_live_points() {
    let mut entries = points();
    let mut index = PointIndex::bulk_load(entries.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let next_id = entries.len() as u32;
    for idx in 0..2_000 {
        let entry = IndexEntry::new(
            LatLon {
                lat: rng.random_range(20.8..21.3),
                lon: rng.random_range(105.6..106.1),
            },
            next_id + idx,
        );
        index.insert(entry);
        entries.push(entry);
    }
    for idx in (0..entries.len()).step_by(9) {
        assert!(index.remove(entries[idx].location, entries[idx].id));
    }
    let removed: std::collections::HashSet<u32> = (0..entries.len())
        .step_by(9)
        .map(|idx| entries[idx].id)
        .collect();
    entries.retain(|entry| !removed.contains(&entry.id));
    for _ in 0..300 {
        let (west, east) = ordered(
            rng.random_range(102.0..110.0),
            rng.random_range(102.0..110.0),
        );
        let (south, north) = ordered(rng.random_range(8.0..24.0), rng.random_range(8.0..24.0));
        let bbox = LatLonBox::new(west, south, east, north).expect("a box");
        let limit = [1, 10, 500, 5_000][rng.random_range(0..4)];
        let odd = |id: u32| id % 2 == 1;
        let inside: Vec<IndexEntry> = entries
            .iter()
            .copied()
            .filter(|entry| bbox.contains(entry.location))
            .collect();
        let expected = brute_force_nearest(&inside, bbox.center(), limit, f64::INFINITY, odd);
        assert_eq!(
            index.nearest_in_box(bbox, limit, odd),
            expected,
            "{bbox:?} {limit}"
        );
    }
}

fn ordered(a: f64, b: f64) -> (f64, f64) {
    (a.min(b), a.max(b))
}
