//! The oracle: a linear haversine scan that the index must agree with exactly.

use super::{IndexEntry, Neighbor, PointId, neighbor_order};
use crate::point::{LatLon, haversine_m};

/// Up to `limit` accepted points within `radius_m`, in [`neighbor_order`], by scanning all.
pub fn brute_force_nearest(
    entries: &[IndexEntry],
    query: LatLon,
    limit: usize,
    radius_m: f64,
    mut accept: impl FnMut(PointId) -> bool,
) -> Vec<Neighbor> {
    let mut all: Vec<Neighbor> = entries
        .iter()
        .filter(|entry| accept(entry.id))
        .map(|entry| Neighbor {
            id: entry.id,
            location: entry.location,
            distance_m: haversine_m(query, entry.location),
        })
        .filter(|neighbor| neighbor.distance_m <= radius_m)
        .collect();
    all.sort_by(neighbor_order);
    all.truncate(limit);
    all
}
