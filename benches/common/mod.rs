//! Inputs shared by the benches: synthetic address locations and query points near them,
//! all reproducible from a seed so two runs (or two machines) measure the same work.

// Each bench target compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

// The allocator the `vmap` binary runs on (`src/main.rs`), so that a bench measures what
// the service does rather than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vmap::point::LatLon;
use vmap::synth::{self, SynthAddress};
use vmap::zones::ZoneTable;

/// Seed of every synthetic data set in the benches.
pub const DATA_SEED: u64 = 20_240_601;
/// Seed of the query points (distinct from the data, so queries are not the points).
pub const QUERY_SEED: u64 = 77;

/// The embedded ward table, the one the service runs with.
pub fn zones() -> Arc<ZoneTable> {
    Arc::new(ZoneTable::load_default().expect("the embedded zone table loads"))
}

/// `n` synthetic addresses: towns of streets and alleys around every ward centre, dense in
/// the cities and sparse in the countryside, as `vmap seed` makes them. Uniform or simply
/// clustered points would flatter both trees: real address data is very uneven.
pub fn synth_addresses(zones: &ZoneTable, n: u64) -> Vec<SynthAddress> {
    let mut out = Vec::with_capacity(n as usize);
    for chunk in synth::generate(zones, n, DATA_SEED, 100_000) {
        out.extend(chunk);
    }
    out
}

/// Only the locations of [`synth_addresses`], without keeping the addresses of all of them
/// at once (they are three times larger).
pub fn synth_locations(zones: &ZoneTable, n: u64) -> Vec<LatLon> {
    let mut out = Vec::with_capacity(n as usize);
    for chunk in synth::generate(zones, n, DATA_SEED, 100_000) {
        out.extend(chunk.iter().map(|address| address.location));
    }
    out
}

/// `n` query points, each within about 50 m (in each direction) of a randomly chosen
/// location: what a phone asking "which code is here?" sends.
pub fn near_queries(locations: &[LatLon], n: usize) -> Vec<LatLon> {
    assert!(!locations.is_empty(), "queries need at least one location");
    let mut rng = ChaCha8Rng::seed_from_u64(QUERY_SEED);
    (0..n)
        .map(|_| {
            let base = locations[rng.random_range(0..locations.len())];
            let lat = base.lat + rng.random_range(-0.00045..0.00045);
            let lon = base.lon + rng.random_range(-0.00045..0.00045);
            LatLon::new(lat, lon).expect("a point 50 m from a Vietnamese address is valid")
        })
        .collect()
}

/// A count from the environment (`1000000` or `1_000_000`), or `default` when unset.
pub fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => parse_count(&text)
            .unwrap_or_else(|| panic!("{name}={text:?} is not a count such as 1000000")),
        _ => default,
    }
}

/// A positive count; underscores allowed as digit separators.
pub fn parse_count(text: &str) -> Option<u64> {
    let digits: String = text.trim().chars().filter(|&c| c != '_').collect();
    digits.parse::<u64>().ok().filter(|&n| n > 0)
}
