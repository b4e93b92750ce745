//! From tokens to readings: unit candidates, the consistent readings they make, the best
//! ones, and the answer in both maps.

use std::cmp::Ordering;

use crate::admin::{
    AdminMaps, LegacyDistrictId, LegacyProvinceId, LegacyWardId, Level, ProvinceId, UnitId,
    UnitType, WardId,
};

use super::index::{Entry, FUZZY_MIN_LETTERS};
use super::lexicon::{Marker, MarkerKind};
use super::line::{self, Line};
use super::token::{SEP_DOT, SEP_HARD, SEP_SLASH, TokenKind, Tokens};
use super::{Conflict, LegacyView, Parse, Parser, Reading, Structure, View2025};

/// How much each level counts in a reading: a ward says most about a place.
const WEIGHT_WARD: f32 = 1.0;
/// A district and a province confirm a ward alike; a district alone says more than a
/// province alone only through its marker, never by weight.
const WEIGHT_DISTRICT: f32 = 0.5;
const WEIGHT_PROVINCE: f32 = 0.5;

/// Match quality.
const Q_ALIAS: f32 = 0.95;
const Q_ONE_EDIT: f32 = 0.8;
/// The text has marks, and this name's are others ("Sa Pa" written, "Sa Pả" named; or
/// "Phường Nam" read as "Phương Nam").
const Q_OTHER_MARKS: f32 = 0.85;

/// What the word before a name says about it.
const Q_MARKER_OTHER_TYPE: f32 = 0.75;
const Q_MARKER_OTHER_LEVEL: f32 = 0.4;
const Q_NO_MARKER_PROVINCE: f32 = 0.95;
const Q_NO_MARKER: f32 = 0.9;
/// In the street part: after "Đường", "Ngõ", "Tổ", "Số" or a house number, in the same
/// comma part and before any unit marker. A street or hamlet name there, most likely.
const Q_IN_STREET_PART: f32 = 0.3;
/// A name inside a longer name found at the same place ("Vũng Tàu" in "Bà Rịa - Vũng
/// Tàu"): the longer one is what was written, most likely.
const Q_INSIDE_LONGER: f32 = 0.6;

/// A parent from the other map counts in full: a legacy district with a 2025 ward that
/// took wards from it, a 2025 province with a legacy ward, a legacy province name with a
/// 2025 ward. "Xã Sam Mứn, Huyện Điện Biên" names the legacy Sam Mứn and the 2025 Sam Mứn
/// alike, and "Xã Bình Thành, Huyện Đức Huệ, Tỉnh Tây Ninh" a legacy ward with its new
/// province as well as a 2025 ward with its old district: the answer must say so.
const Q_CROSS_MAP: f32 = 1.0;
/// Units written next to each other in hierarchy order.
const ADJACENCY_BONUS: f32 = 0.05;

/// Readings within this of the best are equally good.
const TIE_EPSILON: f32 = 1e-4;
/// At most this many alternatives are answered.
const MAX_ALTERNATIVES: usize = 24;
/// Readings that are not tied are alternatives only above this share of the best score.
const MIN_ALTERNATIVE_SHARE: f32 = 0.7;
const MAX_LOWER_ALTERNATIVES: usize = 3;

/// Tokens beyond this many are not read (an address has a few dozen).
pub(crate) const MAX_TOKENS: usize = 160;

/// What a candidate's unit lies in, looked up once so that fitting parents is a compare.
#[derive(Debug, Clone, Copy)]
enum Up<'p> {
    LegacyWard {
        district: LegacyDistrictId,
        province: LegacyProvinceId,
        provinces_2025: &'p [ProvinceId],
    },
    Ward {
        province: ProvinceId,
        source_districts: &'p [LegacyDistrictId],
    },
    LegacyDistrict {
        province: LegacyProvinceId,
        provinces_2025: &'p [ProvinceId],
    },
    LegacyProvince {
        provinces_2025: &'p [ProvinceId],
    },
    Province,
}

/// A unit some words of the text may name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand<'p> {
    /// First token of the name.
    pub start: usize,
    /// One past its last token.
    pub end: usize,
    /// First token covered: the unit marker's when one is read with it.
    pub cover_start: usize,
    pub unit: UnitId,
    /// Quality in (0, 1]: match, marks, marker and context.
    pub quality: f32,
    /// Quality times the level's weight.
    pub value: f32,
    /// Exact name (or alias) after a unit marker of its type.
    pub strong: bool,
    up: Up<'p>,
}

impl Cand<'_> {
    fn overlaps(&self, other: &Cand<'_>) -> bool {
        self.cover_start < other.end && other.cover_start < self.end
    }

    fn adjacent(&self, other: &Cand<'_>) -> bool {
        self.end == other.cover_start || other.end == self.cover_start
    }
}

fn level_weight(level: Level) -> f32 {
    match level {
        Level::Ward => WEIGHT_WARD,
        Level::District => WEIGHT_DISTRICT,
        Level::Province => WEIGHT_PROVINCE,
    }
}

/// How well a unit marker fits a unit: 1 for its type, less for another type of the
/// level, least for another level. "Thành phố" is a type of province and of district.
fn marker_fit(marker_type: UnitType, unit: UnitId, unit_type: UnitType) -> f32 {
    if marker_type == unit_type {
        return 1.0;
    }
    let level = unit.level();
    let same_level = match marker_type {
        UnitType::ThanhPho => matches!(level, Level::Province | Level::District),
        other => other.level() == level,
    };
    if same_level {
        Q_MARKER_OTHER_TYPE
    } else {
        Q_MARKER_OTHER_LEVEL
    }
}

/// A district or province candidate chosen for a ward or district.
#[derive(Debug, Clone, Copy)]
struct Parent {
    idx: usize,
    /// Its value with the fit factor.
    value: f32,
    quality: f32,
    cross: bool,
}

/// One consistent choice of a ward, a district and a province candidate.
#[derive(Debug, Clone, Copy)]
struct Choice {
    ward: Option<usize>,
    district: Option<usize>,
    province: Option<usize>,
    score: f32,
    /// Product of the qualities and cross-map factors of its parts.
    quality: f32,
    cross: bool,
    /// Order among equal scores (see [`rank`]).
    rank: (u8, u8, UnitId),
}

impl Choice {
    /// The most specific unit: what place the choice names.
    fn place(&self, cands: &[Cand<'_>]) -> Option<UnitId> {
        self.ward
            .or(self.district)
            .or(self.province)
            .map(|idx| cands[idx].unit)
    }

    /// The candidates it is made of, to order equal choices totally.
    fn parts_key(&self) -> [usize; 3] {
        [self.ward, self.district, self.province].map(|part| part.unwrap_or(usize::MAX))
    }

    fn parts(&self) -> impl Iterator<Item = usize> {
        [self.ward, self.district, self.province]
            .into_iter()
            .flatten()
    }
}

pub(crate) struct Work<'p> {
    parser: &'p Parser,
    text: &'p str,
    tokens: Tokens,
    /// The marker starting at each token.
    markers: Vec<Option<Marker>>,
    /// The longest marker ending right before each token.
    marker_before: Vec<Option<Marker>>,
    /// Whether the token lies in a street part (see [`Q_IN_STREET_PART`]).
    in_street_part: Vec<bool>,
    cands: Vec<Cand<'p>>,
    /// Tokens beyond [`MAX_TOKENS`], as text.
    overflow: Option<String>,
}

impl<'p> Work<'p> {
    pub fn new(parser: &'p Parser, text: &'p str, mut tokens: Tokens) -> Work<'p> {
        let mut overflow = None;
        if tokens.tokens.len() > MAX_TOKENS {
            let cut = tokens.tokens[MAX_TOKENS].start as usize;
            overflow = Some(text[cut..].trim().to_owned());
            tokens.tokens.truncate(MAX_TOKENS);
        }
        let n = tokens.tokens.len();
        let markers: Vec<Option<Marker>> = (0..n)
            .map(|idx| parser.lexicon.marker_at(&tokens, idx))
            .collect();
        let mut marker_before: Vec<Option<Marker>> = vec![None; n + 1];
        for marker in markers.iter().flatten() {
            let slot = &mut marker_before[marker.end()];
            if slot.is_none_or(|known| known.len < marker.len) {
                *slot = Some(*marker);
            }
        }
        let mut in_street_part = vec![false; n];
        let mut inside = false;
        for (idx, token) in tokens.tokens.iter().enumerate() {
            if token.sep & SEP_HARD != 0 {
                inside = false;
            }
            let marker_here = markers[idx].map(|marker| marker.kind);
            if matches!(marker_here, Some(MarkerKind::Unit(_))) {
                inside = false;
            }
            in_street_part[idx] = inside;
            let unit_number = matches!(marker_before[idx], Some(m) if m.kind.is_unit());
            let starts_street_part = match marker_here {
                Some(MarkerKind::Street | MarkerKind::Alley(_) | MarkerKind::Hamlet)
                | Some(MarkerKind::House) => true,
                _ => token.kind == TokenKind::Number && !unit_number,
            };
            inside |= starts_street_part;
        }
        Work {
            parser,
            text,
            tokens,
            markers,
            marker_before,
            in_street_part,
            cands: Vec::with_capacity(32),
            overflow,
        }
    }

    fn maps(&self) -> &'p AdminMaps {
        &self.parser.maps
    }

    fn n(&self) -> usize {
        self.tokens.tokens.len()
    }

    fn slice(&self, first: usize, last_exclusive: usize) -> &'p str {
        let start = self.tokens.tokens[first].start as usize;
        let end = self.tokens.tokens[last_exclusive - 1].end as usize;
        &self.text[start..end]
    }

    fn add_cand(&mut self, start: usize, end: usize, entry: &Entry, one_edit: bool) {
        let unit = entry.unit;
        let level = unit.level();
        let before = self.marker_before[start].filter(|marker| {
            // A marker and its name are one part of the address.
            self.tokens.tokens[start].sep & SEP_HARD == 0 && marker.end() == start
        });
        let unit_marker = match before {
            Some(Marker {
                kind: MarkerKind::Unit(marker_type),
                start: marker_start,
                ..
            }) => Some((marker_type, marker_start)),
            _ => None,
        };
        if entry.numeric {
            // "7" alone is a house number unless a marker of its level says otherwise.
            let fits = unit_marker.is_some_and(|(marker_type, _)| {
                marker_fit(marker_type, unit, entry.unit_type) > Q_MARKER_OTHER_LEVEL
            });
            if !fits {
                return;
            }
        }
        let q_match = if one_edit {
            Q_ONE_EDIT
        } else if entry.alias {
            Q_ALIAS
        } else {
            1.0
        };
        let q_marks = if one_edit || !self.tokens.any_marked {
            1.0
        } else if self.tokens.span_sig(start, end) == entry.sig {
            1.0
        } else {
            Q_OTHER_MARKS
        };
        let (q_marker, cover_start, marker_agrees) = match unit_marker {
            Some((marker_type, marker_start)) => {
                let fit = marker_fit(marker_type, unit, entry.unit_type);
                (fit, marker_start, fit >= 1.0)
            }
            None if level == Level::Province => (Q_NO_MARKER_PROVINCE, start, false),
            None => (Q_NO_MARKER, start, false),
        };
        let q_context = if unit_marker.is_none() && self.in_street_part[start] {
            Q_IN_STREET_PART
        } else {
            1.0
        };
        let quality = q_match * q_marks * q_marker * q_context;
        let maps = self.maps();
        let up = match unit {
            UnitId::LegacyWard(id) => {
                let ward = maps.legacy_ward(id);
                Up::LegacyWard {
                    district: ward.district,
                    province: ward.province,
                    provinces_2025: &maps.legacy_province(ward.province).provinces_2025,
                }
            }
            UnitId::Ward(id) => {
                let ward = maps.ward(id);
                Up::Ward {
                    province: ward.province,
                    source_districts: &ward.source_districts,
                }
            }
            UnitId::LegacyDistrict(id) => {
                let district = maps.legacy_district(id);
                Up::LegacyDistrict {
                    province: district.province,
                    provinces_2025: &maps.legacy_province(district.province).provinces_2025,
                }
            }
            UnitId::LegacyProvince(id) => Up::LegacyProvince {
                provinces_2025: &maps.legacy_province(id).provinces_2025,
            },
            UnitId::Province(_) => Up::Province,
        };
        self.cands.push(Cand {
            start,
            end,
            cover_start,
            unit,
            quality,
            value: quality * level_weight(level),
            strong: marker_agrees && !one_edit,
            up,
        });
    }

    /// Every run of words that is a name, with every unit it names.
    fn exact_candidates(&mut self) {
        let index = &self.parser.index;
        let n = self.n();
        for start in 0..n {
            if self.tokens.tokens[start].kind == TokenKind::Foreign {
                continue;
            }
            let last = n.min(start + index.max_words());
            for end in start + 1..=last {
                if end - 1 > start
                    && self.tokens.tokens[end - 1].sep & (SEP_HARD | SEP_SLASH | SEP_DOT) != 0
                {
                    break;
                }
                let Some(found) = index.lookup(self.tokens.span_key(start, end)) else {
                    break;
                };
                for entry in found.entries {
                    self.add_cand(start, end, entry, false);
                }
                if !found.prefix {
                    break;
                }
            }
        }
    }

    /// Lowers candidates whose words lie strictly inside another candidate's (exact or one
    /// edit away: "Thắng" inside "Ahường Thắng" after "Xã").
    fn demote_inner_names(&mut self) {
        for idx in 0..self.cands.len() {
            let (start, end) = (self.cands[idx].start, self.cands[idx].end);
            let inside = self.cands.iter().any(|other| {
                other.start <= start && end <= other.end && (other.start, other.end) != (start, end)
            });
            if inside {
                let cand = &mut self.cands[idx];
                cand.quality *= Q_INSIDE_LONGER;
                cand.value *= Q_INSIDE_LONGER;
                cand.strong = false;
            }
        }
    }

    /// Where the name after a marker at `start` can end: the end of its part, or the next
    /// unit marker that is surely one (written with its marks, or before a number or
    /// after a dot: "Quận", "Q.", "P7"); a bare "quan" or "h" may be part of the name
    /// ("Quan Sơn", "Ea H'Leo").
    fn name_boundary(&self, start: usize) -> usize {
        let tokens = &self.tokens.tokens;
        let mut idx = start + 1;
        while idx < self.n() {
            if tokens[idx].sep & SEP_HARD != 0 {
                break;
            }
            if let Some(marker) = self.markers[idx]
                && marker.kind.is_unit()
            {
                let next = tokens.get(marker.end());
                let sure = tokens[idx].marked
                    || next.is_some_and(|next| {
                        next.kind == TokenKind::Number || next.sep & SEP_DOT != 0
                    });
                if sure {
                    break;
                }
            }
            idx += 1;
        }
        idx
    }

    /// Names one edit away, tried only where a name is expected and none was found: after
    /// a unit marker, and for a whole part of the address that matched nothing.
    fn one_edit_candidates(&mut self) {
        let n = self.n();
        let max_words = self.parser.index.max_words();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for start in 0..n {
            let Some(marker) = self.marker_before[start] else {
                continue;
            };
            if !marker.kind.is_unit() || self.tokens.tokens[start].sep & SEP_HARD != 0 {
                continue;
            }
            let boundary = self.name_boundary(start);
            let found = self
                .cands
                .iter()
                .any(|cand| cand.start == start && cand.end == boundary);
            if !found {
                for end in start + 1..=boundary.min(start + max_words) {
                    spans.push((start, end));
                }
            }
        }
        let mut part_start = 0;
        for idx in 1..=n {
            if idx < n && self.tokens.tokens[idx].sep & SEP_HARD == 0 {
                continue;
            }
            let (start, end) = (part_start, idx);
            part_start = idx;
            let words_only = self.tokens.tokens[start..end]
                .iter()
                .all(|token| token.kind == TokenKind::Word);
            let no_markers = (start..end).all(|pos| self.markers[pos].is_none());
            let matched = self
                .cands
                .iter()
                .any(|cand| cand.start < end && start < cand.end);
            if words_only && no_markers && !matched && end - start <= max_words {
                spans.push((start, end));
            }
        }
        let index = &self.parser.index;
        let mut found = Vec::new();
        for (start, end) in spans {
            if self.tokens.span_letters(start, end) + 1 < FUZZY_MIN_LETTERS {
                continue;
            }
            found.clear();
            index.lookup_one_edit(self.tokens.span_key(start, end), &mut found);
            for entry in found.iter().flat_map(|entries| entries.iter()) {
                self.add_cand(start, end, entry, true);
            }
        }
    }

    /// Whether a province candidate fits a ward or district candidate, and whether it is
    /// from the other map.
    fn province_fit(lower: &Cand<'_>, province: &Cand<'_>) -> Option<(f32, bool)> {
        let same = |fits: bool| fits.then_some((1.0, false));
        let cross = |fits: bool| fits.then_some((Q_CROSS_MAP, true));
        match (lower.up, province.unit, province.up) {
            (
                Up::LegacyWard {
                    province: own, ..
                }
                | Up::LegacyDistrict {
                    province: own, ..
                },
                UnitId::LegacyProvince(written),
                _,
            ) => same(own == written),
            (
                Up::LegacyWard { provinces_2025, .. } | Up::LegacyDistrict { provinces_2025, .. },
                UnitId::Province(written),
                _,
            ) => cross(provinces_2025.contains(&written)),
            (Up::Ward { province: own, .. }, UnitId::Province(written), _) => same(own == written),
            (Up::Ward { province: own, .. }, _, Up::LegacyProvince { provinces_2025 }) => {
                cross(provinces_2025.contains(&own))
            }
            _ => None,
        }
    }

    /// Whether a district candidate fits a ward candidate, and whether it is from the
    /// other map.
    fn district_fit(ward: &Cand<'_>, district: &Cand<'_>) -> Option<(f32, bool)> {
        let UnitId::LegacyDistrict(written) = district.unit else {
            return None;
        };
        match ward.up {
            Up::LegacyWard { district: own, .. } => (own == written).then_some((1.0, false)),
            Up::Ward {
                source_districts, ..
            } => source_districts
                .contains(&written)
                .then_some((Q_CROSS_MAP, true)),
            _ => None,
        }
    }

    /// The best of the `parents` candidates that fits (as `fit` says) and overlaps none
    /// of `used`.
    fn best_parent(
        &self,
        parents: &[usize],
        used: &[usize],
        fit: impl Fn(&Cand<'_>) -> Option<(f32, bool)>,
    ) -> Option<Parent> {
        let mut best: Option<Parent> = None;
        for &idx in parents {
            let cand = &self.cands[idx];
            if used.iter().any(|&other| self.cands[other].overlaps(cand)) {
                continue;
            }
            let Some((factor, cross)) = fit(cand) else {
                continue;
            };
            let value = cand.value * factor;
            if best.is_none_or(|known| value > known.value) {
                best = Some(Parent {
                    idx,
                    value,
                    quality: cand.quality * factor,
                    cross,
                });
            }
        }
        best
    }

    fn choices(&self) -> Vec<Choice> {
        // Parents are few (a handful of districts and provinces), wards can be many ("Phường
        // 1" names 80): each ward scans the parents, never all candidates.
        let mut districts = Vec::new();
        let mut provinces = Vec::new();
        for (idx, cand) in self.cands.iter().enumerate() {
            match cand.unit.level() {
                Level::Ward => {}
                Level::District => districts.push(idx),
                Level::Province => provinces.push(idx),
            }
        }
        let mut choices = Vec::with_capacity(self.cands.len());
        for (ward_idx, ward) in self.cands.iter().enumerate() {
            if ward.unit.level() != Level::Ward {
                continue;
            }
            let district_fit = |district: &Cand<'_>| Self::district_fit(ward, district);
            let province_fit = |province: &Cand<'_>| Self::province_fit(ward, province);
            // The district first, then the province around it; or the province first,
            // when a district name lies inside the province's ("Vũng Tàu" in "Bà Rịa -
            // Vũng Tàu"). The better of the two.
            let district = self.best_parent(&districts, &[ward_idx], district_fit);
            let province = match district {
                Some(parent) => {
                    self.best_parent(&provinces, &[ward_idx, parent.idx], province_fit)
                }
                None => self.best_parent(&provinces, &[ward_idx], province_fit),
            };
            let district_first = self.finish_choice(ward_idx, Some(ward_idx), district, province);
            let province_alone = self.best_parent(&provinces, &[ward_idx], province_fit);
            let province_first = match (district, province_alone) {
                // Nothing to gain: the same province fitted beside the district.
                (Some(_), Some(alone)) if province.is_some_and(|p| p.idx == alone.idx) => None,
                (Some(_), Some(alone)) => {
                    let district =
                        self.best_parent(&districts, &[ward_idx, alone.idx], district_fit);
                    Some(self.finish_choice(ward_idx, Some(ward_idx), district, Some(alone)))
                }
                _ => None,
            };
            choices.push(match province_first {
                Some(other) if other.score > district_first.score => other,
                _ => district_first,
            });
        }
        for (district_idx, district) in self.cands.iter().enumerate() {
            if district.unit.level() != Level::District {
                continue;
            }
            let province = self.best_parent(&provinces, &[district_idx], |province| {
                Self::province_fit(district, province)
            });
            choices.push(self.finish_choice(district_idx, None, None, province));
        }
        for (province_idx, province) in self.cands.iter().enumerate() {
            if province.unit.level() != Level::Province {
                continue;
            }
            let mut choice = Choice {
                ward: None,
                district: None,
                province: Some(province_idx),
                score: province.value,
                quality: province.quality,
                cross: false,
                rank: (2, 1, province.unit),
            };
            choice.rank = rank(&choice, &self.cands);
            choices.push(choice);
        }
        choices
    }

    /// A choice of `lowest` (a ward, or a district when `ward` is `None`) with its
    /// parents, scored.
    fn finish_choice(
        &self,
        lowest: usize,
        ward: Option<usize>,
        district: Option<Parent>,
        province: Option<Parent>,
    ) -> Choice {
        let lowest_cand = &self.cands[lowest];
        let mut choice = Choice {
            ward,
            district: if ward.is_some() {
                district.map(|parent| parent.idx)
            } else {
                Some(lowest)
            },
            province: province.map(|parent| parent.idx),
            score: lowest_cand.value,
            quality: lowest_cand.quality,
            cross: false,
            rank: (0, 0, lowest_cand.unit),
        };
        for parent in district.into_iter().chain(province) {
            choice.score += parent.value;
            choice.quality *= parent.quality;
            choice.cross |= parent.cross;
        }
        let mut adjacent_pairs = 0;
        // Ward next to district, district next to province (ward next to province when no
        // district is written).
        let mut previous: Option<&Cand> = None;
        for idx in choice.parts() {
            let cand = &self.cands[idx];
            if previous.is_some_and(|previous| previous.adjacent(cand)) {
                adjacent_pairs += 1;
            }
            previous = Some(cand);
        }
        choice.score += ADJACENCY_BONUS * adjacent_pairs as f32;
        choice.rank = rank(&choice, &self.cands);
        choice
    }

    pub fn run(mut self) -> Parse {
        self.exact_candidates();
        self.one_edit_candidates();
        self.demote_inner_names();
        if std::env::var_os("VMAP_PARSE_STATS").is_some() {
            let count = |level| self.cands.iter().filter(|c| c.unit.level() == level).count();
            eprintln!("STATS tokens={} wards={} districts={} provinces={}", self.n(), count(Level::Ward), count(Level::District), count(Level::Province));
        }
        let mut choices = self.choices();
        choices.sort_unstable_by(compare_choices);
        // One choice per place: the best one.
        let cands = &self.cands;
        let mut kept = 0;
        for idx in 0..choices.len() {
            let place = choices[idx].place(cands);
            if place.is_some() && !choices[..kept].iter().any(|c| c.place(cands) == place) {
                choices[kept] = choices[idx];
                kept += 1;
            }
        }
        choices.truncate(kept);
        self.answer(&choices)
    }

    fn answer(&self, choices: &[Choice]) -> Parse {
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
        let mut best_reading = self.reading(best, tied, true, &mut cache);
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
        let mut alternatives: Vec<Reading> = Vec::new();
        for choice in tied.iter().skip(1) {
            let mut reading = self.reading(choice, tied, false, &mut cache);
            reading.ambiguous = best_reading.ambiguous;
            reading.confidence /= places as f64;
            alternatives.push(reading);
        }
        self.view_alternatives(best, &best_reading, &mut alternatives);
        for choice in choices
            .iter()
            .skip(n_tied)
            .take_while(|choice| choice.score >= best.score * MIN_ALTERNATIVE_SHARE)
            .take(MAX_LOWER_ALTERNATIVES)
        {
            alternatives.push(self.reading(choice, std::slice::from_ref(choice), false, &mut cache));
        }
        alternatives.retain(|reading| {
            reading.legacy != best_reading.legacy || reading.admin_2025 != best_reading.admin_2025
        });
        dedup_readings(&mut alternatives);
        alternatives.sort_by(|a, b| {
            b.confidence
                .partial_cmp(&a.confidence)
                .unwrap_or(Ordering::Equal)
        });
        alternatives.truncate(MAX_ALTERNATIVES);
        Parse {
            query: String::new(),
            reading: best_reading,
            alternatives,
        }
    }

    fn empty_parse(&self) -> Parse {
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
    fn distinct_places(&self, tied: &[Choice]) -> usize {
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
            if !linked && let Some(&target) = targets.first() {
                if !implied_2025.contains(&target) {
                    implied_2025.push(target);
                }
            }
        }
        implied_2025.dedup();
        let ward_places = implied_2025.len().max(legacy_wards.len());
        if ward_places > 0 {
            ward_places + others.len()
        } else {
            others.len()
        }
    }

    /// The answer for one choice, both maps filled where they follow.
    /// The address line for a choice's covered words; choices covering the same words
    /// share one (the usual case for the alternatives of one text).
    fn line_for(&self, choice: &Choice, cache: &mut LineCache) -> Line {
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
        let parts: Vec<usize> = choice.parts().collect();
        let line = self.line(&parts);
        cache.push((key, line.clone()));
        line
    }

    fn reading(
        &self,
        choice: &Choice,
        tied: &[Choice],
        is_best: bool,
        cache: &mut LineCache,
    ) -> Reading {
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

        let line = self.line_for(choice, cache);
        let mut unused = line.unused;
        if is_best && let Some(overflow) = &self.overflow {
            unused.push(overflow.clone());
        }
        Reading {
            structure: self.structure(choice, &legacy, &current),
            house_number: line.house_number,
            alley: line.alley,
            street: line.street,
            hamlet: line.hamlet,
            legacy,
            admin_2025: current,
            confidence: f64::from(self.confidence(choice)),
            ambiguous: false,
            conflicts: Vec::new(),
            unused,
        }
    }

    fn confidence(&self, choice: &Choice) -> f32 {
        let completeness = match (choice.ward, choice.district, choice.province) {
            (Some(_), None, None) => 0.85,
            (Some(_), _, _) => 1.0,
            (None, Some(_), _) => 0.6,
            (None, None, Some(_)) => 0.3,
            (None, None, None) => 0.0,
        };
        (completeness * choice.quality).clamp(0.0, 1.0)
    }

    fn structure(&self, choice: &Choice, legacy: &LegacyView, current: &View2025) -> Structure {
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
    fn view_alternatives(&self, best: &Choice, reading: &Reading, out: &mut Vec<Reading>) {
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
                    out.push(alternative);
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
                    out.push(alternative);
                }
            }
            _ => {}
        }
    }

    /// Units written with their marker that the answer contradicts ("Phường Sài Gòn,
    /// Quận 3": Sài Gòn took no ward of Quận 3).
    fn conflicts(&self, best: &Choice, reading: &Reading) -> Vec<Conflict> {
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
            let same_span = |other: &Cand<'_>| other.strong && (other.cover_start, other.end) == span;
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

    fn line(&self, parts: &[usize]) -> Line {
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

fn dedup_readings(readings: &mut Vec<Reading>) {
    let mut kept: Vec<Reading> = Vec::with_capacity(readings.len());
    for reading in readings.drain(..) {
        let duplicate = kept
            .iter()
            .any(|other| other.legacy == reading.legacy && other.admin_2025 == reading.admin_2025);
        if !duplicate {
            kept.push(reading);
        }
    }
    *readings = kept;
}

/// Among equal scores: a ward before a district before a province; a 2025 ward first when
/// no district is written (the two-level form is the 2025 map's), a legacy one when a
/// district is; then by position in the maps, so that the order never depends on the
/// text's hash or the order of candidates.
fn rank(choice: &Choice, cands: &[Cand<'_>]) -> (u8, u8, UnitId) {
    let place = choice.place(cands);
    let map_rank = match (place, choice.district.is_some()) {
        (Some(UnitId::Ward(_)), false) => 0,
        (Some(UnitId::LegacyWard(_)), true) => 0,
        _ => 1,
    };
    let level_rank = match place.map(UnitId::level) {
        Some(Level::Ward) => 0,
        Some(Level::District) => 1,
        _ => 2,
    };
    (
        level_rank,
        map_rank,
        place.unwrap_or(UnitId::LegacyProvince(LegacyProvinceId(0))),
    )
}

/// Best score first, then by [`rank`].
fn compare_choices(a: &Choice, b: &Choice) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.rank.cmp(&b.rank))
        .then_with(|| a.parts_key().cmp(&b.parts_key()))
}
