//! The domain: the address registry as the service sees it.
//!
//! A [`Registry`] joins the zone table, the store (the system of record) and the in-memory
//! index derived from it. It answers reverse, code and zone lookups from memory and writes
//! through to the store before it changes memory, so memory never holds what the database
//! does not.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use crate::address::{Address, IndexRow};
use crate::code::{CodeError, Postcode, VmapCode, olc::CodeArea};
use crate::index::{PointId, PointIndex};
use crate::progress::Progress;
use crate::store::{Store, StoreError, StoreIdentity};
use crate::zones::{ZoneAdmin, ZoneId, ZoneMethod, ZoneTable};

mod area;
mod autocomplete;
mod health;
mod memory;
mod mint;
mod query;
mod reads;
mod records;
mod sample;
mod scope;
mod search;
mod snapshot;
mod snapshot_rows;
mod snapshot_text;
mod writes;

pub use area::BoxAnswer;
pub use autocomplete::Suggestion;
pub use health::Outage;
pub use mint::{AssignFailure, AssignOptions, AssignOutcome, AssignRow};
pub use query::{
    DEFAULT_LIMIT, DEFAULT_MATCH_RADIUS_M, DEFAULT_RADIUS_M, MAX_LIMIT, MAX_MATCH_RADIUS_M,
    MAX_RADIUS_M, MatchRadius, QueryError, ReverseParts, ReverseQuery,
};
pub use search::{MatchLevel, Matched, SearchAnswer, SearchResult};
pub use snapshot::SnapshotError;

use health::Health;
use memory::{Memory, note_if_displaced};

/// Zone by nearby addresses: this many nearest active addresses vote…
const ZONE_VOTERS: usize = 5;
/// …if they lie this close to the point.
const ZONE_VOTE_RADIUS_M: f64 = 250.0;
/// Every address sharing a cell lies within this distance of any point of the cell (the
/// ~2.8 m × 3.5 m cell's diagonal is under 4.5 m anywhere in Vietnam).
const CELL_SEARCH_RADIUS_M: f64 = 5.0;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown postal code {0}")]
    UnknownPostcode(Postcode),
    #[error("address id {0} does not fit the index")]
    IdOutOfRange(i64),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("no address holds code {0}")]
    NotRegistered(VmapCode),
    #[error("address {0} is retired and cannot be changed")]
    Retired(VmapCode),
    #[error("status and successor change only by retiring")]
    StatusChangeNotAllowed,
    /// A move to where the code's zone could not own the point: the code would no longer
    /// decode anywhere near its address.
    #[error(
        "({lat}, {lon}) is too far from the reference point of zone {postcode} for code \
         {code} to decode near it; register the address anew and retire this one with it as \
         successor"
    )]
    MoveTooFar {
        code: VmapCode,
        postcode: Postcode,
        lat: f64,
        lon: f64,
    },
    #[error("an address cannot succeed itself")]
    SelfSuccessor,
    #[error("successor {0} is retired")]
    SuccessorRetired(VmapCode),
    #[error("successor {0} is not registered")]
    SuccessorNotRegistered(VmapCode),
    /// Re-retiring with another successor than the one recorded, without asking to replace it.
    #[error(
        "address {code} is retired already, with successor {recorded}; to make {requested} its \
         successor instead, ask to replace it (?replace_successor=true)"
    )]
    SuccessorConflict {
        code: VmapCode,
        recorded: VmapCode,
        requested: VmapCode,
    },
    /// A background task (the snapshot reader, the index build) panicked or was cancelled.
    #[error("{task} failed: {source}")]
    Task {
        task: &'static str,
        source: tokio::task::JoinError,
    },
}

impl RegistryError {
    /// Whether the database is away (see [`StoreError::is_unavailable`]): the same call may
    /// succeed later.
    pub fn is_database_unavailable(&self) -> bool {
        matches!(self, RegistryError::Store(error) if error.is_unavailable())
    }
}

/// Changes fetched per round trip while catching up.
const CATCH_UP_BATCH: i64 = 10_000;
/// A snapshot that needed this many changes applied at start-up is written again.
const SNAPSHOT_REWRITE_AFTER_CHANGES: usize = 100_000;
/// Rows loaded from the database between two timings of their text's filing.
const TEXT_TIMED_EVERY: u64 = 64;
/// Attempts at committing a batch whose codes another writer took first.
const MAX_COMMIT_ATTEMPTS: usize = 5;

/// An address near a queried point.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyAddress {
    pub code: VmapCode,
    pub postcode: Postcode,
    pub lat: f64,
    pub lon: f64,
    /// Great-circle distance from the queried point, metres.
    pub distance_m: f64,
}

/// The zone a point resolved to, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedZone {
    pub zone_id: ZoneId,
    pub method: ZoneMethod,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReverseAnswer {
    pub addresses: Vec<NearbyAddress>,
    pub zone: Option<ResolvedZone>,
    /// The zone on both administrative maps (empty outside coverage).
    pub admin: ZoneAdmin,
    /// The code a new address at exactly this point would get (suffix included when the
    /// cell is taken); `None` outside coverage.
    pub grid_code: Option<VmapCode>,
}

/// The answer to "where is this code?".
#[derive(Debug, Clone, PartialEq)]
pub enum CodeLookup {
    Registered {
        address: Box<Address>,
        zone_id: ZoneId,
        cell: CodeArea,
    },
    /// Well-formed, decodable, but no address holds it.
    Unregistered {
        code: VmapCode,
        zone_id: ZoneId,
        cell: CodeArea,
    },
}

/// Registry figures for `/v1/status`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegistryStatus {
    pub n_active: u64,
    pub n_retired: u64,
    pub n_indexed: u64,
    pub n_zones: u64,
    pub data_version: i64,
    pub build_duration: Duration,
    /// The index was read from a snapshot file rather than built from every row.
    pub from_snapshot: bool,
}

#[derive(Debug)]
pub struct Registry {
    zones: Arc<ZoneTable>,
    store: Store,
    memory: RwLock<Memory>,
    /// Serialises this process's writers: deciding codes and committing them is one step.
    write_lock: tokio::sync::Mutex<()>,
    /// What was last seen of the database.
    health: Health,
    build_duration: Duration,
    from_snapshot: bool,
    /// Where a snapshot is due, once [`Registry::write_pending_snapshot`] runs.
    pending_snapshot: Mutex<Option<PathBuf>>,
}

impl Registry {
    /// Reads every address from the store and builds the index.
    pub async fn load(store: Store, zones: Arc<ZoneTable>) -> Result<Registry, RegistryError> {
        Registry::load_with_snapshot(store, zones, None).await
    }

    /// Builds memory from the snapshot at `snapshot` when it matches the database (then
    /// catches up with the changes made since), else from the database, writing a fresh
    /// snapshot there before it returns.
    pub async fn load_with_snapshot(
        store: Store,
        zones: Arc<ZoneTable>,
        snapshot: Option<&Path>,
    ) -> Result<Registry, RegistryError> {
        let registry = Registry::load_deferring_snapshot(store, zones, snapshot).await?;
        registry.write_pending_snapshot().await;
        Ok(registry)
    }

    /// [`Registry::load_with_snapshot`], leaving a fresh snapshot to
    /// [`Registry::write_pending_snapshot`]: a server calls it once it is ready, and it is
    /// written while the server answers and writes go on.
    pub async fn load_deferring_snapshot(
        store: Store,
        zones: Arc<ZoneTable>,
        snapshot: Option<&Path>,
    ) -> Result<Registry, RegistryError> {
        let started = Instant::now();
        let identity = store.identity().await?;
        let from_snapshot = match snapshot {
            Some(path) => Registry::read_snapshot(&store, path, identity, zones.clone()).await?,
            None => None,
        };
        let (memory, built_from_database) = match from_snapshot {
            Some(memory) => (memory, false),
            None => (Registry::build_memory(&store, &zones).await?, true),
        };
        let mut registry = Registry {
            zones,
            store,
            memory: RwLock::new(memory),
            write_lock: tokio::sync::Mutex::new(()),
            health: Health::default(),
            build_duration: Duration::ZERO,
            from_snapshot: !built_from_database,
            pending_snapshot: Mutex::new(None),
        };
        // Also after a build: SQLite's start-up readers each read their own state of the
        // database, so memory may hold changes above `followed_seq`; once caught up it holds
        // none, which the snapshot's history check relies on.
        let caught_up = registry.catch_up().await?;
        if let Some(path) = snapshot
            && (built_from_database || caught_up >= SNAPSHOT_REWRITE_AFTER_CHANGES)
        {
            *registry
                .pending_snapshot
                .get_mut()
                .unwrap_or_else(|p| p.into_inner()) = Some(path.to_path_buf());
        }
        registry.build_duration = started.elapsed();
        tracing::info!(
            addresses = registry.read_memory().index.len(),
            from = if built_from_database {
                "database"
            } else {
                "snapshot"
            },
            changes_applied = caught_up,
            seconds = registry.build_duration.as_secs_f64(),
            "index ready"
        );
        Ok(registry)
    }

    /// Memory from the snapshot at `path` when it was made from this database's history
    /// and zone table; `None` otherwise, saying why in the log.
    async fn read_snapshot(
        store: &Store,
        path: &Path,
        identity: StoreIdentity,
        zones: Arc<ZoneTable>,
    ) -> Result<Option<Memory>, RegistryError> {
        let task = |source| RegistryError::Task {
            task: "reading the snapshot",
            source,
        };
        let at = path.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || snapshot::open(&at, &identity, &zones))
            .await
            .map_err(task)?;
        let read = match opened {
            Ok(opened) => {
                // Checked before any section is decoded: one indexed read.
                let history = store.history_at(opened.followed_seq()).await?;
                tokio::task::spawn_blocking(move || opened.read(history))
                    .await
                    .map_err(task)?
            }
            Err(err) => Err(err),
        };
        match read {
            Ok(memory) => Ok(Some(memory)),
            Err(SnapshotError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                tracing::info!(path = %path.display(), "no snapshot yet; building from the database");
                Ok(None)
            }
            Err(err) => {
                tracing::warn!(reason = %err, "snapshot not used; building from the database");
                Ok(None)
            }
        }
    }

    /// Writes the snapshot [`Registry::load_deferring_snapshot`] left due, if any; a failure
    /// is logged, not fatal (the next start reads the database instead). Writers wait only
    /// while a consistent copy of memory is taken (a catch-up, then milliseconds under the
    /// lock); the file is written while reads and writes go on.
    pub async fn write_pending_snapshot(&self) {
        let Some(path) = self
            .pending_snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        let started = Instant::now();
        let taken = async {
            // No own write in flight, and every change up to the last one visible applied,
            // so memory holds nothing above its data version.
            let _writer = self.write_lock.lock().await;
            self.catch_up_locked().await?;
            let identity = self.store.identity().await?;
            let view = snapshot::SnapshotView::of(&self.read_memory());
            let history = match &view {
                Some(view) => self.store.history_at(view.followed_seq()).await?,
                None => None,
            };
            Ok::<_, RegistryError>((identity, view, history))
        };
        let (identity, view, history) = match taken.await {
            Ok((identity, Some(view), history)) => (identity, view, history),
            Ok((_, None, _)) => {
                tracing::warn!("snapshot not written: memory is ahead of its data version");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "snapshot not written");
                return;
            }
        };
        let copied_after = started.elapsed();
        let zones = self.zones.clone();
        let at = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            snapshot::write(&at, &view, &identity, history, &zones)
        })
        .await;
        match written {
            Ok(Ok(bytes)) => tracing::info!(
                path = %path.display(),
                bytes,
                seconds = started.elapsed().as_secs_f64(),
                copy_seconds = copied_after.as_secs_f64(),
                "snapshot written"
            ),
            Ok(Err(err)) => tracing::warn!(error = %err, "snapshot not written"),
            Err(err) => tracing::warn!(error = %err, "snapshot not written"),
        }
    }

    /// Reads every address from the store and builds memory.
    async fn build_memory(store: &Store, zones: &ZoneTable) -> Result<Memory, RegistryError> {
        let started = Instant::now();
        // The highest id sizes the progress bar and the buffers without counting 25 M rows
        // (ids have gaps at most where inserts were rolled back).
        let expected = u64::try_from(store.max_id().await?).unwrap_or(0);
        let progress = Progress::new("loading", expected);
        let mut memory = Memory::default();
        let mut entries = Vec::with_capacity(expected as usize);
        let mut since_tick = 0u64;
        // Filing the text is timed on every 64th row (timing each would cost about as
        // much): its share of the start-up, which issue 12 holds to 30 %.
        let mut rows = 0u64;
        let mut text_sampled = Duration::ZERO;
        let complete_to = store
            .for_each_index_row(|row: IndexRow| {
                let id = PointId::try_from(row.id).map_err(|_| {
                    StoreError::Corrupt(format!("address id {} out of range", row.id))
                })?;
                rows += 1;
                if rows.is_multiple_of(TEXT_TIMED_EVERY) {
                    let filing = Instant::now();
                    let filed = memory.file_text(id, &row);
                    text_sampled += filing.elapsed();
                    entries.push(memory.add_filed(id, &row, filed));
                } else {
                    entries.push(memory.add(id, &row));
                }
                note_if_displaced(&mut memory.displaced, zones, row.code, row.location);
                since_tick += 1;
                if since_tick == 65_536 {
                    progress.inc(since_tick);
                    since_tick = 0;
                }
                Ok(())
            })
            .await?;
        memory.followed_seq = complete_to;
        progress.inc(since_tick);
        progress.finish();
        memory.index = tokio::task::spawn_blocking(move || PointIndex::bulk_load(entries))
            .await
            .map_err(|source| RegistryError::Task {
                task: "building the index",
                source,
            })?;
        memory.data_version = memory.followed_seq;
        tracing::info!(
            addresses = memory.index.len(),
            text_index_bytes = memory.text.heap_bytes(),
            text_index_seconds_estimated = text_sampled.as_secs_f64() * TEXT_TIMED_EVERY as f64,
            seconds = started.elapsed().as_secs_f64(),
            "index built from the database"
        );
        Ok(memory)
    }

    pub fn zones(&self) -> &ZoneTable {
        &self.zones
    }

    /// The store behind the registry, for tools that work on the database as a whole
    /// (`vmap copy`, benches, tests); the service's requests go through the methods here.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registered address holding `code`, read from the database (the system of
    /// record: it has every field, memory only what matching needs).
    pub async fn address(&self, code: VmapCode) -> Result<Option<Address>, RegistryError> {
        Ok(self.noted(self.store.get_by_code(&code).await)?)
    }

    /// The database outage under way, if a call found the database away and no probe has
    /// found it back since.
    pub fn database_outage(&self) -> Option<Outage> {
        self.health.outage()
    }

    /// Asks the database whether it would take a write, without waiting on a lock; a
    /// success ends the outage under way.
    pub async fn check_database(&self) -> Result<(), RegistryError> {
        self.noted(self.store.probe().await)?;
        self.health.recovered();
        Ok(())
    }

    /// `result` of a store call, noting an outage when it found the database away.
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error) = &result {
            self.health.note(error);
        }
        result
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.store.close().await;
    }

    fn write_memory(&self) -> std::sync::RwLockWriteGuard<'_, Memory> {
        self.memory
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_memory(&self) -> RwLockReadGuard<'_, Memory> {
        // A panic while holding the lock cannot leave memory half-changed (writes build
        // their change first), so a poisoned lock is still safe to read.
        self.memory
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self) -> RegistryStatus {
        let memory = self.read_memory();
        RegistryStatus {
            n_active: memory.n_active,
            n_retired: memory.n_retired,
            n_indexed: memory.index.len() as u64,
            n_zones: self.zones.len() as u64,
            data_version: memory.data_version,
            build_duration: self.build_duration,
            from_snapshot: self.from_snapshot,
        }
    }
}
