//! Forward geocoding: address text → registered addresses (`Registry::search`).
//!
//! The text is parsed (both maps); each reading, best first, names a scope — the postal
//! zones its ward covers, or its district, or its province, or anywhere — and a street
//! and a place. The street is looked up in the text index (its folded key, then one edit
//! for names of 5+ letters among the streets in scope), then the place among the street's
//! addresses. A result says how far it got (`MatchLevel`).
//!
//! Decisions:
//! - A code is never made from text: below `Address`, a result carries a location (the
//!   street's house nearest in number, or the ward's reference point), never a code.
//! - Confidence says how surely the text names the result, from the match alone: 1 for an
//!   address found by its exact (folded) street and place within the ward the text names,
//!   times 0.9 for a street matched with one edit, 0.8 when the text names no unit that
//!   confirms the street's place (or the address lies outside the 2025 ward named), 0.85
//!   for a street read from the start of the text after the parser read none, 0.9 per
//!   reading below the parser's best; then a factor per level (street 0.7, ward 0.5,
//!   district 0.35, province 0.2; units also times the parser's confidence). Results are
//!   ordered by it, then by distance to `near` when given, then by code and label, so
//!   answers are reproducible; the answer is `ambiguous` when the best two are at one
//!   level and confidence but name different places.
//! - Retired addresses are never results (their codes stay reserved, not found by text).

use std::collections::HashSet;

use super::Registry;
use super::memory::Memory;
use super::scope::Scope;
use crate::admin::{AdminMaps, WardId};
use crate::code::{Postcode, VmapCode};
use crate::geocode::houses::{middle_house, nearest_house};
use crate::geocode::keys::{alley_of, house_number_of, leading_line, place_key, street_key};
use crate::geocode::text_index::Posting;
use crate::geocode::units::mean;
use crate::parse::{Reading, within_one_edit};
use crate::point::{LatLon, haversine_m};
use crate::zones::ZoneId;

/// How far a result got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchLevel {
    Address,
    Street,
    Ward,
    District,
    Province,
}

impl MatchLevel {
    /// Its name in answers: `address`, `street`, `ward`, `district`, `province`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchLevel::Address => "address",
            MatchLevel::Street => "street",
            MatchLevel::Ward => "ward",
            MatchLevel::District => "district",
            MatchLevel::Province => "province",
        }
    }

    fn factor(self) -> f64 {
        match self {
            MatchLevel::Address => 1.0,
            MatchLevel::Street => 0.7,
            MatchLevel::Ward => 0.5,
            MatchLevel::District => 0.35,
            MatchLevel::Province => 0.2,
        }
    }
}

/// The parts of the query a result matched, as the registry writes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    pub place: Option<String>,
    pub street: Option<String>,
    pub ward: Option<String>,
    pub district: Option<String>,
    pub province: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub level: MatchLevel,
    /// Only at level `Address`.
    pub code: Option<VmapCode>,
    pub location: LatLon,
    /// The postal zone of the result (none above the ward).
    pub zone: Option<ZoneId>,
    /// The 2025 ward the result is in or names.
    pub ward_2025: Option<WardId>,
    /// The address as Vietnam Post writes it.
    pub label: String,
    pub confidence: f64,
    pub matched: Matched,
    /// Parts of the query the result does not account for.
    pub unmatched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchAnswer {
    pub results: Vec<SearchResult>,
    /// The best two results cannot be told apart.
    pub ambiguous: bool,
}

/// At most this many of the parser's readings are searched.
const MAX_READINGS: usize = 4;
/// Street names shorter than this are matched exactly only.
const MIN_FUZZY_LETTERS: usize = 5;
/// Results of the same level closer than this to one another confidence are ambiguous.
const TIE: f64 = 1e-9;

/// A street matched in a zone, and how surely.
#[derive(Clone)]
struct FoundStreet {
    zone: u32,
    street: u32,
    weight: f64,
}

/// A street matched with one edit.
const FUZZY_WEIGHT: f64 = 0.9;
/// A street found where the text names no unit that confirms it.
const UNPLACED_WEIGHT: f64 = 0.8;
/// A result outside the 2025 ward the text names.
const OUTSIDE_WARD_WEIGHT: f64 = 0.8;
/// A street read from the start of the text after the parser read none.
const FALLBACK_WEIGHT: f64 = 0.85;
/// A result that leaves out a number the text holds (a house or alley number the parser
/// did not place).
const UNUSED_NUMBER_WEIGHT: f64 = 0.8;
/// Longest number taken for a left-out house or alley number; longer ones are postal codes,
/// phone numbers.
const MAX_PLACE_DIGITS: usize = 4;

impl Registry {
    /// The registered addresses (or, failing them, the street or the unit) the text names,
    /// best first, at most `limit`. Empty when the registry has no administrative map (a
    /// custom legacy zone file).
    pub fn search(&self, text: &str, limit: usize, near: Option<LatLon>) -> SearchAnswer {
        let Some(map) = self.zones.map_2025() else {
            return SearchAnswer {
                results: Vec::new(),
                ambiguous: false,
            };
        };
        let maps = map.admin();
        let parse = map.parser().parse(text);
        let memory = self.read_memory();
        let mut results = Vec::new();
        let readings = std::iter::once(&parse.reading).chain(&parse.alternatives);
        for (rank, reading) in readings.take(MAX_READINGS).enumerate() {
            let weight = 0.9f64.powi(rank as i32)
                * if reading.conflicts.is_empty() {
                    1.0
                } else {
                    0.9
                };
            let scope = Scope::of(reading, maps);
            let before = results.len();
            if let Some(key) = reading.street.as_deref().and_then(street_key) {
                let streets = self.find_streets(&memory, maps, &[key], &scope);
                self.place_results(&memory, reading, streets, weight, &mut results);
            }
            if results.len() == before && rank == 0 {
                // The parser may have read the street's words as a unit ("Tô Vĩnh Diện"):
                // try the start of the text as a street, within the reading's scope if
                // that finds it, else anywhere.
                let (place, keys) = leading_line(text);
                let mut streets = self.find_streets(&memory, maps, &keys, &scope);
                if streets.is_empty() {
                    streets = self.find_streets(&memory, maps, &keys, &Scope::Anywhere);
                }
                streets
                    .iter_mut()
                    .for_each(|found| found.weight *= FALLBACK_WEIGHT);
                self.street_results(&memory, streets, place.as_deref(), weight, &mut results);
            }
            // A scope is a set of postal numbers, and a number shared by both tables may
            // name a neighbouring ward: an address outside the 2025 ward the text names
            // ranks below one inside it.
            if let Some(ward) = reading.admin_2025.ward {
                for result in &mut results[before..] {
                    if result.ward_2025 != Some(ward) {
                        result.confidence *= OUTSIDE_WARD_WEIGHT;
                    }
                }
            }
            if results.len() == before {
                let weight = weight * reading.confidence.clamp(0.05, 1.0);
                results.extend(self.unit_result(maps, reading, weight));
            }
        }
        rank_results(&mut results, near);
        let ambiguous = match results.as_slice() {
            [first, second, ..] => {
                first.level == second.level
                    && (first.confidence - second.confidence).abs() < TIE
                    && (first.code != second.code || first.zone != second.zone)
            }
            _ => false,
        };
        results.truncate(limit.max(1));
        SearchAnswer { results, ambiguous }
    }

    /// The registered streets in scope filed under the first of `keys` that has any
    /// (exactly; else, for a ward's scope, within one edit).
    fn find_streets(
        &self,
        memory: &Memory,
        maps: &AdminMaps,
        keys: &[String],
        scope: &Scope,
    ) -> Vec<FoundStreet> {
        let text = &memory.text;
        let scope_weight = if matches!(scope, Scope::Anywhere) {
            UNPLACED_WEIGHT
        } else {
            1.0
        };
        for key in keys {
            let mut found = Vec::new();
            for &street in text.streets.find(key) {
                let zones = text.zones_of_street(street);
                let found_in = |zone| FoundStreet {
                    zone,
                    street,
                    weight: scope_weight,
                };
                match scope.numbers() {
                    // A ward's few numbers looked up among the street's zones, rather than
                    // each of the street's zones (hundreds for a common name) in the scope.
                    Some(numbers) if numbers.len() < zones.len() => {
                        let mut inside: Vec<u32> = numbers
                            .iter()
                            .copied()
                            .filter(|zone| zones.binary_search(zone).is_ok())
                            .collect();
                        inside.sort_unstable();
                        found.extend(inside.into_iter().map(found_in));
                    }
                    _ => found.extend(
                        zones
                            .iter()
                            .filter(|&&zone| scope.allows(zone, &self.zones, maps))
                            .map(|&zone| found_in(zone)),
                    ),
                }
            }
            if !found.is_empty() {
                return found;
            }
        }
        // One edit, only among the streets of the zones in scope: elsewhere a typo is as
        // likely to name another street.
        let mut found = Vec::new();
        for key in keys
            .iter()
            .filter(|key| key.len() >= MIN_FUZZY_LETTERS)
            .take(1)
        {
            for &zone in scope.numbers().into_iter().flatten() {
                for street in text.streets_of_zone(zone) {
                    let other = text.streets.key(street.street);
                    if other.len() >= MIN_FUZZY_LETTERS
                        && within_one_edit(key.as_bytes(), other.as_bytes())
                    {
                        found.push(FoundStreet {
                            zone,
                            street: street.street,
                            weight: FUZZY_WEIGHT,
                        });
                    }
                }
            }
        }
        found
    }

    /// Results at level `Address` (the place found on the street) or `Street`.
    /// The street's addresses at the reading's place. Numbers the parser left out are
    /// tried first as the alley's further parts: "ngach 9 8" is Ngách 9/8 with its slash
    /// lost. Found without them, a result is less sure and names them as unmatched: the
    /// text says more than the address, and a bare "3 Ngõ 9" is another place.
    fn place_results(
        &self,
        memory: &Memory,
        reading: &Reading,
        streets: Vec<FoundStreet>,
        weight: f64,
        out: &mut Vec<SearchResult>,
    ) {
        let numbers: Vec<&String> = reading
            .unused
            .iter()
            .filter(|word| {
                word.starts_with(|c: char| c.is_ascii_digit())
                    && word.chars().filter(char::is_ascii_digit).count() <= MAX_PLACE_DIGITS
            })
            .collect();
        let house = reading.house_number.as_deref();
        let before = out.len();
        if let Some(alley) = reading.alley.as_deref().filter(|_| !numbers.is_empty()) {
            let words: Vec<&str> = numbers.iter().map(|word| word.as_str()).collect();
            let longer = place_key(Some(&format!("{alley} {}", words.join(" "))), house);
            self.street_results(memory, streets.clone(), longer.as_deref(), weight, out);
            if out[before..].iter().any(|r| r.level == MatchLevel::Address) {
                return;
            }
            out.truncate(before);
        }
        let place = place_key(reading.alley.as_deref(), house);
        self.street_results(memory, streets, place.as_deref(), weight, out);
        if !numbers.is_empty() {
            for result in &mut out[before..] {
                result.confidence *= UNUSED_NUMBER_WEIGHT;
                result
                    .unmatched
                    .extend(numbers.iter().map(|word| (*word).clone()));
            }
        }
    }

    fn street_results(
        &self,
        memory: &Memory,
        streets: Vec<FoundStreet>,
        place: Option<&str>,
        weight: f64,
        out: &mut Vec<SearchResult>,
    ) {
        let text = &memory.text;
        let wanted = place.map_or(&[][..], |place| text.places.find(place));
        for found in streets {
            let postings = text.postings(found.zone, found.street);
            let weight = weight * found.weight;
            let mut at_address = false;
            for &place_id in wanted {
                let first = postings.partition_point(|posting| posting.place < place_id);
                for posting in postings[first..].iter().take_while(|p| p.place == place_id) {
                    if let Some(result) = self.address_result(memory, *posting, &found, weight) {
                        out.push(result);
                        at_address = true;
                    }
                }
            }
            if !at_address {
                out.extend(self.street_result(memory, &found, place, weight));
            }
        }
    }

    fn address_result(
        &self,
        memory: &Memory,
        posting: Posting,
        found: &FoundStreet,
        weight: f64,
    ) -> Option<SearchResult> {
        let record = memory.record(posting.id).filter(|record| record.active)?;
        let code = VmapCode::unpack(record.code_key)?;
        let zone = Postcode::new(found.zone).and_then(|p| self.zones.by_postcode(p));
        let text = &memory.text;
        let place_label = text.places.label(posting.place);
        let street_label = text.streets.label(found.street);
        let mut result = self.located(MatchLevel::Address, record.location, zone, weight);
        result.code = Some(code);
        result.label = self.label(&[place_label, street_label], zone);
        result.matched.place = Some(place_label.to_owned());
        result.matched.street = Some(street_label.to_owned());
        Some(result)
    }

    /// The street, located at its registered house nearest in number to the one asked
    /// for (its middle house, [`middle_house`], when none was asked for).
    fn street_result(
        &self,
        memory: &Memory,
        found: &FoundStreet,
        place: Option<&str>,
        weight: f64,
    ) -> Option<SearchResult> {
        let (zone_number, street) = (found.zone, found.street);
        let text = &memory.text;
        let postings = text.postings(zone_number, street);
        let wanted_alley = place.map(alley_of).unwrap_or("");
        let nearest = match place.and_then(house_number_of) {
            Some(number) => nearest_house(
                postings,
                |place| {
                    let key = text.places.key(place);
                    let other_alley = u32::from(alley_of(key) != wanted_alley);
                    let distance = house_number_of(key).map_or(u32::MAX, |n| n.abs_diff(number));
                    (other_alley, distance)
                },
                |id| memory.is_active(id),
            ),
            None => middle_house(postings, |id| memory.is_active(id)),
        }?;
        let record = memory.record(nearest.id)?;
        let zone = Postcode::new(zone_number).and_then(|p| self.zones.by_postcode(p));
        let street_label = text.streets.label(street);
        let mut result = self.located(MatchLevel::Street, record.location, zone, weight);
        result.label = self.label(&[street_label], zone);
        result.matched.street = Some(street_label.to_owned());
        Some(result)
    }

    /// The ward, district or province a reading names, at its centroid.
    fn unit_result(
        &self,
        maps: &AdminMaps,
        reading: &Reading,
        weight: f64,
    ) -> Option<SearchResult> {
        let (level, location, zone, ward_2025, label) = if let Some(id) = reading.legacy.ward {
            let ward = maps.legacy_ward(id);
            let zone = ward.postcode.and_then(|p| self.zones.by_postcode(p));
            let at = ward
                .centroid
                .or_else(|| zone.map(|z| self.zones.get(z).center))?;
            let district = maps.legacy_district(ward.district);
            let province = maps.legacy_province(ward.province);
            let label = [&ward.name, &district.name, &province.name]
                .map(|s| s.as_str())
                .join(", ");
            (MatchLevel::Ward, at, zone, reading.admin_2025.ward, label)
        } else if let Some(id) = reading.admin_2025.ward {
            let ward = maps.ward(id);
            let zone = ward.postcode.and_then(|p| self.zones.by_postcode(p));
            let at = zone.map(|z| self.zones.get(z).center).or(ward.centroid)?;
            let label = format!("{}, {}", ward.name, maps.province(ward.province).name);
            (MatchLevel::Ward, at, zone, Some(id), label)
        } else if let Some(id) = reading.legacy.district {
            let district = maps.legacy_district(id);
            let at = mean(
                district
                    .wards
                    .iter()
                    .filter_map(|&w| maps.legacy_ward(w).centroid),
            )?;
            let province = maps.legacy_province(district.province);
            let label = format!("{}, {}", district.name, province.name);
            (MatchLevel::District, at, None, None, label)
        } else if let Some(id) = reading.admin_2025.province {
            let province = maps.province(id);
            let at = mean(province.wards.iter().filter_map(|&w| maps.ward(w).centroid))?;
            (MatchLevel::Province, at, None, None, province.name.clone())
        } else if let Some(id) = reading.legacy.province {
            let province = maps.legacy_province(id);
            let wards = province
                .districts
                .iter()
                .flat_map(|&d| &maps.legacy_district(d).wards);
            let at = mean(wards.filter_map(|&w| maps.legacy_ward(w).centroid))?;
            (MatchLevel::Province, at, None, None, province.name.clone())
        } else {
            return None;
        };
        let mut result = self.located(level, location, zone, weight);
        result.ward_2025 = ward_2025.or(result.ward_2025);
        result.label = label;
        for part in [&reading.street, &reading.alley, &reading.house_number]
            .into_iter()
            .flatten()
        {
            result.unmatched.push(part.clone());
        }
        Some(result)
    }

    fn located(
        &self,
        level: MatchLevel,
        location: LatLon,
        zone: Option<ZoneId>,
        weight: f64,
    ) -> SearchResult {
        let ward_2025 = self.zones.map_2025().and_then(|map| map.ward_at(location));
        let mut matched = Matched::default();
        if let Some(zone) = zone.map(|id| self.zones.get(id)) {
            matched.ward = Some(zone.ward.clone());
            matched.district = (!zone.district.is_empty()).then(|| zone.district.clone());
            matched.province = Some(zone.province.clone());
        }
        SearchResult {
            level,
            code: None,
            location,
            zone,
            ward_2025,
            label: String::new(),
            confidence: (weight * level.factor()).clamp(0.0, 1.0),
            matched,
            unmatched: Vec::new(),
        }
    }

    /// "9 Ngõ 30 Phố Bùi Thị Xuân, Phường Lý Thái Tổ, Quận Hoàn Kiếm, Hà Nội".
    pub(super) fn label(&self, line: &[&str], zone: Option<ZoneId>) -> String {
        let mut parts = vec![
            line.iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
        ];
        if let Some(zone) = zone.map(|id| self.zones.get(id)) {
            for unit in [&zone.ward, &zone.district, &zone.province] {
                if !unit.is_empty() {
                    parts.push(unit.clone());
                }
            }
        }
        parts.retain(|part| !part.is_empty());
        parts.join(", ")
    }
}

/// Best first; one result per code (or per level and zone without a code).
fn rank_results(results: &mut Vec<SearchResult>, near: Option<LatLon>) {
    let distance =
        |result: &SearchResult| near.map_or(0.0, |near| haversine_m(near, result.location));
    results.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.level.cmp(&b.level))
            .then(distance(a).total_cmp(&distance(b)))
            .then(a.code.map(|c| c.pack()).cmp(&b.code.map(|c| c.pack())))
            .then(a.label.cmp(&b.label))
    });
    let mut seen = HashSet::new();
    results.retain(|result| match result.code {
        Some(code) => seen.insert((MatchLevel::Address, code.pack(), String::new())),
        None => seen.insert((result.level, 0, result.label.clone())),
    });
}
