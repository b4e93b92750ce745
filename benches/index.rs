//! Index build and single nearest query: vmap's `PointIndex` against a reference row,
//! kiddo's `ImmutableKdTree`, on the same synthetic address points and the same queries.
//!
//! Absolute times depend on the machine (and on what else runs on it); the figure to read
//! is the ratio vmap / kiddo within one run, printed at the end of each size and again at
//! the end of the run. See `VMAP_BENCH_SIZES` and `VMAP_BENCH_25M` in [`sizes`].

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use kiddo::{ImmutableKdTree, SquaredEuclidean};
use vmap::index::{IndexEntry, PointId, PointIndex};
use vmap::point::{LatLon, haversine_m};

mod common;

/// f64 coordinates as vmap stores them, u32 items like `PointId`, kiddo's default bucket.
type KiddoTree = ImmutableKdTree<f64, 3>;

/// Enough distinct queries that the benchmark does not run out of a warm cache.
const N_QUERIES: usize = 10_000;
/// The service's default search radius.
const RADIUS_M: f64 = 1_000.0;
/// Queries whose answers are compared between the two trees before timing them.
const N_CHECKED: usize = 1_000;

/// Point counts to run: `VMAP_BENCH_SIZES` (comma-separated, e.g. `100000,1_000_000`) when
/// set, else 1 M and 10 M, plus 25 M when `VMAP_BENCH_25M=1`.
fn sizes() -> Vec<u64> {
    if let Ok(text) = std::env::var("VMAP_BENCH_SIZES")
        && !text.trim().is_empty()
    {
        return text
            .split(',')
            .map(|part| {
                common::parse_count(part).unwrap_or_else(|| {
                    panic!("VMAP_BENCH_SIZES={text:?}: {part:?} is not a count such as 1000000")
                })
            })
            .collect();
    }
    let mut sizes = vec![1_000_000, 10_000_000];
    if std::env::var("VMAP_BENCH_25M").is_ok_and(|value| value.trim() == "1") {
        sizes.push(25_000_000);
    }
    sizes
}

/// Per-iteration times of every sample criterion takes (warm-up included), by benchmark id,
/// so that the run can print the ratios itself: criterion keeps its estimates to itself.
#[derive(Default)]
struct Timings(Mutex<BTreeMap<String, Vec<f64>>>);

impl Timings {
    fn record(&self, id: &str, iters: u64, elapsed: Duration) {
        if iters == 0 {
            return;
        }
        let mut map = self.0.lock().expect("no bench panicked while recording");
        map.entry(id.to_owned())
            .or_default()
            .push(elapsed.as_secs_f64() / iters as f64);
    }

    /// The median per-iteration time; robust to the odd sample slowed by another process.
    fn median(&self, id: &str) -> Option<f64> {
        let map = self.0.lock().expect("no bench panicked while recording");
        let mut times = map.get(id)?.clone();
        if times.is_empty() {
            return None;
        }
        times.sort_by(f64::total_cmp);
        let mid = times.len() / 2;
        Some(if times.len() % 2 == 1 {
            times[mid]
        } else {
            (times[mid - 1] + times[mid]) / 2.0
        })
    }

    /// "vmap 1.2 ms, kiddo 0.4 ms, ratio 3.00" for one operation and size, or `None` when
    /// either side was filtered out of this run.
    fn ratio_line(&self, operation: &str, n: u64) -> Option<String> {
        let vmap = self.median(&format!("{operation}/vmap/{n}"))?;
        let kiddo = self.median(&format!("{operation}/kiddo/{n}"))?;
        Some(format!(
            "{operation:<8} {n:>10}: vmap {:>10}, kiddo {:>10}, vmap/kiddo {:.2}",
            human(vmap),
            human(kiddo),
            vmap / kiddo
        ))
    }
}

fn human(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.3} s")
    } else if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else if seconds >= 1e-6 {
        format!("{:.2} µs", seconds * 1e6)
    } else {
        format!("{:.1} ns", seconds * 1e9)
    }
}

/// Everything both trees are built from and queried with, for one size.
struct Data {
    entries: Vec<IndexEntry>,
    xyz: Vec<[f64; 3]>,
    queries: Vec<LatLon>,
    query_xyz: Vec<[f64; 3]>,
}

impl Data {
    fn new(n: u64) -> Data {
        let started = Instant::now();
        let zones = common::zones();
        let locations = common::synth_locations(&zones, n);
        assert!(
            locations.len() as u64 == n && u32::try_from(n).is_ok(),
            "the generator gave {} points for {n}",
            locations.len()
        );
        let queries = common::near_queries(&locations, N_QUERIES);
        // Ids are positions, which is also what kiddo hands back as items.
        let entries: Vec<IndexEntry> = locations
            .iter()
            .enumerate()
            .map(|(idx, &location)| IndexEntry::new(location, idx as PointId))
            .collect();
        let xyz = locations
            .iter()
            .map(|location| location.unit_xyz())
            .collect();
        let query_xyz = queries.iter().map(|query| query.unit_xyz()).collect();
        eprintln!(
            "{n} synthetic address points and {N_QUERIES} queries made in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Data {
            entries,
            xyz,
            queries,
            query_xyz,
        }
    }
}

fn bench_build(criterion: &mut Criterion, timings: &Timings, n: u64, data: &Data) {
    let mut group = criterion.benchmark_group("build");
    // A build takes up to seconds at 10 M points: a few flat samples are all there is time
    // for, and they are already far longer than any timer noise.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(n));

    let id = format!("build/vmap/{n}");
    group.bench_function(BenchmarkId::new("vmap", n), |bencher| {
        bencher.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // bulk_load consumes its input: the copy and the drop are not the build.
                let entries = data.entries.clone();
                let started = Instant::now();
                let index = PointIndex::bulk_load(black_box(entries));
                total += started.elapsed();
                drop(black_box(index));
            }
            timings.record(&id, iters, total);
            total
        });
    });

    let id = format!("build/kiddo/{n}");
    group.bench_function(BenchmarkId::new("kiddo", n), |bencher| {
        bencher.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let tree = build_kiddo(black_box(&data.xyz));
                total += started.elapsed();
                drop(black_box(tree));
            }
            timings.record(&id, iters, total);
            total
        });
    });
    group.finish();
}

/// Built like vmap's main tree: in parallel, items numbered by position.
fn build_kiddo(xyz: &[[f64; 3]]) -> KiddoTree {
    KiddoTree::builder()
        .with_parallel_construction()
        .build_from_slice(xyz)
        .expect("fewer points than u32 items")
}

/// Both trees must give the same nearest distance, or the comparison is meaningless.
fn check_same_answers(index: &PointIndex, tree: &KiddoTree, data: &Data) {
    for (query, query_xyz) in data.queries.iter().zip(&data.query_xyz).take(N_CHECKED) {
        let found = index.nearest(*query, 1, RADIUS_M, |_| true);
        let vmap = found.first().expect("a query 50 m from a point finds one");
        let item = tree
            .query(query_xyz)
            .nearest_one::<SquaredEuclidean<f64>>()
            .execute()
            .item;
        let kiddo_location = data.entries[item as usize].location;
        let kiddo_m = haversine_m(*query, kiddo_location);
        assert!(
            (vmap.distance_m - kiddo_m).abs() < 1e-6,
            "query {query:?}: vmap found {} m, kiddo {kiddo_m} m",
            vmap.distance_m
        );
    }
}

fn bench_nearest(criterion: &mut Criterion, timings: &Timings, n: u64, data: Data) {
    let started = Instant::now();
    let tree = build_kiddo(&data.xyz);
    let index = PointIndex::bulk_load(data.entries.clone());
    check_same_answers(&index, &tree, &data);
    eprintln!(
        "trees for the nearest benches built and {N_CHECKED} answers checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The copies the trees were built from are no longer needed; at 25 M they are GBs.
    let Data {
        entries,
        xyz,
        queries,
        query_xyz,
    } = data;
    drop((entries, xyz));

    let mut group = criterion.benchmark_group("nearest");
    group.throughput(Throughput::Elements(1));

    // vmap takes a LatLon (it computes the unit vector and re-ranks by haversine itself);
    // kiddo gets the unit vector ready-made: the reference is the bare tree walk.
    let id = format!("nearest/vmap/{n}");
    let mut next = 0;
    group.bench_function(BenchmarkId::new("vmap", n), |bencher| {
        bencher.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let query = queries[next];
                next = (next + 1) % queries.len();
                black_box(index.nearest(black_box(query), 1, RADIUS_M, |_| true));
            }
            let elapsed = started.elapsed();
            timings.record(&id, iters, elapsed);
            elapsed
        });
    });

    let id = format!("nearest/kiddo/{n}");
    let mut next = 0;
    group.bench_function(BenchmarkId::new("kiddo", n), |bencher| {
        bencher.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let query = &query_xyz[next];
                next = (next + 1) % query_xyz.len();
                black_box(
                    tree.query(black_box(query))
                        .nearest_one::<SquaredEuclidean<f64>>()
                        .execute(),
                );
            }
            let elapsed = started.elapsed();
            timings.record(&id, iters, elapsed);
            elapsed
        });
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let timings = Timings::default();
    let sizes = sizes();
    for &n in &sizes {
        let data = Data::new(n);
        bench_build(&mut criterion, &timings, n, &data);
        bench_nearest(&mut criterion, &timings, n, data);
        for operation in ["build", "nearest"] {
            if let Some(line) = timings.ratio_line(operation, n) {
                println!("{line}");
            }
        }
    }
    criterion.final_summary();

    let lines: Vec<String> = sizes
        .iter()
        .flat_map(|&n| ["build", "nearest"].map(|operation| timings.ratio_line(operation, n)))
        .flatten()
        .collect();
    if !lines.is_empty() {
        println!();
        println!("vmap / kiddo (median time per iteration over criterion's samples, this run):");
        for line in lines {
            println!("  {line}");
        }
    }
}
