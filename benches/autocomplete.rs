//! Autocomplete in process (`Registry::autocomplete`), beside `Registry::search` on the
//! same registry and in the same run, so the ratio between them holds whatever the
//! machine is doing.
//!
//! Queries are what a user types on the way to registered addresses: the first letters
//! of a street's name after its ward and province ("Phường X, Tỉnh Y, Lê V"), a house
//! number and the first letters of its street, the same without the text before (over
//! the whole country), a unit word and the first letters of a ward's name, and the whole
//! addresses `search/full` finds. Also measured once: how long the derived prefix lists
//! take to build from the text index (what a start-up from a snapshot adds), and the
//! unit names.
//!
//! `VMAP_BENCH_AUTOCOMPLETE_N` sets how many addresses are seeded (default 200 000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use vmap::address::IndexRow;
use vmap::geocode::units::UnitNames;
use vmap::parse::fold_words;
use vmap::progress::Progress;
use vmap::registry::Registry;
use vmap::store::Store;

mod common;

/// Queries of each kind.
const N_QUERIES: usize = 500;

/// Runs `f` on one text per iteration, cycling through `texts`.
fn cycle(bencher: &mut criterion::Bencher<'_>, texts: &[String], f: impl Fn(&str)) {
    let mut next = 0;
    bencher.iter_custom(|iters| {
        let started = Instant::now();
        for _ in 0..iters {
            f(black_box(&texts[next]));
            next = (next + 1) % texts.len();
        }
        started.elapsed()
    });
}

/// The first `n` letters or digits of `text` and what lies between them.
fn first_letters(text: &str, n: usize) -> String {
    let mut seen = 0;
    let mut out = String::new();
    for c in text.chars() {
        if seen == n {
            break;
        }
        if c.is_alphanumeric() {
            seen += 1;
        }
        out.push(c);
    }
    out
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let n = common::env_count("VMAP_BENCH_AUTOCOMPLETE_N", 200_000);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let dir = tempfile::tempdir().expect("a temporary directory for the database");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let zones = common::zones();
    let (registry, rows) = runtime.block_on(async {
        let store = Store::connect(&url)
            .await
            .expect("a new SQLite database opens");
        let progress = Progress::quiet("seeding", n);
        vmap::synth::seed(&store, zones.clone(), n, common::DATA_SEED, &progress)
            .await
            .expect("the empty database is seeded");
        let mut rows: Vec<IndexRow> = Vec::new();
        store
            .for_each_index_row(|row| {
                rows.push(row);
                Ok(())
            })
            .await
            .expect("the rows read back");
        let registry = Registry::load(store, zones.clone())
            .await
            .expect("the registry loads from the database just seeded");
        (registry, rows)
    });
    let status = registry.status();
    eprintln!("{n} addresses seeded and loaded; {status:?}");

    let map = zones.map_2025().expect("the embedded 2025 map");
    let started = Instant::now();
    let names = UnitNames::new(map.admin());
    eprintln!(
        "unit names: {} built in {:.1} ms",
        names.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let (built, n_streets) = registry.rederive_text_prefixes();
    eprintln!(
        "street prefixes of {n_streets} street labels derived in {:.1} ms",
        built.as_secs_f64() * 1e3
    );

    let step = (rows.len() / N_QUERIES).max(1);
    let mut scoped = Vec::new();
    let mut houses = Vec::new();
    let mut national = Vec::new();
    let mut units = Vec::new();
    let mut full = Vec::new();
    for (idx, row) in rows.iter().step_by(step).enumerate() {
        let (Some(street), Some(zone_id)) = (&row.street, zones.by_postcode(row.code.postcode()))
        else {
            continue;
        };
        let zone = zones.get(zone_id);
        let name = match street.split_once(' ') {
            Some((first, rest)) if ["duong", "pho"].contains(&fold_words(first).as_str()) => rest,
            _ => street.as_str(),
        };
        let scope = format!("{}, {}", zone.ward, zone.province);
        let partial = first_letters(name, 3 + idx % 5);
        let house = row.house_number.clone().unwrap_or_default();
        scoped.push(format!("{scope}, {partial}"));
        houses.push(format!("{scope}, {house} {partial}"));
        national.push(partial.clone());
        let ward = zone.ward.split_once(' ').map_or("", |(_, w)| w);
        units.push(format!("Phường {}", first_letters(ward, 3 + idx % 3)));
        let line = match &row.alley {
            Some(alley) => format!("{house} {alley} {street}"),
            None => format!("{house} {street}"),
        };
        full.push(format!("{line}, {scope}"));
    }

    let mut group = criterion.benchmark_group("autocomplete");
    group.throughput(Throughput::Elements(1));
    for (name, texts) in [
        ("scoped_street", &scoped),
        ("scoped_house", &houses),
        ("national_street", &national),
        ("unit", &units),
    ] {
        group.bench_function(BenchmarkId::new(name, n), |bencher| {
            cycle(bencher, texts, |text| {
                black_box(registry.autocomplete(text, 5, None));
            });
        });
    }
    group.bench_function(BenchmarkId::new("national_street_near", n), |bencher| {
        let near = rows[0].location;
        cycle(bencher, &national, |text| {
            black_box(registry.autocomplete(text, 5, Some(near)));
        });
    });
    group.finish();

    let mut group = criterion.benchmark_group("search");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("full", n), |bencher| {
        cycle(bencher, &full, |text| {
            black_box(registry.search(text, 5, None));
        });
    });
    group.bench_function(BenchmarkId::new("scoped_street", n), |bencher| {
        cycle(bencher, &scoped, |text| {
            black_box(registry.search(text, 5, None));
        });
    });
    group.finish();
    criterion.final_summary();

    runtime.block_on(async {
        registry.store().close().await;
        drop(registry);
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(dir);
}
