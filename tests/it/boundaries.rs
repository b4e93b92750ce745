//! The 2025 ward boundaries shipped in `data/`: counts, point → ward against the brute-force
//! oracle, the centroids of `data/vn_wards_34.csv`, and the reference points.
//! (The boundary file is rebuilt by `vmap data compile-boundaries`.)

use std::collections::BTreeMap;
use std::sync::LazyLock;

use geo::Contains;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmap::boundaries::{BoundaryIndex, BruteForce, Located, WardId};
use vmap::point::LatLon;

use crate::helpers::harness::trials;

trials! {
    plain: [
        embedded_file_has_every_ward_and_vertex,
        areas_and_boxes_are_plausible,
        csv_centroids_lie_in_their_own_ward_but_the_listed_ones,
        reference_points_lie_inside_and_reach_their_wards,
        points_inside_wards_resolve_as_brute_force_says,
        points_near_boundaries_resolve_as_brute_force_says,
        gaps_and_sea_resolve_as_brute_force_says,
    ],
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

static INDEX: LazyLock<BoundaryIndex> =
    LazyLock::new(|| BoundaryIndex::embedded().expect("the embedded boundaries load"));
static ORACLE: LazyLock<BruteForce<'static>> =
    LazyLock::new(|| BruteForce::new(INDEX.boundaries()));

const WARDS_CSV: &str = include_str!("../../data/vn_wards_34.csv");

fn ward_id(code: &str) -> WardId {
    INDEX
        .boundaries()
        .by_code(code)
        .unwrap_or_else(|| panic!("ward {code} is in the boundary file"))
}

fn code(ward: WardId) -> &'static str {
    &INDEX.ward(ward).ward_code
}

fn embedded_file_has_every_ward_and_vertex() {
    let boundaries = INDEX.boundaries();
    assert_eq!(boundaries.wards().len(), 3_321);
    assert_eq!(boundaries.part_count(), 5_371);
    assert_eq!(boundaries.ring_count(), 5_374);
    // GeoJSON's count, closing vertices included (2 739 699 are stored).
    assert_eq!(boundaries.vertex_count(), 2_745_073);
    let mut csv_codes: Vec<String> = csv::Reader::from_reader(WARDS_CSV.as_bytes())
        .records()
        .map(|record| record.expect("a CSV row")[2].to_owned())
        .collect();
    csv_codes.sort();
    let file_codes: Vec<String> = boundaries
        .wards()
        .iter()
        .map(|ward| ward.ward_code.clone())
        .collect();
    assert_eq!(file_codes, csv_codes);
}

fn areas_and_boxes_are_plausible() {
    let wards = INDEX.boundaries().wards();
    let total_km2: f64 = wards.iter().map(|ward| ward.area_m2).sum::<f64>() / 1e6;
    // Vietnam's land is about 331 000 km²; Trường Sa's polygon adds 4 208 km² of sea.
    assert!((330_000.0..345_000.0).contains(&total_km2), "{total_km2}");
    for ward in wards {
        assert!(ward.area_m2 > 1e4, "{} {}", ward.ward_code, ward.area_m2);
        assert!(ward.bbox.contains(ward.reference), "{}", ward.ward_code);
    }
    let truong_sa = INDEX.ward(ward_id("22736"));
    assert!(
        (truong_sa.area_m2 / 1e6 - 4_208.0).abs() < 10.0,
        "{}",
        truong_sa.area_m2
    );
}

/// Every CSV centroid that lies outside its own ward's polygon, and what `locate` answers
/// for it. The centroids come from a geocoder (see `data/README.md`): 19 fall inside another
/// ward (mostly a same-named one, or a neighbour swapped with it), 3 lie within 2 km of their
/// own ward and resolve to it by the nearest-boundary rule, 2 resolve to a neighbour by that
/// rule, and 4 are farther than 2 km from every ward (two at sea off the island districts).
const CENTROIDS_OUTSIDE_THEIR_WARD: &[(&str, &str)] = &[
    ("04033", "03982"),
    ("04714", "03091"),
    ("04924", "08296"),
    ("06172", "06187"),
    ("06187", "05986"),
    ("06652", "06688"),
    ("06685", "06673"),
    ("06688", "06673"),
    ("06757", "06673"),
    ("06967", "06673"),
    ("06994", "06994 at 36 m"),
    ("07192", "07192 at 308 m"),
    ("08296", "04924"),
    ("10999", "11050"),
    ("11050", "10999"),
    ("14161", "14203 at 395 m"),
    ("19051", "19075"),
    ("20333", "outside"),
    ("20434", "20434 at 512 m"),
    ("22411", "outside"),
    ("22708", "22453"),
    ("22736", "outside"),
    ("28439", "28435"),
    ("28615", "30130"),
    ("29983", "28439"),
    ("30130", "28615"),
    ("30781", "outside"),
    ("30811", "30814 at 1618 m"),
];

fn csv_centroids_lie_in_their_own_ward_but_the_listed_ones() {
    let mut elsewhere = BTreeMap::new();
    for record in csv::Reader::from_reader(WARDS_CSV.as_bytes()).records() {
        let record = record.expect("a CSV row");
        let own = &record[2];
        let point = LatLon::new(
            record[5].parse().expect("a latitude"),
            record[6].parse().expect("a longitude"),
        )
        .expect("a valid centroid");
        let found = match INDEX.locate(point) {
            Located::Inside(ward) => code(ward).to_owned(),
            Located::NearestBoundary { ward, distance_m } => {
                format!("{} at {:.0} m", code(ward), distance_m)
            }
            Located::OutsideCoverage => "outside".to_owned(),
        };
        if found != own {
            elsewhere.insert(own.to_owned(), found);
        }
    }
    let listed: BTreeMap<String, String> = CENTROIDS_OUTSIDE_THEIR_WARD
        .iter()
        .map(|&(own, found)| (own.to_owned(), found.to_owned()))
        .collect();
    assert_eq!(elsewhere, listed);
}

/// Wards whose reference point cannot decode every point of them.
const PARTLY_REACHED: &[&str] = &["20333", "22736"];

fn reference_points_lie_inside_and_reach_their_wards() {
    let boundaries = INDEX.boundaries();
    let mut partly = Vec::new();
    for (idx, ward) in boundaries.wards().iter().enumerate() {
        let ward_id = idx as WardId;
        let reference = ward.reference;
        assert_eq!(
            INDEX.locate(reference),
            Located::Inside(ward_id),
            "{}",
            ward.ward_code
        );
        let polygon = boundaries.multi_polygon(ward_id);
        assert!(polygon.contains(&geo::Point::new(reference.lon, reference.lat)));
        let every_vertex_reached = polygon
            .0
            .iter()
            .flat_map(|part| part.exterior().coords())
            .all(|coord| {
                ward.reference_reaches(LatLon {
                    lat: coord.y,
                    lon: coord.x,
                })
            });
        assert_eq!(
            every_vertex_reached,
            ward.reach.is_whole(),
            "{}",
            ward.ward_code
        );
        if !ward.reach.is_whole() {
            partly.push(ward.ward_code.as_str());
            assert!(ward.reach.n_parts_reached > 0 && ward.reach.area_reached_m2 > 0.0);
        }
    }
    assert_eq!(partly, PARTLY_REACHED);
}

/// A random point inside a random part of a random ward (rejection sampling in its box).
fn point_in_some_part(rng: &mut ChaCha8Rng) -> LatLon {
    let boundaries = INDEX.boundaries();
    loop {
        let ward_id = rng.random_range(0..boundaries.wards().len()) as WardId;
        let polygon = boundaries.multi_polygon(ward_id);
        let part = &polygon.0[rng.random_range(0..polygon.0.len())];
        let Some(bbox) = geo::BoundingRect::bounding_rect(part) else {
            continue;
        };
        for _ in 0..200 {
            let point = LatLon {
                lon: rng.random_range(bbox.min().x..=bbox.max().x),
                lat: rng.random_range(bbox.min().y..=bbox.max().y),
            };
            if part.contains(&geo::Point::new(point.lon, point.lat)) {
                return point;
            }
        }
    }
}

/// A random point up to `max_offset_deg` away from a random vertex.
fn point_near_a_vertex(rng: &mut ChaCha8Rng, max_offset_deg: f64) -> LatLon {
    let boundaries = INDEX.boundaries();
    let ward_id = rng.random_range(0..boundaries.wards().len()) as WardId;
    let polygon = boundaries.multi_polygon(ward_id);
    let part = &polygon.0[rng.random_range(0..polygon.0.len())];
    let coords = &part.exterior().0;
    let vertex = coords[rng.random_range(0..coords.len())];
    LatLon {
        lon: vertex.x + rng.random_range(-max_offset_deg..=max_offset_deg),
        lat: vertex.y + rng.random_range(-max_offset_deg..=max_offset_deg),
    }
}

/// Points sampled inside each polygon (proptest over seeds, 8 random parts each) resolve
/// to the ward the oracle says.
fn points_inside_wards_resolve_as_brute_force_says() {
    runner(64)
        .run(&any::<u64>(), |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..8 {
                let point = point_in_some_part(&mut rng);
                let expected = ORACLE.locate(point);
                prop_assert!(matches!(expected, Located::Inside(_)));
                prop_assert_eq!(INDEX.locate(point), expected, "at {:?}", point);
                // Off the boundary, Intersects and Contains agree.
                prop_assert_eq!(ORACLE.containers(point).first().copied(), expected.ward());
            }
            Ok(())
        })
        .expect("every sampled point resolves as the oracle says");
}

fn points_near_boundaries_resolve_as_brute_force_says() {
    runner(32)
        .run(&any::<u64>(), |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // Metres from a vertex (gaps and overlaps of the simplification), then up to
            // 4 km (sea off the coast, beyond the 2 km rule).
            for max_offset_deg in [0.00003, 0.0003, 0.036] {
                let point = point_near_a_vertex(&mut rng, max_offset_deg);
                prop_assert_eq!(INDEX.locate(point), ORACLE.locate(point), "at {:?}", point);
            }
            Ok(())
        })
        .expect("every sampled point resolves as the oracle says");
}

fn gaps_and_sea_resolve_as_brute_force_says() {
    // Points in no polygon are rare near vertices; collect a few hundred of them.
    let mut rng = ChaCha8Rng::seed_from_u64(34);
    let (mut n_nearest, mut n_outside) = (0, 0);
    while n_nearest < 150 || n_outside < 20 {
        let point = point_near_a_vertex(&mut rng, if n_nearest < 150 { 0.0002 } else { 0.05 });
        if INDEX.ward_at(point).is_some() {
            continue;
        }
        let expected = ORACLE.locate(point);
        assert!(ORACLE.holders(point).is_empty(), "{point:?}");
        assert_eq!(INDEX.locate(point), expected, "at {point:?}");
        match expected {
            Located::NearestBoundary { .. } => n_nearest += 1,
            Located::OutsideCoverage => n_outside += 1,
            Located::Inside(_) => unreachable!("no ward holds {point:?}"),
        }
    }
}
