//! Addresses in a latitude/longitude box: `GET /v1/addresses?bbox`, the map page's read.
//!
//! Decisions: a box holding more than `limit` active addresses answers the `limit` nearest
//! its centre (ties by id), not the first `limit` by id or a random draw: the answer is
//! reproducible, checkable against a scan, and a zoomed-out map shows the middle of the view
//! filled rather than points scattered thinly. Memory holds no address text, so the rows of
//! the chosen ids are read from the database in one query.

use super::{Registry, RegistryError};
use crate::address::{Address, AddressId};
use crate::index::IndexEntry;
use crate::point::LatLonBox;

/// The addresses of a box, nearest its centre first.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxAnswer {
    pub addresses: Vec<Address>,
    /// More active addresses lie in the box than were answered.
    pub truncated: bool,
}

impl Registry {
    /// Up to `limit` active addresses in `bbox`, nearest its centre first, and whether the
    /// box holds more.
    pub async fn addresses_in_box(
        &self,
        bbox: LatLonBox,
        limit: usize,
    ) -> Result<BoxAnswer, RegistryError> {
        let (ids, truncated) = self.ids_in_box(bbox, limit);
        if ids.is_empty() {
            return Ok(BoxAnswer {
                addresses: Vec::new(),
                truncated,
            });
        }
        let mut rows = self.noted(self.store.addresses_by_ids(&ids).await)?;
        // Back into the index's order; a row moved out of the box since memory was read is
        // still answered, where the database now has it.
        let rank: std::collections::HashMap<AddressId, usize> = ids
            .iter()
            .enumerate()
            .map(|(rank, &id)| (id, rank))
            .collect();
        rows.sort_by_key(|row| rank.get(&row.id).copied().unwrap_or(usize::MAX));
        Ok(BoxAnswer {
            addresses: rows,
            truncated,
        })
    }

    /// The ids [`Registry::addresses_in_box`] answers, from memory alone.
    pub fn ids_in_box(&self, bbox: LatLonBox, limit: usize) -> (Vec<AddressId>, bool) {
        let memory = self.read_memory();
        // One more than asked says whether the box holds more.
        let mut found = memory
            .index
            .nearest_in_box(bbox, limit.saturating_add(1), |id| memory.is_active(id));
        let truncated = found.len() > limit;
        found.truncate(limit);
        (
            found
                .iter()
                .map(|found| AddressId::from(found.id))
                .collect(),
            truncated,
        )
    }

    /// The oracle for [`Registry::ids_in_box`]: a scan of every indexed point.
    pub fn ids_in_box_brute_force(&self, bbox: LatLonBox, limit: usize) -> (Vec<AddressId>, bool) {
        let memory = self.read_memory();
        let entries: Vec<IndexEntry> = memory
            .index
            .iter()
            .filter(|entry| bbox.contains(entry.location))
            .collect();
        let mut found = crate::index::brute_force_nearest(
            &entries,
            bbox.center(),
            limit.saturating_add(1),
            f64::INFINITY,
            |id| memory.is_active(id),
        );
        let truncated = found.len() > limit;
        found.truncate(limit);
        (
            found
                .iter()
                .map(|found| AddressId::from(found.id))
                .collect(),
            truncated,
        )
    }
}
