//! Postal zones (wards with a 5-digit postal code) and resolving a point to one.
//!
//! The default table is `data/vn_wards_63.csv`, embedded in the binary so that vmap runs from
//! any directory; `--zones-file` replaces it. Rows that cannot be a zone (no postal code, no
//! coordinates, a postal code already owned by a distant ward) are skipped and reported, never
//! fatal: the data has known faults (see `data/README.md`).

use std::collections::HashMap;
use std::path::Path;

use rstar::{RTree, primitives::GeomWithData};
use serde::Deserialize;

use crate::code::Postcode;
use crate::point::{LatLon, haversine_m};

/// The zone table shipped with vmap (63-province structure, until 30 June 2025).
pub const DEFAULT_ZONES_CSV: &str = include_str!("../data/vn_wards_63.csv");

/// Beyond this distance from every reference point a point is outside coverage.
pub const MAX_REFERENCE_DISTANCE_M: f64 = 50_000.0;

/// A code is decoded through its zone's reference point, so a zone may only own points this
/// close to it in latitude and longitude (OLC recovery works up to half a degree).
pub const MAX_REFERENCE_OFFSET_DEG: f64 = 0.45;

/// A later ward that repeats an owned postal code is kept only when its centre is this close
/// to the owner's reference point; farther ones are data faults and are skipped.
const DUPLICATE_POSTCODE_MAX_OFFSET_DEG: f64 = 0.2;

/// Index of a zone in its [`ZoneTable`].
pub type ZoneId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WardType {
    /// Phường: an urban ward.
    Urban,
    /// Thị trấn: a township.
    Township,
    /// Xã: a rural commune.
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
    pub postcode: Postcode,
    pub ward_code: String,
    pub ward: String,
    pub ward_type: WardType,
    pub district_code: String,
    pub district: String,
    pub province_code: String,
    pub province: String,
    /// The ward's centroid; for the zone that owns its postal code also the point codes are
    /// recovered through.
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
}

/// How a point's zone was found, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneMethod {
    /// The majority zone of the nearest registered addresses.
    Addresses,
    /// The nearest reference point among zones whose bounding box holds the point.
    BoundingBox,
    /// The nearest reference point within 50 km.
    NearestReference,
}

#[derive(Debug, Deserialize)]
struct ZoneRow {
    province_code: String,
    province: String,
    district_code: String,
    district: String,
    ward_code: String,
    ward: String,
    ward_type: String,
    postcode: String,
    lat: Option<f64>,
    lon: Option<f64>,
    south: Option<f64>,
    west: Option<f64>,
    north: Option<f64>,
    east: Option<f64>,
}

type BoxEntry = GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, ZoneId>;
type CenterEntry = GeomWithData<[f64; 3], ZoneId>;

/// All zones, with lookups by postal code and by position.
#[derive(Debug)]
pub struct ZoneTable {
    zones: Vec<Zone>,
    /// The zone that owns each postal code (the first row that carries it).
    owner_by_postcode: HashMap<Postcode, ZoneId>,
    boxes: RTree<BoxEntry>,
    /// Reference points on the unit sphere, so that nearest-by-chord is nearest on the globe.
    centers: RTree<CenterEntry>,
    skipped: Vec<SkippedRow>,
}

impl ZoneTable {
    /// The embedded default table.
    pub fn load_default() -> Result<ZoneTable, ZonesError> {
        ZoneTable::from_reader(DEFAULT_ZONES_CSV.as_bytes())
    }

    pub fn load_file(path: &Path) -> Result<ZoneTable, ZonesError> {
        let file = std::fs::File::open(path).map_err(|source| ZonesError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ZoneTable::from_reader(std::io::BufReader::new(file))
    }

    /// Reads the CSV layout of `data/vn_wards_63.csv`.
    pub fn from_reader(reader: impl std::io::Read) -> Result<ZoneTable, ZonesError> {
        let mut csv_reader = csv::Reader::from_reader(reader);
        let mut zones: Vec<Zone> = Vec::new();
        let mut owner_by_postcode: HashMap<Postcode, ZoneId> = HashMap::new();
        let mut skipped = Vec::new();
        for (row_idx, record) in csv_reader.deserialize::<ZoneRow>().enumerate() {
            let line = row_idx as u64 + 2;
            let row = record.map_err(|source| ZonesError::Csv { line, source })?;
            let mut skip = |reason: String| {
                skipped.push(SkippedRow {
                    line,
                    ward: row.ward.clone(),
                    reason,
                });
            };
            let Ok(postcode) = Postcode::parse(&row.postcode) else {
                skip(format!("no valid postal code ({:?})", row.postcode));
                continue;
            };
            let (Some(lat), Some(lon)) = (row.lat, row.lon) else {
                skip("no coordinates".to_owned());
                continue;
            };
            let Ok(center) = LatLon::new(lat, lon) else {
                skip(format!("coordinates out of range ({lat}, {lon})"));
                continue;
            };
            let bbox = match (row.south, row.west, row.north, row.east) {
                (Some(south), Some(west), Some(north), Some(east))
                    if south <= north && west <= east =>
                {
                    BoundingBox {
                        south,
                        west,
                        north,
                        east,
                    }
                }
                _ => BoundingBox {
                    south: lat,
                    west: lon,
                    north: lat,
                    east: lon,
                },
            };
            if let Some(&owner) = owner_by_postcode.get(&postcode) {
                let owner_center = zones[owner as usize].center;
                let far = (owner_center.lat - lat).abs() > DUPLICATE_POSTCODE_MAX_OFFSET_DEG
                    || (owner_center.lon - lon).abs() > DUPLICATE_POSTCODE_MAX_OFFSET_DEG;
                if far {
                    let owner_zone = &zones[owner as usize];
                    skip(format!(
                        "postal code {postcode} already belongs to {}, {} ({:.0} km away)",
                        owner_zone.ward,
                        owner_zone.province,
                        haversine_m(owner_center, center) / 1000.0
                    ));
                    continue;
                }
            }
            let zone_id = zones.len() as ZoneId;
            owner_by_postcode.entry(postcode).or_insert(zone_id);
            zones.push(Zone {
                postcode,
                ward_code: row.ward_code,
                ward: row.ward,
                ward_type: WardType::from_vietnamese(&row.ward_type),
                district_code: row.district_code,
                district: row.district,
                province_code: row.province_code,
                province: row.province,
                center,
                bbox,
            });
        }
        if zones.is_empty() {
            return Err(ZonesError::Empty);
        }
        let boxes = RTree::bulk_load(
            zones
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
            zones
                .iter()
                .enumerate()
                .map(|(idx, zone)| GeomWithData::new(zone.center.unit_xyz(), idx as ZoneId))
                .collect(),
        );
        Ok(ZoneTable {
            zones,
            owner_by_postcode,
            boxes,
            centers,
            skipped,
        })
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    pub fn get(&self, zone_id: ZoneId) -> &Zone {
        &self.zones[zone_id as usize]
    }

    /// Rows of the file that were not loaded.
    pub fn skipped(&self) -> &[SkippedRow] {
        &self.skipped
    }

    /// The zone that owns a postal code.
    pub fn by_postcode(&self, postcode: Postcode) -> Option<ZoneId> {
        self.owner_by_postcode.get(&postcode).copied()
    }

    /// The point codes of this postal code are recovered through.
    pub fn reference_point(&self, postcode: Postcode) -> Option<LatLon> {
        self.by_postcode(postcode)
            .map(|zone_id| self.get(zone_id).center)
    }

    /// The reference point of a zone's postal code (the owner's centre).
    pub fn reference_of(&self, zone_id: ZoneId) -> LatLon {
        let postcode = self.get(zone_id).postcode;
        self.reference_point(postcode)
            .unwrap_or(self.get(zone_id).center)
    }

    /// Whether a code for `point` can be recovered through this zone's reference point.
    pub fn can_own(&self, zone_id: ZoneId, point: LatLon) -> bool {
        let reference = self.reference_of(zone_id);
        (reference.lat - point.lat).abs() < MAX_REFERENCE_OFFSET_DEG
            && (reference.lon - point.lon).abs() < MAX_REFERENCE_OFFSET_DEG
    }

    /// Zone resolution without registered addresses: the nearest reference point among zones
    /// whose bounding box holds the point; else the nearest reference point within 50 km;
    /// else `None` (outside coverage). Zones whose reference point is too far to recover a
    /// code of `point` are never chosen.
    pub fn resolve_by_geometry(&self, point: LatLon) -> Option<(ZoneId, ZoneMethod)> {
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

    /// The zone with the nearest reference point within [`MAX_REFERENCE_DISTANCE_M`] that can
    /// own a code of `point`.
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
