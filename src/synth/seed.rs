//! Filling an empty database with synthetic addresses (`vmap seed`, `serve --demo`).
//!
//! Seeding writes straight to the store, not through the registry: the database is empty,
//! so no address can be the same place as another one already there, and minting needs only
//! a count of codes per cell.
//!
//! Decisions: `vmap seed` into a SQLite file ([`seed_new_sqlite_file`]) builds the whole
//! registry beside the empty target, with journaling off, and renames it into place
//! ([`crate::store::SqliteFreshFile`], whose module says why that is safe): at 25 M rows
//! the WAL, the per-chunk commits and the checkpoints held the single writer to ~130 k
//! rows/s. A seed cut short leaves the target empty, never half-filled.
//!
//! [`seed`] fills a store it is given and that the caller goes on using (`serve --demo`,
//! the tests), so it cannot replace the file under the store's connections: a SQLite file
//! there is written through [`crate::store::SqliteAppender`] (one plain connection,
//! prepared multi-row inserts) rather than sqlx's multi-row inserts; PostgreSQL and
//! in-memory SQLite keep `insert_addresses`. Each chunk is one ordinary write transaction
//! with its history entry, so a seed cut short leaves a consistent registry of whole
//! chunks (which `seed` then refuses to fill further, being non-empty).
//!
//! Both paths mint the same rows in the same order ([`mint_rows`]), so the same seed gives
//! the same ids, codes, points and parts whichever path wrote them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::address::{AddressParts, NewAddress};
use crate::code::{CodeError, VmapCode};
use crate::progress::Progress;
use crate::store::{SqliteFreshFile, Store, StoreError};
use crate::zones::ZoneTable;

/// Addresses generated, minted and written at a time (one write transaction each).
const CHUNK_ADDRESSES: usize = 50_000;

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
    #[error("the generator thread panicked")]
    GeneratorPanicked,
    #[error("the generator's threads could not start: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
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
        mint_rows(&zones, total, seed, |rows| {
            sender.blocking_send(rows).is_ok()
        })
    });
    let mut appender = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.appender()).await??
    };
    let mut n_addresses = 0u64;
    while let Some(rows) = receiver.recv().await {
        let n_rows = rows.len() as u64;
        match appender.take() {
            // The plain connection blocks: it writes on the blocking pool, handed over and
            // back with each batch.
            Some(mut bulk) => {
                appender = Some(
                    tokio::task::spawn_blocking(move || bulk.append(&rows).map(|_| bulk)).await??,
                );
            }
            None => {
                store.insert_addresses(&rows).await?;
            }
        }
        n_addresses += n_rows;
        progress.inc(n_rows);
    }
    generator.await??;
    progress.finish();
    Ok(SeedReport {
        n_addresses,
        duration: started.elapsed(),
    })
}

/// Fills the empty SQLite registry at `path` with `total` synthetic addresses, the same rows
/// as [`seed`] writes, by building the registry beside it and renaming it into place (see
/// the module's decisions). `path` must be a migrated registry (the store creates one when
/// it connects) with no address and no connection open: close the store first.
///
/// Blocks: generation and minting run on a thread of their own (and rayon) while the
/// calling thread writes.
pub fn seed_new_sqlite_file(
    path: &Path,
    zones: &ZoneTable,
    total: u64,
    seed: u64,
    busy_timeout: Duration,
    progress: &Progress,
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    // One core is left to the writer, the bound: with generation on every core, the
    // writer shared its core and slowed by about a third on 2 cores. Rows do not depend
    // on the thread count.
    let n_threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()?;
    let mut fresh = SqliteFreshFile::create(path, busy_timeout)?;
    std::thread::scope(|scope| {
        // A few chunks in flight keep both sides busy and memory flat.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<NewAddress>>(4);
        let minter = scope.spawn(move || {
            pool.install(|| mint_rows(zones, total, seed, |rows| sender.send(rows).is_ok()))
        });
        let written = receiver.iter().try_for_each(|rows| {
            fresh.append(&rows)?;
            progress.inc(rows.len() as u64);
            Ok::<(), SeedError>(())
        });
        // On a write error the receiver goes now, so the minter stops at its next send.
        drop(receiver);
        let minted = minter.join().map_err(|_| SeedError::GeneratorPanicked)?;
        written.and(minted)
    })?;
    let n_addresses = fresh.finish()?;
    progress.finish();
    Ok(SeedReport {
        n_addresses,
        duration: started.elapsed(),
    })
}

/// Generates the addresses and mints their codes, a chunk at a time, into `send` (which
/// answers whether to go on), each chunk in code order.
///
/// The base code of an address depends on that address alone, so a chunk is encoded in
/// parallel (rayon keeps the order); the `-N` suffixes are then counted in one pass in
/// generation order, so the same seed gives the same codes whatever the thread count.
fn mint_rows(
    zones: &ZoneTable,
    total: u64,
    seed: u64,
    mut send: impl FnMut(Vec<NewAddress>) -> bool,
) -> Result<(), SeedError> {
    let mut taken: HashMap<u64, u32> = HashMap::new();
    for chunk in super::generate(zones, total, seed, CHUNK_ADDRESSES) {
        let mut rows = chunk
            .par_iter()
            .map(|address| {
                let zone = zones.get(address.zone_id);
                let reference = zones.reference_of(address.zone_id);
                Ok(NewAddress {
                    code: VmapCode::encode(zone.postcode, reference, address.location)?,
                    location: address.location,
                    parts: AddressParts {
                        house_number: Some(address.house_number_text()),
                        alley: address.alley_text(),
                        street: Some(address.street_text()),
                        ..Default::default()
                    },
                })
            })
            .collect::<Result<Vec<NewAddress>, CodeError>>()?;
        for row in &mut rows {
            let count = taken.entry(row.code.pack()).or_insert(0);
            *count += 1;
            if *count > 1 {
                row.code = row.code.with_suffix(*count)?;
            }
        }
        // In code order, the batch writes the `UNIQUE(code)` index in runs rather than at
        // random (a chunk is a few whole zones, each one run of codes); ids follow it.
        // Keys computed once: `pack` walks the code, and sorting by it per comparison took a
        // third of this thread's time.
        rows.sort_by_cached_key(|row| row.code.pack());
        if !send(rows) {
            break;
        }
    }
    Ok(())
}
