//! The address parser: one address per iteration, cycling over synthetic addresses from
//! every part of the country written in every style of `parse::render` (legacy and 2025
//! forms, with and without marks, abbreviated, typos…), so that the figure is the rate
//! for a realistic mix. Target: 200 000 addresses a second on one core (5 µs each).
//!
//! `convert/*`: what `POST /v1/convert` does per address without the HTTP around it —
//! parse, convert, build the answer item and serialize it — over 10 000 addresses, on one
//! thread and on rayon's pool (as the server does a chunk). Target: 100 000 a second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use rayon::prelude::*;
use vmap::admin::AdminMaps;
use vmap::api::{ConvertItem, ParseBody};
use vmap::parse::Parser;
use vmap::parse::render::{AddressLine, Renderer, Style, WardRef};

mod common;

/// About one address per ward of the legacy map.
const N_ADDRESSES: u64 = 10_000;

/// Runs the parser on one text per iteration, cycling through `texts`.
fn cycle(bencher: &mut criterion::Bencher<'_>, parser: &Parser, texts: &[String]) {
    let mut next = 0;
    bencher.iter_custom(|iters| {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(parser.parse(black_box(&texts[next])));
            next = (next + 1) % texts.len();
        }
        started.elapsed()
    });
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let maps = Arc::new(AdminMaps::load_embedded().expect("the embedded maps load"));
    let parser = Parser::new(Arc::clone(&maps));
    let renderer = Renderer::new(Arc::clone(&maps));
    let zones = common::zones();
    // Each synthetic address as (ward, street part): its legacy ward, or every other one
    // the 2025 ward that ward went into.
    let addresses: Vec<(WardRef, AddressLine)> = common::synth_addresses(&zones, N_ADDRESSES)
        .into_iter()
        .enumerate()
        .filter_map(|(idx, address)| {
            let zone = zones.get(address.zone_id);
            let legacy = maps.legacy_ward_by_code(&zone.ward_code)?;
            let ward = match (idx / Style::ALL.len()) % 2 {
                0 => WardRef::Legacy(legacy),
                _ => WardRef::Y2025(maps.default_target(legacy)?),
            };
            let line = AddressLine {
                house_number: Some(address.house_number_text()),
                alley: address.alley_text(),
                street: Some(address.street_text()),
            };
            Some((ward, line))
        })
        .collect();
    let render = |style_of: &dyn Fn(usize) -> Style| -> Vec<String> {
        addresses
            .iter()
            .enumerate()
            .map(|(idx, (ward, line))| {
                let line = (idx % 3 != 0).then_some(line);
                renderer.render(*ward, line, style_of(idx), idx as u64).text
            })
            .collect()
    };

    let mut group = criterion.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    let mixed = render(&|idx| Style::ALL[idx % Style::ALL.len()]);
    group.bench_function("mixed_styles", |bencher| cycle(bencher, &parser, &mixed));
    for style in Style::ALL {
        let texts = render(&|_| style);
        group.bench_function(style.name(), |bencher| cycle(bencher, &parser, &texts));
    }
    group.finish();

    let convert_one = |text: &String| -> Vec<u8> {
        let parse = parser.parse(text);
        let conversion = vmap::convert::convert(&maps, &parse.reading, None);
        let item = ConvertItem::new(&maps, ParseBody::new(&maps, &parse), &conversion);
        serde_json::to_vec(&item).expect("JSON")
    };
    let mut group = criterion.benchmark_group("convert");
    group.throughput(Throughput::Elements(mixed.len() as u64));
    group.sample_size(10);
    group.bench_function("one_thread", |bencher| {
        bencher.iter(|| {
            mixed
                .iter()
                .map(convert_one)
                .map(|json| json.len())
                .sum::<usize>()
        })
    });
    group.bench_function("rayon", |bencher| {
        bencher.iter(|| {
            mixed
                .par_iter()
                .map(convert_one)
                .map(|json| json.len())
                .sum::<usize>()
        })
    });
    group.finish();
    criterion.final_summary();
}
