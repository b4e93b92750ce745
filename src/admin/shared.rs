//! Postal numbers that both tables use.
//!
//! A 2025 postal code is a 5-digit number; so is a legacy one. When the same number is in
//! both tables, a code made with it can be read through either, and decoding must know
//! whether the two readings name the same place. Each legacy ward holding the number is
//! compared with the 2025 ward holding it:
//!
//! - it *went into* that 2025 ward (the conversion links say so): the places nest;
//! - it went into another ward of the *same 2025 province*: a neighbour, a few km away;
//! - it went into *another 2025 province*: far apart, and in the shipped data always a
//!   fault of the legacy table (a ward carrying a number of another province's prefix).
//!
//! A number's relation is the worst over its legacy holders.

use std::collections::HashMap;

use crate::code::Postcode;
use crate::point::haversine_m;

use super::AdminMaps;
use super::types::{LegacyWardId, WardId};

/// How one legacy ward holding a number relates to the 2025 ward holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holder {
    /// It went (wholly or in part) into the 2025 ward with the same number.
    WentIn,
    /// It went into another 2025 ward of the same 2025 province.
    SameProvince,
    /// It went into another 2025 province.
    OtherProvince,
}

/// What a 5-digit number names in the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberRelation {
    /// Only a 2025 ward has it.
    Only2025,
    /// Only legacy wards have it.
    OnlyLegacy,
    /// Both tables have it and every legacy holder went into the 2025 holder: either
    /// table decodes it to nested places.
    Nested,
    /// Both have it; a legacy holder went into another ward of the same 2025 province
    /// (a neighbour, tens of km at most).
    Neighbour,
    /// Both have it; a legacy holder lies in another 2025 province.
    FarApart,
    /// Neither table has it.
    Unknown,
}

/// A number present in both tables.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedNumber {
    pub postcode: Postcode,
    pub ward: WardId,
    /// Every legacy ward with this number, how it relates, and the distance between the
    /// two centroids in km (when both have one).
    pub legacy: Vec<(LegacyWardId, Holder, Option<f64>)>,
}

impl SharedNumber {
    /// The worst relation over the legacy holders.
    pub fn relation(&self) -> NumberRelation {
        match self.legacy.iter().map(|&(_, holder, _)| holder).max() {
            Some(Holder::OtherProvince) => NumberRelation::FarApart,
            Some(Holder::SameProvince) => NumberRelation::Neighbour,
            _ => NumberRelation::Nested,
        }
    }

    /// Whether some legacy holder went into the 2025 holder (the 2025 number reuses the
    /// number of one of its own legacy wards).
    pub fn reused_from_source(&self) -> bool {
        self.legacy
            .iter()
            .any(|&(_, holder, _)| holder == Holder::WentIn)
    }
}

pub(super) fn analyse(maps: &AdminMaps) -> HashMap<Postcode, SharedNumber> {
    let mut shared = HashMap::new();
    for (ward_idx, ward) in maps.wards.iter().enumerate() {
        let Some(postcode) = ward.postcode else {
            continue;
        };
        let holders = maps.legacy_wards_by_postcode(postcode);
        if holders.is_empty() {
            continue;
        }
        let ward_id = WardId(ward_idx as u32);
        let legacy = holders
            .iter()
            .map(|&legacy_id| {
                let legacy_ward = maps.legacy_ward(legacy_id);
                let holder = if legacy_ward.targets.contains(&ward_id) {
                    Holder::WentIn
                } else if legacy_ward
                    .targets
                    .iter()
                    .any(|&target| maps.ward(target).province == ward.province)
                {
                    Holder::SameProvince
                } else {
                    Holder::OtherProvince
                };
                let distance_km = match (legacy_ward.centroid, ward.centroid) {
                    (Some(a), Some(b)) => Some(haversine_m(a, b) / 1000.0),
                    _ => None,
                };
                (legacy_id, holder, distance_km)
            })
            .collect();
        shared.insert(
            postcode,
            SharedNumber {
                postcode,
                ward: ward_id,
                legacy,
            },
        );
    }
    shared
}
