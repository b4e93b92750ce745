//! The domain: the address registry as the service sees it.
//!
//! A [`Registry`] joins the zone table, the store (the system of record) and the in-memory
//! index derived from it. It answers reverse, code and zone lookups from memory and writes
//! through to the store before it changes memory, so memory never holds what the database
//! does not.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::code::{CodeError, Postcode, VmapCode, olc::CodeArea};
use crate::index::{IndexEntry, Neighbor, PointId, PointIndex};
use crate::point::LatLon;
use crate::progress::Progress;
use crate::store::{
    AddressChange, AddressParts, AddressRow, AddressStatus, IndexRow, NewAddress, Store, StoreError,
};
use crate::synth;
use crate::zones::{ZoneId, ZoneMethod, ZoneTable};

mod snapshot;

pub use snapshot::SnapshotError;

/// Most addresses one reverse query may ask for.
pub const MAX_LIMIT: usize = 100;
/// Largest reverse search radius.
pub const MAX_RADIUS_M: f64 = 50_000.0;
pub const DEFAULT_LIMIT: usize = 1;
pub const DEFAULT_RADIUS_M: f64 = 1_000.0;

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
    #[error("the database is not empty ({0} addresses): seed only fills an empty registry")]
    NotEmpty(u64),
    #[error("address id {0} does not fit the index")]
    IdOutOfRange(i64),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("no address holds code {0}")]
    NotRegistered(VmapCode),
    #[error("address {0} is retired and cannot be changed")]
    Retired(VmapCode),
    #[error("{0}")]
    Invalid(String),
}

/// What memory keeps per address (indexed by row id): enough to match and mint without a
/// database round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MemRecord {
    code_key: u64,
    /// Where the index holds the address (needed to move or drop its entry).
    location: LatLon,
    /// Interned normalised house number, 0 when none.
    house_key: u32,
    /// Interned normalised unit, 0 when none.
    unit_key: u32,
    active: bool,
}

/// Normalised house numbers and units, stored once each; records keep a `u32` key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Interner {
    keys: HashMap<Box<str>, u32>,
}

impl Interner {
    /// The key of `text` if it was ever interned; `Some(0)` for none or blank, `None` when
    /// no stored address has this text.
    fn find(&self, text: Option<&str>) -> Option<u32> {
        let Some(text) = text else { return Some(0) };
        let normalised = Interner::normalise(text);
        if normalised.is_empty() {
            return Some(0);
        }
        self.keys.get(normalised.as_str()).copied()
    }

    fn normalise(text: &str) -> String {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase()
    }

    /// The key of `text`; 0 for none or blank.
    fn intern(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text else { return 0 };
        let normalised = Interner::normalise(text);
        if normalised.is_empty() {
            return 0;
        }
        let next = self.keys.len() as u32 + 1;
        *self.keys.entry(normalised.into_boxed_str()).or_insert(next)
    }
}

#[derive(Debug, Default)]
struct Memory {
    index: PointIndex,
    /// By row id; `None` for ids not (yet) seen.
    records: Vec<Option<MemRecord>>,
    interner: Interner,
    /// Largest suffix per base code for addresses whose location has left their code's cell
    /// (moved): the cell search cannot find those.
    displaced: HashMap<u64, u32>,
    n_active: u64,
    n_retired: u64,
    data_version: i64,
    /// Every change numbered up to here is in memory; changes after it are fetched by
    /// [`Registry::catch_up`]. Own writes do not move it: another writer's change with a
    /// smaller number may not be visible yet when ours is.
    followed_seq: i64,
}

impl Memory {
    fn record(&self, id: PointId) -> Option<&MemRecord> {
        self.records.get(id as usize).and_then(Option::as_ref)
    }

    fn is_active(&self, id: PointId) -> bool {
        self.record(id).is_some_and(|record| record.active)
    }

    fn add(
        &mut self,
        id: PointId,
        code: VmapCode,
        location: LatLon,
        house: Option<&str>,
        unit: Option<&str>,
        active: bool,
    ) -> IndexEntry {
        let house_key = self.interner.intern(house);
        let unit_key = self.interner.intern(unit);
        let slot = id as usize;
        if self.records.len() <= slot {
            self.records.resize(slot + 1, None);
        }
        self.records[slot] = Some(MemRecord {
            code_key: code.pack(),
            location,
            house_key,
            unit_key,
            active,
        });
        if active {
            self.n_active += 1;
        } else {
            self.n_retired += 1;
        }
        IndexEntry::new(location, id)
    }

    /// Own writes numbered `first..=last` need not be fetched again by `catch_up` when they
    /// follow on from what memory already holds: writers are serialised, so no one else's
    /// change can sit in between.
    fn advance_followed(&mut self, first: i64, last: i64) {
        if first == self.followed_seq + 1 {
            self.followed_seq = last;
        }
    }

    /// Brings one address up to date with its stored row: adds it, moves it, retires it.
    /// Applying the same row twice changes nothing.
    fn apply(&mut self, zones: &ZoneTable, row: &IndexRow) -> Result<(), RegistryError> {
        let id = PointId::try_from(row.id).map_err(|_| RegistryError::IdOutOfRange(row.id))?;
        let active = row.status == AddressStatus::Active;
        let house_key = self.interner.intern(row.house_number.as_deref());
        let unit_key = self.interner.intern(row.unit.as_deref());
        match self.record(id).copied() {
            None => {
                let entry = self.add(
                    id,
                    row.code,
                    row.location,
                    row.house_number.as_deref(),
                    row.unit.as_deref(),
                    active,
                );
                self.index.insert(entry);
            }
            Some(old) => {
                if old.location != row.location {
                    self.index.remove(old.location, id);
                    self.index.insert(IndexEntry::new(row.location, id));
                }
                match (old.active, active) {
                    (true, false) => {
                        self.n_active = self.n_active.saturating_sub(1);
                        self.n_retired += 1;
                    }
                    (false, true) => {
                        self.n_retired = self.n_retired.saturating_sub(1);
                        self.n_active += 1;
                    }
                    _ => {}
                }
                if let Some(Some(record)) = self.records.get_mut(id as usize) {
                    *record = MemRecord {
                        code_key: row.code.pack(),
                        location: row.location,
                        house_key,
                        unit_key,
                        active,
                    };
                }
            }
        }
        note_if_displaced(&mut self.displaced, zones, row.code, row.location);
        self.data_version = self.data_version.max(row.change_seq);
        Ok(())
    }
}

/// Changes fetched per round trip while catching up.
const CATCH_UP_BATCH: i64 = 10_000;
/// A snapshot that needed this many changes applied at start-up is written again.
const SNAPSHOT_REWRITE_AFTER_CHANGES: usize = 100_000;
/// Attempts at committing a batch whose codes another writer took first.
const MAX_COMMIT_ATTEMPTS: usize = 5;

/// An address near a queried point.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NearbyAddress {
    #[schema(value_type = String, example = "111162RWXP69")]
    pub code: VmapCode,
    #[schema(value_type = String, example = "11116")]
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
    /// The code a new address at exactly this point would get (suffix included when the
    /// cell is taken); `None` outside coverage.
    pub grid_code: Option<VmapCode>,
}

/// The answer to "where is this code?".
#[derive(Debug, Clone, PartialEq)]
pub enum CodeLookup {
    Registered {
        address: Box<AddressRow>,
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
    build_duration: Duration,
    from_snapshot: bool,
}

impl Registry {
    /// Reads every address from the store and builds the index.
    pub async fn load(store: Store, zones: Arc<ZoneTable>) -> Result<Registry, RegistryError> {
        Registry::load_with_snapshot(store, zones, None).await
    }

    /// Builds memory from the snapshot at `snapshot` when it matches the database (then
    /// catches up with the changes made since), else from the database, writing a fresh
    /// snapshot there.
    pub async fn load_with_snapshot(
        store: Store,
        zones: Arc<ZoneTable>,
        snapshot: Option<&Path>,
    ) -> Result<Registry, RegistryError> {
        let started = Instant::now();
        let identity = store.identity().await?;
        let from_snapshot = match snapshot {
            Some(path) => {
                let (path, identity, zones) = (path.to_path_buf(), identity.clone(), zones.clone());
                let read =
                    tokio::task::spawn_blocking(move || snapshot::read(&path, &identity, &zones))
                        .await
                        .map_err(|err| {
                            RegistryError::Invalid(format!("snapshot reader failed: {err}"))
                        })?;
                match read {
                    Ok(memory) => Some(memory),
                    Err(err) => {
                        tracing::info!(reason = %err, "snapshot not used; building from the database");
                        None
                    }
                }
            }
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
            build_duration: Duration::ZERO,
            from_snapshot: !built_from_database,
        };
        let caught_up = if built_from_database {
            0
        } else {
            registry.catch_up().await?
        };
        if let Some(path) = snapshot
            && (built_from_database || caught_up >= SNAPSHOT_REWRITE_AFTER_CHANGES)
        {
            registry.write_snapshot(path).await;
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

    /// Writes memory to a snapshot file; a failure is logged, not fatal (the next start
    /// reads the database instead).
    async fn write_snapshot(&mut self, path: &Path) {
        let started = Instant::now();
        let identity = match self.store.identity().await {
            Ok(identity) => identity,
            Err(err) => {
                tracing::warn!(error = %err, "snapshot not written");
                return;
            }
        };
        let memory = self
            .memory
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        memory.index.fold_live();
        match snapshot::write(path, memory, &identity, &self.zones) {
            Ok(bytes) => tracing::info!(
                path = %path.display(),
                bytes,
                seconds = started.elapsed().as_secs_f64(),
                "snapshot written"
            ),
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
        let complete_to = store
            .for_each_index_row(|row: IndexRow| {
                let id = PointId::try_from(row.id).map_err(|_| {
                    StoreError::Corrupt(format!("address id {} out of range", row.id))
                })?;
                let active = row.status == AddressStatus::Active;
                entries.push(memory.add(
                    id,
                    row.code,
                    row.location,
                    row.house_number.as_deref(),
                    row.unit.as_deref(),
                    active,
                ));
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
            .map_err(|err| StoreError::Corrupt(format!("index build failed: {err}")))?;
        memory.data_version = memory.followed_seq;
        tracing::info!(
            addresses = memory.index.len(),
            seconds = started.elapsed().as_secs_f64(),
            "index built from the database"
        );
        Ok(memory)
    }

    pub fn zones(&self) -> &ZoneTable {
        &self.zones
    }

    pub fn store(&self) -> &Store {
        &self.store
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

    /// Nearest active addresses, the zone of the point and its would-be code.
    pub fn reverse(&self, point: LatLon, limit: usize, radius_m: f64) -> ReverseAnswer {
        let memory = self.read_memory();
        self.reverse_in(&memory, point, limit, radius_m)
    }

    /// Only the nearest active addresses: the index part of [`Registry::reverse`].
    pub fn nearest_addresses(
        &self,
        point: LatLon,
        limit: usize,
        radius_m: f64,
    ) -> Vec<NearbyAddress> {
        let memory = self.read_memory();
        memory
            .index
            .nearest(point, limit, radius_m, |id| memory.is_active(id))
            .iter()
            .filter_map(|neighbor| self.nearby(&memory, neighbor))
            .collect()
    }

    /// Up to `n` locations of active addresses, drawn reproducibly from `seed`.
    pub fn sample_locations(&self, n: usize, seed: u64) -> Vec<LatLon> {
        use rand::{Rng, SeedableRng};
        let memory = self.read_memory();
        let locations: Vec<LatLon> = memory
            .index
            .iter()
            .filter(|entry| memory.is_active(entry.id))
            .map(|entry| entry.location)
            .collect();
        if locations.is_empty() {
            return Vec::new();
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| locations[rng.random_range(0..locations.len())])
            .collect()
    }

    /// The oracle for [`Registry::nearest_addresses`]: a scan of every indexed point.
    pub fn nearest_addresses_brute_force(
        &self,
        point: LatLon,
        limit: usize,
        radius_m: f64,
    ) -> Vec<NearbyAddress> {
        let memory = self.read_memory();
        let entries: Vec<IndexEntry> = memory.index.iter().collect();
        crate::index::brute_force_nearest(&entries, point, limit, radius_m, |id| {
            memory.is_active(id)
        })
        .iter()
        .filter_map(|neighbor| self.nearby(&memory, neighbor))
        .collect()
    }

    /// Many reverse queries under one read lock, in input order.
    pub fn reverse_many(
        &self,
        points: &[LatLon],
        limit: usize,
        radius_m: f64,
    ) -> Vec<ReverseAnswer> {
        use rayon::prelude::*;
        let memory = self.read_memory();
        points
            .par_iter()
            .map(|&point| self.reverse_in(&memory, point, limit, radius_m))
            .collect()
    }

    fn reverse_in(
        &self,
        memory: &Memory,
        point: LatLon,
        limit: usize,
        radius_m: f64,
    ) -> ReverseAnswer {
        // One search serves both the answer and the zone's voters: the nearest
        // max(limit, voters) within the larger radius, nearest first, hold the nearest
        // `limit` within `radius_m` and the nearest voters within the vote radius as prefixes.
        let neighbors = memory.index.nearest(
            point,
            limit.max(ZONE_VOTERS),
            radius_m.max(ZONE_VOTE_RADIUS_M),
            |id| memory.is_active(id),
        );
        let addresses = neighbors
            .iter()
            .filter(|neighbor| neighbor.distance_m <= radius_m)
            .take(limit)
            .filter_map(|neighbor| self.nearby(memory, neighbor))
            .collect();
        let voters: Vec<Neighbor> = neighbors
            .iter()
            .filter(|neighbor| neighbor.distance_m <= ZONE_VOTE_RADIUS_M)
            .take(ZONE_VOTERS)
            .copied()
            .collect();
        let zone = self.zone_by_voters(&voters, memory, point);
        let grid_code = zone.and_then(|zone| self.next_code_in(memory, zone.zone_id, point).ok());
        ReverseAnswer {
            addresses,
            zone,
            grid_code,
        }
    }

    fn nearby(&self, memory: &Memory, neighbor: &Neighbor) -> Option<NearbyAddress> {
        let code = VmapCode::unpack(memory.record(neighbor.id)?.code_key)?;
        Some(NearbyAddress {
            code,
            postcode: code.postcode(),
            lat: neighbor.location.lat,
            lon: neighbor.location.lon,
            distance_m: neighbor.distance_m,
        })
    }

    /// The zone of a point (DESIGN §3): majority of the nearest registered addresses, else
    /// by bounding box, else nearest reference point within 50 km; `None` outside coverage.
    pub fn resolve_zone(&self, point: LatLon) -> Option<ResolvedZone> {
        let memory = self.read_memory();
        self.resolve_zone_in(&memory, point)
    }

    fn resolve_zone_in(&self, memory: &Memory, point: LatLon) -> Option<ResolvedZone> {
        let voters = memory
            .index
            .nearest(point, ZONE_VOTERS, ZONE_VOTE_RADIUS_M, |id| {
                memory.is_active(id)
            });
        self.zone_by_voters(&voters, memory, point)
    }

    /// [`Registry::resolve_zone`] given the nearest active addresses within the vote radius.
    fn zone_by_voters(
        &self,
        voters: &[Neighbor],
        memory: &Memory,
        point: LatLon,
    ) -> Option<ResolvedZone> {
        // Votes per zone; ties go to the zone of the nearer voter (voters come nearest first).
        let mut tally: Vec<(ZoneId, usize, usize)> = Vec::new();
        for (rank, voter) in voters.iter().enumerate() {
            let Some(code) = memory
                .record(voter.id)
                .and_then(|record| VmapCode::unpack(record.code_key))
            else {
                continue;
            };
            let Some(zone_id) = self.zones.by_postcode(code.postcode()) else {
                continue;
            };
            match tally.iter_mut().find(|(id, _, _)| *id == zone_id) {
                Some(entry) => entry.1 += 1,
                None => tally.push((zone_id, 1, rank)),
            }
        }
        let winner = tally
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .map(|&(zone_id, _, _)| zone_id)
            .filter(|&zone_id| self.zones.can_own(zone_id, point));
        if let Some(zone_id) = winner {
            return Some(ResolvedZone {
                zone_id,
                method: ZoneMethod::Addresses,
            });
        }
        self.zones
            .resolve_by_geometry(point)
            .map(|(zone_id, method)| ResolvedZone { zone_id, method })
    }

    /// The code a new address at `point` in `zone_id` gets: the cell's base code, with the
    /// next free suffix when an address (active or retired) already holds it.
    fn next_code_in(
        &self,
        memory: &Memory,
        zone_id: ZoneId,
        point: LatLon,
    ) -> Result<VmapCode, CodeError> {
        let postcode = self.zones.get(zone_id).postcode;
        let reference = self.zones.reference_of(zone_id);
        let base = VmapCode::encode(postcode, reference, point)?;
        let highest = highest_suffix_in_cell(memory, base, reference);
        match highest {
            None => Ok(base),
            Some(n) => base.with_suffix(n + 1),
        }
    }

    /// Code lookup (DESIGN §3).
    pub async fn lookup(&self, code: VmapCode) -> Result<CodeLookup, RegistryError> {
        let zone_id = self
            .zones
            .by_postcode(code.postcode())
            .ok_or(RegistryError::UnknownPostcode(code.postcode()))?;
        let cell = code.cell(self.zones.reference_of(zone_id));
        match self.store.get_by_code(&code).await? {
            Some(address) => Ok(CodeLookup::Registered {
                address: Box::new(address),
                zone_id,
                cell,
            }),
            None => Ok(CodeLookup::Unregistered {
                code,
                zone_id,
                cell,
            }),
        }
    }
}

/// The largest suffix (1 for the bare base) held by any address in `base`'s cell.
fn highest_suffix_in_cell(memory: &Memory, base: VmapCode, reference: LatLon) -> Option<u32> {
    let base_key = base.pack();
    let center = base.cell(reference).center();
    let mut highest = memory.displaced.get(&base_key).copied();
    // Points a hair beyond the radius do no harm: only codes of this very cell count.
    memory
        .index
        .for_each_within(center, CELL_SEARCH_RADIUS_M, |id| {
            let Some(code) = memory
                .record(id)
                .and_then(|record| VmapCode::unpack(record.code_key))
            else {
                return;
            };
            if code.base().pack() == base_key {
                let n = code.suffix().unwrap_or(1);
                highest = Some(highest.map_or(n, |h| h.max(n)));
            }
        });
    highest
}

/// Remembers a code whose address no longer lies in its code's cell.
fn note_if_displaced(
    displaced: &mut HashMap<u64, u32>,
    zones: &ZoneTable,
    code: VmapCode,
    location: LatLon,
) {
    let Some(reference) = zones.reference_point(code.postcode()) else {
        return;
    };
    let inside = VmapCode::encode(code.postcode(), reference, location)
        .is_ok_and(|here| here == code.base());
    if !inside {
        let n = code.suffix().unwrap_or(1);
        let entry = displaced.entry(code.base().pack()).or_insert(n);
        *entry = (*entry).max(n);
    }
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
) -> Result<SeedReport, RegistryError> {
    let counts = store.counts().await?;
    if counts.active + counts.retired > 0 {
        return Err(RegistryError::NotEmpty(counts.active + counts.retired));
    }
    let started = Instant::now();
    // Generation and code minting run on a blocking thread (and rayon); the async side only
    // writes. A bounded channel keeps memory flat and both sides busy.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<NewAddress>>(4);
    let generator = tokio::task::spawn_blocking(move || {
        let mut taken: HashMap<u64, u32> = HashMap::new();
        for chunk in synth::generate(&zones, total, seed, 50_000) {
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
                    parts: crate::store::AddressParts {
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
        Ok::<(), RegistryError>(())
    });
    let mut n_addresses = 0u64;
    while let Some(rows) = receiver.recv().await {
        store.insert_addresses(&rows).await?;
        n_addresses += rows.len() as u64;
        progress.inc(rows.len() as u64);
    }
    generator
        .await
        .map_err(|err| StoreError::Corrupt(format!("generator failed: {err}")))??;
    progress.finish();
    Ok(SeedReport {
        n_addresses,
        duration: started.elapsed(),
    })
}

/// One address of a list to assign, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignRow {
    pub location: LatLon,
    pub parts: AddressParts,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssignOptions {
    /// An address this close (and with the same house number/unit, when given) is the
    /// same place.
    pub match_radius_m: f64,
    /// Decide codes but register nothing.
    pub dry_run: bool,
}

pub const DEFAULT_MATCH_RADIUS_M: f64 = 3.0;
pub const MAX_MATCH_RADIUS_M: f64 = 50.0;

impl Default for AssignOptions {
    fn default() -> AssignOptions {
        AssignOptions {
            match_radius_m: DEFAULT_MATCH_RADIUS_M,
            dry_run: false,
        }
    }
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignOutcome {
    /// A new address was registered (or would be, in a dry run) under `code`.
    Created { code: VmapCode },
    /// The same place is already registered (or came earlier in the same list).
    Existing { code: VmapCode, distance_m: f64 },
    /// The row could not be given a code.
    Failed {
        error_code: &'static str,
        message: String,
    },
}

/// Row keys for same-place matching: the interned house number and unit, `None` meaning
/// "given, but no stored address has it".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlaceKeys {
    house: Option<u32>,
    unit: Option<u32>,
    house_given: bool,
    unit_given: bool,
}

/// The parallel, read-only half of deciding a row.
#[derive(Debug, Clone, PartialEq)]
enum Draft {
    Match {
        code: VmapCode,
        distance_m: f64,
    },
    Mint {
        base: VmapCode,
        highest_taken: Option<u32>,
    },
    Fail {
        error_code: &'static str,
        message: String,
    },
}

/// A row created earlier in the same batch, for same-place matching within the batch.
#[derive(Debug, Clone)]
struct Pending {
    location: LatLon,
    code: VmapCode,
    house: String,
    unit: String,
}

/// Buckets of about 11 m for finding pending rows near a point.
fn bucket(point: LatLon) -> (i64, i64) {
    (
        (point.lat * 10_000.0).floor() as i64,
        (point.lon * 10_000.0).floor() as i64,
    )
}

fn normalised(text: Option<&str>) -> String {
    text.map(Interner::normalise).unwrap_or_default()
}

impl Registry {
    fn place_keys(memory: &Memory, parts: &AddressParts) -> PlaceKeys {
        let house_given = !normalised(parts.house_number.as_deref()).is_empty();
        let unit_given = !normalised(parts.unit.as_deref()).is_empty();
        PlaceKeys {
            house: memory.interner.find(parts.house_number.as_deref()),
            unit: memory.interner.find(parts.unit.as_deref()),
            house_given,
            unit_given,
        }
    }

    /// Read-only decision against memory: an existing same place, or the cell to mint in.
    fn draft(&self, memory: &Memory, row: &AssignRow, options: AssignOptions) -> Draft {
        let keys = Registry::place_keys(memory, &row.parts);
        let could_match = (!keys.house_given || keys.house.is_some())
            && (!keys.unit_given || keys.unit.is_some());
        // One walk serves both the same-place match and, failing that, the cell's occupants:
        // every address in the point's ~3 m cell lies within CELL_SEARCH_RADIUS_M of it.
        let near = memory.index.nearest(
            row.location,
            usize::MAX,
            options.match_radius_m.max(CELL_SEARCH_RADIUS_M),
            |_| true,
        );
        if could_match {
            // The first registered of the candidates (smallest id), not the nearest: a later
            // row of the same list may register a nearer one, and the list run again must
            // still answer what it answered the first time.
            let same_place = near.iter().filter(|neighbor| {
                neighbor.distance_m <= options.match_radius_m
                    && memory.record(neighbor.id).is_some_and(|record| {
                        record.active
                            && (!keys.house_given || keys.house == Some(record.house_key))
                            && (!keys.unit_given || keys.unit == Some(record.unit_key))
                    })
            });
            if let Some(neighbor) = same_place.min_by_key(|neighbor| neighbor.id)
                && let Some(code) = memory
                    .record(neighbor.id)
                    .and_then(|record| VmapCode::unpack(record.code_key))
            {
                return Draft::Match {
                    code,
                    distance_m: neighbor.distance_m,
                };
            }
        }
        let Some(zone) = self.resolve_zone_in(memory, row.location) else {
            return Draft::Fail {
                error_code: "outside_coverage",
                message: format!(
                    "({}, {}) is outside coverage: no postal zone within 50 km",
                    row.location.lat, row.location.lon
                ),
            };
        };
        let postcode = self.zones.get(zone.zone_id).postcode;
        let reference = self.zones.reference_of(zone.zone_id);
        match VmapCode::encode(postcode, reference, row.location) {
            Ok(base) => {
                let base_key = base.pack();
                let mut highest_taken = memory.displaced.get(&base_key).copied();
                for neighbor in near
                    .iter()
                    .filter(|neighbor| neighbor.distance_m <= CELL_SEARCH_RADIUS_M)
                {
                    if let Some(code) = memory
                        .record(neighbor.id)
                        .and_then(|record| VmapCode::unpack(record.code_key))
                        && code.base().pack() == base_key
                    {
                        let n = code.suffix().unwrap_or(1);
                        highest_taken = Some(highest_taken.map_or(n, |highest| highest.max(n)));
                    }
                }
                Draft::Mint {
                    base,
                    highest_taken,
                }
            }
            Err(error) => Draft::Fail {
                error_code: error.kind(),
                message: error.to_string(),
            },
        }
    }

    /// Assigns codes to a batch of rows: each row an existing same place, a new code, or an
    /// error. New addresses are committed in one transaction before memory sees them, so a
    /// crash leaves either the whole batch or none of it. Batches are serialised in this
    /// process; when another process took one of the codes first, this one catches up with
    /// the database and decides the batch again.
    pub async fn assign_batch(
        &self,
        rows: &[AssignRow],
        options: AssignOptions,
    ) -> Result<Vec<AssignOutcome>, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut attempt = 1;
        loop {
            let (outcomes, new_rows) = self.decide_batch(rows, options);
            if options.dry_run || new_rows.is_empty() {
                return Ok(outcomes);
            }
            match self.store.insert_addresses(&new_rows).await {
                Ok(inserted) => {
                    let mut memory = self.write_memory();
                    for (row, &id) in new_rows.iter().zip(&inserted.ids) {
                        memory.apply(
                            &self.zones,
                            &IndexRow {
                                id,
                                code: row.code,
                                location: row.location,
                                status: AddressStatus::Active,
                                house_number: row.parts.house_number.clone(),
                                unit: row.parts.unit.clone(),
                                change_seq: inserted.last_change_seq,
                            },
                        )?;
                    }
                    memory.advance_followed(inserted.first_change_seq, inserted.last_change_seq);
                    return Ok(outcomes);
                }
                Err(StoreError::CodeTaken(detail)) if attempt < MAX_COMMIT_ATTEMPTS => {
                    tracing::info!(%detail, attempt, "another writer took a code first; catching up");
                    self.catch_up_locked().await?;
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Decides every row of a batch against memory (in parallel) and then against the
    /// batch's own earlier rows; returns the outcomes and the addresses to insert.
    fn decide_batch(
        &self,
        rows: &[AssignRow],
        options: AssignOptions,
    ) -> (Vec<AssignOutcome>, Vec<NewAddress>) {
        use rayon::prelude::*;
        let drafts: Vec<Draft> = {
            let memory = self.read_memory();
            rows.par_iter()
                .map(|row| self.draft(&memory, row, options))
                .collect()
        };
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut new_rows: Vec<NewAddress> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut pending_by_bucket: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        let mut taken_in_batch: HashMap<u64, u32> = HashMap::new();
        for (row, draft) in rows.iter().zip(drafts) {
            let outcome = match draft {
                Draft::Fail {
                    error_code,
                    message,
                } => AssignOutcome::Failed {
                    error_code,
                    message,
                },
                // A registered address is older than anything this batch creates.
                Draft::Match { code, distance_m } => AssignOutcome::Existing { code, distance_m },
                Draft::Mint {
                    base,
                    highest_taken,
                } => {
                    if let Some((code, distance_m)) =
                        first_pending(&pending, &pending_by_bucket, row, options.match_radius_m)
                    {
                        AssignOutcome::Existing { code, distance_m }
                    } else {
                        let highest = match (highest_taken, taken_in_batch.get(&base.pack())) {
                            (Some(a), Some(&b)) => Some(a.max(b)),
                            (a, b) => a.or(b.copied()),
                        };
                        let minted = match highest {
                            None => Ok(base),
                            Some(n) => base.with_suffix(n + 1),
                        };
                        match minted {
                            Ok(code) => {
                                taken_in_batch.insert(base.pack(), code.suffix().unwrap_or(1));
                                pending_by_bucket
                                    .entry(bucket(row.location))
                                    .or_default()
                                    .push(pending.len());
                                pending.push(Pending {
                                    location: row.location,
                                    code,
                                    house: normalised(row.parts.house_number.as_deref()),
                                    unit: normalised(row.parts.unit.as_deref()),
                                });
                                new_rows.push(NewAddress {
                                    code,
                                    location: row.location,
                                    parts: row.parts.clone(),
                                });
                                AssignOutcome::Created { code }
                            }
                            Err(error) => AssignOutcome::Failed {
                                error_code: error.kind(),
                                message: error.to_string(),
                            },
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        (outcomes, new_rows)
    }

    /// Applies every change other writers (other processes, other replicas) committed since
    /// memory last looked; returns how many rows changed.
    pub async fn catch_up(&self) -> Result<usize, RegistryError> {
        let _writer = self.write_lock.lock().await;
        self.catch_up_locked().await
    }

    async fn catch_up_locked(&self) -> Result<usize, RegistryError> {
        let mut n_applied = 0;
        loop {
            let since = self.read_memory().followed_seq;
            let changes = self.store.changes_since(since, CATCH_UP_BATCH).await?;
            let Some(last) = changes.last().map(|row| row.change_seq) else {
                return Ok(n_applied);
            };
            {
                let mut memory = self.write_memory();
                for row in &changes {
                    memory.apply(&self.zones, row)?;
                }
                memory.followed_seq = memory.followed_seq.max(last);
            }
            n_applied += changes.len();
            if (changes.len() as i64) < CATCH_UP_BATCH {
                return Ok(n_applied);
            }
        }
    }

    /// The change number up to which memory holds every change.
    pub fn followed_seq(&self) -> i64 {
        self.read_memory().followed_seq
    }

    /// Moves or edits an address; its code stays. Refused for a retired address.
    pub async fn update(
        &self,
        code: VmapCode,
        change: AddressChange,
    ) -> Result<AddressRow, RegistryError> {
        if change.status.is_some() || change.successor.is_some() {
            return Err(RegistryError::Invalid(
                "status and successor change only by retiring".to_owned(),
            ));
        }
        let _writer = self.write_lock.lock().await;
        let current = self
            .store
            .get_by_code(&code)
            .await?
            .ok_or(RegistryError::NotRegistered(code))?;
        if current.status == AddressStatus::Retired {
            return Err(RegistryError::Retired(code));
        }
        self.commit_change(code, &change).await
    }

    /// Retires an address: it leaves reverse answers, its code stays reserved for ever and
    /// resolves to the retired record (and its successor). Retiring twice is harmless.
    pub async fn retire(
        &self,
        code: VmapCode,
        successor: Option<VmapCode>,
    ) -> Result<AddressRow, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let current = self
            .store
            .get_by_code(&code)
            .await?
            .ok_or(RegistryError::NotRegistered(code))?;
        if current.status == AddressStatus::Retired && successor.is_none() {
            return Ok(current);
        }
        if let Some(successor) = successor {
            if successor == code {
                return Err(RegistryError::Invalid(
                    "an address cannot succeed itself".to_owned(),
                ));
            }
            match self.store.get_by_code(&successor).await? {
                Some(row) if row.status == AddressStatus::Active => {}
                Some(_) => {
                    return Err(RegistryError::Invalid(format!(
                        "successor {successor} is retired"
                    )));
                }
                None => {
                    return Err(RegistryError::Invalid(format!(
                        "successor {successor} is not registered"
                    )));
                }
            }
        }
        let change = AddressChange {
            status: Some(AddressStatus::Retired),
            successor: successor.map(Some),
            ..AddressChange::default()
        };
        self.commit_change(code, &change).await
    }

    /// Writes `change` to the store, then to memory; the caller holds the write lock.
    async fn commit_change(
        &self,
        code: VmapCode,
        change: &AddressChange,
    ) -> Result<AddressRow, RegistryError> {
        let (_, after) = self
            .store
            .update_address(&code, change)
            .await?
            .ok_or(RegistryError::NotRegistered(code))?;
        let mut memory = self.write_memory();
        memory.apply(&self.zones, &index_row_of(&after))?;
        memory.advance_followed(after.change_seq, after.change_seq);
        Ok(after)
    }
}

fn index_row_of(row: &AddressRow) -> IndexRow {
    IndexRow {
        id: row.id,
        code: row.code,
        location: row.location,
        status: row.status,
        house_number: row.parts.house_number.clone(),
        unit: row.parts.unit.clone(),
        change_seq: row.change_seq,
    }
}

/// The first row created earlier in this batch that is the same place as `row` (the first,
/// not the nearest, for the reason given in `Registry::draft`).
fn first_pending(
    pending: &[Pending],
    by_bucket: &HashMap<(i64, i64), Vec<usize>>,
    row: &AssignRow,
    match_radius_m: f64,
) -> Option<(VmapCode, f64)> {
    if pending.is_empty() {
        return None;
    }
    let house = normalised(row.parts.house_number.as_deref());
    let unit = normalised(row.parts.unit.as_deref());
    let (lat_bucket, lon_bucket) = bucket(row.location);
    // A bucket is ~11 m; search as many rings as the radius needs.
    let rings = (match_radius_m / 11.0).ceil() as i64 + 1;
    let mut best: Option<(usize, VmapCode, f64)> = None;
    for lat_step in -rings..=rings {
        for lon_step in -rings..=rings {
            let Some(indices) = by_bucket.get(&(lat_bucket + lat_step, lon_bucket + lon_step))
            else {
                continue;
            };
            for &idx in indices {
                let candidate = &pending[idx];
                if (!house.is_empty() && candidate.house != house)
                    || (!unit.is_empty() && candidate.unit != unit)
                {
                    continue;
                }
                let distance_m = crate::point::haversine_m(row.location, candidate.location);
                if distance_m <= match_radius_m
                    && best.is_none_or(|(best_idx, _, _)| idx < best_idx)
                {
                    best = Some((idx, candidate.code, distance_m));
                }
            }
        }
    }
    best.map(|(_, code, distance_m)| (code, distance_m))
}
