//! Reverse geocoding through the whole registry: nearest active addresses, the zone of the
//! point and its would-be code. A batch (as `POST /v1/reverse` runs it, on rayon; whole, with
//! the parts `zones=by_postcode` needs, and the nearest addresses only) and a single query,
//! on a registry loaded from a freshly seeded SQLite database.
//!
//! `VMAP_BENCH_REVERSE_N` sets how many addresses are seeded (default 1 000 000; seeding
//! takes about 10 s per million on two cores, and is not measured).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use vmap::progress::Progress;
use vmap::registry::{Registry, ReverseParts, ReverseQuery};
use vmap::store::Store;

mod common;

/// The largest batch the service accepts by default (`--max-batch-items`).
const BATCH: usize = 10_000;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let n = common::env_count("VMAP_BENCH_REVERSE_N", 1_000_000);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let dir = tempfile::tempdir().expect("a temporary directory for the database");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let started = Instant::now();
    let registry = runtime.block_on(async {
        let zones = common::zones();
        let store = Store::connect(&url)
            .await
            .expect("a new SQLite database opens");
        let progress = Progress::quiet("seeding", n);
        vmap::synth::seed(&store, zones.clone(), n, common::DATA_SEED, &progress)
            .await
            .expect("the empty database is seeded");
        Registry::load(store, zones)
            .await
            .expect("the registry loads from the database just seeded")
    });
    eprintln!(
        "{n} addresses seeded and loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let queries =
        common::near_queries(&registry.sample_locations(BATCH, common::QUERY_SEED), BATCH);

    let mut group = criterion.benchmark_group("reverse");

    // A batch takes a tenth of a second or more: fewer, equal samples keep the run short.
    group.sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new(format!("batch{BATCH}"), n), |bencher| {
        bencher.iter(|| registry.reverse_many(black_box(&queries), ReverseQuery::default()));
    });
    // The parts a `zones=by_postcode` batch computes (no per-point maps), and a lean one
    // (`fields=code,distance_m`: the nearest addresses only).
    for (name, parts) in [
        (
            "by_postcode",
            ReverseParts {
                admin: false,
                ..ReverseParts::ALL
            },
        ),
        (
            "addresses_only",
            ReverseParts {
                zone: false,
                admin: false,
                grid_code: false,
            },
        ),
    ] {
        let query = ReverseQuery::default().with_parts(parts);
        group.bench_function(
            BenchmarkId::new(format!("batch{BATCH}/{name}"), n),
            |bencher| {
                bencher.iter(|| registry.reverse_many(black_box(&queries), query));
            },
        );
    }

    group.sample_size(100);
    group.sampling_mode(SamplingMode::Auto);
    group.throughput(Throughput::Elements(1));
    let mut next = 0;
    group.bench_function(BenchmarkId::new("single", n), |bencher| {
        bencher.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let query = queries[next];
                next = (next + 1) % queries.len();
                black_box(registry.reverse(black_box(query), ReverseQuery::default()));
            }
            started.elapsed()
        });
    });
    group.finish();
    criterion.final_summary();

    runtime.block_on(async {
        registry.store().close().await;
        drop(registry);
    });
    // The pool's last connections close on the runtime; give them a moment before the
    // database file's directory goes.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(dir);
}
