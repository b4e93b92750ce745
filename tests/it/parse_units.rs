//! The parser on addresses that stop above the ward: every province of both maps alone,
//! and every legacy district with its province, in the forms lists carry them (a province
//! column, a "district, province" field). The ward corpus (`parse_corpus`) always names a
//! ward; these name none, and the answer must name none either.
//!
//! A case counts as right when it answers the unit written (for a legacy province, the 2025
//! province it went into) and no ward; as flagged when it answers something else but says
//! `ambiguous`; otherwise as wrong. Thresholds: no wrong answer at all for provinces; for
//! districts at most 0.5 % per form (some district names are also names of wards of the
//! same province, written without a marker).

use std::sync::{Arc, OnceLock};

use vmap::admin::{AdminMaps, UnitType};
use vmap::parse::{Parse, Parser, strip_marks};

use crate::helpers::harness::trials;

trials! {
    plain: [
        every_province_alone_reads_as_its_province,
        every_district_with_its_province_reads_as_that_district,
    ],
}

fn parser() -> &'static Parser {
    static PARSER: OnceLock<Parser> = OnceLock::new();
    PARSER.get_or_init(|| Parser::new(Arc::new(AdminMaps::load_embedded().expect("maps"))))
}

fn plain(text: &str) -> String {
    strip_marks(text).to_lowercase()
}

/// The marker people abbreviate a unit type to, if any.
fn abbreviation(unit_type: UnitType) -> Option<&'static str> {
    match unit_type {
        UnitType::ThanhPho => Some("TP."),
        UnitType::Quan => Some("Q."),
        UnitType::Huyen => Some("H."),
        UnitType::ThiXa => Some("TX."),
        _ => None,
    }
}

/// A province written one way: (name, short name, type) → text, or none for this one.
type ProvinceForm = fn(&str, &str, UnitType) -> Option<String>;
/// A district written one way: (name, short name, type, province name, province short
/// name) → text, or none for this one.
type DistrictForm = fn(&str, &str, UnitType, &str, &str) -> Option<String>;

#[derive(Default)]
struct Tally {
    cases: usize,
    right: usize,
    flagged: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn add(&mut self, text: &str, parse: &Parse, right: bool) {
        self.cases += 1;
        if right {
            self.right += 1;
        } else if parse.reading.ambiguous {
            self.flagged += 1;
        } else {
            self.wrong.push(text.to_owned());
        }
    }
}

fn report(what: &str, tallies: &[(&str, Tally)]) -> String {
    let mut text = format!("{what}:\n");
    for (form, tally) in tallies {
        text.push_str(&format!(
            "  {form:<12} {:>5} cases {:>5} right {:>3} flagged {:>3} wrong {:?}\n",
            tally.cases,
            tally.right,
            tally.flagged,
            tally.wrong.len(),
            tally.wrong.iter().take(5).collect::<Vec<_>>()
        ));
    }
    text
}

fn every_province_alone_reads_as_its_province() {
    let parser = parser();
    let maps = parser.maps();
    // (name, short name, type, the 2025 provinces the answer may be)
    let mut provinces = Vec::new();
    for id in maps.province_ids() {
        let province = maps.province(id);
        provinces.push((
            &province.name,
            &province.short_name,
            province.unit_type,
            vec![id],
        ));
    }
    for id in maps.legacy_province_ids() {
        let province = maps.legacy_province(id);
        let targets = province.provinces_2025.clone();
        provinces.push((
            &province.name,
            &province.short_name,
            province.unit_type,
            targets,
        ));
    }
    let forms: [(&str, ProvinceForm); 5] = [
        ("full", |name, _, _| Some(name.to_owned())),
        ("short", |_, short, _| Some(short.to_owned())),
        ("no_marks", |name, _, _| Some(plain(name))),
        ("upper_short", |_, short, _| Some(short.to_uppercase())),
        ("abbreviated", |_, short, unit_type| {
            abbreviation(unit_type).map(|marker| format!("{marker} {short}"))
        }),
    ];
    let mut tallies = Vec::new();
    for (form, render) in forms {
        let mut tally = Tally::default();
        for (name, short, unit_type, targets) in &provinces {
            let Some(text) = render(name, short, *unit_type) else {
                continue;
            };
            let parse = parser.parse(&text);
            let reading = &parse.reading;
            let right = reading
                .admin_2025
                .province
                .is_some_and(|province| targets.contains(&province))
                && reading.admin_2025.ward.is_none()
                && reading.legacy.ward.is_none();
            tally.add(&text, &parse, right);
        }
        tallies.push((form, tally));
    }
    let report = report("provinces alone", &tallies);
    println!("{report}");
    for (_, tally) in &tallies {
        assert!(tally.wrong.is_empty(), "{report}");
    }
}

fn every_district_with_its_province_reads_as_that_district() {
    let parser = parser();
    let maps = parser.maps();
    let forms: [(&str, DistrictForm); 3] = [
        ("full", |name, _, _, province, _| {
            Some(format!("{name}, {province}"))
        }),
        ("no_marks", |name, _, _, province, _| {
            Some(plain(&format!("{name}, {province}")))
        }),
        ("abbreviated", |_, short, unit_type, _, province_short| {
            abbreviation(unit_type).map(|marker| format!("{marker} {short}, {province_short}"))
        }),
    ];
    let mut tallies = Vec::new();
    for (form, render) in forms {
        let mut tally = Tally::default();
        for id in maps.legacy_district_ids() {
            let district = maps.legacy_district(id);
            let province = maps.legacy_province(district.province);
            let Some(text) = render(
                &district.name,
                &district.short_name,
                district.unit_type,
                &province.name,
                &province.short_name,
            ) else {
                continue;
            };
            let parse = parser.parse(&text);
            let reading = &parse.reading;
            // An island district is one 2025 đặc khu: its ward follows from it.
            let right = reading.legacy.district == Some(id)
                && reading.admin_2025.ward == district.island_target
                && reading.legacy.ward.is_none();
            tally.add(&text, &parse, right);
        }
        tallies.push((form, tally));
    }
    let report = report("legacy districts with their province", &tallies);
    println!("{report}");
    for (_, tally) in &tallies {
        assert!(tally.wrong.is_empty(), "{report}");
    }
}
