//! Both administrative maps for a zone: its 2025 ward (by polygon) and its legacy ward.
//!
//! Decisions: a 2025 zone *is* a 2025 ward; its legacy ward is one of the legacy wards that
//! went into it, chosen by the registered addresses near the point (their codes' legacy
//! wards, majority, ties to the nearer address) and else by the nearest legacy centroid.
//! A legacy zone *is* a legacy ward; its 2025 ward is the polygon holding the point (or the
//! zone's reference point when no point is given), else the ward's default conversion
//! target. The method is always named, because the two maps do not nest everywhere (471
//! legacy wards were split).

use crate::admin::{LegacyWardId, WardId};
use crate::boundaries::Located;
use crate::point::{LatLon, haversine_m};

use super::{PostalScheme, ZoneId, ZoneTable};

/// How the 2025 ward was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ward2025Method {
    /// The zone is this 2025 ward.
    Zone,
    /// The ward's polygon holds the point.
    Polygon,
    /// The point is in no polygon; this ward's boundary is the nearest, within 2 km.
    NearestBoundary,
    /// The legacy ward's default target in the 2025 conversion (the point is in no ward).
    Conversion,
}

/// How the legacy ward was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyMethod {
    /// The zone is this legacy ward.
    Zone,
    /// Most of the nearest registered addresses carry legacy codes of this ward.
    Addresses,
    /// Of the legacy wards that went into the 2025 ward, the one with the nearest centroid.
    NearestCentroid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin2025View {
    pub ward: WardId,
    pub method: Ward2025Method,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyView {
    pub ward: LegacyWardId,
    pub method: LegacyMethod,
}

/// A zone on both maps (either may be unknown: a legacy zone from a custom file, a point
/// out at sea).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoneAdmin {
    pub admin_2025: Option<Admin2025View>,
    pub legacy: Option<LegacyView>,
}

impl ZoneTable {
    /// The 2025 ward whose polygon holds `point` (else the nearest boundary within 2 km).
    pub fn ward_2025_at(&self, point: LatLon) -> Option<Admin2025View> {
        let map = self.map_2025()?;
        let (ward, method) = match map.index().locate(point) {
            Located::Inside(ward) => (ward, Ward2025Method::Polygon),
            Located::NearestBoundary { ward, .. } => (ward, Ward2025Method::NearestBoundary),
            Located::OutsideCoverage => return None,
        };
        Some(Admin2025View {
            ward: map.admin_ward(ward),
            method,
        })
    }

    /// A 2025 zone's own ward (method `zone`); `None` for a legacy zone, whose 2025 ward
    /// depends on the point.
    pub fn ward_2025_of_zone(&self, zone_id: ZoneId) -> Option<Admin2025View> {
        let zone = self.get(zone_id);
        if zone.scheme != PostalScheme::Y2025 {
            return None;
        }
        let ward = self.map_2025()?.admin().ward_by_code(&zone.ward_code)?;
        Some(Admin2025View {
            ward,
            method: Ward2025Method::Zone,
        })
    }

    /// A legacy zone's own ward (method `zone`); `None` for a 2025 zone, whose legacy ward
    /// depends on the point.
    pub fn legacy_view_of_zone(&self, zone_id: ZoneId) -> Option<LegacyView> {
        self.legacy_ward_of_zone(zone_id).map(|ward| LegacyView {
            ward,
            method: LegacyMethod::Zone,
        })
    }

    /// The legacy ward of a legacy zone (by ward code), if the administrative map has it.
    pub fn legacy_ward_of_zone(&self, zone_id: ZoneId) -> Option<LegacyWardId> {
        let zone = self.get(zone_id);
        if zone.scheme != PostalScheme::Legacy {
            return None;
        }
        self.map_2025()?
            .admin()
            .legacy_ward_by_code(&zone.ward_code)
    }

    /// Of the legacy wards that went into 2025 ward `ward`: the one most `voters` name
    /// (their legacy wards, nearest first; ties to the earlier), else the one whose
    /// centroid is nearest `point`.
    pub fn legacy_in_ward_2025(
        &self,
        ward: WardId,
        point: LatLon,
        voters: &[LegacyWardId],
    ) -> Option<LegacyView> {
        let admin = self.map_2025()?.admin();
        let sources = &admin.ward(ward).sources;
        let mut tally: Vec<(LegacyWardId, usize, usize)> = Vec::new();
        for (rank, voter) in voters.iter().enumerate() {
            if !sources.contains(voter) {
                continue;
            }
            match tally.iter_mut().find(|(id, _, _)| id == voter) {
                Some(entry) => entry.1 += 1,
                None => tally.push((*voter, 1, rank)),
            }
        }
        if let Some(&(ward, _, _)) = tally
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        {
            return Some(LegacyView {
                ward,
                method: LegacyMethod::Addresses,
            });
        }
        sources
            .iter()
            .filter_map(|&id| {
                let centroid = admin.legacy_ward(id).centroid?;
                Some((id, haversine_m(point, centroid)))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .or_else(|| sources.first().map(|&id| (id, 0.0)))
            .map(|(ward, _)| LegacyView {
                ward,
                method: LegacyMethod::NearestCentroid,
            })
    }

    /// A zone on both maps, at `point` (the zone's reference point when `None`), given the
    /// legacy wards of the registered addresses nearest the point (nearest first).
    pub fn zone_admin(
        &self,
        zone_id: ZoneId,
        point: Option<LatLon>,
        voters: &[LegacyWardId],
    ) -> ZoneAdmin {
        let Some(map) = self.map_2025() else {
            return ZoneAdmin::default();
        };
        let zone = self.get(zone_id);
        let at = point.unwrap_or(zone.center);
        match zone.scheme {
            PostalScheme::Y2025 => {
                let Some(ward) = map.admin().ward_by_code(&zone.ward_code) else {
                    return ZoneAdmin::default();
                };
                ZoneAdmin {
                    admin_2025: Some(Admin2025View {
                        ward,
                        method: Ward2025Method::Zone,
                    }),
                    legacy: self.legacy_in_ward_2025(ward, at, voters),
                }
            }
            PostalScheme::Legacy => {
                let legacy_ward = self.legacy_ward_of_zone(zone_id);
                let admin_2025 = self.ward_2025_at(at).or_else(|| {
                    let target = map.admin().default_target(legacy_ward?)?;
                    Some(Admin2025View {
                        ward: target,
                        method: Ward2025Method::Conversion,
                    })
                });
                ZoneAdmin {
                    admin_2025,
                    legacy: legacy_ward.map(|ward| LegacyView {
                        ward,
                        method: LegacyMethod::Zone,
                    }),
                }
            }
        }
    }
}
