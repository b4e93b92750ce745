//! The exact predicates the lookup is made of, and the one point-to-edge distance.
//!
//! Coordinates are `[lon, lat]` in degrees, exactly the `f64` values `geo` sees for the same
//! polygons, and every side-of-line decision goes through `robust::orient2d` (exact for any
//! `f64` input), so the lookup and `geo`'s `Intersects`/`Contains` can never disagree.

use geo::{Closest, HaversineClosestPoint};

use crate::point::{EARTH_MEAN_RADIUS_M, LatLon, haversine_m};

pub(super) type Xy = [f64; 2];

/// Metres per degree of latitude on the mean Earth radius.
pub(super) const METRES_PER_DEGREE: f64 = EARTH_MEAN_RADIUS_M * std::f64::consts::PI / 180.0;

/// Twice the signed area of the triangle a, b, c: positive when counter-clockwise, zero
/// exactly when the three points are collinear.
#[inline]
pub(super) fn orient(a: Xy, b: Xy, c: Xy) -> f64 {
    robust::orient2d(
        robust::Coord { x: a[0], y: a[1] },
        robust::Coord { x: b[0], y: b[1] },
        robust::Coord { x: c[0], y: c[1] },
    )
}

/// Whether `q` lies on the closed segment from `a` to `b`.
#[inline]
pub(super) fn on_segment(a: Xy, b: Xy, q: Xy) -> bool {
    q[0] >= a[0].min(b[0])
        && q[0] <= a[0].max(b[0])
        && q[1] >= a[1].min(b[1])
        && q[1] <= a[1].max(b[1])
        && orient(a, b, q) == 0.0
}

/// The side of the line from `c` to `q` a vertex is on, half-open: a vertex on the line
/// counts as right. With this rule a ring crosses the segment c→q an odd number of times
/// exactly when c and q lie on different sides of it, also when the segment passes through
/// vertices or runs along edges.
#[inline]
pub(super) fn left_of(c: Xy, q: Xy, p: Xy) -> bool {
    orient(c, q, p) > 0.0
}

/// Whether the edge a→b, whose ends are on different sides of the line c→q (see
/// [`left_of`]), crosses the segment from c to q between its ends.
///
/// Precondition: neither `c` nor `q` lies on the edge (the caller tests `q` with
/// [`on_segment`] first and picks `c` off every edge). Then a crossing can only be proper.
#[inline]
pub(super) fn crosses_between(c: Xy, q: Xy, a: Xy, b: Xy) -> bool {
    let at_c = orient(a, b, c);
    let at_q = orient(a, b, q);
    (at_c > 0.0 && at_q < 0.0) || (at_c < 0.0 && at_q > 0.0)
}

/// Whether the closed segment a→b touches the rectangle `[west, south, east, north]`. Used
/// with rectangles grown by a margin, so rounding in the side test can only add edges.
pub(super) fn segment_touches_rect(a: Xy, b: Xy, rect: [f64; 4]) -> bool {
    let [west, south, east, north] = rect;
    if a[0].max(b[0]) < west
        || a[0].min(b[0]) > east
        || a[1].max(b[1]) < south
        || a[1].min(b[1]) > north
    {
        return false;
    }
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let side = |x: f64, y: f64| dx * (y - a[1]) - dy * (x - a[0]);
    let corners = [
        side(west, south),
        side(east, south),
        side(east, north),
        side(west, north),
    ];
    !(corners.iter().all(|&s| s > 0.0) || corners.iter().all(|&s| s < 0.0))
}

/// Great-circle distance in metres from `point` to the boundary edge a→b: the closest point
/// of the edge (as a great-circle arc, `geo::HaversineClosestPoint`), measured with
/// [`haversine_m`]. Edges are straight in lon/lat for the inside test and great-circle arcs
/// here; the two differ by under 1 cm for a 1 km edge in Vietnam.
pub fn edge_distance_m(point: LatLon, a: [f64; 2], b: [f64; 2]) -> f64 {
    let line = geo::Line::new(
        geo::coord! { x: a[0], y: a[1] },
        geo::coord! { x: b[0], y: b[1] },
    );
    let to = |p: geo::Point<f64>| LatLon {
        lat: p.y(),
        lon: p.x(),
    };
    match line.haversine_closest_point(&geo::Point::new(point.lon, point.lat)) {
        Closest::Intersection(p) | Closest::SinglePoint(p) => haversine_m(point, to(p)),
        Closest::Indeterminate => {
            let end_a = LatLon {
                lat: a[1],
                lon: a[0],
            };
            let end_b = LatLon {
                lat: b[1],
                lon: b[0],
            };
            haversine_m(point, end_a).min(haversine_m(point, end_b))
        }
    }
}

/// A cheap lower bound of [`edge_distance_m`]: the planar distance in a local equirectangular
/// projection, shrunk by 1 % and 5 m. Within the few kilometres it is used at, the projection
/// errs by under 0.1 % and an arc bows away from its chord by under 1 m per 10 km of edge.
#[inline]
pub(super) fn edge_distance_lower_bound_m(point: Xy, metres_per_lon: f64, a: Xy, b: Xy) -> f64 {
    let ax = (a[0] - point[0]) * metres_per_lon;
    let ay = (a[1] - point[1]) * METRES_PER_DEGREE;
    let bx = (b[0] - point[0]) * metres_per_lon;
    let by = (b[1] - point[1]) * METRES_PER_DEGREE;
    let (dx, dy) = (bx - ax, by - ay);
    let len_sq = dx * dx + dy * dy;
    let t = if len_sq > 0.0 {
        (-(ax * dx + ay * dy) / len_sq).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (ax + t * dx, ay + t * dy);
    (x * x + y * y).sqrt() * 0.99 - 5.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_predicates() {
        let (a, b) = ([0.0, 0.0], [2.0, 2.0]);
        assert!(on_segment(a, b, [1.0, 1.0]));
        assert!(on_segment(a, b, b));
        assert!(!on_segment(a, b, [3.0, 3.0]));
        assert!(!on_segment(a, b, [1.0, 1.0 + 1e-15]));
        // c→q from (0, 2) to (2, 0) crosses a→b at (1, 1).
        let (c, q) = ([0.0, 2.0], [2.0, 0.0]);
        assert_ne!(left_of(c, q, a), left_of(c, q, b));
        assert!(crosses_between(c, q, a, b));
        assert!(!crosses_between(c, [0.5, 1.5], a, b));
    }

    #[test]
    fn segment_rectangle() {
        let rect = [0.0, 0.0, 1.0, 1.0];
        assert!(segment_touches_rect([-1.0, 0.5], [2.0, 0.5], rect));
        assert!(segment_touches_rect([0.5, 0.5], [0.6, 0.6], rect));
        assert!(!segment_touches_rect([-1.0, 1.5], [0.4, 3.0], rect));
        // The bounding boxes overlap, the segment passes the corner outside.
        assert!(!segment_touches_rect([0.9, 1.2], [1.2, 0.9], rect));
        assert!(segment_touches_rect([1.0, 1.0], [2.0, 2.0], rect));
    }

    #[test]
    fn lower_bound_is_below_the_distance() {
        let point = LatLon {
            lat: 21.0,
            lon: 105.8,
        };
        let metres_per_lon = METRES_PER_DEGREE * point.lat.to_radians().cos();
        for (a, b) in [
            ([105.81, 21.0], [105.81, 21.01]),
            ([105.79, 20.99], [105.82, 21.005]),
            ([105.8, 21.0], [105.80001, 21.0]),
            ([105.7, 21.01], [105.9, 21.012]),
        ] {
            let exact = edge_distance_m(point, a, b);
            let bound = edge_distance_lower_bound_m([point.lon, point.lat], metres_per_lon, a, b);
            assert!(bound <= exact, "{bound} > {exact} for {a:?}–{b:?}");
            assert!(bound > exact * 0.98 - 6.0, "{bound} far below {exact}");
        }
    }
}
