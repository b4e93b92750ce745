//! The nearest boundary edge within a distance, for a point in no polygon: each edge the
//! cells list is considered once, cheaply bounded before the exact great-circle distance.

use crate::boundaries::WardId;
use crate::boundaries::geometry::{Xy, edge_distance_lower_bound_m, edge_distance_m};
use crate::point::LatLon;

pub(super) struct NearestSearch<'a> {
    pub(super) vertices: &'a [Xy],
    pub(super) point: LatLon,
    pub(super) xy: Xy,
    pub(super) metres_per_lon: f64,
    pub(super) window: [f64; 4],
    pub(super) max_distance_m: f64,
    /// (distance, ward) of the best edge so far.
    pub(super) best: Option<(f64, WardId)>,
}

impl NearestSearch<'_> {
    pub(super) fn consider(&mut self, edge: u32, ward: WardId) {
        let a = self.vertices[edge as usize];
        let b = self.vertices[edge as usize + 1];
        let limit = self
            .best
            .map_or(self.max_distance_m, |(distance, _)| distance);
        if edge_distance_lower_bound_m(self.xy, self.metres_per_lon, a, b) > limit {
            return;
        }
        let distance = edge_distance_m(self.point, a, b);
        if distance > self.max_distance_m {
            return;
        }
        let better = match self.best {
            None => true,
            Some((best_distance, best_ward)) => {
                distance < best_distance || (distance == best_distance && ward < best_ward)
            }
        };
        if better {
            self.best = Some((distance, ward));
        }
    }
}
