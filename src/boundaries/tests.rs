//! The codec and the index on generated wards (the embedded file is tested in
//! `tests/boundaries.rs`).

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// A star-shaped ring around a centre (simple by construction), 1e-5° integers.
fn star(rng: &mut ChaCha8Rng, centre: [f64; 2], min_r: f64, max_r: f64, n: usize) -> Vec<[i32; 2]> {
    let mut ring: Vec<[i32; 2]> = (0..n)
        .map(|idx| {
            let angle =
                std::f64::consts::TAU * (idx as f64 + rng.random_range(0.0..0.8)) / n as f64;
            let radius = rng.random_range(min_r..max_r);
            [
                ((centre[0] + radius * angle.cos()) * 1e5).round() as i32,
                ((centre[1] + radius * angle.sin()) * 1e5).round() as i32,
            ]
        })
        .collect();
    ring.dedup();
    ring
}

fn square(west: i32, south: i32, size: i32) -> Vec<[i32; 2]> {
    vec![
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
    ]
}

/// Wards that exercise every case: neighbours sharing edges exactly (a row of squares),
/// stars that overlap their neighbours, holes (one filled by another ward), islands, a
/// ring wound clockwise, and sea between them.
fn generated_wards(seed: u64) -> Vec<RawWard> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut wards = Vec::new();
    let mut push = |code: u32, parts: Vec<Vec<Vec<[i32; 2]>>>| {
        wards.push(RawWard {
            ward_code: code,
            province_code: 1,
            name: format!("Phường {code}"),
            parts,
        });
    };
    // Squares of 0.01° at 105.00–105.04, 21.00: shared edges and shared corners.
    for idx in 0..4 {
        push(
            100 + idx as u32,
            vec![vec![square(10_500_000 + idx * 1_000, 2_100_000, 1_000)]],
        );
    }
    // Overlapping stars north of them, the lower code listed last in the input.
    for idx in (0..5).rev() {
        let centre = [105.005 + 0.008 * idx as f64, 21.03];
        push(
            200 + idx as u32,
            vec![vec![star(&mut rng, centre, 0.003, 0.006, 40)]],
        );
    }
    // A ward with a hole, the hole filled by a ward of higher code; an island ward.
    let outer = star(&mut rng, [105.1, 21.0], 0.02, 0.03, 60);
    let hole = star(&mut rng, [105.1, 21.0], 0.005, 0.01, 30);
    let mut hole_clockwise = hole.clone();
    hole_clockwise.reverse();
    push(300, vec![vec![outer, hole_clockwise]]);
    push(301, vec![vec![hole]]);
    let mut island_a = star(&mut rng, [105.2, 20.9], 0.004, 0.008, 20);
    island_a.reverse();
    let island_b = star(&mut rng, [105.23, 20.92], 0.002, 0.004, 12);
    push(400, vec![vec![island_a], vec![island_b]]);
    wards
}

fn feature_line(ward: &RawWard) -> String {
    let parts: Vec<String> = ward
        .parts
        .iter()
        .map(|part| {
            let rings: Vec<String> = part
                .iter()
                .map(|ring| {
                    let positions: Vec<String> = ring
                        .iter()
                        .chain(ring.first())
                        .map(|&[x, y]| format!("[{},{}]", f64::from(x) / 1e5, f64::from(y) / 1e5))
                        .collect();
                    format!("[{}]", positions.join(","))
                })
                .collect();
            format!("[{}]", rings.join(","))
        })
        .collect();
    format!(
        r#"{{"type":"Feature","properties":{{"ward_code":"{:05}","province_code":"{:02}","ward":"{}"}},"geometry":{{"type":"MultiPolygon","coordinates":[{}]}}}}"#,
        ward.ward_code,
        ward.province_code,
        ward.name,
        parts.join(",")
    )
}

fn compiled(wards: &[RawWard]) -> (Vec<u8>, CompileSummary) {
    let text: String = wards.iter().map(|ward| feature_line(ward) + "\n").collect();
    let mut bytes = Vec::new();
    let summary = compile(text.as_bytes(), &mut bytes).expect("generated wards compile");
    (bytes, summary)
}

#[test]
fn compiled_file_round_trips_vertex_exact() {
    for seed in 0..4 {
        let wards = generated_wards(seed);
        let (bytes, summary) = compiled(&wards);
        let boundaries = Boundaries::decode(&bytes).expect("the compiled file decodes");
        assert_eq!(summary.n_wards, wards.len());
        assert_eq!(summary.n_bytes, bytes.len());
        assert_eq!(boundaries.vertex_count(), summary.n_vertices);
        let mut sorted = wards.clone();
        sorted.sort_by_key(|ward| ward.ward_code);
        for (ward_id, ward) in sorted.iter().enumerate() {
            let decoded = boundaries.ward(ward_id as WardId);
            assert_eq!(decoded.ward_code, format!("{:05}", ward.ward_code));
            assert_eq!(decoded.name, ward.name);
            assert_eq!(
                boundaries.ward_rings_fixed_point(ward_id as WardId),
                ward.parts
            );
            let geodesic = boundaries
                .multi_polygon(ward_id as WardId)
                .orient(Direction::Default)
                .geodesic_area_unsigned();
            assert_eq!(decoded.area_m2, geodesic);
        }
    }
}

#[test]
fn repeated_vertices_and_the_closing_vertex_are_dropped() {
    let mut ring = square(10_500_000, 2_100_000, 1_000);
    ring.insert(2, ring[1]);
    let ward = RawWard {
        ward_code: 1,
        province_code: 1,
        name: "x".to_owned(),
        parts: vec![vec![ring]],
    };
    let (bytes, summary) = compiled(&[ward]);
    assert_eq!(summary.n_repeated_vertices_dropped, 1);
    assert_eq!(summary.n_vertices, 5);
    let boundaries = Boundaries::decode(&bytes).expect("decodes");
    assert_eq!(
        boundaries.ward_rings_fixed_point(0),
        vec![vec![square(10_500_000, 2_100_000, 1_000)]]
    );
}

#[test]
fn bad_input_is_refused_with_its_line() {
    let good = feature_line(&generated_wards(0)[0]);
    let cases = [
        (good.replace("105.01", "105.012345"), "more than 5 decimals"),
        (good.replace("\"00100\"", "\"100\""), "is not 5 digits"),
        (
            good.replace("MultiPolygon", "LineString"),
            "not a (Multi)Polygon",
        ),
        ("{".to_owned(), "not a JSON object"),
    ];
    for (line, expected) in cases {
        let text = format!("{good}\n{line}\n");
        let error = compile(text.as_bytes(), Vec::new()).expect_err("bad input is refused");
        let message = error.to_string();
        assert!(
            message.starts_with("line 2 of the boundary GeoJSON"),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
    let twice = format!("{good}\n{good}\n");
    let error = compile(twice.as_bytes(), Vec::new()).expect_err("duplicates are refused");
    assert!(
        error.to_string().contains("already appeared on line 1"),
        "{error}"
    );
}

#[test]
fn damaged_files_are_refused() {
    let (bytes, _) = compiled(&generated_wards(1));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    assert!(matches!(
        Boundaries::decode(&flipped),
        Err(BoundaryError::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        Boundaries::decode(&bytes[..bytes.len() - 1]),
        Err(BoundaryError::Truncated { .. })
    ));
    assert!(matches!(
        Boundaries::decode(b"PK\x03\x04 not ours at all, long enough"),
        Err(BoundaryError::NotABoundaryFile)
    ));
    let mut future = bytes.clone();
    future[8] = 99;
    let error = Boundaries::decode(&future).expect_err("version 99 is refused");
    assert_eq!(
        error.to_string(),
        format!(
            "boundary file version 99 is not supported (this vmap reads version {FORMAT_VERSION})"
        )
    );
}

fn check_point(index: &BoundaryIndex, oracle: &BruteForce<'_>, point: LatLon) {
    let expected = oracle.locate(point);
    assert_eq!(index.locate(point), expected, "at {point:?}");
    let holders = oracle.holders(point);
    assert_eq!(
        index.ward_at(point),
        holders.first().copied(),
        "at {point:?}"
    );
}

#[test]
fn vertices_and_edge_points_belong_to_the_lowest_ward_holding_them() {
    let wards = generated_wards(7);
    let (bytes, _) = compiled(&wards);
    let index = BoundaryIndex::new(Boundaries::decode(&bytes).expect("decodes")).expect("index");
    let oracle = BruteForce::new(index.boundaries());
    let vertices = index.boundaries().vertices.clone();
    for pair in vertices.windows(2) {
        for t in [0.0, 0.5] {
            let point = LatLon {
                lon: pair[0][0] + t * (pair[1][0] - pair[0][0]),
                lat: pair[0][1] + t * (pair[1][1] - pair[0][1]),
            };
            check_point(&index, &oracle, point);
        }
    }
    // The shared edge of wards 00100 and 00101 goes to 00100, their shared corner too.
    let shared = LatLon {
        lat: 21.005,
        lon: 105.01,
    };
    assert_eq!(index.locate(shared), Located::Inside(0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn index_agrees_with_brute_force(seed in 0u64..1_000, points in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0), 200)) {
        let wards = generated_wards(seed);
        let (bytes, _) = compiled(&wards);
        let index = BoundaryIndex::new(Boundaries::decode(&bytes).expect("decodes")).expect("index");
        let oracle = BruteForce::new(index.boundaries());
        // Over the wards and 3 km of sea around them.
        for (u, v) in points {
            let point = LatLon { lon: 104.97 + u * 0.31, lat: 20.86 + v * 0.24 };
            check_point(&index, &oracle, point);
        }
    }
}

#[test]
fn reference_points_reach_their_wards() {
    let (bytes, _) = compiled(&generated_wards(3));
    let index = BoundaryIndex::new(Boundaries::decode(&bytes).expect("decodes")).expect("index");
    for (ward_id, ward) in index.boundaries().wards().iter().enumerate() {
        assert!(ward.reach.is_whole(), "{}", ward.ward_code);
        assert_eq!(index.ward_at(ward.reference), Some(ward_id as WardId));
    }
}

#[test]
fn reaching_agrees_with_the_encoder() {
    use crate::code::{Postcode, VmapCode};
    let reference = LatLon {
        lat: 10.0,
        lon: 106.0,
    };
    let ward = Ward {
        ward_code: "00001".to_owned(),
        province_code: "01".to_owned(),
        name: String::new(),
        bbox: BoundingBox {
            south: 0.0,
            west: 0.0,
            north: 0.0,
            east: 0.0,
        },
        area_m2: 0.0,
        reference,
        reach: ReferenceReach {
            n_parts: 1,
            n_parts_reached: 1,
            area_reached_m2: 0.0,
        },
        parts: 0..1,
    };
    let postcode = Postcode::new(10000).expect("a postcode");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..2_000 {
        let point = LatLon {
            lat: 10.0 + rng.random_range(-0.46..0.46),
            lon: 106.0 + rng.random_range(-0.46..0.46),
        };
        assert_eq!(
            ward.reference_reaches(point),
            VmapCode::encode(postcode, reference, point).is_ok(),
            "{point:?}"
        );
    }
}
