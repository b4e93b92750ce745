//! `vmap bench geocode`: forward geocoding measured on the real mix of texts.
//!
//! Registered addresses are drawn from the registry reproducibly from `--seed`
//! ([`Registry::sample_addresses`]), each written in a style drawn (seeded) from every
//! [`Style`] of the parser's corpus by the same renderer as the accuracy test
//! (`parse::render`). The texts are then searched in process ([`bench_in_process`]: one
//! thread, then every core) or sent as `GET /v1/search?q=` to a running `vmap serve`
//! ([`http::run`]). The report gives queries/s and latency percentiles, the share of
//! answers whose first result is at each level, overall and per style, and, with `--check`,
//! the top-1 accuracy and the rate of wrong codes given as unambiguous ([`report`]).
//! With `--autocomplete` each text is cut to a prefix ([`typed_prefixes`]) and sent to the
//! autocomplete instead (`Registry::autocomplete`, `GET /v1/autocomplete`): its speed only,
//! since a prefix names no one address to judge the answer by.
//!
//! Decisions:
//! - `--check` means, in this mode, comparing every answer's first result with the address
//!   its text was rendered from (not a sample against an oracle, as the other modes do): the
//!   registry is its own reference here, and the accuracy is what is measured. It fails the
//!   command below the targets (top-1 99 %, wrong-and-unambiguous 0.1 %).
//! - Addresses without a street or a house number are drawn but not rendered (counted as
//!   skipped): no text names one of them rather than its neighbours, so they would measure
//!   the registry's data, not the search.
//! - Each address is rendered once, in one style, so that the styles' shares follow the
//!   draw and the per-style figures have about `n / 12` answers each.
//! - An autocomplete prefix is as long as a text typed so far: from 3 characters (where
//!   search boxes start asking) to the whole text, uniformly, since a box asks at every
//!   keystroke. The short prefixes, which match the most streets, are as frequent as typing
//!   makes them.
//! - In process the one-thread run counts the answers (each query once; the search is
//!   deterministic, so the all-cores run would count the same) and the counting is outside
//!   the timed call.

pub mod http;
mod report;
mod table;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use super::{BenchError, new_histogram, quantiles_us, record_latency};
use crate::address::Address;
use crate::code::{PostalScheme, VmapCode};
use crate::parse::render::{AddressLine, Renderer, Style, WardRef};
use crate::registry::Registry;

pub use http::HttpGeocodeSettings;
pub use report::{
    Accuracy, AnswerCounts, AnswerFigures, AnswerLevel, CheckVerdict, GeocodeReport, GeocodeRun,
    LevelShares, MAX_WRONG_UNAMBIGUOUS_RATE, MIN_TOP1_RATE, StyleFigures, TopAnswer,
};
pub use table::render_geocode_table;

/// Largest `--limit` (as `GET /v1/search` allows).
pub const MAX_LIMIT: usize = 20;
/// Results asked per query by default (`GET /v1/search`'s default).
pub const DEFAULT_LIMIT: usize = 5;

/// One query: a registered address written in a style.
#[derive(Debug, Clone, PartialEq)]
pub struct GeocodeQuery {
    pub text: String,
    pub style: Style,
    /// The code of the address the text was rendered from.
    pub code: VmapCode,
}

/// The queries of a bench and how they were drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct GeocodeQueries {
    pub queries: Vec<GeocodeQuery>,
    pub seed: u64,
    /// Active addresses in the registry drawn from.
    pub addresses: u64,
    pub drawn: usize,
    /// Drawn addresses left out: no street or house number, or a zone without a ward.
    pub skipped: usize,
}

/// What both ways of running ask.
#[derive(Debug, Clone, Copy)]
pub struct GeocodeSettings {
    /// Results asked per query (1–[`MAX_LIMIT`]).
    pub limit: usize,
    /// Count top-1 and wrong codes, and hold them to the targets.
    pub check: bool,
    /// Ask the autocomplete with prefixes of the texts instead of searching them.
    pub autocomplete: bool,
}

impl GeocodeSettings {
    pub fn validate(&self) -> Result<(), BenchError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(BenchError::Invalid(format!(
                "--limit must be 1–{MAX_LIMIT}, not {}",
                self.limit
            )));
        }
        if self.autocomplete && self.check {
            return Err(BenchError::Invalid(
                "--check judges whole texts' answers; a prefix (--autocomplete) names no one \
                 address"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// What the queries ask: `search` or `autocomplete`.
    pub fn endpoint(&self) -> &'static str {
        if self.autocomplete {
            "autocomplete"
        } else {
            "search"
        }
    }
}

/// Shortest prefix `--autocomplete` sends.
pub const MIN_PREFIX_CHARS: usize = 3;

/// Cuts every text to a prefix as typed so far: its length in characters drawn (seeded)
/// uniformly from [`MIN_PREFIX_CHARS`] to the whole text.
pub fn typed_prefixes(queries: &mut GeocodeQueries) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(queries.seed ^ 0x7e0f_1a5e);
    for query in &mut queries.queries {
        let chars = query.text.chars().count();
        let keep = rng.random_range(MIN_PREFIX_CHARS.min(chars)..=chars);
        let end = query
            .text
            .char_indices()
            .nth(keep)
            .map_or(query.text.len(), |(at, _)| at);
        query.text.truncate(end);
    }
}

/// A seed of its own for each query's rendering (typos, how numbers are written).
fn render_seed(seed: u64, n: usize) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n as u64
}

/// `n` addresses drawn from `registry` (reproducibly from `seed`), each rendered in a
/// style drawn from every [`Style`].
pub async fn draw_queries(
    registry: &Registry,
    n: usize,
    seed: u64,
) -> Result<GeocodeQueries, BenchError> {
    let addresses = registry.sample_addresses(n, seed).await?;
    let queries = render_queries(registry, &addresses, seed)?;
    if queries.queries.is_empty() {
        return Err(BenchError::NoQueries);
    }
    Ok(queries)
}

/// Renders `addresses` as the bench's queries; the styles are drawn from `seed`.
pub fn render_queries(
    registry: &Registry,
    addresses: &[Address],
    seed: u64,
) -> Result<GeocodeQueries, BenchError> {
    let zones = registry.zones();
    let map = zones.map_2025().ok_or_else(|| {
        BenchError::Invalid(
            "the zone table has no 2025 map (a custom --zones-file): the search answers nothing"
                .to_owned(),
        )
    })?;
    let maps = map.shared_admin();
    let renderer = Renderer::new(Arc::clone(&maps));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6e0c_0de5);
    let mut queries = Vec::with_capacity(addresses.len());
    for (n, address) in addresses.iter().enumerate() {
        // Drawn for every address, kept or not, so one address's fate does not shift the
        // styles of the others.
        let style = Style::ALL[rng.random_range(0..Style::ALL.len())];
        let parts = &address.parts;
        let has = |part: &Option<String>| part.as_deref().is_some_and(|t| !t.trim().is_empty());
        if !has(&parts.street) || !has(&parts.house_number) {
            continue;
        }
        let ward = zones.by_postcode(address.code.postcode()).and_then(|id| {
            let zone = zones.get(id);
            match zone.scheme {
                PostalScheme::Legacy => maps
                    .legacy_ward_by_code(&zone.ward_code)
                    .map(WardRef::Legacy),
                PostalScheme::Y2025 => maps.ward_by_code(&zone.ward_code).map(WardRef::Y2025),
            }
        });
        let Some(ward) = ward else { continue };
        let line = AddressLine {
            house_number: parts.house_number.clone(),
            alley: parts.alley.clone(),
            street: parts.street.clone(),
        };
        let text = renderer
            .render(ward, Some(&line), style, render_seed(seed, n))
            .text;
        queries.push(GeocodeQuery {
            text,
            style,
            code: address.code,
        });
    }
    Ok(GeocodeQueries {
        skipped: addresses.len() - queries.len(),
        queries,
        seed,
        addresses: registry.status().n_active,
        drawn: addresses.len(),
    })
}

/// The report's figures of one run from its latency histogram (nanoseconds).
pub(crate) fn run_figures(
    what: &str,
    workers: usize,
    histogram: &hdrhistogram::Histogram<u64>,
    wall: Duration,
) -> GeocodeRun {
    let [p50_us, p99_us, p999_us, max_us] = quantiles_us(histogram);
    GeocodeRun {
        what: what.to_owned(),
        workers,
        queries: histogram.len(),
        queries_per_s: histogram.len() as f64 / wall.as_secs_f64().max(1e-9),
        p50_us,
        p90_us: histogram.value_at_quantile(0.9) as f64 / 1_000.0,
        p99_us,
        p999_us,
        max_us,
        non_2xx: 0,
        errors: 0,
        first_error: None,
    }
}

/// Searches every query on `threads` threads (each takes every `threads`-th), counting
/// answers into `counts` when given.
fn timed_searches(
    registry: &Arc<Registry>,
    queries: &Arc<Vec<GeocodeQuery>>,
    threads: usize,
    settings: GeocodeSettings,
    counts: Option<&Arc<AnswerCounts>>,
) -> GeocodeRun {
    let (limit, autocomplete) = (settings.limit, settings.autocomplete);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|thread_idx| {
            let (registry, queries) = (registry.clone(), queries.clone());
            let counts = counts.cloned();
            std::thread::spawn(move || {
                let mut histogram = new_histogram();
                for query in queries.iter().skip(thread_idx).step_by(threads) {
                    if autocomplete {
                        let one = Instant::now();
                        let suggestions = registry.autocomplete(&query.text, limit, None);
                        record_latency(&mut histogram, one.elapsed());
                        std::hint::black_box(suggestions);
                        continue;
                    }
                    let one = Instant::now();
                    let answer = registry.search(&query.text, limit, None);
                    record_latency(&mut histogram, one.elapsed());
                    if let Some(counts) = &counts {
                        let top = TopAnswer::of(&answer);
                        if top.is_wrong_unambiguous(query.code) {
                            // What to look at when --check fails: RUST_LOG=vmap::bench=debug.
                            tracing::debug!(
                                text = %query.text,
                                rendered = %query.code,
                                answered = ?answer.results.first().map(|r| (&r.label, r.code)),
                                "wrong code given as unambiguous"
                            );
                        }
                        counts.record(query.style, query.code, &top);
                    }
                    std::hint::black_box(answer);
                }
                histogram
            })
        })
        .collect();
    let mut total = new_histogram();
    for handle in handles {
        if let Ok(histogram) = handle.join() {
            let _ = total.add(&histogram);
        }
    }
    run_figures(settings.endpoint(), threads, &total, started.elapsed())
}

/// Searches the queries in process on one thread (counting the answers), then on
/// `threads` when more than one.
pub fn bench_in_process(
    registry: Arc<Registry>,
    queries: GeocodeQueries,
    settings: GeocodeSettings,
    threads: usize,
) -> Result<GeocodeReport, BenchError> {
    settings.validate()?;
    let counts = Arc::new(AnswerCounts::default());
    let texts = Arc::new(queries.queries);
    // The parser is built on the first search (a few hundred milliseconds): not a query's
    // latency, so it is built before the clock starts.
    if let Some(first) = texts.first() {
        if settings.autocomplete {
            std::hint::black_box(registry.autocomplete(&first.text, settings.limit, None));
        } else {
            std::hint::black_box(registry.search(&first.text, settings.limit, None));
        }
    }
    let counted = (!settings.autocomplete).then_some(&counts);
    let mut runs = vec![timed_searches(&registry, &texts, 1, settings, counted)];
    if threads > 1 {
        runs.push(timed_searches(&registry, &texts, threads, settings, None));
    }
    let mut report = GeocodeReport {
        mode: "in_process".to_owned(),
        endpoint: settings.endpoint().to_owned(),
        target: "in process".to_owned(),
        addresses: queries.addresses,
        seed: queries.seed,
        limit: settings.limit,
        drawn: queries.drawn,
        skipped: queries.skipped,
        queries: texts.len(),
        warmup_s: None,
        duration_s: None,
        runs,
        answers: counts.figures(settings.check),
        check: None,
    };
    report.judge();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queries(texts: &[&str]) -> GeocodeQueries {
        let code = VmapCode::parse("111102R87PWR").expect("a code");
        GeocodeQueries {
            queries: texts
                .iter()
                .map(|text| GeocodeQuery {
                    text: (*text).to_owned(),
                    style: Style::ALL[0],
                    code,
                })
                .collect(),
            seed: 5,
            addresses: 1,
            drawn: texts.len(),
            skipped: 0,
        }
    }

    #[test]
    fn typed_prefixes_are_prefixes_of_at_least_three_characters() {
        let texts = [
            "12 Phố Hàng Khay, Phường Giảng Võ, Thành phố Hà Nội",
            "SỐ 8 NGÕ 578 ĐƯỜNG THÁI PHIÊN",
            "Lê",
        ];
        let mut cut = queries(&texts.repeat(40));
        typed_prefixes(&mut cut);
        let mut lengths = std::collections::BTreeSet::new();
        for (query, whole) in cut.queries.iter().zip(texts.iter().cycle()) {
            assert!(
                whole.starts_with(&query.text),
                "{:?} of {whole:?}",
                query.text
            );
            let chars = query.text.chars().count();
            assert!(chars >= 3.min(whole.chars().count()), "{:?}", query.text);
            lengths.insert(chars);
        }
        // Drawn, not one cut for all.
        assert!(lengths.len() > 10, "{lengths:?}");
        let mut again = queries(&texts.repeat(40));
        typed_prefixes(&mut again);
        assert_eq!(cut, again, "seeded");
    }
}
