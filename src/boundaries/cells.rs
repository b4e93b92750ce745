//! The lookup structure: a grid of 1/64° cells over the wards, each the root of a quadtree
//! whose leaves are either solid (wholly inside one ward, or in none) or list the few edges
//! that touch them, grouped by polygon part, with a reference point whose inside/outside
//! state for each part is known.
//!
//! A query descends to its leaf and counts, per part, the edges that cross the segment from
//! the leaf's reference point to the query point: an odd count flips the reference's state.
//! Every side-of-line decision is `robust::orient2d`, so the answer is exact. The states are
//! found while building, by walking each row of top cells from west to east (the margin
//! column outside every polygon is the start) and from each cell's reference point to its
//! children's, toggling on the same crossings.
//!
//! Hand-written: the crates at hand test one polygon at a time (`geo`) or index boxes
//! (`rstar`), and with ~800 vertices per ward and several candidate wards per box that is
//! 16–18× slower than this (measured: 3.1 µs against 176 ns per lookup on synthetic delivery
//! points; see the `boundaries` bench).

mod build;
mod nearest;

use rayon::prelude::*;

use super::geometry::{
    METRES_PER_DEGREE, Xy, crosses_between, left_of, on_segment, segment_touches_rect,
};
use super::{Boundaries, BoundaryError, WardId};
use crate::point::LatLon;
use build::{pick_reference, toggled};
use nearest::NearestSearch;

/// Top cells per degree. 1/64° (1.7 km): ~1.2 M top cells (4.8 MB) for Vietnam and its
/// islands, one level of the quadtree (a dependent memory read) fewer than 1/32° on most
/// land. Measured on points uniform over land (`boundaries` bench, one run): 1/32° 2.3 M,
/// 1/64° 2.9 M, 1/128° 2.5 M lookups/s.
const TOP_CELLS_PER_DEGREE: f64 = 64.0;
/// A cell touching more edges than this is split: a leaf's edges are all tested, so this
/// bounds the work of a lookup (not tuned further).
const LEAF_MAX_EDGES: usize = 16;
/// Splitting stops at 1/64 · 2^-14 ° (~10 cm) even with more edges (vertex clusters).
const MAX_DEPTH: u32 = 14;
/// Cells are grown by this much (~0.1 mm) when deciding which edges touch them, so that
/// rounding in that test, or a query point rounded into a neighbouring cell, can only add
/// edges to a list, never miss one.
const CELL_MARGIN_DEG: f64 = 1e-9;

const TAG_SHIFT: u32 = 30;
const PAYLOAD_MASK: u32 = (1 << TAG_SHIFT) - 1;
const TAG_SOLID: u32 = 0;
const TAG_NODE: u32 = 1;
const TAG_LEAF: u32 = 2;
/// The payload of a solid cell that lies in no ward.
const NO_WARD: u32 = PAYLOAD_MASK;
const NOT_AN_EDGE: u32 = u32::MAX;
const INSIDE_BIT: u32 = 1 << 31;

#[derive(Debug, Clone, Copy)]
struct Leaf {
    reference: Xy,
    groups: [u32; 2],
}

/// One polygon part's edges in a leaf, and whether the leaf's reference point is inside it.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// Ward id, with `INSIDE_BIT` set when the reference point is inside the part.
    ward_and_state: u32,
    runs: [u32; 2],
}

#[derive(Debug, Default)]
struct Tree {
    nodes: Vec<[u32; 4]>,
    leaves: Vec<Leaf>,
    groups: Vec<Group>,
    /// `[first edge, edge count]`: edge `i` runs from vertex `i` to vertex `i + 1`.
    runs: Vec<[u32; 2]>,
}

#[derive(Debug)]
pub(super) struct CellIndex {
    grid: TopGrid,
    /// The root of each top cell, row by row from the south-west.
    top: Vec<u32>,
    tree: Tree,
}

/// The grid of top cells: 1/64° squares from a south-west corner on multiples of 1/64°.
#[derive(Debug, Clone, Copy)]
struct TopGrid {
    west: f64,
    south: f64,
    n_cols: usize,
    n_rows: usize,
}

impl TopGrid {
    fn rect(&self, col: usize, row: usize) -> [f64; 4] {
        let cell_west = self.west + col as f64 / TOP_CELLS_PER_DEGREE;
        let cell_south = self.south + row as f64 / TOP_CELLS_PER_DEGREE;
        [
            cell_west,
            cell_south,
            cell_west + 1.0 / TOP_CELLS_PER_DEGREE,
            cell_south + 1.0 / TOP_CELLS_PER_DEGREE,
        ]
    }

    /// The columns and rows that a box `[west, south, east, north]` overlaps, if any.
    fn span(&self, rect: [f64; 4]) -> Option<([usize; 2], [usize; 2])> {
        let to_cell = |x: f64, origin: f64| ((x - origin) * TOP_CELLS_PER_DEGREE).floor();
        let (col0, col1) = (to_cell(rect[0], self.west), to_cell(rect[2], self.west));
        let (row0, row1) = (to_cell(rect[1], self.south), to_cell(rect[3], self.south));
        if !(col1 >= 0.0 && row1 >= 0.0 && col0 < self.n_cols as f64 && row0 < self.n_rows as f64) {
            return None;
        }
        let clamp = |x: f64, n: usize| (x.max(0.0) as usize).min(n - 1);
        Some((
            [clamp(col0, self.n_cols), clamp(col1, self.n_cols)],
            [clamp(row0, self.n_rows), clamp(row1, self.n_rows)],
        ))
    }

    /// Calls `visit` with the index of every cell the edge a→b touches (grown cells).
    fn for_each_cell_touched(&self, a: Xy, b: Xy, mut visit: impl FnMut(usize)) {
        let bbox = grown([
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[0].max(b[0]),
            a[1].max(b[1]),
        ]);
        let Some(([col0, col1], [row0, row1])) = self.span(bbox) else {
            return;
        };
        let single = col0 == col1 && row0 == row1;
        for row in row0..=row1 {
            for col in col0..=col1 {
                if single || segment_touches_rect(a, b, grown(self.rect(col, row))) {
                    visit(row * self.n_cols + col);
                }
            }
        }
    }
}

struct Context<'a> {
    vertices: &'a [Xy],
    /// The part of the edge starting at each vertex (`NOT_AN_EDGE` for closing vertices).
    edge_part: Vec<u32>,
    part_ward: Vec<WardId>,
}

impl Context<'_> {
    fn edge(&self, edge: u32) -> (Xy, Xy) {
        (
            self.vertices[edge as usize],
            self.vertices[edge as usize + 1],
        )
    }
}

fn solid(ward: Option<WardId>) -> u32 {
    (TAG_SOLID << TAG_SHIFT) | ward.unwrap_or(NO_WARD)
}

impl CellIndex {
    pub(super) fn build(boundaries: &Boundaries) -> Result<CellIndex, BoundaryError> {
        let vertices = &boundaries.vertices;
        let mut edge_part = vec![NOT_AN_EDGE; vertices.len()];
        for (part_idx, part) in boundaries.parts.iter().enumerate() {
            for ring in &boundaries.rings[part.rings.start as usize..part.rings.end as usize] {
                edge_part[ring.start as usize..ring.end as usize - 1].fill(part_idx as u32);
            }
        }
        let context = Context {
            vertices,
            edge_part,
            part_ward: boundaries.parts.iter().map(|part| part.ward).collect(),
        };
        if boundaries.wards.len() >= NO_WARD as usize {
            return Err(BoundaryError::Index("too many wards".to_owned()));
        }

        // One margin cell on each side: the west column starts every row outside every
        // polygon, and a point within 2 km of a boundary always falls in the grid.
        let (mut west, mut south, mut east, mut north) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
        for ward in &boundaries.wards {
            west = west.min(ward.bbox.west);
            south = south.min(ward.bbox.south);
            east = east.max(ward.bbox.east);
            north = north.max(ward.bbox.north);
        }
        if west > east {
            return Ok(CellIndex {
                grid: TopGrid {
                    west: 0.0,
                    south: 0.0,
                    n_cols: 0,
                    n_rows: 0,
                },
                top: Vec::new(),
                tree: Tree::default(),
            });
        }
        let cell = 1.0 / TOP_CELLS_PER_DEGREE;
        let grid_west = (west / cell).floor() * cell - cell;
        let grid_south = (south / cell).floor() * cell - cell;
        let grid = TopGrid {
            west: grid_west,
            south: grid_south,
            n_cols: ((east - grid_west) / cell).floor() as usize + 2,
            n_rows: ((north - grid_south) / cell).floor() as usize + 2,
        };
        let (n_cols, n_rows) = (grid.n_cols, grid.n_rows);

        // Edges into top cells: count the cells each edge touches, then place the edges
        // (a counting sort: ids stay ascending within a cell).
        let edge_ids: Vec<u32> = (0..vertices.len() as u32)
            .filter(|&edge| context.edge_part[edge as usize] != NOT_AN_EDGE)
            .collect();
        let mut cell_starts = vec![0u32; n_cols * n_rows + 1];
        for &edge in &edge_ids {
            let (a, b) = context.edge(edge);
            grid.for_each_cell_touched(a, b, |cell| cell_starts[cell + 1] += 1);
        }
        for idx in 1..cell_starts.len() {
            cell_starts[idx] += cell_starts[idx - 1];
        }
        let mut cell_edges = vec![0u32; cell_starts[n_cols * n_rows] as usize];
        let mut next_slot = cell_starts.clone();
        for &edge in &edge_ids {
            let (a, b) = context.edge(edge);
            grid.for_each_cell_touched(a, b, |cell| {
                cell_edges[next_slot[cell] as usize] = edge;
                next_slot[cell] += 1;
            });
        }
        let edges_of = |col: usize, row: usize| {
            let cell = row * n_cols + col;
            &cell_edges[cell_starts[cell] as usize..cell_starts[cell + 1] as usize]
        };

        let rows: Vec<(Vec<u32>, Tree)> = (0..n_rows)
            .into_par_iter()
            .map(|row| {
                let mut tree = Tree::default();
                let mut refs = Vec::with_capacity(n_cols);
                let mut inside: Vec<u32> = Vec::new();
                let mut previous: Option<(Xy, &[u32])> = None;
                for col in 0..n_cols {
                    let edges = edges_of(col, row);
                    let rect = grid.rect(col, row);
                    let reference = pick_reference(&context, rect, edges)?;
                    if let Some((previous_reference, previous_edges)) = previous
                        && !(previous_edges.is_empty() && edges.is_empty())
                    {
                        // Edges of both cells, each once (both lists are ascending).
                        let in_previous = |edge: &u32| previous_edges.binary_search(edge).is_ok();
                        let both = previous_edges
                            .iter()
                            .chain(edges.iter().filter(|edge| !in_previous(edge)));
                        inside = toggled(&context, &inside, previous_reference, reference, both);
                    }
                    refs.push(tree.build(&context, rect, reference, &inside, edges, 0)?);
                    previous = Some((reference, edges));
                }
                Ok((refs, tree))
            })
            .collect::<Result<_, BoundaryError>>()?;

        let mut top = Vec::with_capacity(n_cols * n_rows);
        let mut tree = Tree::default();
        for (refs, row_tree) in rows {
            let node_offset = tree.nodes.len() as u32;
            let leaf_offset = tree.leaves.len() as u32;
            let group_offset = tree.groups.len() as u32;
            let run_offset = tree.runs.len() as u32;
            if (node_offset as usize + row_tree.nodes.len()) as u64 >= u64::from(PAYLOAD_MASK)
                || (leaf_offset as usize + row_tree.leaves.len()) as u64 >= u64::from(PAYLOAD_MASK)
            {
                return Err(BoundaryError::Index("too many cells".to_owned()));
            }
            let rebase = |node_ref: u32| match node_ref >> TAG_SHIFT {
                TAG_NODE => node_ref + node_offset,
                TAG_LEAF => node_ref + leaf_offset,
                _ => node_ref,
            };
            top.extend(refs.into_iter().map(rebase));
            tree.nodes.extend(
                row_tree
                    .nodes
                    .into_iter()
                    .map(|children| children.map(rebase)),
            );
            tree.leaves
                .extend(row_tree.leaves.into_iter().map(|leaf| Leaf {
                    reference: leaf.reference,
                    groups: leaf.groups.map(|idx| idx + group_offset),
                }));
            tree.groups
                .extend(row_tree.groups.into_iter().map(|group| Group {
                    ward_and_state: group.ward_and_state,
                    runs: group.runs.map(|idx| idx + run_offset),
                }));
            tree.runs.extend(row_tree.runs);
        }
        Ok(CellIndex { grid, top, tree })
    }

    /// The lowest ward whose closed polygon holds `point` (`[lon, lat]`).
    pub(super) fn ward_at(&self, vertices: &[Xy], point: Xy) -> Option<WardId> {
        let grid = &self.grid;
        let fx = (point[0] - grid.west) * TOP_CELLS_PER_DEGREE;
        let fy = (point[1] - grid.south) * TOP_CELLS_PER_DEGREE;
        if !(fx >= 0.0 && fy >= 0.0 && fx < grid.n_cols as f64 && fy < grid.n_rows as f64) {
            return None;
        }
        let (col, row) = (fx as usize, fy as usize);
        let (mut u, mut v) = (fx - col as f64, fy - row as f64);
        let mut node_ref = self.top[row * grid.n_cols + col];
        loop {
            let payload = node_ref & PAYLOAD_MASK;
            match node_ref >> TAG_SHIFT {
                TAG_SOLID => return (payload != NO_WARD).then_some(payload),
                TAG_NODE => {
                    u *= 2.0;
                    v *= 2.0;
                    let east = u >= 1.0;
                    let north = v >= 1.0;
                    if east {
                        u -= 1.0;
                    }
                    if north {
                        v -= 1.0;
                    }
                    node_ref = self.tree.nodes[payload as usize]
                        [(usize::from(north) << 1) | usize::from(east)];
                }
                _ => return self.leaf_ward(vertices, &self.tree.leaves[payload as usize], point),
            }
        }
    }

    fn leaf_ward(&self, vertices: &[Xy], leaf: &Leaf, point: Xy) -> Option<WardId> {
        let reference = leaf.reference;
        // An edge that crosses the segment from the reference to the point, or holds the
        // point, has a point in this box; most of a leaf's edges do not, and are passed over
        // with four comparisons instead of the exact side tests.
        let (west, east) = (reference[0].min(point[0]), reference[0].max(point[0]));
        let (south, north) = (reference[1].min(point[1]), reference[1].max(point[1]));
        // Groups are in ward order, so the first ward that holds the point is the answer.
        for group in &self.tree.groups[leaf.groups[0] as usize..leaf.groups[1] as usize] {
            let mut inside = group.ward_and_state & INSIDE_BIT != 0;
            let mut on_boundary = false;
            'runs: for &[first, n_edges] in
                &self.tree.runs[group.runs[0] as usize..group.runs[1] as usize]
            {
                for pair in vertices[first as usize..=(first + n_edges) as usize].windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    if a[0].max(b[0]) < west
                        || a[0].min(b[0]) > east
                        || a[1].max(b[1]) < south
                        || a[1].min(b[1]) > north
                    {
                        continue;
                    }
                    if on_segment(a, b, point) {
                        on_boundary = true;
                        break 'runs;
                    }
                    if left_of(reference, point, a) != left_of(reference, point, b)
                        && crosses_between(reference, point, a, b)
                    {
                        inside = !inside;
                    }
                }
            }
            if inside || on_boundary {
                return Some(group.ward_and_state & !INSIDE_BIT);
            }
        }
        None
    }

    /// The ward with the nearest edge within `max_distance_m` of `point`, and the distance.
    pub(super) fn nearest_edge(
        &self,
        vertices: &[Xy],
        point: LatLon,
        max_distance_m: f64,
    ) -> Option<(WardId, f64)> {
        if !(max_distance_m >= 0.0 && point.lat.is_finite() && point.lon.is_finite()) {
            return None;
        }
        // A window sure to hold every point within the distance (latitude span plus 1 %,
        // longitude span at the window's pole-side edge).
        let half_lat = max_distance_m / METRES_PER_DEGREE * 1.01 + 1e-7;
        let far_lat = (point.lat.abs() + half_lat).min(89.0);
        let half_lon = half_lat / far_lat.to_radians().cos();
        let window = [
            point.lon - half_lon,
            point.lat - half_lat,
            point.lon + half_lon,
            point.lat + half_lat,
        ];
        let ([col0, col1], [row0, row1]) = self.grid.span(window)?;
        let mut search = NearestSearch {
            vertices,
            point,
            xy: [point.lon, point.lat],
            metres_per_lon: METRES_PER_DEGREE * point.lat.to_radians().cos(),
            window,
            max_distance_m,
            best: None,
        };
        for row in row0..=row1 {
            for col in col0..=col1 {
                let node_ref = self.top[row * self.grid.n_cols + col];
                self.visit(&mut search, node_ref, self.grid.rect(col, row));
            }
        }
        search.best.map(|(distance_m, ward)| (ward, distance_m))
    }

    fn visit(&self, search: &mut NearestSearch<'_>, node_ref: u32, rect: [f64; 4]) {
        let payload = (node_ref & PAYLOAD_MASK) as usize;
        match node_ref >> TAG_SHIFT {
            TAG_SOLID => {}
            TAG_NODE => {
                for (child, child_rect) in quadrants(rect).into_iter().enumerate() {
                    let window = search.window;
                    if child_rect[0] <= window[2]
                        && child_rect[2] >= window[0]
                        && child_rect[1] <= window[3]
                        && child_rect[3] >= window[1]
                    {
                        self.visit(search, self.tree.nodes[payload][child], child_rect);
                    }
                }
            }
            _ => {
                let leaf = &self.tree.leaves[payload];
                for group in &self.tree.groups[leaf.groups[0] as usize..leaf.groups[1] as usize] {
                    let ward = group.ward_and_state & !INSIDE_BIT;
                    for &[first, n_edges] in
                        &self.tree.runs[group.runs[0] as usize..group.runs[1] as usize]
                    {
                        for edge in first..first + n_edges {
                            search.consider(edge, ward);
                        }
                    }
                }
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.top.capacity() * 4
            + self.tree.nodes.capacity() * std::mem::size_of::<[u32; 4]>()
            + self.tree.leaves.capacity() * std::mem::size_of::<Leaf>()
            + self.tree.groups.capacity() * std::mem::size_of::<Group>()
            + self.tree.runs.capacity() * std::mem::size_of::<[u32; 2]>()
    }
}

fn grown(rect: [f64; 4]) -> [f64; 4] {
    [
        rect[0] - CELL_MARGIN_DEG,
        rect[1] - CELL_MARGIN_DEG,
        rect[2] + CELL_MARGIN_DEG,
        rect[3] + CELL_MARGIN_DEG,
    ]
}

/// The four quarters of a cell, indexed `(north << 1) | east`. Midpoints of these dyadic
/// rectangles are exact, so the query's halving of its offset picks the same quarter.
fn quadrants(rect: [f64; 4]) -> [[f64; 4]; 4] {
    let [west, south, east, north] = rect;
    let (mid_x, mid_y) = ((west + east) / 2.0, (south + north) / 2.0);
    [
        [west, south, mid_x, mid_y],
        [mid_x, south, east, mid_y],
        [west, mid_y, mid_x, north],
        [mid_x, mid_y, east, north],
    ]
}
