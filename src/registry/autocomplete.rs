//! Autocomplete: the text typed so far → completions (`Registry::autocomplete`), for a
//! search box that suggests as the user types.
//!
//! The part being typed (after the last comma) is read by `geocode::partial`: a house
//! number, then the prefix of a street's name, or a unit word and the prefix of a unit's
//! name. Streets come from the text index's prefix lists (per zone when the text before
//! names a ward or district, else the global list), units from `UnitNames`. The finished
//! text before is parsed as `/v1/search` parses it, and narrows: its ward or district to
//! their postal zones, its province to its zones; a unit typed after it to the units
//! within it. When the finished text already holds a street, only units are completed.
//!
//! Decisions:
//! - Order: the whole name typed ("Phố Huế" before "Phố Huế Mới"), then the marks typed
//!   exactly as the name has them ("Lê Văn S" ranks "Lê Văn Sỹ" above "Lê Vân Sơn"), then
//!   streets before units (units first after a unit word), then the place (the house typed
//!   exactly, then houses whose number starts with it, then streets without such a house;
//!   provinces, districts, wards in that order), then distance to `near`, then the label.
//! - Distance: an address's own location; a street's is its zone's centre while the
//!   candidates are ranked, then, for the few kept, its middle registered house (the
//!   location answered); a unit's centroid. Ties beyond those are broken by the label,
//!   then the order names were found in, so that answers are reproducible.
//! - Bounds, so that a short prefix over the whole country stays cheap: at most
//!   `MAX_PAIRS` (street, zone) pairs are considered, in name order, and house numbers
//!   are looked for on the best `MAX_STREETS_FOR_HOUSES` of them.
//! - `completion` is what the box should hold once the suggestion is picked: the label
//!   (with the house number typed, for a street); for a unit typed after a street, that
//!   street's text as typed, a comma, and the unit's label.
//! - Retired addresses are never suggested; a street is suggested while it has an active
//!   address in the zone.

use std::time::{Duration, Instant};

use foldhash::HashMap;

use super::Registry;
use super::memory::Memory;
use super::scope::Scope;
use super::search::MatchLevel;
use crate::admin::{AdminMaps, UnitId, WardId};
use crate::code::{Postcode, VmapCode};
use crate::geocode::partial::{Typed, UnitPrefix, is_exact_prefix};
use crate::geocode::units::UnitName;
use crate::parse::Reading;
use crate::point::{LatLon, haversine_m};
use crate::zones::{Map2025, ZoneId};

/// Most (street, zone) pairs a query considers.
const MAX_PAIRS: usize = 20_000;
/// House numbers are looked for on this many of the best streets.
const MAX_STREETS_FOR_HOUSES: usize = 64;

/// One completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub kind: MatchLevel,
    /// As Vietnam Post writes it (as `/v1/search` labels).
    pub label: String,
    /// The text to put in the box when the suggestion is picked.
    pub completion: String,
    /// Only for `Address`.
    pub code: Option<VmapCode>,
    pub location: Option<LatLon>,
    /// The postal zone (addresses, streets, wards).
    pub zone: Option<ZoneId>,
    /// The 2025 ward the suggestion is in or names.
    pub ward_2025: Option<WardId>,
    /// Wards, districts and provinces: the unit (of either map).
    pub unit: Option<UnitId>,
}

/// What a candidate is, before its label is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum What {
    Address {
        zone: u32,
        street: u32,
        id: u32,
        place: u32,
    },
    Street {
        zone: u32,
        street: u32,
    },
    /// A unit; `after_street`: typed after a street, whose line leads the completion.
    Unit {
        unit: UnitName,
        after_street: bool,
    },
}

/// The order of candidates: smaller first.
#[derive(Debug, Clone, Copy)]
struct Rank {
    not_whole: bool,
    not_exact: bool,
    /// 0: what the text was typed for (streets; units after a unit word), 1: the others.
    group: u8,
    /// House exact, house prefix, street without the house; province, district, ward.
    place: u8,
    distance: f64,
    /// Last, so that answers are reproducible: the order names were found in (name order
    /// within a list), then zone and address id.
    tie: (u32, u32, u32),
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    rank: Rank,
    what: What,
    location: Option<LatLon>,
}

impl Registry {
    /// Derives the text index's street prefix lists again, as a start-up from a snapshot
    /// does, and says how long that took and over how many street labels (the bench's
    /// figure for the start-up cost). The lists come out the same.
    pub fn rederive_text_prefixes(&self) -> (Duration, usize) {
        let mut memory = self.write_memory();
        let started = Instant::now();
        memory.text.derive_prefixes();
        (started.elapsed(), memory.text.streets.len())
    }

    /// Completions of `text`, best first, at most `limit`. Empty when the registry has no
    /// administrative map (a custom legacy zone file).
    pub fn autocomplete(&self, text: &str, limit: usize, near: Option<LatLon>) -> Vec<Suggestion> {
        let Some(map) = self.zones.map_2025() else {
            return Vec::new();
        };
        let typed = Typed::read(text);
        let reading_of = |head: &str| {
            head.chars()
                .any(char::is_alphanumeric)
                .then(|| map.parser().parse(head).reading)
        };
        let head = reading_of(typed.head);
        let scope = head
            .as_ref()
            .map_or(Scope::Anywhere, |reading| Scope::of(reading, map.admin()));
        let memory = self.read_memory();
        let mut candidates = Vec::new();
        let head_has_street = head.as_ref().is_some_and(|r| r.street.is_some());
        if !head_has_street {
            self.street_candidates(&memory, &typed, &scope, near, &mut candidates);
            if let Some(whole) = typed.without_place() {
                self.street_candidates(&memory, &whole, &scope, near, &mut candidates);
            }
        }
        // The street line a unit typed after it completes: the words before the unit
        // word, or the first part of the finished text.
        let mut lead = head_has_street.then(|| {
            typed
                .head
                .split([',', ';', '\n'])
                .next()
                .unwrap_or("")
                .trim()
        });
        for unit in &typed.units {
            let (reading, after_street) = match unit.head_end {
                Some(end) => {
                    lead = Some(text[..end].trim());
                    (reading_of(&text[..end]), true)
                }
                None => (head.clone(), head_has_street),
            };
            let context = UnitContext {
                within: reading.as_ref(),
                after_street,
                whole_last: typed.whole_last,
                near,
            };
            unit_candidates(map, unit, &context, &mut candidates);
        }
        // Rank with the coarse distances, keep a few more than asked, then place the
        // streets at their houses and rank those again.
        let order = |a: &Candidate, b: &Candidate| {
            (
                a.rank.not_whole,
                a.rank.not_exact,
                a.rank.group,
                a.rank.place,
            )
                .cmp(&(
                    b.rank.not_whole,
                    b.rank.not_exact,
                    b.rank.group,
                    b.rank.place,
                ))
                .then(a.rank.distance.total_cmp(&b.rank.distance))
        };
        let keep = limit.max(1) * 4 + 16;
        if candidates.len() > keep {
            candidates
                .select_nth_unstable_by(keep, |a, b| order(a, b).then(a.rank.tie.cmp(&b.rank.tie)));
            candidates.truncate(keep);
        }
        for candidate in &mut candidates {
            if let What::Street { zone, street } = candidate.what {
                candidate.location = middle_house(&memory, zone, street);
                if let (Some(near), Some(at)) = (near, candidate.location) {
                    candidate.rank.distance = haversine_m(near, at);
                }
            }
        }
        candidates.retain(|c| c.location.is_some() || matches!(c.what, What::Unit { .. }));
        let mut suggestions: Vec<(Candidate, Suggestion)> = candidates
            .into_iter()
            .map(|c| (c, self.suggestion(map, &memory, &typed, lead, &c)))
            .collect();
        suggestions.sort_by(|(a, sa), (b, sb)| {
            order(a, b)
                .then_with(|| sa.label.cmp(&sb.label))
                .then(a.rank.tie.cmp(&b.rank.tie))
        });
        // A street found both with and without the house number typed is one suggestion.
        let mut seen = foldhash::HashSet::default();
        suggestions.retain(|(_, s)| seen.insert((s.kind, s.label.clone())));
        suggestions.truncate(limit.max(1));
        suggestions.into_iter().map(|(_, s)| s).collect()
    }

    /// Streets whose name starts with the prefix typed, and their houses whose number
    /// starts with the house number typed.
    fn street_candidates(
        &self,
        memory: &Memory,
        typed: &Typed<'_>,
        scope: &Scope,
        near: Option<LatLon>,
        out: &mut Vec<Candidate>,
    ) {
        let text = &memory.text;
        let prefixes = typed.street_prefixes();
        // (zone, street) → whether its whole name was typed, and when it was found.
        let mut pairs: HashMap<(u32, u32), (bool, u32)> = HashMap::default();
        let mut add = |zone: u32, street: u32, whole: bool| {
            let found = pairs.len() as u32;
            if pairs.len() < MAX_PAIRS || pairs.contains_key(&(zone, street)) {
                let entry = pairs.entry((zone, street)).or_insert((false, found));
                entry.0 |= whole;
            }
        };
        let whole_of = |form_text: &str, prefix: &str| form_text == prefix.trim_end();
        match scope.numbers() {
            Some(numbers) => {
                let mut zones: Vec<u32> = numbers.iter().copied().collect();
                zones.sort_unstable();
                for prefix in &prefixes {
                    for &zone in &zones {
                        for form in text.prefixes.zone_with_prefix(&text.streets, zone, prefix) {
                            let form_text = text.prefixes.text(&text.streets, form);
                            add(zone, form.street(), whole_of(form_text, prefix));
                        }
                    }
                }
            }
            None => {
                let maps = self.zones.map_2025().map(Map2025::admin);
                // A name not begun ("Phố ") lists streets only within a ward.
                for prefix in prefixes.iter().filter(|prefix| !prefix.is_empty()) {
                    for form in text.prefixes.global_with_prefix(prefix) {
                        let whole = whole_of(text.prefixes.text(&text.streets, form), prefix);
                        for &zone in text.zones_of_street(form.street()) {
                            let allowed = match (scope, maps) {
                                (Scope::Anywhere, _) => true,
                                (_, Some(maps)) => scope.allows(zone, &self.zones, maps),
                                (_, None) => false,
                            };
                            if allowed {
                                add(zone, form.street(), whole);
                            }
                        }
                    }
                }
            }
        }
        let mut exact: HashMap<u32, bool> = HashMap::default();
        let mut streets: Vec<Candidate> = pairs
            .into_iter()
            .map(|((zone, street), (whole, found))| {
                let not_exact = !*exact.entry(street).or_insert_with(|| {
                    is_exact_prefix(&typed.name, typed.whole_last, text.streets.label(street))
                });
                let centre = Postcode::new(zone)
                    .and_then(|p| self.zones.by_postcode(p))
                    .map(|id| self.zones.get(id).center);
                Candidate {
                    rank: Rank {
                        not_whole: !whole,
                        not_exact,
                        group: 0,
                        place: if typed.place.is_some() { 2 } else { 0 },
                        distance: distance(near, centre),
                        tie: (found, zone, 0),
                    },
                    what: What::Street { zone, street },
                    location: None,
                }
            })
            .collect();
        let Some(place) = typed.place.as_deref() else {
            out.extend(streets);
            return;
        };
        let order = |a: &Candidate, b: &Candidate| {
            (a.rank.not_whole, a.rank.not_exact)
                .cmp(&(b.rank.not_whole, b.rank.not_exact))
                .then(a.rank.distance.total_cmp(&b.rank.distance))
                .then(street_order(text, a).cmp(&street_order(text, b)))
        };
        // Only the best few are looked at here (the order is total: no two pairs tie).
        if streets.len() > MAX_STREETS_FOR_HOUSES {
            streets.select_nth_unstable_by(MAX_STREETS_FOR_HOUSES, order);
        }
        let best = streets.len().min(MAX_STREETS_FOR_HOUSES);
        streets[..best].sort_by(order);
        for street in &streets[..best] {
            let What::Street { zone, street: id } = street.what else {
                continue;
            };
            for posting in text.postings(zone, id) {
                let key = text.places.key(posting.place);
                if !key.starts_with(place) {
                    continue;
                }
                let Some(record) = memory.record(posting.id).filter(|r| r.active) else {
                    continue;
                };
                out.push(Candidate {
                    rank: Rank {
                        place: u8::from(key != place),
                        distance: distance(near, Some(record.location)),
                        tie: (street.rank.tie.0, zone, posting.id),
                        ..street.rank
                    },
                    what: What::Address {
                        zone,
                        street: id,
                        id: posting.id,
                        place: posting.place,
                    },
                    location: Some(record.location),
                });
            }
        }
        out.extend(streets);
    }

    /// The suggestion's label, completion and the rest.
    fn suggestion(
        &self,
        map: &Map2025,
        memory: &Memory,
        typed: &Typed<'_>,
        lead: Option<&str>,
        candidate: &Candidate,
    ) -> Suggestion {
        let index = &memory.text;
        let zone_of = |number: u32| Postcode::new(number).and_then(|p| self.zones.by_postcode(p));
        let ward_at = |at: Option<LatLon>| at.and_then(|at| map.ward_at(at));
        match candidate.what {
            What::Address {
                zone: number,
                street,
                id,
                place,
            } => {
                let zone = zone_of(number);
                let label = self.label(
                    &[index.places.label(place), index.streets.label(street)],
                    zone,
                );
                Suggestion {
                    kind: MatchLevel::Address,
                    completion: label.clone(),
                    label,
                    code: memory
                        .record(id)
                        .and_then(|record| VmapCode::unpack(record.code_key)),
                    location: candidate.location,
                    zone,
                    ward_2025: ward_at(candidate.location),
                    unit: None,
                }
            }
            What::Street { zone, street } => {
                let zone = zone_of(zone);
                let label = self.label(&[index.streets.label(street)], zone);
                let completion = if typed.place_text.is_empty() {
                    label.clone()
                } else {
                    format!("{} {label}", typed.place_text)
                };
                Suggestion {
                    kind: MatchLevel::Street,
                    label,
                    completion,
                    code: None,
                    location: candidate.location,
                    zone,
                    ward_2025: ward_at(candidate.location),
                    unit: None,
                }
            }
            What::Unit { unit, after_street } => {
                let lead = lead.filter(|line| after_street && !line.is_empty());
                self.unit_suggestion(map.admin(), lead, unit, candidate)
            }
        }
    }

    fn unit_suggestion(
        &self,
        maps: &AdminMaps,
        lead: Option<&str>,
        unit: UnitName,
        candidate: &Candidate,
    ) -> Suggestion {
        let zone_of = |postcode: Option<Postcode>| postcode.and_then(|p| self.zones.by_postcode(p));
        let (kind, label, zone, ward_2025) = match unit.unit {
            UnitId::LegacyWard(id) => {
                let ward = maps.legacy_ward(id);
                let district = maps.legacy_district(ward.district);
                let province = maps.legacy_province(ward.province);
                let label = format!("{}, {}, {}", ward.name, district.name, province.name);
                let target = maps.default_target(id);
                (MatchLevel::Ward, label, zone_of(ward.postcode), target)
            }
            UnitId::Ward(id) => {
                let ward = maps.ward(id);
                let label = format!("{}, {}", ward.name, maps.province(ward.province).name);
                (MatchLevel::Ward, label, zone_of(ward.postcode), Some(id))
            }
            UnitId::LegacyDistrict(id) => {
                let district = maps.legacy_district(id);
                let province = maps.legacy_province(district.province);
                let label = format!("{}, {}", district.name, province.name);
                (MatchLevel::District, label, None, None)
            }
            UnitId::LegacyProvince(id) => {
                let label = maps.legacy_province(id).name.clone();
                (MatchLevel::Province, label, None, None)
            }
            UnitId::Province(id) => {
                let label = maps.province(id).name.clone();
                (MatchLevel::Province, label, None, None)
            }
        };
        let completion = match lead {
            Some(line) => format!("{line}, {label}"),
            None => label.clone(),
        };
        let location = candidate
            .location
            .or_else(|| zone.map(|z| self.zones.get(z).center));
        Suggestion {
            kind,
            label,
            completion,
            code: None,
            location,
            zone,
            ward_2025,
            unit: Some(unit.unit),
        }
    }
}

/// Streets in a stable order: by label, then zone.
fn street_order<'a>(text: &'a crate::geocode::TextIndex, candidate: &Candidate) -> (&'a str, u32) {
    match candidate.what {
        What::Street { zone, street } | What::Address { zone, street, .. } => {
            (text.streets.label(street), zone)
        }
        What::Unit { .. } => ("", 0),
    }
}

fn distance(near: Option<LatLon>, at: Option<LatLon>) -> f64 {
    match (near, at) {
        (Some(near), Some(at)) => haversine_m(near, at),
        (Some(_), None) => f64::INFINITY,
        (None, _) => 0.0,
    }
}

/// A street's middle active house (by place), where it is answered.
fn middle_house(memory: &Memory, zone: u32, street: u32) -> Option<LatLon> {
    let postings = memory.text.postings(zone, street);
    let middle = crate::geocode::houses::middle_house(postings, |id| memory.is_active(id))?;
    memory.record(middle.id).map(|record| record.location)
}

/// What unit candidates are ranked and narrowed by.
struct UnitContext<'a> {
    /// The reading of the text before the unit.
    within: Option<&'a Reading>,
    after_street: bool,
    whole_last: bool,
    near: Option<LatLon>,
}

/// Units whose name starts with the prefix typed, within what the text before names.
fn unit_candidates(
    map: &Map2025,
    unit: &UnitPrefix,
    context: &UnitContext<'_>,
    out: &mut Vec<Candidate>,
) {
    let maps = map.admin();
    let UnitContext {
        within,
        after_street,
        whole_last,
        near,
    } = *context;
    if unit.unit_type.is_none() && unit.prefix.is_empty() {
        return;
    }
    for (found, (name, entry)) in map.unit_names().with_prefix(&unit.prefix).enumerate() {
        let type_fits = match unit.unit_type {
            Some(unit_type) => entry.unit_type == unit_type,
            None => !entry.numeric,
        };
        if !type_fits || !within.is_none_or(|reading| unit_within(maps, entry.unit, reading)) {
            continue;
        }
        let exact = !unit.words.is_empty()
            && is_exact_prefix(&unit.words, whole_last, maps.short_name(entry.unit));
        let place = match entry.unit {
            UnitId::LegacyProvince(_) | UnitId::Province(_) => 0,
            UnitId::LegacyDistrict(_) => 1,
            UnitId::LegacyWard(_) | UnitId::Ward(_) => 2,
        };
        out.push(Candidate {
            rank: Rank {
                not_whole: name != unit.prefix.trim_end(),
                not_exact: !exact,
                group: u8::from(unit.unit_type.is_none() && !after_street),
                place,
                distance: distance(near, entry.location),
                tie: (found as u32, 0, 0),
            },
            what: What::Unit {
                unit: entry,
                after_street,
            },
            location: entry.location,
        });
    }
}

/// Whether a unit lies within the units a reading names (a unit the reading already
/// names at its level, or above, is not suggested again).
fn unit_within(maps: &AdminMaps, unit: UnitId, reading: &Reading) -> bool {
    let legacy_province = reading.legacy.province;
    let province_2025 = reading.admin_2025.province;
    let district = reading.legacy.district;
    let has_ward = reading.legacy.ward.is_some() || reading.admin_2025.ward.is_some();
    let in_legacy_province = |p: crate::admin::LegacyProvinceId| {
        legacy_province.is_none_or(|want| want == p)
            && province_2025
                .is_none_or(|want| maps.legacy_province(p).provinces_2025.contains(&want))
    };
    let in_province_2025 = |p: crate::admin::ProvinceId| {
        province_2025.is_none_or(|want| want == p)
            && legacy_province.is_none_or(|want| maps.province(p).legacy_provinces.contains(&want))
    };
    match unit {
        UnitId::LegacyWard(id) => {
            let ward = maps.legacy_ward(id);
            !has_ward
                && district.is_none_or(|d| d == ward.district)
                && in_legacy_province(ward.province)
        }
        UnitId::Ward(id) => {
            let ward = maps.ward(id);
            !has_ward
                && district.is_none_or(|d| ward.source_districts.contains(&d))
                && in_province_2025(ward.province)
        }
        UnitId::LegacyDistrict(id) => {
            let district_record = maps.legacy_district(id);
            district.is_none() && in_legacy_province(district_record.province)
        }
        UnitId::LegacyProvince(_) | UnitId::Province(_) => {
            legacy_province.is_none() && province_2025.is_none()
        }
    }
}
