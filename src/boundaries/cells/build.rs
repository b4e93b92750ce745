//! Building the cells: each top cell's quadtree, split until its leaves are solid or
//! list few edges, with every reference point's inside/outside state carried over by
//! counting crossings (`toggled`).

use super::{
    CELL_MARGIN_DEG, Context, Group, INSIDE_BIT, LEAF_MAX_EDGES, Leaf, MAX_DEPTH, NOT_AN_EDGE,
    TAG_LEAF, TAG_NODE, TAG_SHIFT, TAG_SOLID, Tree, grown, quadrants, solid,
};
use crate::boundaries::geometry::{Xy, crosses_between, left_of, on_segment, segment_touches_rect};
use crate::boundaries::{BoundaryError, WardId};

/// A point of the cell on none of its edges: the centre, or a point a little off it.
pub(super) fn pick_reference(
    context: &Context<'_>,
    rect: [f64; 4],
    edges: &[u32],
) -> Result<Xy, BoundaryError> {
    let [west, south, east, north] = rect;
    let centre = [(west + east) / 2.0, (south + north) / 2.0];
    let size = east - west;
    for attempt in 0..32u32 {
        // Irrational-looking steps so that no attempt lands on the 1e-5° lattice of the
        // vertices, all within a quarter of the cell around its centre.
        let step = f64::from(attempt);
        let candidate = [
            centre[0] + size * (step * 0.007_318_1).rem_euclid(0.25),
            centre[1] + size * (step * 0.011_093_7).rem_euclid(0.25),
        ];
        if !edges.iter().any(|&edge| {
            let (a, b) = context.edge(edge);
            on_segment(a, b, candidate)
        }) {
            return Ok(candidate);
        }
    }
    Err(BoundaryError::Index(format!(
        "no point near {centre:?} lies off every boundary edge"
    )))
}

/// The parts (sorted) that hold `to`, from the parts that hold `from` and the edges that
/// may cross the segment between them. Neither point may lie on one of `edges`, and
/// `edges` must hold every edge that crosses the segment.
pub(super) fn toggled<'e>(
    context: &Context<'_>,
    inside: &[u32],
    from: Xy,
    to: Xy,
    edges: impl IntoIterator<Item = &'e u32>,
) -> Vec<u32> {
    let (west, east) = (from[0].min(to[0]), from[0].max(to[0]));
    let (south, north) = (from[1].min(to[1]), from[1].max(to[1]));
    let mut flips: Vec<u32> = edges
        .into_iter()
        .filter(|&&edge| {
            let (a, b) = context.edge(edge);
            // Boxes apart: no crossing (most edges, and cheaper than the two orientations).
            if a[0].max(b[0]) < west
                || a[0].min(b[0]) > east
                || a[1].max(b[1]) < south
                || a[1].min(b[1]) > north
            {
                return false;
            }
            left_of(from, to, a) != left_of(from, to, b) && crosses_between(from, to, a, b)
        })
        .map(|&edge| context.edge_part[edge as usize])
        .collect();
    if flips.is_empty() {
        return inside.to_vec();
    }
    flips.extend_from_slice(inside);
    flips.sort_unstable();
    // A part flipped an odd number of times (counting "was inside" as one flip) is inside.
    let mut result = Vec::new();
    let mut idx = 0;
    while idx < flips.len() {
        let run_end = flips[idx..]
            .iter()
            .position(|&part| part != flips[idx])
            .map_or(flips.len(), |offset| idx + offset);
        if (run_end - idx) % 2 == 1 {
            result.push(flips[idx]);
        }
        idx = run_end;
    }
    result
}

impl Tree {
    pub(super) fn build(
        &mut self,
        context: &Context<'_>,
        rect: [f64; 4],
        reference: Xy,
        inside: &[u32],
        edges: &[u32],
        depth: u32,
    ) -> Result<u32, BoundaryError> {
        if edges.is_empty() {
            let ward = inside
                .iter()
                .map(|&part| context.part_ward[part as usize])
                .min();
            return Ok(solid(ward));
        }
        if edges.len() <= LEAF_MAX_EDGES || depth >= MAX_DEPTH {
            return Ok(self.leaf(context, reference, inside, edges));
        }
        let quarters = quadrants(rect);
        let mut quarter_edges: [Vec<u32>; 4] = Default::default();
        let (mid_x, mid_y) = (quarters[0][2], quarters[0][3]);
        for &edge in edges {
            let (a, b) = context.edge(edge);
            // Most edges lie clearly within one quarter: no side test needed.
            let west = a[0].min(b[0]) < mid_x + CELL_MARGIN_DEG;
            let east = a[0].max(b[0]) > mid_x - CELL_MARGIN_DEG;
            let south = a[1].min(b[1]) < mid_y + CELL_MARGIN_DEG;
            let north = a[1].max(b[1]) > mid_y - CELL_MARGIN_DEG;
            let candidates = [south && west, south && east, north && west, north && east];
            let n_candidates = candidates.iter().filter(|&&candidate| candidate).count();
            for (child, &candidate) in candidates.iter().enumerate() {
                if candidate
                    && (n_candidates == 1 || segment_touches_rect(a, b, grown(quarters[child])))
                {
                    quarter_edges[child].push(edge);
                }
            }
        }
        // From the centre (the usual reference) to a child's point the segment stays in the
        // child, so only the child's edges can cross it; from a point moved off the centre
        // it may pass through a neighbour.
        let at_centre = reference == [mid_x, mid_y];
        let mut children = [0u32; 4];
        for (child, (child_rect, child_edges)) in
            quarters.into_iter().zip(quarter_edges).enumerate()
        {
            let child_reference = pick_reference(context, child_rect, &child_edges)?;
            let crossing_candidates = if at_centre { &child_edges[..] } else { edges };
            let child_inside = toggled(
                context,
                inside,
                reference,
                child_reference,
                crossing_candidates,
            );
            children[child] = self.build(
                context,
                child_rect,
                child_reference,
                &child_inside,
                &child_edges,
                depth + 1,
            )?;
        }
        if children[0] >> TAG_SHIFT == TAG_SOLID && children.iter().all(|&c| c == children[0]) {
            return Ok(children[0]);
        }
        self.nodes.push(children);
        Ok((TAG_NODE << TAG_SHIFT) | (self.nodes.len() - 1) as u32)
    }

    fn leaf(&mut self, context: &Context<'_>, reference: Xy, inside: &[u32], edges: &[u32]) -> u32 {
        // (ward, part, edge) for every edge, and (ward, part, NOT_AN_EDGE) for parts that
        // hold the reference point without an edge here.
        let mut entries: Vec<(WardId, u32, u32)> = edges
            .iter()
            .map(|&edge| {
                let part = context.edge_part[edge as usize];
                (context.part_ward[part as usize], part, edge)
            })
            .chain(
                inside
                    .iter()
                    .map(|&part| (context.part_ward[part as usize], part, NOT_AN_EDGE)),
            )
            .collect();
        entries.sort_unstable();
        let first_group = self.groups.len() as u32;
        let mut idx = 0;
        while idx < entries.len() {
            let (ward, part, _) = entries[idx];
            let state = if inside.binary_search(&part).is_ok() {
                INSIDE_BIT
            } else {
                0
            };
            let first_run = self.runs.len() as u32;
            while idx < entries.len() && entries[idx].1 == part {
                let edge = entries[idx].2;
                idx += 1;
                if edge == NOT_AN_EDGE {
                    continue;
                }
                let n_runs = self.runs.len() as u32;
                match self.runs.last_mut() {
                    Some(run) if n_runs > first_run && run[0] + run[1] == edge => run[1] += 1,
                    _ => self.runs.push([edge, 1]),
                }
            }
            self.groups.push(Group {
                ward_and_state: ward | state,
                runs: [first_run, self.runs.len() as u32],
            });
        }
        self.leaves.push(Leaf {
            reference,
            groups: [first_group, self.groups.len() as u32],
        });
        (TAG_LEAF << TAG_SHIFT) | (self.leaves.len() - 1) as u32
    }
}
