//! Reading the legacy zone table (`data/vn_wards_63.csv` or a file of the same layout).
//!
//! Decisions: rows that cannot be a zone (no postal code, no coordinates, a postal code
//! already owned by a distant ward) are skipped and reported, never fatal: the data has
//! known faults (see `data/README.md`). Of two rows with one number, the first owns it; a
//! later one is kept (sharing the owner's reference) only when it lies within 0.2° of it.

use foldhash::HashMap;

use serde::Deserialize;

use super::{BoundingBox, PostalScheme, SkippedRow, WardType, Zone, ZoneId, ZonesError};
use crate::code::Postcode;
use crate::point::{LatLon, haversine_m};

/// A later ward that repeats an owned postal code is kept only when its centre is this close
/// to the owner's reference point; farther ones are data faults and are skipped.
const DUPLICATE_POSTCODE_MAX_OFFSET_DEG: f64 = 0.2;

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

/// The legacy zones as read, ids from 0.
pub(super) struct LegacyRows {
    pub zones: Vec<Zone>,
    /// The zone that owns each postal code (the first row that carries it).
    pub owner_by_postcode: HashMap<Postcode, ZoneId>,
    pub skipped: Vec<SkippedRow>,
}

pub(super) fn read(reader: impl std::io::Read) -> Result<LegacyRows, ZonesError> {
    let mut csv_reader = csv::Reader::from_reader(reader);
    let mut zones: Vec<Zone> = Vec::new();
    let mut owner_by_postcode: HashMap<Postcode, ZoneId> = HashMap::default();
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
            let owner_zone = &zones[owner as usize];
            let owner_center = owner_zone.center;
            let far = (owner_center.lat - lat).abs() > DUPLICATE_POSTCODE_MAX_OFFSET_DEG
                || (owner_center.lon - lon).abs() > DUPLICATE_POSTCODE_MAX_OFFSET_DEG;
            if far {
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
            scheme: PostalScheme::Legacy,
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
    Ok(LegacyRows {
        zones,
        owner_by_postcode,
        skipped,
    })
}
