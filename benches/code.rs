//! vmap codes: encode (a point in a zone to its code), decode (a code to its ~3 m cell,
//! through the postal code's reference point, as `vmap decode` and `GET /v1/codes/…` do)
//! and parse (canonical `111162RWXP69` and grouped `11116 2RWX P69` forms), one code per
//! iteration over a cycle of codes from every part of the country.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use vmap::code::{Postcode, VmapCode};
use vmap::point::LatLon;

mod common;

/// About one address per ward, so every reference point and grid region is exercised.
const N_CODES: u64 = 10_000;

struct Input {
    postcode: Postcode,
    reference: LatLon,
    point: LatLon,
    code: VmapCode,
    canonical: String,
    pretty: String,
}

/// Runs `op` on one input per iteration, cycling through `inputs`.
fn cycle<T>(
    bencher: &mut criterion::Bencher<'_>,
    inputs: &[Input],
    mut op: impl FnMut(&Input) -> T,
) {
    let mut next = 0;
    bencher.iter_custom(|iters| {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(op(black_box(&inputs[next])));
            next = (next + 1) % inputs.len();
        }
        started.elapsed()
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let zones = common::zones();
    let inputs: Vec<Input> = common::synth_addresses(&zones, N_CODES)
        .into_iter()
        .map(|address| {
            let postcode = zones.get(address.zone_id).postcode;
            let reference = zones.reference_of(address.zone_id);
            let code = VmapCode::encode(postcode, reference, address.location)
                .expect("a synthetic address lies where its code decodes");
            Input {
                postcode,
                reference,
                point: address.location,
                code,
                canonical: code.canonical(),
                pretty: code.pretty(),
            }
        })
        .collect();

    let mut group = criterion.benchmark_group("code");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |bencher| {
        cycle(bencher, &inputs, |input| {
            VmapCode::encode(input.postcode, input.reference, input.point)
        });
    });
    group.bench_function("decode", |bencher| {
        cycle(bencher, &inputs, |input| {
            let reference = zones
                .reference_point(input.code.postcode())
                .expect("every encoded postal code has a reference point");
            input.code.cell(reference)
        });
    });
    group.bench_function("parse/canonical", |bencher| {
        cycle(bencher, &inputs, |input| VmapCode::parse(&input.canonical));
    });
    group.bench_function("parse/pretty", |bencher| {
        cycle(bencher, &inputs, |input| VmapCode::parse(&input.pretty));
    });
    group.finish();
    criterion.final_summary();
}
