//! The nearest-address index: which registered points are nearest to a coordinate.
//!
//! Pure: no I/O, no async. Points live on the unit sphere as 3-D vectors. Chord length grows
//! strictly with great-circle distance, so a Euclidean nearest-neighbour search finds points
//! in great-circle order; the search is only a filter, though: every candidate is re-ranked
//! by [`haversine_m`], the reference metric, with a small margin so float rounding in the
//! chord can never drop a point the brute-force oracle ([`brute_force_nearest`]) would keep.
//!
//! Decisions: the bulk of the points sit in a `kiddo` k-d tree (immutable, built in parallel): about
//! 5× faster per query and 3× smaller than the `rstar` R-tree it replaced (README,
//! "Performance"). Points added later go to a small `rstar` tree until the next rebuild.

mod brute;
mod frozen;

pub use brute::brute_force_nearest;
pub use frozen::{FrozenIndex, PartsMismatch, TreeError};

use std::num::NonZeroUsize;
use std::sync::Arc;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rstar::{AABB, PointDistance, RTree, RTreeObject};

use crate::point::{LatLon, LatLonBox, chord_for_distance_m, haversine_m};

/// Identifies a point to its owner (the registry's record index).
pub type PointId = u32;

/// One indexed point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexEntry {
    pub location: LatLon,
    pub id: PointId,
}

impl IndexEntry {
    pub fn new(location: LatLon, id: PointId) -> IndexEntry {
        IndexEntry { location, id }
    }
}

/// A point found by a query, with its exact great-circle distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub id: PointId,
    pub location: LatLon,
    pub distance_m: f64,
}

/// The total order of answers: nearer first, then the smaller id. The brute-force oracle
/// uses the same order, so ties are broken identically.
pub fn neighbor_order(a: &Neighbor, b: &Neighbor) -> std::cmp::Ordering {
    a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id))
}

/// Relative slack on the chord bound: far above the rounding error of `unit_xyz`, the
/// squared distance and the haversine formula (~1e-15), far below anything that would cost
/// time.
const CHORD_SLACK: f64 = 1e-9;

/// The chord beyond which no point can lie within `distance_m` (slack included).
fn chord_bound(distance_m: f64) -> f64 {
    chord_for_distance_m(distance_m) * (1.0 + CHORD_SLACK) + f64::EPSILON
}

/// Past this many wanted answers a query takes every point in the radius at once instead of
/// widening a k-nearest search.
const WIDE_QUERY_LIMIT: usize = 4_096;

/// Past this many candidates a box search scans the main points instead of widening.
const BOX_SEARCH_LIMIT: usize = 262_144;

/// What one search of the main tree looks for.
struct Search<'a> {
    main: &'a MainTree,
    query: LatLon,
    query_xyz: [f64; 3],
    limit: usize,
    radius_m: f64,
}

/// The k-d tree of the main points; its items are positions in the main points.
pub type MainTree = ImmutableKdTree<f64, 3>;

/// A point of the live tree.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LiveEntry {
    xyz: [f64; 3],
    entry: IndexEntry,
}

impl RTreeObject for LiveEntry {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for LiveEntry {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        let dx = self.xyz[0] - point[0];
        let dy = self.xyz[1] - point[1];
        let dz = self.xyz[2] - point[2];
        dx * dx + dy * dy + dz * dz
    }
}

/// The points: an immutable k-d tree of most of them plus a small live tree that takes
/// every insert.
///
/// A removal from the main tree only marks the point's slot (the tree itself cannot
/// change); the live tree is an `rstar` tree built by inserts alone (inserting into a
/// bulk-loaded rstar 0.12 tree can panic, georust/rstar#243). Once the live tree grows past
/// a fraction of the main one, both are rebuilt into one main tree, without the removed
/// points.
///
/// The main tree and its points are behind `Arc`s and never change once built, so that
/// [`PointIndex::frozen`] can hand a snapshot writer a consistent copy without copying them.
#[derive(Debug, Default)]
pub struct PointIndex {
    /// By the main tree's item number.
    main_points: Arc<Vec<IndexEntry>>,
    /// Slots of `main_points` removed since the main tree was built.
    main_removed: Vec<bool>,
    n_main_removed: usize,
    main: Option<Arc<MainTree>>,
    live: RTree<LiveEntry>,
}

/// The live tree is folded into the main tree past this many points…
const MIN_LIVE_BEFORE_MERGE: usize = 50_000;
/// …or the main tree's own size, whichever is larger: merging at each doubling keeps the
/// cost of rebuilds proportional to the points inserted.
const LIVE_FRACTION_BEFORE_MERGE: usize = 1;

impl PointIndex {
    /// Builds the main tree in one pass, on every core.
    pub fn bulk_load(entries: Vec<IndexEntry>) -> PointIndex {
        let mut index = PointIndex {
            main_points: Arc::new(entries),
            ..PointIndex::default()
        };
        index.build_main();
        index
    }

    fn build_main(&mut self) {
        use rayon::prelude::*;
        self.main_removed = vec![false; self.main_points.len()];
        self.n_main_removed = 0;
        if self.main_points.is_empty() {
            self.main = None;
            return;
        }
        let xyz: Vec<[f64; 3]> = self
            .main_points
            .par_iter()
            .map(|entry| entry.location.unit_xyz())
            .collect();
        // Construction fails only past u32::MAX points (item numbers are u32; ids are too,
        // so the registry never gets there). Should it fail anyway, the points go to the
        // live tree: slower, still exact.
        match MainTree::builder()
            .with_parallel_construction()
            .build_from_slice(&xyz)
        {
            Ok(tree) => self.main = Some(Arc::new(tree)),
            Err(_) => {
                let points = std::mem::take(&mut self.main_points);
                self.main_removed.clear();
                self.main = None;
                for &entry in points.iter() {
                    self.live.insert(LiveEntry {
                        xyz: entry.location.unit_xyz(),
                        entry,
                    });
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.main_points.len() - self.n_main_removed + self.live.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a point; now and then rebuilds the main tree with the live points in it.
    pub fn insert(&mut self, entry: IndexEntry) {
        self.live.insert(LiveEntry {
            xyz: entry.location.unit_xyz(),
            entry,
        });
        let main_size = self.main_points.len() - self.n_main_removed;
        if self.live.size() > MIN_LIVE_BEFORE_MERGE.max(main_size / LIVE_FRACTION_BEFORE_MERGE) {
            self.fold_live();
        }
    }

    /// Removes the entry with this id at this location; false when there is none.
    pub fn remove(&mut self, location: LatLon, id: PointId) -> bool {
        let xyz = location.unit_xyz();
        let live_entry = LiveEntry {
            xyz,
            entry: IndexEntry::new(location, id),
        };
        if self.live.remove(&live_entry).is_some() {
            return true;
        }
        let Some(main) = &self.main else { return false };
        // Every point stored at exactly this location: the one with this id is the one.
        let slot = main
            .query(&xyz)
            .within::<SquaredEuclidean<f64>>(0.0)
            .execute()
            .iter()
            .map(|found| found.item as usize)
            .find(|&slot| {
                !self.main_removed[slot]
                    && self.main_points[slot].id == id
                    && self.main_points[slot].location == location
            });
        match slot {
            Some(slot) => {
                self.main_removed[slot] = true;
                self.n_main_removed += 1;
                true
            }
            None => false,
        }
    }

    /// Up to `limit` accepted points within `radius_m` of `query`, nearest first (ties by
    /// id). `accept` filters points out (retired addresses, another zone) without ending the
    /// search.
    pub fn nearest(
        &self,
        query: LatLon,
        limit: usize,
        radius_m: f64,
        mut accept: impl FnMut(PointId) -> bool,
    ) -> Vec<Neighbor> {
        if limit == 0 {
            return Vec::new();
        }
        let query_xyz = query.unit_xyz();
        let mut accept = |entry: &IndexEntry| accept(entry.id);
        let mut found = self.nearest_in_main(query, query_xyz, limit, radius_m, &mut accept);
        if self.live.size() > 0 {
            self.nearest_in_live(query, query_xyz, limit, radius_m, &mut accept, &mut found);
        }
        found
    }

    /// Up to `limit` accepted points inside `bbox`, nearest its centre first (ties by id):
    /// a sample of a box that is the whole box when it holds no more than `limit`.
    ///
    /// The k-nearest search from the centre meets mostly points of the box when the box is
    /// not much longer than wide; a thin box, or one whose centre is empty while its edges
    /// are crowded, turns up many points outside it, so past [`BOX_SEARCH_LIMIT`] candidates
    /// the main points are scanned once instead (a few hundred ms at 25 M points).
    pub fn nearest_in_box(
        &self,
        bbox: LatLonBox,
        limit: usize,
        mut accept: impl FnMut(PointId) -> bool,
    ) -> Vec<Neighbor> {
        if limit == 0 {
            return Vec::new();
        }
        let center = bbox.center();
        let center_xyz = center.unit_xyz();
        let radius_m = bbox.radius_m();
        let mut accept = |entry: &IndexEntry| bbox.contains(entry.location) && accept(entry.id);
        let mut found = match &self.main {
            Some(main) => {
                let search = Search {
                    main,
                    query: center,
                    query_xyz: center_xyz,
                    limit,
                    radius_m,
                };
                self.search_main(&search, BOX_SEARCH_LIMIT, &mut accept)
                    .unwrap_or_else(|| self.scan_main(&search, &mut accept))
            }
            None => Vec::new(),
        };
        if self.live.size() > 0 {
            self.nearest_in_live(center, center_xyz, limit, radius_m, &mut accept, &mut found);
        }
        found
    }

    /// Calls `each` with the id of every point within `radius_m` of `center`, and perhaps a
    /// few a hair beyond (the chord bound's slack), in no order: for callers that filter
    /// the points themselves and need neither distances nor order.
    pub fn for_each_within(&self, center: LatLon, radius_m: f64, mut each: impl FnMut(PointId)) {
        let center_xyz = center.unit_xyz();
        let bound = chord_bound(radius_m);
        if let Some(main) = &self.main {
            for found in main
                .query(&center_xyz)
                .within::<SquaredEuclidean<f64>>(bound * bound)
                .unsorted()
                .execute()
            {
                let slot = found.item as usize;
                if self.n_main_removed == 0 || !self.main_removed[slot] {
                    each(self.main_points[slot].id);
                }
            }
        }
        if self.live.size() > 0 {
            for live in self.live.locate_within_distance(center_xyz, bound * bound) {
                each(live.entry.id);
            }
        }
    }

    /// The main tree's part of [`PointIndex::nearest`]. The tree hands out candidates in
    /// chord order; the answer is complete once a candidate lies beyond the chord of the
    /// worst answer kept (nothing further can displace it), or when the tree had no more
    /// candidates in the radius. Otherwise the search is repeated for more candidates.
    fn nearest_in_main(
        &self,
        query: LatLon,
        query_xyz: [f64; 3],
        limit: usize,
        radius_m: f64,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
    ) -> Vec<Neighbor> {
        let Some(main) = &self.main else {
            return Vec::new();
        };
        let search = Search {
            main,
            query,
            query_xyz,
            limit,
            radius_m,
        };
        self.search_main(&search, WIDE_QUERY_LIMIT, accept)
            .unwrap_or_else(|| self.within_main(&search, accept))
    }

    /// Widening k-nearest searches; `None` once more than `max_want` candidates would be
    /// needed, for the caller's wide search.
    fn search_main(
        &self,
        search: &Search<'_>,
        max_want: usize,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
    ) -> Option<Vec<Neighbor>> {
        let radius_bound = chord_bound(search.radius_m);
        let radius_sq = radius_bound * radius_bound;
        // One more than wanted: the extra candidate is what proves the answer complete.
        let mut want = search.limit.saturating_add(1);
        loop {
            let n = NonZeroUsize::new(want)?;
            if want > max_want || want >= self.main_points.len() {
                return None;
            }
            let candidates = search
                .main
                .query(&search.query_xyz)
                .nearest_n::<SquaredEuclidean<f64>>(n)
                .within(radius_sq)
                .execute();
            let exhausted = candidates.len() < want;
            let (found, proven) = self.rank_candidates(
                search,
                candidates
                    .iter()
                    .map(|found| (found.distance, found.item as usize)),
                accept,
            );
            if exhausted || proven {
                return Some(found);
            }
            want = want.saturating_mul(4);
        }
    }

    /// Every main point within the radius at once.
    fn within_main(
        &self,
        search: &Search<'_>,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
    ) -> Vec<Neighbor> {
        let radius_bound = chord_bound(search.radius_m);
        let candidates = search
            .main
            .query(&search.query_xyz)
            .within::<SquaredEuclidean<f64>>(radius_bound * radius_bound)
            .execute();
        self.rank_candidates(
            search,
            candidates
                .iter()
                .map(|found| (found.distance, found.item as usize)),
            accept,
        )
        .0
    }

    /// Every main point in turn, for searches that would meet most of them anyway.
    fn scan_main(
        &self,
        search: &Search<'_>,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
    ) -> Vec<Neighbor> {
        let mut found: Vec<Neighbor> = Vec::with_capacity(search.limit.min(128) + 1);
        for (slot, entry) in self.main_points.iter().enumerate() {
            if (self.n_main_removed > 0 && self.main_removed[slot]) || !accept(entry) {
                continue;
            }
            offer(
                &mut found,
                search.limit,
                search.query,
                search.radius_m,
                *entry,
            );
        }
        found
    }

    /// The accepted candidates (in chord order) ranked exactly; true when a candidate beyond
    /// the worst one kept proved the answer complete.
    fn rank_candidates(
        &self,
        search: &Search<'_>,
        candidates: impl IntoIterator<Item = (f64, usize)>,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
    ) -> (Vec<Neighbor>, bool) {
        let limit = search.limit;
        let radius_bound = chord_bound(search.radius_m);
        let mut found: Vec<Neighbor> = Vec::with_capacity(limit.min(128) + 1);
        let mut bound_sq = radius_bound * radius_bound;
        for (chord_sq, slot) in candidates {
            if chord_sq > bound_sq {
                return (found, true);
            }
            // Skipping the look-up when nothing was removed saves a cache miss.
            if self.n_main_removed > 0 && self.main_removed[slot] {
                continue;
            }
            let entry = self.main_points[slot];
            if !accept(&entry) {
                continue;
            }
            if offer(&mut found, limit, search.query, search.radius_m, entry) {
                let bound = chord_bound(found[limit - 1].distance_m);
                bound_sq = bound_sq.min(bound * bound);
            }
        }
        (found, false)
    }

    /// The live tree's part of [`PointIndex::nearest`], merged into `found`.
    fn nearest_in_live(
        &self,
        query: LatLon,
        query_xyz: [f64; 3],
        limit: usize,
        radius_m: f64,
        accept: &mut impl FnMut(&IndexEntry) -> bool,
        found: &mut Vec<Neighbor>,
    ) {
        let mut bound = chord_bound(radius_m);
        if found.len() == limit {
            bound = bound.min(chord_bound(found[limit - 1].distance_m));
        }
        for (live, chord_sq) in self.live.nearest_neighbor_iter_with_distance_2(&query_xyz) {
            if chord_sq.sqrt() > bound {
                break;
            }
            if !accept(&live.entry) {
                continue;
            }
            if offer(found, limit, query, radius_m, live.entry) {
                bound = bound.min(chord_bound(found[limit - 1].distance_m));
            }
        }
    }

    /// Every entry (for snapshots, samples and the oracle).
    pub fn iter(&self) -> impl Iterator<Item = IndexEntry> + '_ {
        self.main_points
            .iter()
            .zip(&self.main_removed)
            .filter(|(_, removed)| !**removed)
            .map(|(entry, _)| *entry)
            .chain(self.live.iter().map(|live| live.entry))
    }

    /// Folds the live tree into the main one, so that the whole index is in the parts a
    /// snapshot stores.
    pub fn fold_live(&mut self) {
        if self.live.size() > 0 || self.n_main_removed > 0 {
            let entries: Vec<IndexEntry> = self.iter().collect();
            self.live = RTree::new();
            self.main_points = Arc::new(entries);
            self.build_main();
        }
    }
}

/// Offers `entry` to the sorted answer `found` of at most `limit`; true when `found` is
/// full afterwards (its last element is then the bound for further candidates).
fn offer(
    found: &mut Vec<Neighbor>,
    limit: usize,
    query: LatLon,
    radius_m: f64,
    entry: IndexEntry,
) -> bool {
    let distance_m = haversine_m(query, entry.location);
    if distance_m <= radius_m {
        let neighbor = Neighbor {
            id: entry.id,
            location: entry.location,
            distance_m,
        };
        let position = found
            .binary_search_by(|probe| neighbor_order(probe, &neighbor))
            .unwrap_or_else(|insert_at| insert_at);
        if position < limit {
            found.insert(position, neighbor);
            found.truncate(limit);
        }
    }
    found.len() == limit
}
