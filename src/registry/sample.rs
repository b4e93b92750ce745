//! Registered addresses drawn reproducibly from a seed, whole rows read from the database:
//! what the geocode bench renders into query text.
//!
//! Decisions: ids are drawn without replacement from the active ids in id order (not the
//! index's iteration order, which depends on how the tree was built), so the same database
//! and seed give the same addresses on either backend, from a snapshot or not. Memory holds
//! no address text, so the rows are read in one query, as `addresses_in_box` does.

use rand::SeedableRng;

use super::{Registry, RegistryError};
use crate::address::{Address, AddressId};

impl Registry {
    /// Up to `n` distinct active addresses' ids, drawn reproducibly from `seed`, in the
    /// order drawn.
    pub fn sample_ids(&self, n: usize, seed: u64) -> Vec<AddressId> {
        let mut ids: Vec<AddressId> = {
            let memory = self.read_memory();
            memory
                .index
                .iter()
                .filter(|entry| memory.is_active(entry.id))
                .map(|entry| AddressId::from(entry.id))
                .collect()
        };
        ids.sort_unstable();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rand::seq::index::sample(&mut rng, ids.len(), n.min(ids.len()))
            .into_iter()
            .filter_map(|at| ids.get(at).copied())
            .collect()
    }

    /// The rows of [`Registry::sample_ids`], in the order drawn; a row retired since
    /// memory was read is left out.
    pub async fn sample_addresses(
        &self,
        n: usize,
        seed: u64,
    ) -> Result<Vec<Address>, RegistryError> {
        let ids = self.sample_ids(n, seed);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = self.noted(self.store.addresses_by_ids(&ids).await)?;
        let rank: std::collections::HashMap<AddressId, usize> = ids
            .iter()
            .enumerate()
            .map(|(rank, &id)| (id, rank))
            .collect();
        rows.retain(|row| row.status == crate::address::AddressStatus::Active);
        rows.sort_by_key(|row| rank.get(&row.id).copied().unwrap_or(usize::MAX));
        Ok(rows)
    }
}
