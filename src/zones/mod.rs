//! Postal zones (wards with a 5-digit postal code) and resolving a point to one.
//!
//! One [`ZoneTable`] holds both postal tables: the **legacy** zones (the 2017 postal codes of
//! the 63-province map, `data/vn_wards_63.csv`, embedded; `--zones-file` replaces it), ids
//! `0..n_legacy`, and the **2025** zones (the 3 321 wards of the 34-province map with their
//! QĐ 2334 postal codes and boundaries, [`Map2025`]), ids after them. Which table mints new
//! codes is the registry's [`PostalScheme`]; both always decode.
//!
//! Decisions:
//! - **Decode order**: a 5-digit number is read in the 2025 table first, then in the legacy
//!   table ([`ZoneTable::by_postcode`]); its zone's reference point is *the* reference of
//!   the number, for decoding and for minting in either table. So a legacy zone whose number
//!   the 2025 table also has mints through the 2025 ward's reference, and only where that
//!   reaches ([`ZoneTable::can_own`]): one reach rule, [`reference_reaches`], for both.
//!   Where a number names nested places (2 121 numbers) or neighbours (11), every legacy
//!   code issued before this table existed decodes to the same cell either way (the test
//!   `zones::tests::shared_numbers_decode_to_the_same_cell` checks each number's legacy
//!   ward box against both references). The two numbers that name far-apart places
//!   (66662, 92308: faults of the legacy table, see `data/README.md`) decode to the 2025
//!   ward; their legacy codes (Lai Châu, Điện Biên) are found by the registry's lookup,
//!   which returns the stored address, and the registry counts them as *displaced* codes so
//!   that minting in the 2025 ward never makes the same string again.
//! - **Resolution**: with the 2025 scheme a point's zone is the 2025 ward whose polygon
//!   holds it (else the nearest boundary within 2 km, else outside coverage), see
//!   [`crate::boundaries`]. With the legacy scheme it is what it always was: the nearest
//!   reference among zones whose box holds the point, else the nearest within 50 km.
//! - **Islands**: Hoàng Sa (20333) and Trường Sa (22736) are wider than one reference
//!   point can reach. A point there resolves to its đặc khu (the zone answers say so), but
//!   a code is only minted where the reference reaches; elsewhere minting fails with
//!   "too far from the zone's reference point" rather than borrowing another zone's number.

mod admin_view;
mod legacy;
mod map2025;
#[cfg(test)]
mod tests;
mod written;

use foldhash::HashMap;
use std::path::Path;
use std::sync::Arc;

use rstar::{RTree, primitives::GeomWithData};

use crate::boundaries::Located;
pub use crate::code::PostalScheme;
use crate::code::Postcode;
use crate::point::{LatLon, haversine_m};

pub use admin_view::{Admin2025View, LegacyMethod, LegacyView, Ward2025Method, ZoneAdmin};
pub use map2025::{Map2025, Map2025Error};
pub use written::{Place2025, WrittenUnits};

/// The legacy zone table shipped with vmap (63-province structure, until 30 June 2025).
pub const DEFAULT_ZONES_CSV: &str = include_str!("../../data/vn_wards_63.csv");

/// Beyond this distance from every reference point a point is outside legacy coverage.
pub const MAX_REFERENCE_DISTANCE_M: f64 = 50_000.0;

/// Why a point is outside coverage in `scheme`'s table (the minting scheme a registry
/// actually uses, see [`ZoneTable::minting_scheme`]): the rule of
/// [`ZoneTable::resolve_by_geometry`], said in the words errors use.
pub fn outside_coverage_rule(scheme: PostalScheme) -> &'static str {
    match scheme {
        PostalScheme::Y2025 => "in no 2025 ward and no ward boundary within 2 km",
        PostalScheme::Legacy => "no postal zone within 50 km",
    }
}

/// A code is decoded through its zone's reference point, so a zone may only own points this
/// close to it in latitude and longitude (OLC recovery works up to half a degree).
pub const MAX_REFERENCE_OFFSET_DEG: f64 = 0.45;

/// Index of a zone in its [`ZoneTable`].
pub type ZoneId = u32;

/// The one reach rule: a code made for `point` through `reference` decodes back to it when
/// the offset is under [`MAX_REFERENCE_OFFSET_DEG`] in latitude and in longitude (longitude
/// the short way round), the rule `VmapCode::encode` applies.
pub fn reference_reaches(reference: LatLon, point: LatLon) -> bool {
    let lat_offset = point.lat - reference.lat;
    let lon_offset = (point.lon - reference.lon + 540.0).rem_euclid(360.0) - 180.0;
    lat_offset.abs() < MAX_REFERENCE_OFFSET_DEG && lon_offset.abs() < MAX_REFERENCE_OFFSET_DEG
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WardType {
    /// Phường: an urban ward.
    Urban,
    /// Thị trấn: a township.
    Township,
    /// Xã (and đặc khu): a rural commune.
    Rural,
}

impl WardType {
    fn from_vietnamese(text: &str) -> WardType {
        match text.trim() {
            "Phường" => WardType::Urban,
            "Thị trấn" => WardType::Township,
            _ => WardType::Rural,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl BoundingBox {
    pub fn contains(&self, point: LatLon) -> bool {
        (self.south..=self.north).contains(&point.lat)
            && (self.west..=self.east).contains(&point.lon)
    }
}

/// One postal zone: a commune-level unit with its postal code.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The table the zone is from.
    pub scheme: PostalScheme,
    pub postcode: Postcode,
    pub ward_code: String,
    pub ward: String,
    pub ward_type: WardType,
    /// Empty for 2025 zones (no districts since 1 July 2025).
    pub district_code: String,
    pub district: String,
    pub province_code: String,
    pub province: String,
    /// Legacy: the ward's centroid. 2025: the ward's reference point (pole of
    /// inaccessibility of its polygon). For the zone that owns its number also the point
    /// codes are recovered through.
    pub center: LatLon,
    pub bbox: BoundingBox,
}

/// A row of the zone file that was not loaded, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub ward: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZonesError {
    #[error("cannot read zone file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("zone file line {line}: {source}")]
    Csv { line: u64, source: csv::Error },
    #[error("zone file holds no usable zone")]
    Empty,
    #[error(transparent)]
    Map2025(#[from] Map2025Error),
}

/// How a point's zone was found, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneMethod {
    /// The majority zone of the nearest registered addresses (legacy scheme).
    Addresses,
    /// The nearest reference point among zones whose bounding box holds the point (legacy).
    BoundingBox,
    /// The nearest reference point within 50 km (legacy).
    NearestReference,
    /// The 2025 ward whose polygon holds the point.
    Polygon,
    /// In no polygon: the 2025 ward with the nearest boundary within 2 km.
    NearestBoundary,
}

type BoxEntry = GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, ZoneId>;
type CenterEntry = GeomWithData<[f64; 3], ZoneId>;

/// All zones of both tables, with lookups by postal code and by position.
#[derive(Debug)]
pub struct ZoneTable {
    /// Legacy zones, then 2025 zones.
    zones: Vec<Zone>,
    n_legacy: usize,
    /// The legacy zone that owns each legacy number (the first row that carries it).
    legacy_owner: HashMap<Postcode, ZoneId>,
    /// The 2025 zone of each 2025 number.
    owner_2025: HashMap<Postcode, ZoneId>,
    /// Legacy zones only.
    boxes: RTree<BoxEntry>,
    /// Legacy reference points on the unit sphere, so that nearest-by-chord is nearest on
    /// the globe.
    centers: RTree<CenterEntry>,
    skipped: Vec<SkippedRow>,
    map_2025: Option<Arc<Map2025>>,
}

impl ZoneTable {
    /// The embedded legacy table and the embedded 2025 map.
    pub fn load_default() -> Result<ZoneTable, ZonesError> {
        ZoneTable::from_reader(DEFAULT_ZONES_CSV.as_bytes())?.with_map_2025(Map2025::embedded()?)
    }

    /// A legacy table from a file, with the embedded 2025 map.
    pub fn load_file(path: &Path) -> Result<ZoneTable, ZonesError> {
        let file = std::fs::File::open(path).map_err(|source| ZonesError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ZoneTable::from_reader(std::io::BufReader::new(file))?.with_map_2025(Map2025::embedded()?)
    }

    /// A legacy table alone, read from the CSV layout of `data/vn_wards_63.csv`. Without a
    /// 2025 map it resolves and mints with the legacy table whatever the scheme (tests of
    /// small made-up tables use this).
    pub fn from_reader(reader: impl std::io::Read) -> Result<ZoneTable, ZonesError> {
        let rows = legacy::read(reader)?;
        let boxes = RTree::bulk_load(
            rows.zones
                .iter()
                .enumerate()
                .map(|(idx, zone)| {
                    let rect = rstar::primitives::Rectangle::from_corners(
                        [zone.bbox.west, zone.bbox.south],
                        [zone.bbox.east, zone.bbox.north],
                    );
                    GeomWithData::new(rect, idx as ZoneId)
                })
                .collect(),
        );
        let centers = RTree::bulk_load(
            rows.zones
                .iter()
                .enumerate()
                .map(|(idx, zone)| GeomWithData::new(zone.center.unit_xyz(), idx as ZoneId))
                .collect(),
        );
        Ok(ZoneTable {
            n_legacy: rows.zones.len(),
            zones: rows.zones,
            legacy_owner: rows.owner_by_postcode,
            owner_2025: HashMap::default(),
            boxes,
            centers,
            skipped: rows.skipped,
            map_2025: None,
        })
    }

    /// Adds the 2025 zones of `map` after the legacy ones.
    pub fn with_map_2025(mut self, map: Arc<Map2025>) -> Result<ZoneTable, ZonesError> {
        self.zones.truncate(self.n_legacy);
        self.owner_2025.clear();
        for zone in map.zones() {
            let zone_id = self.zones.len() as ZoneId;
            self.owner_2025.insert(zone.postcode, zone_id);
            self.zones.push(zone);
        }
        self.map_2025 = Some(map);
        Ok(self)
    }

    /// Zones of both tables.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Every zone: the legacy ones, then the 2025 ones.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The ids of one table's zones.
    pub fn zone_ids(&self, scheme: PostalScheme) -> std::ops::Range<ZoneId> {
        match scheme {
            PostalScheme::Legacy => 0..self.n_legacy as ZoneId,
            PostalScheme::Y2025 => self.n_legacy as ZoneId..self.zones.len() as ZoneId,
        }
    }

    pub fn get(&self, zone_id: ZoneId) -> &Zone {
        &self.zones[zone_id as usize]
    }

    /// The 2025 map, when the table has one.
    pub fn map_2025(&self) -> Option<&Map2025> {
        self.map_2025.as_deref()
    }

    /// The scheme new codes are minted in when a registry asks for `wanted`: the legacy
    /// one when the table has no 2025 map.
    pub fn minting_scheme(&self, wanted: PostalScheme) -> PostalScheme {
        if self.map_2025.is_some() {
            wanted
        } else {
            PostalScheme::Legacy
        }
    }

    /// Rows of the legacy file that were not loaded.
    pub fn skipped(&self) -> &[SkippedRow] {
        &self.skipped
    }

    /// The zone a code's 5 digits name: the 2025 table first, then the legacy one.
    pub fn by_postcode(&self, postcode: Postcode) -> Option<ZoneId> {
        self.owner_2025
            .get(&postcode)
            .or_else(|| self.legacy_owner.get(&postcode))
            .copied()
    }

    /// The zone of a number in one table only.
    pub fn by_postcode_in(&self, postcode: Postcode, scheme: PostalScheme) -> Option<ZoneId> {
        match scheme {
            PostalScheme::Legacy => self.legacy_owner.get(&postcode).copied(),
            PostalScheme::Y2025 => self.owner_2025.get(&postcode).copied(),
        }
    }

    /// The point codes of this postal code are recovered through (decode order above).
    pub fn reference_point(&self, postcode: Postcode) -> Option<LatLon> {
        self.by_postcode(postcode)
            .map(|zone_id| self.get(zone_id).center)
    }

    /// The reference point of a zone's postal code.
    pub fn reference_of(&self, zone_id: ZoneId) -> LatLon {
        let postcode = self.get(zone_id).postcode;
        self.reference_point(postcode)
            .unwrap_or(self.get(zone_id).center)
    }

    /// Whether a code for `point` can be recovered through this zone's reference point.
    pub fn can_own(&self, zone_id: ZoneId, point: LatLon) -> bool {
        reference_reaches(self.reference_of(zone_id), point)
    }

    /// The zone of a point without registered addresses, in the table of `scheme` (see the
    /// module's decisions); `None` outside coverage.
    pub fn resolve_by_geometry(
        &self,
        point: LatLon,
        scheme: PostalScheme,
    ) -> Option<(ZoneId, ZoneMethod)> {
        match (self.minting_scheme(scheme), &self.map_2025) {
            (PostalScheme::Y2025, Some(map)) => match map.index().locate(point) {
                Located::Inside(ward) => Some((self.zone_of_ward(ward), ZoneMethod::Polygon)),
                Located::NearestBoundary { ward, .. } => {
                    Some((self.zone_of_ward(ward), ZoneMethod::NearestBoundary))
                }
                Located::OutsideCoverage => None,
            },
            _ => self.resolve_legacy(point),
        }
    }

    /// The 2025 map and boundary ward of a 2025 zone.
    pub fn boundary_ward_of_zone(
        &self,
        zone_id: ZoneId,
    ) -> Option<(Arc<Map2025>, crate::boundaries::WardId)> {
        let map = self.map_2025.as_ref()?;
        let ward = (zone_id as usize).checked_sub(self.n_legacy)?;
        (ward < map.index().boundaries().wards().len())
            .then(|| (map.clone(), ward as crate::boundaries::WardId))
    }

    /// The 2025 zone of a boundary ward.
    pub fn zone_of_ward(&self, ward: crate::boundaries::WardId) -> ZoneId {
        (self.n_legacy + ward as usize) as ZoneId
    }

    /// Legacy resolution: the nearest reference point among zones whose bounding box holds
    /// the point; else the nearest reference point within 50 km; else `None`. Zones whose
    /// reference point cannot recover a code of `point` are never chosen.
    fn resolve_legacy(&self, point: LatLon) -> Option<(ZoneId, ZoneMethod)> {
        let by_box = self
            .boxes
            .locate_all_at_point(&[point.lon, point.lat])
            .map(|entry| entry.data)
            .filter(|&zone_id| self.can_own(zone_id, point))
            .map(|zone_id| (zone_id, haversine_m(point, self.get(zone_id).center)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        if let Some((zone_id, _)) = by_box {
            return Some((zone_id, ZoneMethod::BoundingBox));
        }
        self.nearest_reference(point)
            .map(|zone_id| (zone_id, ZoneMethod::NearestReference))
    }

    /// The legacy zone with the nearest reference point within [`MAX_REFERENCE_DISTANCE_M`]
    /// that can own a code of `point`.
    pub fn nearest_reference(&self, point: LatLon) -> Option<ZoneId> {
        let xyz = point.unit_xyz();
        let max_chord = crate::point::chord_for_distance_m(MAX_REFERENCE_DISTANCE_M);
        for (entry, chord_sq) in self.centers.nearest_neighbor_iter_with_distance_2(&xyz) {
            if chord_sq.sqrt() > max_chord * (1.0 + 1e-9) {
                return None;
            }
            let zone_id = entry.data;
            if haversine_m(point, self.get(zone_id).center) <= MAX_REFERENCE_DISTANCE_M
                && self.can_own(zone_id, point)
            {
                return Some(zone_id);
            }
        }
        None
    }
}
