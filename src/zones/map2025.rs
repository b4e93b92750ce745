//! The 2025 map as zones: the ward boundaries (point → ward, reference points) joined to the
//! administrative maps (QĐ 2334 postal codes, provinces, the legacy wards each absorbed).
//!
//! Decisions: the embedded map is decoded once per process and shared (`Arc`): it is
//! immutable, takes a few hundred milliseconds to decode and index, and every zone table
//! of the process (tests make many) uses the same one. Every boundary ward must have a
//! postal code and an administrative record; a ward without them is a data error, refused
//! at load, so a 2025 zone always has a postal code.

use std::sync::{Arc, OnceLock};

use crate::admin::{self, AdminError, AdminMaps, UnitType};
use crate::boundaries::{self, BoundaryError, BoundaryIndex};
use crate::geocode::units::UnitNames;
use crate::parse::Parser;

use super::{PostalScheme, WardType, Zone};

/// Why the 2025 map could not be put together.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Map2025Error {
    #[error("cannot read the 2025 boundaries: {0}")]
    Boundaries(String),
    #[error("cannot read the administrative maps: {0}")]
    Admin(String),
    #[error("2025 ward {ward_code} of the boundary file has no {what}")]
    Unjoined {
        ward_code: String,
        what: &'static str,
    },
}

impl From<BoundaryError> for Map2025Error {
    fn from(error: BoundaryError) -> Map2025Error {
        Map2025Error::Boundaries(error.to_string())
    }
}

impl From<AdminError> for Map2025Error {
    fn from(error: AdminError) -> Map2025Error {
        Map2025Error::Admin(error.to_string())
    }
}

/// Boundaries and administrative maps, joined ward by ward.
#[derive(Debug)]
pub struct Map2025 {
    index: BoundaryIndex,
    admin: Arc<AdminMaps>,
    /// The address parser over `admin`, built on first use (it folds every name once).
    parser: OnceLock<Parser>,
    /// Every unit's name by prefix, for autocomplete, built on first use.
    unit_names: OnceLock<UnitNames>,
    /// The administrative ward of each boundary ward (by `boundaries::WardId`).
    admin_ward: Vec<admin::WardId>,
    /// The boundary ward of each administrative ward (by `admin::WardId::index`).
    boundary_ward: Vec<Option<boundaries::WardId>>,
}

impl Map2025 {
    /// The map shipped in the binary, decoded once per process.
    pub fn embedded() -> Result<Arc<Map2025>, Map2025Error> {
        static EMBEDDED: OnceLock<Result<Arc<Map2025>, Map2025Error>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                Map2025::new(BoundaryIndex::embedded()?, AdminMaps::load_embedded()?).map(Arc::new)
            })
            .clone()
    }

    pub fn new(index: BoundaryIndex, admin: AdminMaps) -> Result<Map2025, Map2025Error> {
        let mut admin_ward = Vec::with_capacity(index.boundaries().wards().len());
        let mut boundary_ward = vec![None; admin.wards().len()];
        for (idx, ward) in index.boundaries().wards().iter().enumerate() {
            let id = admin
                .ward_by_code(&ward.ward_code)
                .ok_or_else(|| Map2025Error::Unjoined {
                    ward_code: ward.ward_code.clone(),
                    what: "administrative record",
                })?;
            if admin.ward(id).postcode.is_none() {
                return Err(Map2025Error::Unjoined {
                    ward_code: ward.ward_code.clone(),
                    what: "postal code",
                });
            }
            admin_ward.push(id);
            boundary_ward[id.index()] = Some(idx as boundaries::WardId);
        }
        Ok(Map2025 {
            index,
            admin: Arc::new(admin),
            parser: OnceLock::new(),
            unit_names: OnceLock::new(),
            admin_ward,
            boundary_ward,
        })
    }

    pub fn index(&self) -> &BoundaryIndex {
        &self.index
    }

    pub fn admin(&self) -> &AdminMaps {
        &self.admin
    }

    /// The administrative maps, shared (the address renderer keeps them).
    pub fn shared_admin(&self) -> Arc<AdminMaps> {
        Arc::clone(&self.admin)
    }

    /// The address parser over both maps, built on the first call (a few hundred
    /// milliseconds), shared afterwards.
    pub fn parser(&self) -> &Parser {
        self.parser
            .get_or_init(|| Parser::new(Arc::clone(&self.admin)))
    }

    /// Every unit of both maps by the first letters of its name, built on the first call
    /// (a few milliseconds), shared afterwards.
    pub fn unit_names(&self) -> &UnitNames {
        self.unit_names.get_or_init(|| UnitNames::new(&self.admin))
    }

    /// The 2025 ward whose polygon holds `point`, else the one whose boundary is nearest
    /// within 2 km; `None` farther out.
    pub fn ward_at(&self, point: crate::point::LatLon) -> Option<admin::WardId> {
        match self.index.locate(point) {
            boundaries::Located::Inside(ward)
            | boundaries::Located::NearestBoundary { ward, .. } => Some(self.admin_ward(ward)),
            boundaries::Located::OutsideCoverage => None,
        }
    }

    /// The administrative record of a boundary ward.
    pub fn admin_ward(&self, ward: boundaries::WardId) -> admin::WardId {
        self.admin_ward[ward as usize]
    }

    /// The boundary ward of an administrative 2025 ward.
    pub fn boundary_ward(&self, ward: admin::WardId) -> Option<boundaries::WardId> {
        self.boundary_ward.get(ward.index()).copied().flatten()
    }

    /// One zone per boundary ward, in boundary order (ascending ward code).
    pub(super) fn zones(&self) -> Vec<Zone> {
        self.index
            .boundaries()
            .wards()
            .iter()
            .zip(&self.admin_ward)
            .filter_map(|(boundary, &id)| {
                let ward = self.admin.ward(id);
                let province = self.admin.province(ward.province);
                Some(Zone {
                    scheme: PostalScheme::Y2025,
                    postcode: ward.postcode?,
                    ward_code: ward.code.clone(),
                    ward: ward.name.clone(),
                    ward_type: match ward.unit_type {
                        UnitType::Phuong => WardType::Urban,
                        UnitType::ThiTran => WardType::Township,
                        _ => WardType::Rural,
                    },
                    district_code: String::new(),
                    district: String::new(),
                    province_code: province.code.clone(),
                    province: province.name.clone(),
                    center: boundary.reference,
                    bbox: boundary.bbox,
                })
            })
            .collect()
    }
}
