//! The nearest-address index: which registered points are nearest to a coordinate.
//!
//! Pure: no I/O, no async. Points live on the unit sphere as 3-D vectors in an R-tree
//! (`rstar`, bulk-loaded). Chord length grows strictly with great-circle distance, so the
//! tree's Euclidean nearest-neighbour walk visits points in great-circle order; the walk is
//! only a filter, though: every candidate is re-ranked by [`haversine_m`], the reference
//! metric, with a small margin so float rounding in the chord can never drop a point the
//! brute-force oracle ([`brute_force_nearest`]) would keep.

mod brute;

pub use brute::brute_force_nearest;

use rstar::{AABB, PointDistance, RTree, RTreeObject};

use crate::point::{LatLon, chord_for_distance_m, haversine_m};

/// Identifies a point to its owner (the registry's record index).
pub type PointId = u32;

/// One indexed point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexEntry {
    xyz: [f64; 3],
    pub location: LatLon,
    pub id: PointId,
}

impl IndexEntry {
    pub fn new(location: LatLon, id: PointId) -> IndexEntry {
        IndexEntry {
            xyz: location.unit_xyz(),
            location,
            id,
        }
    }
}

impl RTreeObject for IndexEntry {
    type Envelope = AABB<[f64; 3]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for IndexEntry {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        let dx = self.xyz[0] - point[0];
        let dy = self.xyz[1] - point[1];
        let dz = self.xyz[2] - point[2];
        dx * dx + dy * dy + dz * dz
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

/// Relative slack on the chord bound: far above the rounding error of `unit_xyz` and the
/// haversine formula (~1e-15), far below anything that would cost time.
const CHORD_SLACK: f64 = 1e-9;

/// The points: a bulk-loaded main tree plus a small live tree that takes every insert.
///
/// rstar 0.12's bulk loader can leave leaves at different depths, and inserting into such a
/// tree panics (georust/rstar#243), so the main tree is never inserted into: new points go to
/// the live tree (built only by inserts), which is folded into a fresh bulk load once it
/// grows past a fraction of the main tree. Removal is safe in both.
#[derive(Debug, Default)]
pub struct PointIndex {
    main: RTree<IndexEntry>,
    live: RTree<IndexEntry>,
}

/// The live tree is folded into the main tree past this many points…
const MIN_LIVE_BEFORE_MERGE: usize = 50_000;
/// …or the main tree's own size, whichever is larger: merging at each doubling keeps the
/// cost of bulk loads proportional to the points inserted.
const LIVE_FRACTION_BEFORE_MERGE: usize = 1;

impl PointIndex {
    /// Builds the tree in one pass (far faster and better balanced than inserting one by one).
    pub fn bulk_load(entries: Vec<IndexEntry>) -> PointIndex {
        PointIndex {
            main: RTree::bulk_load(entries),
            live: RTree::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.main.size() + self.live.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a point; now and then rebuilds the main tree with the live points in it.
    pub fn insert(&mut self, entry: IndexEntry) {
        self.live.insert(entry);
        if self.live.size()
            > MIN_LIVE_BEFORE_MERGE.max(self.main.size() / LIVE_FRACTION_BEFORE_MERGE)
        {
            let main = std::mem::take(&mut self.main);
            let live = std::mem::take(&mut self.live);
            let mut entries: Vec<IndexEntry> = Vec::with_capacity(main.size() + live.size());
            entries.extend(main.iter().copied());
            entries.extend(live.iter().copied());
            self.main = RTree::bulk_load(entries);
        }
    }

    /// Removes the entry with this id at this location; false when there is none.
    pub fn remove(&mut self, location: LatLon, id: PointId) -> bool {
        let entry = IndexEntry::new(location, id);
        self.live.remove(&entry).is_some() || self.main.remove(&entry).is_some()
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
        let radius_chord = chord_for_distance_m(radius_m) * (1.0 + CHORD_SLACK) + f64::EPSILON;
        let mut found: Vec<Neighbor> = Vec::with_capacity(limit.min(128) + 1);
        // Once `limit` points are held, the walk can stop at the chord of the current worst
        // distance (plus slack): nothing beyond can displace it.
        let mut bound_chord = radius_chord;
        let mut main = self
            .main
            .nearest_neighbor_iter_with_distance_2(&query_xyz)
            .peekable();
        let mut live = self
            .live
            .nearest_neighbor_iter_with_distance_2(&query_xyz)
            .peekable();
        loop {
            // The two walks merged: always the nearer of the two next points.
            let take_live = match (main.peek(), live.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((_, main_sq)), Some((_, live_sq))) => live_sq < main_sq,
            };
            let next = if take_live { live.next() } else { main.next() };
            let Some((entry, chord_sq)) = next else { break };
            if chord_sq.sqrt() > bound_chord {
                break;
            }
            if !accept(entry.id) {
                continue;
            }
            let distance_m = haversine_m(query, entry.location);
            if distance_m > radius_m {
                continue;
            }
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
            if found.len() == limit {
                let worst = found[limit - 1].distance_m;
                bound_chord = bound_chord
                    .min(chord_for_distance_m(worst) * (1.0 + CHORD_SLACK) + f64::EPSILON);
            }
        }
        found
    }

    /// Every entry (for snapshots and tests).
    pub fn iter(&self) -> impl Iterator<Item = &IndexEntry> {
        self.main.iter().chain(self.live.iter())
    }
}
