//! Choices: a ward (or a district, or a province) candidate with the parents that fit it
//! in either map, scored, and their total order.
//!
//! Decisions: each ward picks its best district and province (district first, or the
//! province first when a district name lies inside the province's) rather than trying
//! every combination: parents are a handful, wards can be many ("Phường 1" names 80), so
//! a parse stays linear in the candidates. Ties are broken by [`rank`], never by the
//! order candidates were found in.

use std::cmp::Ordering;

use crate::admin::{LegacyProvinceId, Level, UnitId};

use super::Work;
use super::candidates::{Cand, Up};

/// A parent from the other map counts in full: a legacy district with a 2025 ward that
/// took wards from it, a 2025 province with a legacy ward, a legacy province name with a
/// 2025 ward. "Xã Sam Mứn, Huyện Điện Biên" names the legacy Sam Mứn and the 2025 Sam Mứn
/// alike, and "Xã Bình Thành, Huyện Đức Huệ, Tỉnh Tây Ninh" a legacy ward with its new
/// province as well as a 2025 ward with its old district: the answer must say so.
const Q_CROSS_MAP: f32 = 1.0;
/// Units written next to each other in hierarchy order.
const ADJACENCY_BONUS: f32 = 0.05;

/// A district or province candidate chosen for a ward or district.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parent {
    pub(super) idx: usize,
    /// Its value with the fit factor.
    pub(super) value: f32,
    pub(super) quality: f32,
    pub(super) cross: bool,
}

/// One consistent choice of a ward, a district and a province candidate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Choice {
    pub(super) ward: Option<usize>,
    pub(super) district: Option<usize>,
    pub(super) province: Option<usize>,
    pub(super) score: f32,
    /// Product of the qualities and cross-map factors of its parts.
    pub(super) quality: f32,
    pub(super) cross: bool,
    /// Order among equal scores (see [`rank`]).
    pub(super) rank: (u8, u8, UnitId),
}

impl Choice {
    /// The most specific unit: what place the choice names.
    pub(super) fn place(&self, cands: &[Cand<'_>]) -> Option<UnitId> {
        self.ward
            .or(self.district)
            .or(self.province)
            .map(|idx| cands[idx].unit)
    }

    /// The candidates it is made of, to order equal choices totally.
    pub(super) fn parts_key(&self) -> [usize; 3] {
        [self.ward, self.district, self.province].map(|part| part.unwrap_or(usize::MAX))
    }

    pub(super) fn parts(&self) -> impl Iterator<Item = usize> {
        [self.ward, self.district, self.province]
            .into_iter()
            .flatten()
    }
}

impl Work<'_> {
    /// Whether a province candidate fits a ward or district candidate, and whether it is
    /// from the other map.
    pub(super) fn province_fit(lower: &Cand<'_>, province: &Cand<'_>) -> Option<(f32, bool)> {
        let same = |fits: bool| fits.then_some((1.0, false));
        let cross = |fits: bool| fits.then_some((Q_CROSS_MAP, true));
        match (lower.up, province.unit, province.up) {
            (
                Up::LegacyWard { province: own, .. } | Up::LegacyDistrict { province: own, .. },
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
    pub(super) fn district_fit(ward: &Cand<'_>, district: &Cand<'_>) -> Option<(f32, bool)> {
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
    pub(super) fn best_parent(
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
            // Between equal values, the parent of the same map: "Phường Sài Gòn, TP. Hồ
            // Chí Minh" is the 2025 form, though the legacy province has the name too.
            let better = |known: Parent| {
                value > known.value || (value == known.value && known.cross && !cross)
            };
            if best.is_none_or(better) {
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

    pub(super) fn choices(&self) -> Vec<Choice> {
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
                Some(parent) => self.best_parent(&provinces, &[ward_idx, parent.idx], province_fit),
                None => self.best_parent(&provinces, &[ward_idx], province_fit),
            };
            let district_first = self.finish_choice(ward_idx, Some(ward_idx), district, province);
            // Without a district, the province alone is the one just fitted.
            let province_alone = match district {
                Some(_) => self.best_parent(&provinces, &[ward_idx], province_fit),
                None => None,
            };
            let province_first = match province_alone {
                // Nothing to gain: the same province fitted beside the district.
                Some(alone) if province.is_some_and(|p| p.idx == alone.idx) => None,
                Some(alone) => {
                    let district =
                        self.best_parent(&districts, &[ward_idx, alone.idx], district_fit);
                    Some(self.finish_choice(ward_idx, Some(ward_idx), district, Some(alone)))
                }
                None => None,
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
    pub(super) fn finish_choice(
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
}

/// Among equal scores: a ward before a district before a province; a 2025 ward first when
/// no district is written (the two-level form is the 2025 map's), a legacy one when a
/// district is; then by position in the maps, so that the order never depends on the
/// text's hash or the order of candidates.
pub(super) fn rank(choice: &Choice, cands: &[Cand<'_>]) -> (u8, u8, UnitId) {
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
pub(super) fn compare_choices(a: &Choice, b: &Choice) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.rank.cmp(&b.rank))
        .then_with(|| a.parts_key().cmp(&b.parts_key()))
}
