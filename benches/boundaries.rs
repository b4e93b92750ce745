//! 2025 ward boundaries: loading the embedded file, building the index, and point → ward
//! (`BoundaryIndex::ward_at` / `locate`) one point per iteration, on one core.
//!
//! Two query sets: synthetic delivery points (`vmap seed`'s addresses, dense in cities,
//! as real ones are), and points uniform over land. The reference row is the obvious
//! design the index replaces: an `rstar` tree of polygon-part boxes, `geo::Contains` on the
//! candidates (lowest code first).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use geo::{BoundingRect, Contains};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rstar::{AABB, RTree, primitives::GeomWithData};
use vmap::boundaries::{Boundaries, BoundaryIndex, EMBEDDED_BOUNDARIES, WardId};
use vmap::point::LatLon;

mod common;

/// Distinct query points per set: more than the caches hold of the index's hot parts.
const N_QUERIES: usize = 100_000;

type PartBox = GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, (WardId, usize)>;

/// The reference design: part boxes in an R-tree, `geo::Contains` on each candidate part.
struct RTreeContains {
    parts: Vec<geo::Polygon<f64>>,
    tree: RTree<PartBox>,
}

impl RTreeContains {
    fn new(boundaries: &Boundaries) -> RTreeContains {
        let mut parts = Vec::new();
        let mut boxes = Vec::new();
        for ward_id in 0..boundaries.wards().len() as WardId {
            for polygon in boundaries.multi_polygon(ward_id) {
                let rect = polygon.bounding_rect().expect("a part has vertices");
                boxes.push(PartBox::new(
                    rstar::primitives::Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    (ward_id, parts.len()),
                ));
                parts.push(polygon);
            }
        }
        RTreeContains {
            parts,
            tree: RTree::bulk_load(boxes),
        }
    }

    fn ward_at(&self, point: LatLon) -> Option<WardId> {
        let xy = [point.lon, point.lat];
        let geo_point = geo::Point::new(point.lon, point.lat);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point(xy))
            .filter(|entry| self.parts[entry.data.1].contains(&geo_point))
            .map(|entry| entry.data.0)
            .min()
    }
}

/// Points uniform over land: uniform in the mainland's box, kept when a ward holds them.
fn uniform_land_points(index: &BoundaryIndex, n: usize) -> Vec<LatLon> {
    let mut rng = ChaCha8Rng::seed_from_u64(common::QUERY_SEED);
    let mut points = Vec::with_capacity(n);
    while points.len() < n {
        let point = LatLon {
            lat: rng.random_range(8.4..23.4),
            lon: rng.random_range(102.1..109.5),
        };
        if index.ward_at(point).is_some() {
            points.push(point);
        }
    }
    points
}

/// Times `op` on one point per iteration, walking through `points` in order.
fn per_point<T>(bencher: &mut criterion::Bencher<'_>, points: &[LatLon], op: impl Fn(LatLon) -> T) {
    let mut position = 0;
    bencher.iter_custom(|iters| {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(op(black_box(points[position])));
            position += 1;
            if position == points.len() {
                position = 0;
            }
        }
        started.elapsed()
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();

    let mut load = criterion.benchmark_group("boundaries/load");
    load.sample_size(10);
    load.bench_function("decode", |bencher| {
        bencher.iter(|| Boundaries::decode(black_box(EMBEDDED_BOUNDARIES)).expect("decodes"));
    });
    load.bench_function("decode+index", |bencher| {
        bencher.iter(|| BoundaryIndex::embedded().expect("loads"));
    });
    load.finish();

    let started = Instant::now();
    let index = BoundaryIndex::embedded().expect("the embedded boundaries load");
    eprintln!(
        "index: {:.0} ms to load, {:.1} MB on the heap",
        started.elapsed().as_secs_f64() * 1e3,
        index.heap_bytes() as f64 / 1e6
    );
    let reference = RTreeContains::new(index.boundaries());
    let zones = common::zones();
    let synth_points = common::synth_locations(&zones, N_QUERIES as u64);
    let land_points = uniform_land_points(&index, N_QUERIES);
    for (set, points) in [
        ("synth_addresses", &synth_points),
        ("uniform_land", &land_points),
    ] {
        let sample: Vec<LatLon> = points.iter().step_by(97).copied().collect();
        let differ = sample
            .iter()
            .filter(|&&point| index.ward_at(point) != reference.ward_at(point))
            .count();
        let outside = points
            .iter()
            .filter(|&&point| index.ward_at(point).is_none())
            .count();
        eprintln!(
            "{set}: {} points, {outside} in no polygon; index vs rstar+Contains differ on {differ} of {}",
            points.len(),
            sample.len()
        );
    }

    let mut group = criterion.benchmark_group("boundaries");
    group.throughput(Throughput::Elements(1));
    for (set, points) in [
        ("synth_addresses", &synth_points),
        ("uniform_land", &land_points),
    ] {
        group.bench_function(format!("ward_at/{set}"), |bencher| {
            per_point(bencher, points, |point| index.ward_at(point));
        });
        group.bench_function(format!("locate/{set}"), |bencher| {
            per_point(bencher, points, |point| index.locate(point));
        });
        group.bench_function(format!("rstar_contains_reference/{set}"), |bencher| {
            per_point(bencher, points, |point| reference.ward_at(point));
        });
    }
    group.finish();
    criterion.final_summary();
}
