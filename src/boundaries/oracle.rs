//! The brute-force answer the index is checked against.

use geo::{Contains, Intersects, MultiPolygon, Point};

use super::geometry::{METRES_PER_DEGREE, edge_distance_m};
use super::{Boundaries, Located, MAX_BOUNDARY_DISTANCE_M, WardId};
use crate::point::LatLon;

/// Brute force over every ward: `geo`'s `Intersects` on each ward's polygons (its
/// `Contains` plus the boundary), lowest code first; else a scan of every edge with
/// [`edge_distance_m`]. Slow (milliseconds per point); for tests.
#[derive(Debug)]
pub struct BruteForce<'a> {
    boundaries: &'a Boundaries,
    polygons: Vec<MultiPolygon<f64>>,
}

impl<'a> BruteForce<'a> {
    pub fn new(boundaries: &'a Boundaries) -> BruteForce<'a> {
        let polygons = (0..boundaries.wards.len() as WardId)
            .map(|ward| boundaries.multi_polygon(ward))
            .collect();
        BruteForce {
            boundaries,
            polygons,
        }
    }

    /// Every ward whose closed polygon holds the point, in code order.
    pub fn holders(&self, point: LatLon) -> Vec<WardId> {
        let geo_point = Point::new(point.lon, point.lat);
        (0..self.polygons.len())
            .filter(|&idx| {
                self.boundaries.wards[idx].bbox.contains(point)
                    && self.polygons[idx].intersects(&geo_point)
            })
            .map(|idx| idx as WardId)
            .collect()
    }

    /// Every ward whose polygon holds the point in its interior (`geo::Contains`).
    pub fn containers(&self, point: LatLon) -> Vec<WardId> {
        let geo_point = Point::new(point.lon, point.lat);
        (0..self.polygons.len())
            .filter(|&idx| self.polygons[idx].contains(&geo_point))
            .map(|idx| idx as WardId)
            .collect()
    }

    /// The answer [`super::BoundaryIndex::locate`] must give.
    pub fn locate(&self, point: LatLon) -> Located {
        if let Some(&ward) = self.holders(point).first() {
            return Located::Inside(ward);
        }
        match self.nearest_boundary(point, MAX_BOUNDARY_DISTANCE_M) {
            Some((ward, distance_m)) => Located::NearestBoundary { ward, distance_m },
            None => Located::OutsideCoverage,
        }
    }

    /// The ward with the nearest edge within `max_distance_m` (ties to the lower code).
    /// Wards whose box is more than 0.1° + the distance away are skipped: no edge of them
    /// can be that near.
    pub fn nearest_boundary(&self, point: LatLon, max_distance_m: f64) -> Option<(WardId, f64)> {
        let slack = 0.1 + 2.0 * max_distance_m / METRES_PER_DEGREE;
        let mut best: Option<(f64, WardId)> = None;
        for (ward_idx, ward) in self.boundaries.wards.iter().enumerate() {
            let bbox = ward.bbox;
            if point.lat < bbox.south - slack
                || point.lat > bbox.north + slack
                || point.lon < bbox.west - slack
                || point.lon > bbox.east + slack
            {
                continue;
            }
            for part in &self.boundaries.parts[ward.parts.start as usize..ward.parts.end as usize] {
                for ring in
                    &self.boundaries.rings[part.rings.start as usize..part.rings.end as usize]
                {
                    let vertices =
                        &self.boundaries.vertices[ring.start as usize..ring.end as usize];
                    for pair in vertices.windows(2) {
                        let distance = edge_distance_m(point, pair[0], pair[1]);
                        let ward_id = ward_idx as WardId;
                        if distance <= max_distance_m
                            && best.is_none_or(|(best_distance, best_ward)| {
                                distance < best_distance
                                    || (distance == best_distance && ward_id < best_ward)
                            })
                        {
                            best = Some((distance, ward_id));
                        }
                    }
                }
            }
        }
        best.map(|(distance, ward)| (ward, distance))
    }
}
