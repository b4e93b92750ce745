//! Choosing a ward's reference point: a point inside the ward from which "recover nearest"
//! gives back every point of the ward, i.e. within [`MAX_REFERENCE_OFFSET_DEG`] of every
//! vertex in latitude and in longitude.
//!
//! First choice: the pole of inaccessibility (`polylabel`) of the largest part, far from
//! every edge, so simplification slivers of a neighbour never cover it. When that is out of
//! reach of some vertex, the largest piece of a part inside the region that reaches every
//! vertex. When no point reaches every vertex (island groups wider than 0.9°), the region
//! reaching the parts of most total area (then most parts) is used instead.

use std::collections::HashSet;

use geo::{
    Area, BooleanOps, BoundingRect, Contains, GeodesicArea, MultiPolygon, Orient, Point, Polygon,
    Rect, orient::Direction,
};

use crate::zones::MAX_REFERENCE_OFFSET_DEG;

/// Kept inside the open limit so that the offset computed from rounded coordinates never
/// reaches it (1e-6° ≈ 0.1 m).
const SAFETY_DEG: f64 = 1e-6;
/// polylabel's precision in degrees (~1 m): the point only needs to be well inside.
const POLYLABEL_TOLERANCE_DEG: f64 = 1e-5;
/// Covered sets tried, best first, before giving up on the ward.
const MAX_SETS_TRIED: usize = 2_000;

struct PartInfo<'a> {
    polygon: &'a Polygon<f64>,
    bbox: Rect<f64>,
    geodesic_area_m2: f64,
}

/// The reference point (`x` = lon, `y` = lat) of a ward, or why there is none.
pub(super) fn choose(ward: &MultiPolygon<f64>) -> Result<Point<f64>, String> {
    let parts: Vec<PartInfo<'_>> = ward
        .0
        .iter()
        .filter_map(|polygon| {
            Some(PartInfo {
                polygon,
                bbox: polygon.bounding_rect()?,
                geodesic_area_m2: polygon.orient(Direction::Default).geodesic_area_unsigned(),
            })
        })
        .collect();
    if parts.is_empty() {
        return Err("the ward has no polygon".to_owned());
    }
    // Largest first: the reference goes into the biggest piece of land that works.
    let mut by_area: Vec<usize> = (0..parts.len()).collect();
    by_area.sort_by(|&a, &b| {
        parts[b]
            .geodesic_area_m2
            .total_cmp(&parts[a].geodesic_area_m2)
            .then(a.cmp(&b))
    });
    let all: Vec<usize> = (0..parts.len()).collect();
    if let Some(point) = point_reaching(ward, &parts, &by_area, &all) {
        return Ok(point);
    }
    for set in covered_sets_best_first(&parts) {
        if let Some(point) = point_reaching(ward, &parts, &by_area, &set) {
            return Ok(point);
        }
    }
    // No part is reachable whole from inside the ward (a single part wider than the limit):
    // the pole of the largest part still reaches the most of it around itself.
    polylabel::polylabel(parts[by_area[0]].polygon, &POLYLABEL_TOLERANCE_DEG)
        .ok()
        .filter(|point| ward.contains(point))
        .ok_or_else(|| "no point inside the ward was found".to_owned())
}

/// A point inside `ward` within reach of every vertex of the parts in `set`, if any.
fn point_reaching(
    ward: &MultiPolygon<f64>,
    parts: &[PartInfo<'_>],
    by_area: &[usize],
    set: &[usize],
) -> Option<Point<f64>> {
    let region = reach_region(parts, set)?;
    let in_region = |point: Point<f64>| {
        point.x() > region.min().x
            && point.x() < region.max().x
            && point.y() > region.min().y
            && point.y() < region.max().y
    };
    let usable = |point: Point<f64>| in_region(point) && ward.contains(&point);
    let region_polygon = region.to_polygon();
    for &part_idx in by_area {
        let part = &parts[part_idx];
        if !rects_overlap(part.bbox, region) {
            continue;
        }
        if let Ok(point) = polylabel::polylabel(part.polygon, &POLYLABEL_TOLERANCE_DEG)
            && usable(point)
        {
            return Some(point);
        }
        let pieces = part.polygon.intersection(&region_polygon);
        let Some(piece) = pieces
            .0
            .iter()
            .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        else {
            continue;
        };
        if let Ok(point) = polylabel::polylabel(piece, &POLYLABEL_TOLERANCE_DEG)
            && usable(point)
        {
            return Some(point);
        }
    }
    None
}

/// The open rectangle of points within reach of every vertex of the parts in `set`, shrunk
/// by [`SAFETY_DEG`]; `None` when empty.
fn reach_region(parts: &[PartInfo<'_>], set: &[usize]) -> Option<Rect<f64>> {
    let reach = MAX_REFERENCE_OFFSET_DEG - SAFETY_DEG;
    let (mut west, mut south, mut east, mut north) = (
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::INFINITY,
    );
    for &part_idx in set {
        let bbox = parts[part_idx].bbox;
        west = west.max(bbox.max().x - reach);
        south = south.max(bbox.max().y - reach);
        east = east.min(bbox.min().x + reach);
        north = north.min(bbox.min().y + reach);
    }
    (west < east && south < north).then(|| {
        Rect::new(
            geo::coord! { x: west, y: south },
            geo::coord! { x: east, y: north },
        )
    })
}

fn rects_overlap(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x < b.max().x && b.min().x < a.max().x && a.min().y < b.max().y && b.min().y < a.max().y
}

/// Every distinct set of parts one reference point can reach wholly, best first (most
/// geodesic area, then most parts). The best placements put the region's west or south
/// edge on some part's east or north limit, so those corners are the candidates.
fn covered_sets_best_first(parts: &[PartInfo<'_>]) -> Vec<Vec<usize>> {
    let reach = MAX_REFERENCE_OFFSET_DEG - SAFETY_DEG;
    let mut scored: Vec<(f64, usize, Vec<usize>)> = Vec::new();
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    for corner_x in parts.iter().map(|part| part.bbox.max().x - reach) {
        for corner_y in parts.iter().map(|part| part.bbox.max().y - reach) {
            let set: Vec<usize> = (0..parts.len())
                .filter(|&idx| {
                    let bbox = parts[idx].bbox;
                    corner_x >= bbox.max().x - reach
                        && corner_x <= bbox.min().x + reach
                        && corner_y >= bbox.max().y - reach
                        && corner_y <= bbox.min().y + reach
                })
                .collect();
            if set.is_empty() || !seen.insert(set.clone()) {
                continue;
            }
            let area: f64 = set.iter().map(|&idx| parts[idx].geodesic_area_m2).sum();
            scored.push((area, set.len(), set));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    scored
        .into_iter()
        .take(MAX_SETS_TRIED)
        .map(|(_, _, set)| set)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(west: f64, south: f64, size: f64) -> Polygon<f64> {
        Polygon::new(
            geo::LineString::from(vec![
                (west, south),
                (west + size, south),
                (west + size, south + size),
                (west, south + size),
                (west, south),
            ]),
            vec![],
        )
    }

    #[test]
    fn compact_ward_gets_its_pole_of_inaccessibility() {
        let ward = MultiPolygon::new(vec![square(105.0, 21.0, 0.1)]);
        let point = choose(&ward).expect("a reference point");
        assert!((point.x() - 105.05).abs() < 1e-4 && (point.y() - 21.05).abs() < 1e-4);
    }

    #[test]
    fn wide_ward_reaches_the_largest_group_of_islands() {
        // Two small islands far west, three larger ones 2° east: the eastern group wins.
        let ward = MultiPolygon::new(vec![
            square(105.0, 10.0, 0.01),
            square(105.1, 10.1, 0.01),
            square(107.0, 10.0, 0.05),
            square(107.3, 10.2, 0.05),
            square(107.2, 10.5, 0.05),
        ]);
        let point = choose(&ward).expect("a reference point");
        assert!(point.x() > 106.9, "{point:?}");
        assert!(ward.contains(&point));
    }

    #[test]
    fn ward_whose_reach_region_misses_it_uses_a_clipped_piece() {
        // A block in the west and a thin arm 0.8° east, a stem north from the middle of
        // the arm: the block's pole is out of reach of the arm's east end, the stem is not.
        let ward = MultiPolygon::new(vec![Polygon::new(
            geo::LineString::from(vec![
                (105.0, 21.0),
                (105.8, 21.0),
                (105.8, 21.02),
                (105.42, 21.02),
                (105.42, 21.3),
                (105.38, 21.3),
                (105.38, 21.02),
                (105.2, 21.02),
                (105.2, 21.2),
                (105.0, 21.2),
                (105.0, 21.0),
            ]),
            vec![],
        )]);
        let point = choose(&ward).expect("a reference point");
        assert!(ward.contains(&point));
        let reached = |x: f64, y: f64| (point.x() - x).abs() < 0.45 && (point.y() - y).abs() < 0.45;
        assert!(reached(105.0, 21.0) && reached(105.8, 21.3), "{point:?}");
    }

    #[test]
    fn ward_too_wide_for_any_point_gets_its_pole() {
        let ward = MultiPolygon::new(vec![square(105.0, 21.0, 1.0)]);
        let point = choose(&ward).expect("a reference point");
        assert!(
            (point.x() - 105.5).abs() < 1e-3 && (point.y() - 21.5).abs() < 1e-3,
            "{point:?}"
        );
    }
}
