//! JSON bodies that several resources answer with: a coordinate, a zone, a cell, an
//! address's parts and status, a nearby address. The domain's types carry no serde or
//! OpenAPI derives; these are their wire counterparts, converted explicitly.

use serde::{Serialize, Serializer};

use super::admin::{Admin2025Body, LegacyAdminBody, PostalSchemeBody};
use crate::address::{AddressParts, AddressStatus};
use crate::code::olc::CodeArea;
use crate::point::LatLon;
use crate::registry::{NearbyAddress, ResolvedZone};
use crate::zones::{BoundingBox, WardType, ZoneAdmin, ZoneId, ZoneMethod, ZoneTable};

/// Serializes anything with a `Display` (a code, a postal code) as a JSON string, written
/// straight into the output: batch answers carry thousands of codes.
pub(super) fn display_string<T: std::fmt::Display, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// [`display_string`] for an optional value: `null` when absent.
pub(super) fn optional_display_string<T: std::fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// A coordinate.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct LatLonBody {
    #[schema(example = 21.046798)]
    pub lat: f64,
    #[schema(example = 105.848112)]
    pub lon: f64,
}

impl From<LatLon> for LatLonBody {
    fn from(point: LatLon) -> LatLonBody {
        LatLonBody {
            lat: point.lat,
            lon: point.lon,
        }
    }
}

/// `active` or `retired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AddressStatus)]
pub enum AddressStatusBody {
    Active,
    Retired,
}

impl From<AddressStatus> for AddressStatusBody {
    fn from(status: AddressStatus) -> AddressStatusBody {
        match status {
            AddressStatus::Active => AddressStatusBody::Active,
            AddressStatus::Retired => AddressStatusBody::Retired,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WardType)]
pub enum WardTypeBody {
    /// Phường: an urban ward.
    Urban,
    /// Thị trấn: a township.
    Township,
    /// Xã: a rural commune.
    Rural,
}

impl From<WardType> for WardTypeBody {
    fn from(ward_type: WardType) -> WardTypeBody {
        match ward_type {
            WardType::Urban => WardTypeBody::Urban,
            WardType::Township => WardTypeBody::Township,
            WardType::Rural => WardTypeBody::Rural,
        }
    }
}

/// How a point's zone was found, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ZoneMethod)]
pub enum ZoneMethodBody {
    /// The majority zone of the nearest registered addresses.
    Addresses,
    /// The nearest reference point among zones whose bounding box holds the point.
    BoundingBox,
    /// The nearest reference point within 50 km.
    NearestReference,
    /// The 2025 ward whose polygon holds the point.
    Polygon,
    /// In no polygon: the 2025 ward with the nearest boundary within 2 km.
    NearestBoundary,
}

impl From<ZoneMethod> for ZoneMethodBody {
    fn from(method: ZoneMethod) -> ZoneMethodBody {
        match method {
            ZoneMethod::Addresses => ZoneMethodBody::Addresses,
            ZoneMethod::BoundingBox => ZoneMethodBody::BoundingBox,
            ZoneMethod::NearestReference => ZoneMethodBody::NearestReference,
            ZoneMethod::Polygon => ZoneMethodBody::Polygon,
            ZoneMethod::NearestBoundary => ZoneMethodBody::NearestBoundary,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = BoundingBox)]
pub struct BoundingBoxBody {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl From<BoundingBox> for BoundingBoxBody {
    fn from(bbox: BoundingBox) -> BoundingBoxBody {
        BoundingBoxBody {
            south: bbox.south,
            west: bbox.west,
            north: bbox.north,
            east: bbox.east,
        }
    }
}

/// A postal zone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneBody {
    #[schema(example = "11116")]
    pub postcode: String,
    #[schema(example = "00001")]
    pub ward_code: String,
    #[schema(example = "Phường Phúc Xá")]
    pub ward: String,
    pub ward_type: WardTypeBody,
    #[schema(example = "Quận Ba Đình")]
    pub district: String,
    #[schema(example = "Thành phố Hà Nội")]
    pub province: String,
    /// The reference point codes of this postal code are recovered through.
    pub reference: LatLonBody,
    pub bbox: BoundingBoxBody,
    /// How the zone of a point was found (absent when looked up by postal code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<ZoneMethodBody>,
    /// The postal table the zone (and its postcode) is from.
    pub table: PostalSchemeBody,
    /// The zone on the 2025 map (null out at sea, or for a legacy zone the 2025 map does
    /// not cover).
    pub admin_2025: Option<Admin2025Body>,
    /// The zone on the legacy map (null for a zone of a custom legacy file the
    /// administrative map does not know).
    pub legacy: Option<LegacyAdminBody>,
    /// `GET /v1/zones/{postcode}` only: what the number names in the two tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<NumberRelationBody>,
}

/// What a 5-digit number names in the two postal tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = NumberRelation)]
pub enum NumberRelationBody {
    /// Only the 2025 table has it.
    Only2025,
    /// Only the legacy table has it.
    OnlyLegacy,
    /// Both; every legacy ward with it went into the 2025 ward with it.
    Nested,
    /// Both; a legacy ward with it went into a neighbouring 2025 ward.
    Neighbour,
    /// Both, for places far apart (a fault of the legacy table: 66662, 92308).
    FarApart,
    /// Neither.
    Unknown,
}

impl From<crate::admin::NumberRelation> for NumberRelationBody {
    fn from(relation: crate::admin::NumberRelation) -> NumberRelationBody {
        use crate::admin::NumberRelation;
        match relation {
            NumberRelation::Only2025 => NumberRelationBody::Only2025,
            NumberRelation::OnlyLegacy => NumberRelationBody::OnlyLegacy,
            NumberRelation::Nested => NumberRelationBody::Nested,
            NumberRelation::Neighbour => NumberRelationBody::Neighbour,
            NumberRelation::FarApart => NumberRelationBody::FarApart,
            NumberRelation::Unknown => NumberRelationBody::Unknown,
        }
    }
}

impl ZoneBody {
    pub fn new(
        zones: &ZoneTable,
        zone_id: ZoneId,
        method: Option<ZoneMethod>,
        admin: ZoneAdmin,
    ) -> ZoneBody {
        let zone = zones.get(zone_id);
        let maps = zones.map_2025().map(|map| map.admin());
        ZoneBody {
            postcode: zone.postcode.to_string(),
            ward_code: zone.ward_code.clone(),
            ward: zone.ward.clone(),
            ward_type: zone.ward_type.into(),
            district: zone.district.clone(),
            province: zone.province.clone(),
            reference: zones.reference_of(zone_id).into(),
            bbox: zone.bbox.into(),
            method: method.map(ZoneMethodBody::from),
            table: zone.scheme.into(),
            admin_2025: maps
                .zip(admin.admin_2025)
                .map(|(maps, view)| Admin2025Body::new(maps, view)),
            legacy: maps
                .zip(admin.legacy)
                .map(|(maps, view)| LegacyAdminBody::new(maps, view)),
            number: None,
        }
    }

    pub fn resolved(zones: &ZoneTable, resolved: ResolvedZone, admin: ZoneAdmin) -> ZoneBody {
        ZoneBody::new(zones, resolved.zone_id, Some(resolved.method), admin)
    }
}

/// A grid cell of about 3 m × 3 m.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CellBody {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
    pub center: LatLonBody,
}

impl From<CodeArea> for CellBody {
    fn from(area: CodeArea) -> CellBody {
        CellBody {
            south: area.south,
            west: area.west,
            north: area.north,
            east: area.east,
            center: area.center().into(),
        }
    }
}

/// The descriptive parts of a registered address.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddressBody {
    #[schema(example = "12")]
    pub house_number: Option<String>,
    #[schema(example = "Ngõ 5")]
    pub alley: Option<String>,
    #[schema(example = "Phố Phúc Xá")]
    pub street: Option<String>,
    pub unit: Option<String>,
    pub address: Option<String>,
    pub client_ref: Option<String>,
}

impl From<AddressParts> for AddressBody {
    fn from(parts: AddressParts) -> AddressBody {
        AddressBody {
            house_number: parts.house_number,
            alley: parts.alley,
            street: parts.street,
            unit: parts.unit,
            address: parts.address,
            client_ref: parts.client_ref,
        }
    }
}

/// An address near a queried point.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = NearbyAddress)]
pub struct NearbyAddressBody {
    #[serde(serialize_with = "display_string")]
    #[schema(value_type = String, example = "111162RWXP69")]
    pub code: crate::code::VmapCode,
    #[serde(serialize_with = "display_string")]
    #[schema(value_type = String, example = "11116")]
    pub postcode: crate::code::Postcode,
    pub lat: f64,
    pub lon: f64,
    /// Great-circle distance from the queried point, metres.
    pub distance_m: f64,
}

impl From<NearbyAddress> for NearbyAddressBody {
    fn from(nearby: NearbyAddress) -> NearbyAddressBody {
        NearbyAddressBody {
            code: nearby.code,
            postcode: nearby.postcode,
            lat: nearby.lat,
            lon: nearby.lon,
            distance_m: nearby.distance_m,
        }
    }
}
