//! The answer: the best choice read into both maps, the tied and near choices as
//! alternatives, the units written that the answer contradicts as conflicts, and the
//! address line (house number, alley, street) of what no unit took.
//!
//! Decisions: choices within [`TIE_EPSILON`] of the best are equally good; they make the
//! answer ambiguous only when they name different places (a legacy ward and the 2025 ward
//! it went into are one). The views' own alternatives (the other targets of a split ward,
//! the sources of a merged one) come from the maps, at a share of the confidence.

use std::cmp::Ordering;

use crate::admin::{LegacyWardId, UnitId, WardId};

use super::super::line::{self, Line};
use super::super::{Conflict, LegacyView, Parse, Reading, Structure, View2025};
use super::Work;
use super::candidates::Cand;
use super::choice::Choice;

/// Readings within this of the best are equally good.
pub(super) const TIE_EPSILON: f32 = 1e-4;
/// At most this many alternatives are answered.
const MAX_ALTERNATIVES: usize = 24;
/// Readings that are not tied are alternatives only above this share of the best score.
const MIN_ALTERNATIVE_SHARE: f32 = 0.7;
const MAX_LOWER_ALTERNATIVES: usize = 3;

/// The lowest score [`Work::answer`] can use when the best is `best`: tied with it, or
/// above its share for an alternative.
pub(super) fn least_useful_score(best: f32) -> f32 {
    (best - TIE_EPSILON).min(best * MIN_ALTERNATIVE_SHARE)
}

impl Work<'_> {
    pub(super) fn answer(&self, choices: &[Choice]) -> Parse {
        let Some(best) = choices.first() else {
            return self.empty_parse();
        };
        let n_tied = choices
            .iter()
            .take_while(|choice| choice.score >= best.score - TIE_EPSILON)
            .count();
        let tied = &choices[..n_tied];
        let places = self.distinct_places(tied);
        let ambiguous = places > 1;
        let mut cache = LineCache::new();
        let mut best_reading = self.reading(best, tied);
        self.fill_line(&mut best_reading, best, &mut cache);
        if let Some(overflow) = &self.overflow {
            best_reading.unused.push(overflow.clone());
        }
        let conflicts = self.conflicts(best, &best_reading);
        if !conflicts.is_empty() {
            best_reading.confidence *= 0.6;
            best_reading.ambiguous = true;
        }
        if ambiguous {
            best_reading.ambiguous = true;
            best_reading.confidence /= places as f64;
        }
        best_reading.conflicts = conflicts;
        // Alternatives are read into the maps first and their address lines (strings)
        // made only for those kept: many tied choices ("Phường 1" in 80 places) are cut
        // to MAX_ALTERNATIVES, and others repeat the best's or each other's views. A
        // reading still waiting for its line carries its choice.
        let mut alternatives: Vec<(Option<&Choice>, Reading)> = Vec::new();
        for choice in tied.iter().skip(1) {
            let mut reading = self.reading(choice, tied);
            reading.ambiguous = best_reading.ambiguous;
            reading.confidence /= places as f64;
            alternatives.push((Some(choice), reading));
        }
        self.view_alternatives(best, &best_reading, &mut alternatives);
        for choice in choices
            .iter()
            .skip(n_tied)
            .take_while(|choice| choice.score >= best.score * MIN_ALTERNATIVE_SHARE)
            .take(MAX_LOWER_ALTERNATIVES)
        {
            let reading = self.reading(choice, std::slice::from_ref(choice));
            alternatives.push((Some(choice), reading));
        }
        alternatives.retain(|(_, reading)| {
            reading.legacy != best_reading.legacy || reading.admin_2025 != best_reading.admin_2025
        });
        dedup_readings(&mut alternatives);
        alternatives.sort_by(|(_, a), (_, b)| {
            b.confidence
                .partial_cmp(&a.confidence)
                .unwrap_or(Ordering::Equal)
        });
        alternatives.truncate(MAX_ALTERNATIVES);
        let alternatives = alternatives
            .into_iter()
            .map(|(choice, mut reading)| {
                if let Some(choice) = choice {
                    self.fill_line(&mut reading, choice, &mut cache);
                }
                reading
            })
            .collect();
        Parse {
            query: String::new(),
            reading: best_reading,
            alternatives,
        }
    }

    pub(super) fn empty_parse(&self) -> Parse {
        let line = self.line(&[]);
        Parse {
            query: String::new(),
            reading: Reading {
                structure: Structure::Unknown,
                house_number: line.house_number,
                alley: line.alley,
                street: line.street,
                hamlet: line.hamlet,
                legacy: LegacyView::default(),
                admin_2025: View2025::default(),
                confidence: 0.0,
                ambiguous: false,
                conflicts: Vec::new(),
                unused: line.unused,
            },
            alternatives: Vec::new(),
        }
    }

    /// How many different places the tied choices name: two legacy wards are two places,
    /// and so are two 2025 wards, a legacy ward and the 2025 ward it became are one.
    pub(super) fn distinct_places(&self, tied: &[Choice]) -> usize {
        let maps = self.maps();
        let mut legacy_wards: Vec<LegacyWardId> = Vec::new();
        let mut wards_2025: Vec<WardId> = Vec::new();
        let mut others: Vec<UnitId> = Vec::new();
        for choice in tied {
            match choice.place(&self.cands) {
                Some(UnitId::LegacyWard(ward)) => legacy_wards.push(ward),
                Some(UnitId::Ward(ward)) => wards_2025.push(ward),
                Some(other) => others.push(other),
                None => {}
            }
        }
        let mut implied_2025 = wards_2025.clone();
        for &legacy in &legacy_wards {
            let targets = &maps.legacy_ward(legacy).targets;
            let linked = wards_2025.iter().any(|ward| targets.contains(ward));
            if !linked
                && let Some(&target) = targets.first()
                && !implied_2025.contains(&target)
            {
                implied_2025.push(target);
            }
        }
        implied_2025.dedup();
        // A legacy province and the 2025 province it went into are one place at this
        // level ("Hà Nội" names both): the answer is the 2025 province either way.
        let provinces_2025: Vec<UnitId> = others
            .iter()
            .copied()
            .filter(|unit| matches!(unit, UnitId::Province(_)))
            .collect();
        others.retain(|&unit| match unit {
            UnitId::LegacyProvince(id) => !maps
                .legacy_province(id)
                .provinces_2025
                .iter()
                .any(|&province| provinces_2025.contains(&UnitId::Province(province))),
            _ => true,
        });
        others.sort_unstable();
        others.dedup();
        let ward_places = implied_2025.len().max(legacy_wards.len());
        if ward_places > 0 {
            ward_places + others.len()
        } else {
            others.len()
        }
    }

    /// The address line for a choice's covered words; choices covering the same words
    /// share one (the usual case for the alternatives of one text).
    pub(super) fn line_for(&self, choice: &Choice, cache: &mut LineCache) -> Line {
        let key = choice.parts().fold([(0, 0); 3], |mut key, idx| {
            let cand = &self.cands[idx];
            if let Some(slot) = key.iter_mut().find(|slot| **slot == (0, 0)) {
                *slot = (cand.cover_start, cand.end);
            }
            key
        });
        if let Some((_, line)) = cache.iter().find(|(known, _)| *known == key) {
            return line.clone();
        }
        let mut parts = [0; 3];
        let mut n_parts = 0;
        for idx in choice.parts() {
            parts[n_parts] = idx;
            n_parts += 1;
        }
        let line = self.line(&parts[..n_parts]);
        cache.push((key, line.clone()));
        line
    }

    /// The answer for one choice, both maps filled where they follow; the address line
    /// is left empty for [`Work::fill_line`].
    pub(super) fn reading(&self, choice: &Choice, tied: &[Choice]) -> Reading {
        let maps = self.maps();
        let cands = &self.cands;
        let mut legacy = LegacyView::default();
        let mut current = View2025::default();
        let district_cand = choice.district.map(|idx| cands[idx].unit);
        match choice.place(cands) {
            Some(UnitId::LegacyWard(ward)) => {
                legacy.ward = Some(ward);
                let targets = &maps.legacy_ward(ward).targets;
                let linked = Count::of(tied.iter().filter_map(|other| match other.place(cands) {
                    Some(UnitId::Ward(target)) if targets.contains(&target) => Some(target),
                    _ => None,
                }));
                // The text may also name one of its targets by the same words: "Phường
                // Ngọc Hà" is a legacy ward split in two and one part's 2025 name.
                let same_words = |unit: UnitId| match unit {
                    UnitId::Ward(target) if targets.contains(&target) => Some(target),
                    _ => None,
                };
                current.ward = match linked {
                    Count::One(one) => Some(one),
                    _ => match self.same_words_units(choice, same_words) {
                        Count::One(one) => Some(one),
                        _ => targets.first().copied(),
                    },
                };
            }
            Some(UnitId::Ward(ward)) => {
                current.ward = Some(ward);
                let sources = &maps.ward(ward).sources;
                let linked = Count::of(tied.iter().filter_map(|other| match other.place(cands) {
                    Some(UnitId::LegacyWard(source)) if sources.contains(&source) => Some(source),
                    _ => None,
                }));
                let in_written_district = |source: LegacyWardId| match district_cand {
                    Some(UnitId::LegacyDistrict(district)) => {
                        maps.legacy_ward(source).district == district
                    }
                    _ => true,
                };
                let same_words = |unit: UnitId| match unit {
                    UnitId::LegacyWard(source)
                        if sources.contains(&source) && in_written_district(source) =>
                    {
                        Some(source)
                    }
                    _ => None,
                };
                let named = self.same_words_units(choice, same_words);
                legacy.ward = match (linked, named) {
                    (Count::One(one), _) | (Count::None, Count::One(one)) => Some(one),
                    (Count::None, _) => match Count::of(
                        sources
                            .iter()
                            .copied()
                            .filter(|&source| in_written_district(source)),
                    ) {
                        Count::One(one) => Some(one),
                        _ => None,
                    },
                    _ => None,
                };
                if legacy.ward.is_none() {
                    if let Some(UnitId::LegacyDistrict(district)) = district_cand {
                        legacy.district = Some(district);
                    } else {
                        legacy.district =
                            common(sources.iter().map(|&s| maps.legacy_ward(s).district));
                    }
                    legacy.province = match legacy.district {
                        Some(district) => Some(maps.legacy_district(district).province),
                        None => common(sources.iter().map(|&s| maps.legacy_ward(s).province)),
                    };
                }
            }
            Some(UnitId::LegacyDistrict(district)) => {
                legacy.district = Some(district);
                current.ward = maps.legacy_district(district).island_target;
            }
            Some(UnitId::LegacyProvince(province)) => {
                legacy.province = Some(province);
            }
            Some(UnitId::Province(province)) => {
                current.province = Some(province);
            }
            None => {}
        }
        if let Some(ward) = legacy.ward {
            let record = maps.legacy_ward(ward);
            legacy.district = Some(record.district);
            legacy.province = Some(record.province);
            legacy.postcode = record.postcode;
        }
        if let Some(district) = legacy.district {
            legacy.province = Some(maps.legacy_district(district).province);
        }
        if let Some(ward) = current.ward {
            current.province = Some(maps.ward(ward).province);
        }
        // A province written alone names it in both maps.
        if let Some(province_idx) = choice.province {
            let span = &cands[province_idx];
            for other in cands
                .iter()
                .filter(|other| other.start == span.start && other.end == span.end)
            {
                match other.unit {
                    UnitId::LegacyProvince(province) if legacy.province.is_none() => {
                        legacy.province = Some(province)
                    }
                    UnitId::Province(province) if current.province.is_none() => {
                        current.province = Some(province)
                    }
                    _ => {}
                }
            }
        }
        if current.province.is_none()
            && let Some(province) = legacy.province
            && let [one] = maps.legacy_province(province).provinces_2025.as_slice()
        {
            current.province = Some(*one);
        }

        Reading {
            structure: self.structure(choice, &legacy, &current),
            house_number: None,
            alley: None,
            street: None,
            hamlet: None,
            legacy,
            admin_2025: current,
            confidence: f64::from(self.confidence(choice)),
            ambiguous: false,
            conflicts: Vec::new(),
            unused: Vec::new(),
        }
    }

    /// Sets the address line of a reading made by [`Work::reading`] for `choice`.
    pub(super) fn fill_line(&self, reading: &mut Reading, choice: &Choice, cache: &mut LineCache) {
        let line = self.line_for(choice, cache);
        reading.house_number = line.house_number;
        reading.alley = line.alley;
        reading.street = line.street;
        reading.hamlet = line.hamlet;
        reading.unused = line.unused;
    }

    pub(super) fn confidence(&self, choice: &Choice) -> f32 {
        let completeness = match (choice.ward, choice.district, choice.province) {
            (Some(_), None, None) => 0.85,
            (Some(_), _, _) => 1.0,
            (None, Some(_), _) => 0.6,
            (None, None, Some(_)) => 0.3,
            (None, None, None) => 0.0,
        };
        (completeness * choice.quality).clamp(0.0, 1.0)
    }

    pub(super) fn structure(
        &self,
        choice: &Choice,
        legacy: &LegacyView,
        current: &View2025,
    ) -> Structure {
        let place = choice.place(&self.cands);
        let written_2025_ward = matches!(place, Some(UnitId::Ward(_)));
        match (choice.ward, choice.district) {
            (None, None) => Structure::Unknown,
            (_, Some(_)) if written_2025_ward || choice.cross => Structure::Mixed,
            (_, Some(_)) => Structure::Legacy,
            (Some(_), None) if choice.cross => Structure::Mixed,
            (Some(_), None)
                if written_2025_ward || current.ward.is_some() && legacy.ward.is_none() =>
            {
                Structure::Y2025
            }
            (Some(_), None) => {
                // A legacy ward named without its district: the name decides which map
                // it was written in when the 2025 map has no ward of that name.
                Structure::Legacy
            }
        }
    }

    /// The units (filtered and mapped by `pick`) that other candidates read from the same
    /// words as the choice's ward.
    fn same_words_units<T: PartialEq + Copy>(
        &self,
        choice: &Choice,
        pick: impl Fn(UnitId) -> Option<T>,
    ) -> Count<T> {
        let Some(ward_idx) = choice.ward else {
            return Count::None;
        };
        let ward = &self.cands[ward_idx];
        // Only the best read of those words: "Xã Hiệp Hòa" names the xã, not the thị
        // trấn of the same name.
        let same_words = || {
            self.cands
                .iter()
                .filter(|cand| (cand.start, cand.end) == (ward.start, ward.end))
                .filter_map(|cand| pick(cand.unit).map(|unit| (unit, cand.quality)))
        };
        let Some(best_quality) = same_words().map(|(_, quality)| quality).reduce(f32::max) else {
            return Count::None;
        };
        Count::of(
            same_words()
                .filter(|&(_, quality)| quality >= best_quality - TIE_EPSILON)
                .map(|(unit, _)| unit),
        )
    }

    /// Alternatives that come from the maps rather than the text: the other 2025 wards
    /// of a split legacy ward, the legacy wards of a merged 2025 ward.
    pub(super) fn view_alternatives(
        &self,
        best: &Choice,
        reading: &Reading,
        out: &mut Vec<(Option<&Choice>, Reading)>,
    ) {
        let maps = self.maps();
        match best.place(&self.cands) {
            Some(UnitId::LegacyWard(ward)) => {
                for &target in &maps.legacy_ward(ward).targets {
                    if Some(target) == reading.admin_2025.ward {
                        continue;
                    }
                    let mut alternative = reading.clone();
                    alternative.admin_2025.ward = Some(target);
                    alternative.admin_2025.province = Some(maps.ward(target).province);
                    alternative.confidence *= 0.5;
                    alternative.conflicts.clear();
                    out.push((None, alternative));
                }
            }
            Some(UnitId::Ward(ward)) if reading.legacy.ward.is_none() => {
                let sources: Vec<LegacyWardId> =
                    maps.ward(ward)
                        .sources
                        .iter()
                        .copied()
                        .filter(|&source| {
                            reading.legacy.district.is_none_or(|district| {
                                maps.legacy_ward(source).district == district
                            })
                        })
                        .collect();
                let share = 1.0 / sources.len().max(1) as f64;
                for source in sources {
                    let record = maps.legacy_ward(source);
                    let mut alternative = reading.clone();
                    alternative.legacy = LegacyView {
                        province: Some(record.province),
                        district: Some(record.district),
                        ward: Some(source),
                        postcode: record.postcode,
                    };
                    alternative.confidence *= share;
                    alternative.conflicts.clear();
                    out.push((None, alternative));
                }
            }
            _ => {}
        }
    }

    /// Units written with their marker that the answer contradicts ("Phường Sài Gòn,
    /// Quận 3": Sài Gòn took no ward of Quận 3).
    pub(super) fn conflicts(&self, best: &Choice, reading: &Reading) -> Vec<Conflict> {
        let maps = self.maps();
        let consistent = |unit: UnitId| -> bool {
            let legacy = &reading.legacy;
            let current = &reading.admin_2025;
            match unit {
                UnitId::LegacyProvince(province) => {
                    legacy.province == Some(province)
                        || current.province.is_some_and(|p| {
                            maps.legacy_province(province).provinces_2025.contains(&p)
                        })
                }
                UnitId::Province(province) => {
                    current.province == Some(province)
                        || legacy.province.is_some_and(|p| {
                            maps.legacy_province(p).provinces_2025.contains(&province)
                        })
                }
                UnitId::LegacyDistrict(district) => {
                    legacy.district == Some(district)
                        || current.ward.is_some_and(|ward| {
                            maps.ward(ward).source_districts.contains(&district)
                        })
                }
                UnitId::LegacyWard(ward) => {
                    legacy.ward == Some(ward)
                        || current
                            .ward
                            .is_some_and(|target| maps.legacy_ward(ward).targets.contains(&target))
                }
                UnitId::Ward(ward) => {
                    current.ward == Some(ward)
                        || legacy
                            .ward
                            .is_some_and(|source| maps.legacy_ward(source).targets.contains(&ward))
                }
            }
        };
        let mut conflicts: Vec<Conflict> = Vec::new();
        for (idx, cand) in self.cands.iter().enumerate() {
            let span = (cand.cover_start, cand.end);
            let same_span =
                |other: &Cand<'_>| other.strong && (other.cover_start, other.end) == span;
            // Each span once (at its first strong candidate), and never one the answer used.
            if !cand.strong
                || self.cands[..idx].iter().any(same_span)
                || best.parts().any(|part| self.cands[part].overlaps(cand))
            {
                continue;
            }
            let any_consistent = self
                .cands
                .iter()
                .filter(|other| same_span(other))
                .any(|other| consistent(other.unit));
            if !any_consistent {
                conflicts.push(Conflict {
                    text: self.slice(span.0, span.1).to_owned(),
                    unit: cand.unit,
                });
            }
        }
        conflicts
    }

    pub(super) fn line(&self, parts: &[usize]) -> Line {
        let mut covered = vec![false; self.n()];
        for &idx in parts {
            let cand = &self.cands[idx];
            for slot in &mut covered[cand.cover_start..cand.end] {
                *slot = true;
            }
        }
        line::extract(self.text, &self.tokens, &self.markers, &covered)
    }
}

/// Address lines already read, by the (start, end) of the words each choice covers.
type LineCache = Vec<([(usize, usize); 3], Line)>;

/// None, exactly one, or several distinct values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count<T> {
    None,
    One(T),
    Several,
}

impl<T: PartialEq + Copy> Count<T> {
    fn of(items: impl Iterator<Item = T>) -> Count<T> {
        let mut count = Count::None;
        for item in items {
            count = match count {
                Count::None => Count::One(item),
                Count::One(known) if known == item => Count::One(known),
                _ => return Count::Several,
            };
        }
        count
    }
}

/// The one value every item has, if they agree.
fn common<T: PartialEq + Copy>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.all(|item| item == first).then_some(first)
}

/// Keeps the first reading of each pair of views (readings carry their choice, or `None`
/// when complete).
fn dedup_readings<T>(readings: &mut Vec<(T, Reading)>) {
    let mut kept: Vec<(T, Reading)> = Vec::with_capacity(readings.len());
    for (choice, reading) in readings.drain(..) {
        let duplicate = kept.iter().any(|(_, other)| {
            other.legacy == reading.legacy && other.admin_2025 == reading.admin_2025
        });
        if !duplicate {
            kept.push((choice, reading));
        }
    }
    *readings = kept;
}
