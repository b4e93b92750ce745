//! The index in the parts a snapshot stores, and back: [`PointIndex::frozen`] takes a
//! consistent copy (the main tree and points shared, not copied), [`FrozenIndex`] writes
//! the tree, and [`PointIndex::from_parts`] / [`PointIndex::decode_tree`] rebuild an index
//! from what was read. Pure: the caller owns every file.

use std::sync::Arc;

use rstar::RTree;

use super::{IndexEntry, MainTree, PointIndex};

/// The main tree could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("point tree: {0}")]
pub struct TreeError(#[from] rkyv::rancor::Error);

/// Index parts that do not belong together (a tree of another size, a removal out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the index's parts do not belong together")]
pub struct PartsMismatch;

/// The index as it was when [`PointIndex::frozen`] was called, in the parts a snapshot
/// stores; it shares the main tree and points with the index, which may change meanwhile.
#[derive(Debug, Clone)]
pub struct FrozenIndex {
    main_points: Arc<Vec<IndexEntry>>,
    main: Option<Arc<MainTree>>,
    removed_slots: Vec<u32>,
    live: Vec<IndexEntry>,
}

impl FrozenIndex {
    /// The main tree's points, by item number (removed ones included).
    pub fn main_points(&self) -> &[IndexEntry] {
        &self.main_points
    }

    /// Writes the main tree to `out` in rkyv's archive form (nothing when there is no
    /// tree), and hands `out` back. Offsets in the archive count from its first byte and
    /// assume that byte 128-aligned: [`PointIndex::decode_tree`] needs it read into such a
    /// buffer. `out` is the only place written to: no file is touched here.
    pub fn write_tree<W: std::io::Write>(&self, out: W) -> Result<W, TreeError> {
        let Some(tree) = &self.main else {
            return Ok(out);
        };
        let written = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
            &**tree,
            rkyv::ser::writer::IoWriter::new(out),
        )?;
        Ok(written.into_inner())
    }

    /// Slots of [`FrozenIndex::main_points`] removed since the tree was built.
    pub fn removed_slots(&self) -> &[u32] {
        &self.removed_slots
    }

    /// Points added since the tree was built.
    pub fn live(&self) -> &[IndexEntry] {
        &self.live
    }
}

impl PointIndex {
    /// The index as it is now, for a snapshot: the main tree and points shared, the
    /// removals and the live points copied (few, next to the main points).
    pub fn frozen(&self) -> FrozenIndex {
        let removed_slots = if self.n_main_removed == 0 {
            Vec::new()
        } else {
            (0..self.main_removed.len() as u32)
                .filter(|&slot| self.main_removed[slot as usize])
                .collect()
        };
        FrozenIndex {
            main_points: self.main_points.clone(),
            main: self.main.clone(),
            removed_slots,
            live: self.live.iter().map(|live| live.entry).collect(),
        }
    }

    /// An index from the parts of a [`FrozenIndex`] (its tree decoded by
    /// [`PointIndex::decode_tree`]); refuses parts that do not belong together.
    pub fn from_parts(
        main_points: Vec<IndexEntry>,
        main: Option<MainTree>,
        removed_slots: &[u32],
        live: &[IndexEntry],
    ) -> Result<PointIndex, PartsMismatch> {
        if main.as_ref().map_or(0, |tree| tree.size()) != main_points.len() {
            return Err(PartsMismatch);
        }
        let mut main_removed = vec![false; main_points.len()];
        for &slot in removed_slots {
            match main_removed.get_mut(slot as usize) {
                Some(removed @ false) => *removed = true,
                _ => return Err(PartsMismatch),
            }
        }
        let mut index = PointIndex {
            main_removed,
            n_main_removed: removed_slots.len(),
            main_points: Arc::new(main_points),
            main: main.map(Arc::new),
            live: RTree::new(),
        };
        for &entry in live {
            index.insert(entry);
        }
        Ok(index)
    }

    /// A main tree from [`FrozenIndex::write_tree`]'s bytes, read into a 128-aligned
    /// buffer; the archive is checked (bytecheck) before it is decoded, so damaged bytes
    /// are an error, never undefined behaviour.
    ///
    /// Decisions: rkyv rather than kiddo's serde form: its decoder sizes each buffer
    /// once, where serde's grows a 0.7 GB vector byte by byte from a 1 MB guess, which at
    /// 25 M points took 3 s and, with its reallocations, 1.5 GB beyond the tree at the peak
    /// of a start. Zero-copy use of the archive would need it kept in an aligned buffer and
    /// every query written for kiddo's archived tree too.
    pub fn decode_tree(bytes: &[u8]) -> Result<Option<MainTree>, TreeError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(rkyv::from_bytes::<MainTree, rkyv::rancor::Error>(
            bytes,
        )?))
    }
}
