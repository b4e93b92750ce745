//! The parser's accuracy corpus: every ward of both maps rendered in every style, parsed
//! back, and scored against labels that come from the data alone.
//!
//! A case is labelled *ambiguous* when the units its text names fit more than one place:
//! the fitting wards are found here by comparing names (folded, or with marks where the
//! style keeps them; within one edit for the name a typo changed) and the hierarchy —
//! never by the parser. A legacy ward and a 2025 ward it went into are one place.
//!
//! A debug build reads every 16th ward ([`CORPUS_STRIDE`]); the figures of the README
//! come from a release build, which reads them all.
//!
//! Thresholds: at least 99.5 % exact ward on unambiguous cases in every style, and not a
//! single wrong ward answered with `ambiguous: false` on an ambiguous case.
//!
//! `cargo test --release --test it parse_corpus::corpus_accuracy_by_style` prints the
//! table; `VMAP_CORPUS_CSV=corpus.csv cargo test --release --test it -- --ignored
//! export_corpus_csv` writes the corpus for comparing other parsers (e.g.
//! `tests/peer/vietnamadminunits_peer.py`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use unicode_normalization::UnicodeNormalization;
use vmap::admin::{AdminMaps, Level, UnitId, UnitType};
use vmap::parse::render::{AddressLine, Rendered, RenderedUnit, Renderer, Style, WardRef};
use vmap::parse::{Parser, fold_words};
use vmap::synth;
use vmap::zones::ZoneTable;

use crate::helpers::harness::trials;

trials! {
    plain: [
        corpus_accuracy_by_style,
        parsing_never_panics_and_stays_in_range,
        a_full_rendering_parses_back,
    ],
    plain_ignored: [export_corpus_csv],
}

const MIN_EXACT_SHARE: f64 = 0.995;
/// Every ward in a release build (160 272 cases, a few seconds); every 16th in a debug
/// build, where the whole corpus takes minutes (about 10 000 cases, the same thresholds).
const CORPUS_STRIDE: usize = if cfg!(debug_assertions) { 16 } else { 1 };
/// Synthetic addresses made per zone, one of which is picked for each case.
const LINES_PER_ZONE: u64 = 24;

struct Fixture {
    maps: Arc<AdminMaps>,
    parser: Parser,
    renderer: Renderer,
    names: NameTable,
    /// A street part per legacy ward (from the synthetic generator), by ward index.
    lines: Vec<Option<AddressLine>>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let maps = Arc::new(AdminMaps::load_embedded().expect("embedded maps"));
        let parser = Parser::new(Arc::clone(&maps));
        let renderer = Renderer::new(Arc::clone(&maps));
        let names = NameTable::new(&maps);
        let lines = synthetic_lines(&maps);
        Fixture {
            maps,
            parser,
            renderer,
            names,
            lines,
        }
    })
}

/// A realistic street part for each legacy ward that has a zone: house numbers, alleys
/// named by region, street names that are often also unit names ("Hai Bà Trưng", "Huế").
fn synthetic_lines(maps: &AdminMaps) -> Vec<Option<AddressLine>> {
    let zones = ZoneTable::load_default().expect("zone table");
    let mut zone_by_ward: HashMap<&str, u32> = HashMap::new();
    for (zone_id, zone) in zones.zones().iter().enumerate() {
        zone_by_ward
            .entry(zone.ward_code.as_str())
            .or_insert(zone_id as u32);
    }
    maps.legacy_wards()
        .iter()
        .enumerate()
        .map(|(idx, ward)| {
            let &zone_id = zone_by_ward.get(ward.code.as_str())?;
            let addresses = synth::generate_zone(&zones, zone_id, LINES_PER_ZONE, 11);
            let address = addresses.get(idx % addresses.len().max(1))?;
            Some(AddressLine {
                house_number: Some(address.house_number_text()),
                alley: address.alley_text(),
                street: Some(address.street_text()),
            })
        })
        .collect()
}

fn ward_line(fixture: &Fixture, ward: WardRef, case_idx: usize) -> Option<&AddressLine> {
    // One case in three has no street part: units alone are common input too.
    if case_idx.is_multiple_of(3) {
        return None;
    }
    let legacy = match ward {
        WardRef::Legacy(id) => id,
        WardRef::Y2025(id) => *fixture.maps.ward(id).sources.first()?,
    };
    fixture.lines.get(legacy.index())?.as_ref()
}

// ---------------------------------------------------------------------------------------
// Labels from the data
// ---------------------------------------------------------------------------------------

/// A unit's name three ways, to compare with what a rendering wrote.
struct NameForms {
    unit: UnitId,
    unit_type: UnitType,
    /// Folded, no spaces: "phucxa".
    folded: String,
    /// Lowercase NFC with marks, no spaces or punctuation: "phúcxá".
    exact: String,
    number: Option<u32>,
}

fn exact_form(text: &str) -> String {
    text.nfc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn folded_form(text: &str) -> String {
    fold_words(text).replace(' ', "")
}

fn number_form(text: &str) -> Option<u32> {
    let trimmed = text.trim();
    (!trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()))
        .then(|| trimmed.parse().ok())
        .flatten()
}

struct NameTable {
    by_level: HashMap<Level, Vec<NameForms>>,
    /// Per level, folded name → positions in `by_level`.
    by_folded: HashMap<Level, HashMap<String, Vec<usize>>>,
}

/// The folded key of a name, numbers without leading zeros ("07" and "7" are one name).
fn folded_key(text: &str) -> String {
    match number_form(text) {
        Some(number) => number.to_string(),
        None => folded_form(text),
    }
}

impl NameTable {
    fn new(maps: &AdminMaps) -> NameTable {
        let units = maps
            .legacy_province_ids()
            .map(UnitId::LegacyProvince)
            .chain(maps.legacy_district_ids().map(UnitId::LegacyDistrict))
            .chain(maps.legacy_ward_ids().map(UnitId::LegacyWard))
            .chain(maps.province_ids().map(UnitId::Province))
            .chain(maps.ward_ids().map(UnitId::Ward));
        let mut by_level: HashMap<Level, Vec<NameForms>> = HashMap::new();
        let mut by_folded: HashMap<Level, HashMap<String, Vec<usize>>> = HashMap::new();
        for unit in units {
            let name = maps.short_name(unit);
            let level_units = by_level.entry(unit.level()).or_default();
            by_folded
                .entry(unit.level())
                .or_default()
                .entry(folded_key(name))
                .or_default()
                .push(level_units.len());
            level_units.push(NameForms {
                unit,
                unit_type: maps.unit(unit).unit_type,
                folded: folded_form(name),
                exact: exact_form(name),
                number: number_form(name),
            });
        }
        NameTable {
            by_level,
            by_folded,
        }
    }

    /// Every unit of the written unit's level whose name and type fit what was written.
    fn matching(&self, maps: &AdminMaps, written: &RenderedUnit, style: Style) -> Vec<UnitId> {
        let level = written.unit.level();
        let units = &self.by_level[&level];
        let type_fits = |forms: &NameForms| {
            written
                .written_type
                .is_none_or(|unit_type| unit_type == forms.unit_type)
        };
        if written.typo {
            let written_folded = folded_form(&written.written_name);
            return units
                .iter()
                .filter(|forms| {
                    let letters = forms.folded.bytes().filter(u8::is_ascii_alphabetic).count();
                    type_fits(forms)
                        && letters >= 5
                        && within_one_edit(&forms.folded, &written_folded)
                })
                .map(|forms| forms.unit)
                .collect();
        }
        // An alias names the units called like the province it stands for.
        let key = if written.alias {
            folded_key(maps.short_name(written.unit))
        } else {
            folded_key(&written.written_name)
        };
        let written_exact = exact_form(&written.written_name);
        let Some(positions) = self.by_folded[&level].get(&key) else {
            return Vec::new();
        };
        positions
            .iter()
            .map(|&pos| &units[pos])
            .filter(|forms| {
                type_fits(forms)
                    && (written.alias
                        || forms.number.is_some()
                        || !style.keeps_marks()
                        || forms.exact == written_exact)
            })
            .map(|forms| forms.unit)
            .collect()
    }
}

/// At most one substitution, insertion, deletion or swap of neighbours.
fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let first = short
        .iter()
        .zip(long)
        .position(|(x, y)| x != y)
        .unwrap_or(short.len());
    if short.len() == long.len() {
        first == short.len()
            || short[first + 1..] == long[first + 1..]
            || (first + 1 < short.len()
                && short[first] == long[first + 1]
                && short[first + 1] == long[first]
                && short[first + 2..] == long[first + 2..])
    } else {
        short[first..] == long[first + 1..]
    }
}

/// The wards (of both maps) that fit every unit a rendering names.
fn fitting_wards(fixture: &Fixture, rendered: &Rendered, style: Style) -> Vec<UnitId> {
    let maps = &*fixture.maps;
    let mut ward_names = Vec::new();
    let mut districts = Vec::new();
    let mut provinces = Vec::new();
    let mut district_written = false;
    let mut province_written = false;
    for written in &rendered.units {
        let matching = fixture.names.matching(maps, written, style);
        match written.unit.level() {
            Level::Ward => ward_names = matching,
            Level::District => {
                district_written = true;
                districts = matching;
            }
            Level::Province => {
                province_written = true;
                provinces = matching;
            }
        }
    }
    ward_names
        .into_iter()
        .filter(|&unit| match unit {
            UnitId::LegacyWard(id) => {
                let ward = maps.legacy_ward(id);
                let district_fits =
                    !district_written || districts.contains(&UnitId::LegacyDistrict(ward.district));
                // A legacy ward's 2025 province: the one its legacy province went into.
                let province_2025 = maps.legacy_province(ward.province).provinces_2025[0];
                district_fits
                    && (!province_written
                        || provinces.iter().any(|&p| match p {
                            UnitId::LegacyProvince(p) => p == ward.province,
                            UnitId::Province(p) => p == province_2025,
                            _ => false,
                        }))
            }
            UnitId::Ward(id) => {
                let ward = maps.ward(id);
                let district_fits = !district_written
                    || ward
                        .source_districts
                        .iter()
                        .any(|&district| districts.contains(&UnitId::LegacyDistrict(district)));
                // A legacy province name names the 2025 province it went into.
                district_fits
                    && (!province_written
                        || provinces.iter().any(|&p| match p {
                            UnitId::Province(p) => p == ward.province,
                            UnitId::LegacyProvince(p) => maps
                                .legacy_province(p)
                                .provinces_2025
                                .contains(&ward.province),
                            _ => false,
                        }))
            }
            _ => false,
        })
        .collect()
}

/// Whether a fitting ward is the expected one, or the same place in the other map.
fn same_place(maps: &AdminMaps, expected: UnitId, other: UnitId) -> bool {
    match (expected, other) {
        (a, b) if a == b => true,
        (UnitId::LegacyWard(legacy), UnitId::Ward(ward))
        | (UnitId::Ward(ward), UnitId::LegacyWard(legacy)) => {
            maps.legacy_ward(legacy).targets.contains(&ward)
        }
        _ => false,
    }
}

struct Case {
    style: Style,
    expected: UnitId,
    ambiguous: bool,
    text: String,
}

fn cases_for(fixture: &Fixture, ward: WardRef, case_idx: usize) -> Vec<Case> {
    Style::ALL
        .iter()
        .map(|&style| {
            let line = ward_line(fixture, ward, case_idx + style as usize);
            let seed = (case_idx as u64) << 8 | style as u64;
            let rendered = fixture.renderer.render(ward, line, style, seed);
            let fitting = fitting_wards(fixture, &rendered, style);
            let expected = ward.unit();
            assert!(
                fitting.contains(&expected),
                "label error: {:?} does not fit its own rendering {:?}",
                expected,
                rendered.text
            );
            let ambiguous = fitting
                .iter()
                .any(|&other| !same_place(&fixture.maps, expected, other));
            Case {
                style,
                expected,
                ambiguous,
                text: rendered.text,
            }
        })
        .collect()
}

fn all_wards(maps: &AdminMaps) -> impl Iterator<Item = WardRef> + '_ {
    maps.legacy_ward_ids()
        .map(WardRef::Legacy)
        .chain(maps.ward_ids().map(WardRef::Y2025))
}

// ---------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Tally {
    unambiguous: u32,
    exact: u32,
    /// Unambiguous and answered right, but flagged ambiguous.
    exact_flagged: u32,
    ambiguous: u32,
    flagged: u32,
    /// Ambiguous, answered with a wrong ward and `ambiguous: false`.
    wrong_unflagged: u32,
    no_answer: u32,
}

fn answer(parse: &vmap::parse::Parse, expected: UnitId) -> Option<UnitId> {
    match expected {
        UnitId::LegacyWard(_) => parse.reading.legacy.ward.map(UnitId::LegacyWard),
        _ => parse.reading.admin_2025.ward.map(UnitId::Ward),
    }
}

fn score(fixture: &Fixture, case: &Case, tally: &mut Tally, failures: &mut Vec<String>) {
    let parse = fixture.parser.parse(&case.text);
    let got = answer(&parse, case.expected);
    let flagged = parse.reading.ambiguous;
    if got.is_none() {
        tally.no_answer += 1;
    }
    if case.ambiguous {
        tally.ambiguous += 1;
        tally.flagged += u32::from(flagged);
        if !flagged && got.is_some() && got != Some(case.expected) {
            tally.wrong_unflagged += 1;
            failures.push(format!(
                "{} AMBIGUOUS-UNFLAGGED {:?}",
                case.style.name(),
                case.text
            ));
        }
    } else {
        tally.unambiguous += 1;
        if got == Some(case.expected) {
            tally.exact += 1;
            tally.exact_flagged += u32::from(flagged);
        } else {
            let maps = &*fixture.maps;
            let name = |unit: Option<UnitId>| unit.map(|u| maps.unit(u).name.to_owned());
            failures.push(format!(
                "{} WRONG {:?} → {:?} (flagged {flagged})",
                case.style.name(),
                case.text,
                name(got)
            ));
        }
    }
}

fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        100.0
    } else {
        100.0 * f64::from(part) / f64::from(whole)
    }
}

fn corpus_accuracy_by_style() {
    let fixture = fixture();
    let maps = &*fixture.maps;
    let mut tallies: HashMap<Style, Tally> = HashMap::new();
    let mut failures: HashMap<Style, Vec<String>> = HashMap::new();
    for (case_idx, ward) in all_wards(maps).enumerate() {
        if !case_idx.is_multiple_of(CORPUS_STRIDE) {
            continue;
        }
        for case in cases_for(fixture, ward, case_idx) {
            score(
                fixture,
                &case,
                tallies.entry(case.style).or_default(),
                failures.entry(case.style).or_default(),
            );
        }
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<15} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "style", "unamb", "exact %", "flagged", "amb", "flagged%", "wrong!", "none"
    );
    let mut below = Vec::new();
    let mut wrong_unflagged = 0;
    for style in Style::ALL {
        let tally = tallies.get(&style).copied().unwrap_or_default();
        let exact_share = percent(tally.exact, tally.unambiguous);
        let _ = writeln!(
            table,
            "{:<15} {:>8} {:>8.2}% {:>8} {:>8} {:>8.1}% {:>8} {:>8}",
            style.name(),
            tally.unambiguous,
            exact_share,
            tally.exact_flagged,
            tally.ambiguous,
            percent(tally.flagged, tally.ambiguous),
            tally.wrong_unflagged,
            tally.no_answer
        );
        if exact_share < MIN_EXACT_SHARE * 100.0 {
            below.push(style.name());
        }
        wrong_unflagged += tally.wrong_unflagged;
    }
    println!("every {CORPUS_STRIDE}th ward:\n{table}");
    for style in Style::ALL {
        let list = failures.get(&style).map(Vec::as_slice).unwrap_or(&[]);
        for failure in list.iter().take(8) {
            println!("  {failure}");
        }
    }
    assert!(
        below.is_empty(),
        "styles below 99.5 % exact: {below:?}\n{table}"
    );
    assert_eq!(
        wrong_unflagged, 0,
        "wrong unflagged answers on ambiguous cases\n{table}"
    );
}

/// Writes the corpus as CSV (style, map, expected ward code, ambiguous, text) to
/// `$VMAP_CORPUS_CSV`, for running other parsers on the same cases.
/// Ignored: it writes a file; run on demand.
fn export_corpus_csv() {
    let Ok(path) = std::env::var("VMAP_CORPUS_CSV") else {
        panic!("set VMAP_CORPUS_CSV to the file to write");
    };
    let fixture = fixture();
    let maps = &*fixture.maps;
    let mut writer = csv::Writer::from_path(&path).expect("open the CSV file");
    writer
        .write_record(["style", "map", "expected_code", "ambiguous", "text"])
        .expect("write");
    for (case_idx, ward) in all_wards(maps).enumerate() {
        for case in cases_for(fixture, ward, case_idx) {
            let map = if case.expected.is_legacy() {
                "legacy"
            } else {
                "2025"
            };
            writer
                .write_record([
                    case.style.name(),
                    map,
                    maps.unit(case.expected).code,
                    if case.ambiguous { "1" } else { "0" },
                    case.text.as_str(),
                ])
                .expect("write");
        }
    }
    writer.flush().expect("flush");
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\PC\\p{Cc}]{0,200}",
        "[,.;/\\-() ]{0,100}",
        "[😀🏠🇻🇳\u{0300}-\u{036F}a-zA-Z0-9 ,.]{0,80}",
        proptest::collection::vec("[a-zA-ZđĐàáảãạăằắẳẵặâầấẩẫậ0-9]{1,8}", 0..400)
            .prop_map(|words| words.join(" ")),
        Just("P".repeat(10_000)),
        Just(", ".repeat(5_000)),
        Just("Phường 1 ".repeat(1_200)),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Cases per property: fewer in a debug build, where generating long texts is slow.
const CASES: u32 = if cfg!(debug_assertions) { 64 } else { 256 };

fn parsing_never_panics_and_stays_in_range() {
    runner(CASES)
        .run(&any_text(), |text| {
            let parse = fixture().parser.parse(&text);
            prop_assert!((0.0..=1.0).contains(&parse.reading.confidence));
            for alternative in &parse.alternatives {
                prop_assert!((0.0..=1.0).contains(&alternative.confidence));
            }
            prop_assert_eq!(parse.query, text);
            Ok(())
        })
        .expect("parsing never panics");
}

/// A rendering whose units fit only its own ward parses back to that ward, in the full
/// and the two-level forms, whatever the street part.
fn a_full_rendering_parses_back() {
    let strategy = (any::<u32>(), any::<u64>(), any::<bool>());
    runner(CASES)
        .run(&strategy, |(ward_pick, seed, two_level)| {
            let fixture = fixture();
            let maps = &*fixture.maps;
            let n_legacy = maps.legacy_wards().len() as u32;
            let n_all = n_legacy + maps.wards().len() as u32;
            let pick = ward_pick % n_all;
            let ward = if pick < n_legacy {
                WardRef::Legacy(maps.legacy_ward_ids().nth(pick as usize).expect("id"))
            } else {
                WardRef::Y2025(maps.ward_ids().nth((pick - n_legacy) as usize).expect("id"))
            };
            let style = if two_level {
                Style::TwoLevel
            } else {
                Style::Full
            };
            let line = ward_line(fixture, ward, seed as usize % 3 + 1);
            let rendered = fixture.renderer.render(ward, line, style, seed);
            let fitting = fitting_wards(fixture, &rendered, style);
            if !fitting
                .iter()
                .all(|&other| same_place(maps, ward.unit(), other))
            {
                return Ok(());
            }
            let parse = fixture.parser.parse(&rendered.text);
            prop_assert_eq!(
                answer(&parse, ward.unit()),
                Some(ward.unit()),
                "{}",
                rendered.text
            );
            Ok(())
        })
        .expect("renderings parse back");
}
