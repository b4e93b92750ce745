//! Filling an empty database with synthetic addresses (`vmap seed`, `serve --demo`).
//!
//! Seeding writes straight to the store, not through the registry: the database is empty,
//! so no address can be the same place as another one already there, and minting needs only
//! a count of codes per cell.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::address::{AddressParts, NewAddress};
use crate::code::{CodeError, VmapCode};
use crate::progress::Progress;
use crate::store::{Store, StoreError};
use crate::zones::ZoneTable;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error("the database is not empty ({0} addresses): seed only fills an empty registry")]
    NotEmpty(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A generated point could not be coded in its zone: a fault of the generator.
    #[error("a synthetic address could not be coded: {0}")]
    Code(#[from] CodeError),
    #[error("the generator failed: {0}")]
    Generator(#[from] tokio::task::JoinError),
}

/// What `seed` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedReport {
    pub n_addresses: u64,
    pub duration: Duration,
}

/// Fills an empty registry with `total` synthetic addresses (deterministic from `seed`).
/// Codes are minted as assignment would: base code of the cell, `-N` for later ones in it.
pub async fn seed(
    store: &Store,
    zones: Arc<ZoneTable>,
    total: u64,
    seed: u64,
    progress: &Progress,
) -> Result<SeedReport, SeedError> {
    let counts = store.counts().await?;
    if counts.active + counts.retired > 0 {
        return Err(SeedError::NotEmpty(counts.active + counts.retired));
    }
    let started = Instant::now();
    // Generation and code minting run on a blocking thread (and rayon); the async side only
    // writes. A bounded channel keeps memory flat and both sides busy.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<NewAddress>>(4);
    let generator = tokio::task::spawn_blocking(move || {
        let mut taken: HashMap<u64, u32> = HashMap::new();
        for chunk in super::generate(&zones, total, seed, 50_000) {
            let mut rows = Vec::with_capacity(chunk.len());
            for address in chunk {
                let zone = zones.get(address.zone_id);
                let reference = zones.reference_of(address.zone_id);
                let base = VmapCode::encode(zone.postcode, reference, address.location)?;
                let count = taken.entry(base.pack()).or_insert(0);
                *count += 1;
                let code = if *count == 1 {
                    base
                } else {
                    base.with_suffix(*count)?
                };
                rows.push(NewAddress {
                    code,
                    location: address.location,
                    parts: AddressParts {
                        house_number: Some(address.house_number_text()),
                        alley: address.alley_text(),
                        street: Some(address.street_text()),
                        ..Default::default()
                    },
                });
            }
            if sender.blocking_send(rows).is_err() {
                break;
            }
        }
        Ok::<(), SeedError>(())
    });
    let mut n_addresses = 0u64;
    while let Some(rows) = receiver.recv().await {
        store.insert_addresses(&rows).await?;
        n_addresses += rows.len() as u64;
        progress.inc(rows.len() as u64);
    }
    generator.await??;
    progress.finish();
    Ok(SeedReport {
        n_addresses,
        duration: started.elapsed(),
    })
}
