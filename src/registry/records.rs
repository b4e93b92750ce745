//! `Records`: memory's per-address records, by row id, in shared chunks.
//!
//! Decisions: the records (40 bytes each, 1 GB at 25 M addresses) are held in chunks of
//! [`CHUNK`] slots behind `Arc`s rather than in one `Vec`, so that a snapshot can take a
//! consistent copy of them in microseconds (a clone of the chunk list) and write it while
//! the server keeps applying writes: a write to a chunk the snapshot still holds copies
//! that chunk first (`Arc::make_mut`, 2.6 MB), every other chunk stays shared. One `Vec`
//! would have to be copied whole (1 GB) or locked for the whole write. The chunks are also
//! what the snapshot reads in parallel, straight into their final buffers.

use std::sync::Arc;

use super::memory::MemRecord;

/// Slots per chunk.
pub(super) const CHUNK: usize = 1 << 16;

/// One chunk: [`CHUNK`] slots, or fewer for the last one.
pub(super) type Chunk = Arc<Vec<Option<MemRecord>>>;

#[derive(Debug, Default, Clone)]
pub(super) struct Records {
    /// Every chunk but the last holds exactly [`CHUNK`] slots.
    chunks: Vec<Chunk>,
    n_slots: usize,
}

impl Records {
    /// Records from chunks as [`Records::chunks`] gives them; `None` when a chunk other than
    /// the last is not full (the snapshot's rows were cut wrongly).
    pub(super) fn from_chunks(chunks: Vec<Chunk>) -> Option<Records> {
        let (last, full) = chunks
            .split_last()
            .map_or((0, &[][..]), |(last, full)| (last.len(), full));
        if full.iter().any(|chunk| chunk.len() != CHUNK) || last > CHUNK {
            return None;
        }
        Some(Records {
            n_slots: full.len() * CHUNK + last,
            chunks,
        })
    }

    pub(super) fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Slots, present or not.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.n_slots
    }

    pub(super) fn get(&self, slot: usize) -> Option<&MemRecord> {
        self.chunks
            .get(slot / CHUNK)
            .and_then(|chunk| chunk.get(slot % CHUNK))
            .and_then(Option::as_ref)
    }

    /// The record in `slot`, if present; its chunk is copied first when a snapshot shares it.
    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut MemRecord> {
        let chunk = self.chunks.get_mut(slot / CHUNK)?;
        if chunk.get(slot % CHUNK).is_none_or(Option::is_none) {
            return None;
        }
        Arc::make_mut(chunk)
            .get_mut(slot % CHUNK)
            .and_then(Option::as_mut)
    }

    /// Puts `record` in `slot`, growing the slots to reach it.
    pub(super) fn set(&mut self, slot: usize, record: MemRecord) {
        while self.n_slots <= slot {
            let in_last = self.n_slots % CHUNK;
            if in_last == 0 {
                self.chunks.push(Arc::new(Vec::new()));
            }
            let room = CHUNK - in_last;
            let wanted = (slot + 1 - self.n_slots).min(room);
            if let Some(last) = self.chunks.last_mut() {
                Arc::make_mut(last).resize(in_last + wanted, None);
            }
            self.n_slots += wanted;
        }
        if let Some(chunk) = self.chunks.get_mut(slot / CHUNK)
            && let Some(place) = Arc::make_mut(chunk).get_mut(slot % CHUNK)
        {
            *place = Some(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::LatLon;

    fn record(code_key: u64) -> MemRecord {
        MemRecord {
            code_key,
            location: LatLon {
                lat: 10.0,
                lon: 106.0,
            },
            house_key: 0,
            unit_key: 0,
            street_key: 0,
            active: true,
        }
    }

    #[test]
    fn slots_grow_across_chunks_and_a_copy_keeps_its_version() {
        let mut records = Records::default();
        records.set(3, record(3));
        records.set(CHUNK + 5, record(7));
        assert_eq!(records.len(), CHUNK + 6);
        assert_eq!(records.chunks().len(), 2);
        assert_eq!(records.get(3), Some(&record(3)));
        assert_eq!(records.get(4), None);
        assert_eq!(records.get(CHUNK + 5), Some(&record(7)));
        assert_eq!(records.get(10 * CHUNK), None);
        let frozen = records.clone();
        records.set(3, record(30));
        if let Some(changed) = records.get_mut(CHUNK + 5) {
            changed.active = false;
        }
        assert!(records.get_mut(4).is_none());
        assert_eq!(frozen.get(3), Some(&record(3)));
        assert_eq!(frozen.get(CHUNK + 5), Some(&record(7)));
        assert_eq!(records.get(3), Some(&record(30)));
        assert!(!records.get(CHUNK + 5).is_some_and(|r| r.active));
        let back = Records::from_chunks(records.chunks().to_vec()).expect("well cut");
        assert_eq!(back.len(), records.len());
        let short = vec![Arc::new(vec![None; 5]), Arc::new(vec![None; 5])];
        assert!(Records::from_chunks(short).is_none());
    }
}
