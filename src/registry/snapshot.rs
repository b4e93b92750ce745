//! The snapshot file: the registry's memory written after a build, read back at start-up
//! instead of reading every row of the database.
//!
//! Layout: the magic bytes, the format number, a small header saying which database, data
//! version and zone table the memory was built from, a table of sections (offset, length,
//! CRC-32 each), then the sections: small facts (postcard), the records and the index
//! points as fixed-size little-endian rows, and the k-d tree (postcard).
//!
//! Decisions: sections are read and decoded in parallel, and records are fixed-size rows
//! rather than a serde format, because they decode far faster, which is what keeps a
//! 25 M-address start within seconds; the format is vmap's own, so it carries its own
//! number and is simply rebuilt when the number changes.
//!
//! A snapshot is used only when its header matches the database it is opened against and
//! its history is a prefix of the database's; changes made after it are then applied by
//! catch-up, as a replica does. Anything else (another database, a data version the
//! database does not reach, a history the database does not share, another zone table,
//! another format, a damaged file) makes the caller rebuild from the database and write a
//! fresh snapshot.
//!
//! Decisions: the same `instance_id` and a database at or past the snapshot's data version
//! do not prove the snapshot's past is the database's: a restored backup keeps the
//! instance, takes other writes, and reaches the same numbers with other rows. So every
//! write adds an entry to the database's history (`vmap_history`: the highest change number
//! it wrote and 16 random bytes; see the 0003 migrations), and the header records the
//! latest entry at or below the snapshot's data version V. The loader reads the database's
//! latest entry at or below V (one primary-key seek, before any section is decoded) and
//! refuses the snapshot unless it is the same. Why that suffices: a snapshot holds whole
//! writes only, all numbered at or below V (the loader catches up before writing one).
//! If a copy parted from the snapshot's database after change F and the snapshot's side
//! wrote anything numbered in (F, V], that write's entry is at or below V and no copy can
//! hold its token; if it wrote nothing there, V is at most F, and the copy's own changes,
//! all numbered above F, are caught up as usual. Random tokens rather than a hash of the
//! rows: a hash costs a read of rows per write or per check, a token one small insert per
//! write. What is not covered: on SQLite, plain SQL writes add no entry (no statement
//! triggers), so a divergence made only by plain SQL on the snapshot's side can pass (the
//! README says to delete the snapshot after such writes); on PostgreSQL a trigger adds an
//! entry per statement, plain SQL included. Writes older than the migration have no
//! entries of their own; the migration draws one for all of them wherever it runs, so
//! copies that parted before it differ too.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::memory::{Interner, MemRecord, Memory};
use super::snapshot_text;
use crate::index::{IndexEntry, PointIndex};
use crate::point::LatLon;
use crate::store::{HistoryEntry, StoreIdentity};
use crate::zones::ZoneTable;

const MAGIC: &[u8; 8] = b"VMAPSNAP";
/// Bumped whenever a section or the header changes shape (3: the history entry; 4: the
/// text index).
const FORMAT: u32 = 4;
/// The header is read before anything else; it is far smaller than this.
const MAX_HEADER_BYTES: u32 = 64 * 1024;
const N_SECTIONS: usize = 6;
/// code key, latitude, longitude, house key, unit key, street key, flags.
const RECORD_BYTES: usize = 8 + 8 + 8 + 4 + 4 + 4 + 1;
const RECORD_PRESENT: u8 = 1;
const RECORD_ACTIVE: u8 = 2;
/// latitude, longitude, id.
const POINT_BYTES: usize = 8 + 8 + 4;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("snapshot {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {0}: not a vmap snapshot of format {FORMAT}")]
    Format(PathBuf),
    #[error("snapshot {path}: damaged ({detail})")]
    Damaged { path: PathBuf, detail: String },
    #[error("snapshot {path}: {reason}")]
    Mismatch { path: PathBuf, reason: String },
    /// Same database, but its writes up to the snapshot's data version are not the ones the
    /// snapshot was made from (a restored copy that took other writes).
    #[error(
        "snapshot {path}: made from a history the database does not share (its writes up to \
         data version {version} differ)"
    )]
    Diverged { path: PathBuf, version: i64 },
}

/// What a snapshot was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    vmap_version: String,
    instance_id: String,
    /// Every change numbered up to here is in the snapshot.
    followed_seq: i64,
    max_id: i64,
    zones_fingerprint: u32,
    /// The database's latest history entry at or below `followed_seq`, if any.
    history: Option<HistoryMark>,
}

/// A [`HistoryEntry`] as the header stores it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct HistoryMark {
    version: i64,
    token: [u8; 16],
}

impl From<HistoryEntry> for HistoryMark {
    fn from(entry: HistoryEntry) -> HistoryMark {
        HistoryMark {
            version: entry.version,
            token: entry.token,
        }
    }
}

/// Everything of [`Memory`] but the records and the index.
#[derive(Debug, Serialize, Deserialize)]
struct Facts {
    interner: Vec<(Box<str>, u32)>,
    displaced: Vec<(u64, u32)>,
    n_active: u64,
    n_retired: u64,
    data_version: i64,
    followed_seq: i64,
}

#[derive(Debug, Clone, Copy)]
struct Section {
    offset: u64,
    len: u64,
    crc: u32,
}

/// Fingerprints the zone table: records and displaced codes depend on it, so a snapshot
/// made with another table must not be used.
fn zones_fingerprint(zones: &ZoneTable) -> u32 {
    // Debug output prints every field, floats exactly; ample for telling tables apart.
    crc32fast::hash(format!("{:?}", zones.zones()).as_bytes())
}

/// Writes `memory` (whose index must have no live points: see
/// [`PointIndex::fold_live`], and which must hold no change numbered above its
/// `followed_seq`) to `path`, through a temporary file and a rename so that a reader never
/// sees half a snapshot. `history` is the database's latest entry at or below
/// `followed_seq`. Returns the bytes written.
pub(super) fn write(
    path: &Path,
    memory: &Memory,
    identity: &StoreIdentity,
    history: Option<HistoryEntry>,
    zones: &ZoneTable,
) -> Result<u64, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let header = Header {
        vmap_version: env!("CARGO_PKG_VERSION").to_owned(),
        instance_id: identity.instance_id.clone(),
        followed_seq: memory.followed_seq,
        max_id: identity.max_id,
        zones_fingerprint: zones_fingerprint(zones),
        history: history.map(HistoryMark::from),
    };
    let facts = Facts {
        interner: memory
            .interner
            .keys
            .iter()
            .map(|(text, key)| (text.clone(), *key))
            .collect(),
        displaced: memory.displaced.iter().map(|(k, v)| (*k, *v)).collect(),
        n_active: memory.n_active,
        n_retired: memory.n_retired,
        data_version: memory.data_version,
        followed_seq: memory.followed_seq,
    };
    let header_bytes = postcard::to_stdvec(&header).map_err(|err| damaged(path, &err))?;
    let temporary = path.with_extension("partial");
    let written = write_sections(&temporary, &header_bytes, &facts, memory).and_then(|bytes| {
        std::fs::rename(&temporary, path).map_err(io)?;
        Ok(bytes)
    });
    if written.is_err() {
        // Nothing half-written stays behind (a full disk keeps no dead file either).
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Writes the whole snapshot to `temporary` and syncs it; returns the bytes written.
fn write_sections(
    temporary: &Path,
    header_bytes: &[u8],
    facts: &Facts,
    memory: &Memory,
) -> Result<u64, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: temporary.to_path_buf(),
        source,
    };
    let file = File::create(temporary).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC).map_err(io)?;
    out.write_all(&FORMAT.to_le_bytes()).map_err(io)?;
    out.write_all(&(header_bytes.len() as u32).to_le_bytes())
        .map_err(io)?;
    out.write_all(header_bytes).map_err(io)?;
    let table_offset = (8 + 4 + 4 + header_bytes.len()) as u64;
    // The table is written last, once the sections' lengths and checksums are known; one
    // section at a time is held in memory.
    out.write_all(&[0u8; N_SECTIONS * 20]).map_err(io)?;
    let mut offset = table_offset + (N_SECTIONS * 20) as u64;
    let mut table = Vec::with_capacity(N_SECTIONS * 20);
    for index in 0..N_SECTIONS {
        let section = match index {
            0 => postcard::to_stdvec(facts).map_err(|err| damaged(temporary, &err))?,
            1 => encode_records(&memory.records),
            2 => encode_points(memory.index.main_points()),
            4 => {
                snapshot_text::encode_keys(&memory.text).map_err(|err| damaged(temporary, &err))?
            }
            5 => snapshot_text::encode_postings(&memory.text),
            _ => memory
                .index
                .encode_tree()
                .map_err(|err| damaged(temporary, &err))?,
        };
        table.extend_from_slice(&offset.to_le_bytes());
        table.extend_from_slice(&(section.len() as u64).to_le_bytes());
        table.extend_from_slice(&crc32fast::hash(&section).to_le_bytes());
        out.write_all(&section).map_err(io)?;
        offset += section.len() as u64;
    }
    let file = out.into_inner().map_err(|err| io(err.into_error()))?;
    file.write_all_at(&table, table_offset).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(offset)
}

/// A snapshot file whose header names this database and zone table; its history is not
/// checked and its sections not read yet ([`Opened::read`] does both).
#[derive(Debug)]
pub(super) struct Opened {
    path: PathBuf,
    /// Positioned at the table of sections.
    file: File,
    header: Header,
}

/// Opens the snapshot at `path` and checks its header against this database (or an
/// earlier state of it) and zone table.
pub(super) fn open(
    path: &Path,
    identity: &StoreIdentity,
    zones: &ZoneTable,
) -> Result<Opened, SnapshotError> {
    let mut file = File::open(path).map_err(|source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut prefix = [0u8; 16];
    file.read_exact(&mut prefix)
        .map_err(|_| SnapshotError::Format(path.to_path_buf()))?;
    if &prefix[..8] != MAGIC
        || le_u32(&prefix[8..12]) != FORMAT
        || le_u32(&prefix[12..16]) > MAX_HEADER_BYTES
    {
        return Err(SnapshotError::Format(path.to_path_buf()));
    }
    let mut header_bytes = vec![0u8; le_u32(&prefix[12..16]) as usize];
    file.read_exact(&mut header_bytes)
        .map_err(|err| damaged(path, &err))?;
    let header: Header = postcard::from_bytes(&header_bytes).map_err(|err| damaged(path, &err))?;
    check_header(&header, identity, zones).map_err(|reason| SnapshotError::Mismatch {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(Opened {
        path: path.to_path_buf(),
        file,
        header,
    })
}

impl Opened {
    /// The snapshot's data version: the database's latest history entry at or below it is
    /// what [`Opened::read`] needs.
    pub(super) fn followed_seq(&self) -> i64 {
        self.header.followed_seq
    }

    /// Reads the snapshot if `database_history` (the database's latest history entry at or
    /// below [`Opened::followed_seq`]) is the one it was made with, that is if its history
    /// is a prefix of the database's.
    pub(super) fn read(
        self,
        database_history: Option<HistoryEntry>,
    ) -> Result<Memory, SnapshotError> {
        if database_history.map(HistoryMark::from) != self.header.history {
            return Err(SnapshotError::Diverged {
                path: self.path,
                version: self.header.followed_seq,
            });
        }
        read_sections(&self.path, self.file, &self.header)
    }
}

/// Reads the sections after the header.
fn read_sections(path: &Path, mut file: File, header: &Header) -> Result<Memory, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut table = [0u8; N_SECTIONS * 20];
    file.read_exact(&mut table)
        .map_err(|err| damaged(path, &err))?;
    let file_len = file.metadata().map_err(io)?.len();
    let sections: Vec<Section> = table
        .chunks_exact(20)
        .map(|entry| Section {
            offset: le_u64(&entry[0..8]),
            len: le_u64(&entry[8..16]),
            crc: le_u32(&entry[16..20]),
        })
        .collect();
    if sections
        .iter()
        .any(|section| section.offset.saturating_add(section.len) > file_len)
    {
        return Err(damaged(path, &"truncated"));
    }
    let read_section = |index: usize| -> Result<Vec<u8>, SnapshotError> {
        let section = sections[index];
        let mut bytes = vec![0u8; section.len as usize];
        file.read_exact_at(&mut bytes, section.offset)
            .map_err(|err| damaged(path, &err))?;
        if crc32fast::hash(&bytes) != section.crc {
            return Err(damaged(
                path,
                &format!("section {index}: checksum mismatch"),
            ));
        }
        Ok(bytes)
    };
    // The tree is the slowest part to decode; the rest goes alongside it.
    let (tree, rest) = rayon::join(
        || read_section(3),
        || -> Result<_, SnapshotError> {
            let facts: Facts =
                postcard::from_bytes(&read_section(0)?).map_err(|err| damaged(path, &err))?;
            let records =
                decode_records(&read_section(1)?).ok_or_else(|| damaged(path, &"records"))?;
            let points =
                decode_points(&read_section(2)?).ok_or_else(|| damaged(path, &"points"))?;
            let text_started = std::time::Instant::now();
            let text = snapshot_text::decode(&read_section(4)?, &read_section(5)?)
                .ok_or_else(|| damaged(path, &"text index"))?;
            // Its share of the start-up (issue 12 holds it to ≤ 1 s); it runs beside the
            // tree's decoding.
            tracing::info!(
                seconds = text_started.elapsed().as_secs_f64(),
                "text index read from the snapshot"
            );
            Ok((facts, records, points, text))
        },
    );
    let (facts, records, points, text) = rest?;
    let index = PointIndex::from_parts(points, &tree?).map_err(|err| damaged(path, &err))?;
    if facts.followed_seq != header.followed_seq {
        return Err(damaged(path, &"header and body disagree"));
    }
    Ok(Memory {
        index,
        records,
        interner: Interner {
            keys: facts.interner.into_iter().collect(),
        },
        text,
        displaced: facts.displaced.into_iter().collect::<HashMap<_, _>>(),
        n_active: facts.n_active,
        n_retired: facts.n_retired,
        // Not part of the snapshot: read from the database by the catch-up that follows.
        scheme: crate::code::PostalScheme::default(),
        data_version: facts.data_version,
        followed_seq: facts.followed_seq,
    })
}

fn check_header(
    header: &Header,
    identity: &StoreIdentity,
    zones: &ZoneTable,
) -> Result<(), String> {
    if header.vmap_version != env!("CARGO_PKG_VERSION") {
        return Err(format!(
            "written by vmap {}, this is {}",
            header.vmap_version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if header.instance_id != identity.instance_id {
        return Err("made from another database".to_owned());
    }
    if header.zones_fingerprint != zones_fingerprint(zones) {
        return Err("made with another zone table".to_owned());
    }
    // The database can only have moved on from the snapshot, never back.
    if header.followed_seq > identity.max_change_seq || header.max_id > identity.max_id {
        return Err(format!(
            "holds data version {} (ids to {}) but the database is at {} (ids to {})",
            header.followed_seq, header.max_id, identity.max_change_seq, identity.max_id
        ));
    }
    Ok(())
}

fn encode_records(records: &[Option<MemRecord>]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(records.len() * RECORD_BYTES);
    for record in records {
        match record {
            Some(record) => {
                bytes.extend_from_slice(&record.code_key.to_le_bytes());
                bytes.extend_from_slice(&record.location.lat.to_le_bytes());
                bytes.extend_from_slice(&record.location.lon.to_le_bytes());
                bytes.extend_from_slice(&record.house_key.to_le_bytes());
                bytes.extend_from_slice(&record.unit_key.to_le_bytes());
                bytes.extend_from_slice(&record.street_key.to_le_bytes());
                let active = if record.active { RECORD_ACTIVE } else { 0 };
                bytes.push(RECORD_PRESENT | active);
            }
            None => bytes.extend_from_slice(&[0u8; RECORD_BYTES]),
        }
    }
    bytes
}

fn decode_records(bytes: &[u8]) -> Option<Vec<Option<MemRecord>>> {
    use rayon::prelude::*;
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return None;
    }
    Some(
        bytes
            .par_chunks_exact(RECORD_BYTES)
            .map(|row| {
                let flags = row[RECORD_BYTES - 1];
                (flags & RECORD_PRESENT != 0).then(|| MemRecord {
                    code_key: le_u64(&row[0..8]),
                    location: LatLon {
                        lat: le_f64(&row[8..16]),
                        lon: le_f64(&row[16..24]),
                    },
                    house_key: le_u32(&row[24..28]),
                    unit_key: le_u32(&row[28..32]),
                    street_key: le_u32(&row[32..36]),
                    active: flags & RECORD_ACTIVE != 0,
                })
            })
            .collect(),
    )
}

fn encode_points(points: &[IndexEntry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(points.len() * POINT_BYTES);
    for point in points {
        bytes.extend_from_slice(&point.location.lat.to_le_bytes());
        bytes.extend_from_slice(&point.location.lon.to_le_bytes());
        bytes.extend_from_slice(&point.id.to_le_bytes());
    }
    bytes
}

fn decode_points(bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    use rayon::prelude::*;
    if !bytes.len().is_multiple_of(POINT_BYTES) {
        return None;
    }
    Some(
        bytes
            .par_chunks_exact(POINT_BYTES)
            .map(|row| {
                IndexEntry::new(
                    LatLon {
                        lat: le_f64(&row[0..8]),
                        lon: le_f64(&row[8..16]),
                    },
                    le_u32(&row[16..20]),
                )
            })
            .collect(),
    )
}

// The slices below always have the exact length (callers cut them from fixed-size rows),
// so the conversions cannot fail; a zero stands in rather than a panic.
fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().unwrap_or_default())
}

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

fn le_f64(bytes: &[u8]) -> f64 {
    f64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

fn damaged(path: &Path, detail: &dyn std::fmt::Display) -> SnapshotError {
    SnapshotError::Damaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> StoreIdentity {
        StoreIdentity {
            instance_id: "one database".to_owned(),
            max_change_seq: 7,
            max_id: 0,
        }
    }

    /// Writes an empty memory followed up to change 7, made with `history`.
    fn written(dir: &Path, history: Option<HistoryEntry>, zones: &ZoneTable) -> PathBuf {
        let path = dir.join("index.snapshot");
        let memory = Memory {
            followed_seq: 7,
            ..Memory::default()
        };
        write(&path, &memory, &identity(), history, zones).expect("write");
        path
    }

    #[test]
    fn a_snapshot_is_read_only_against_its_own_history_entry() {
        let zones = ZoneTable::load_default().expect("zones");
        let dir = tempfile::tempdir().expect("temp dir");
        let ours = HistoryEntry {
            version: 6,
            token: [7; 16],
        };
        let path = written(dir.path(), Some(ours), &zones);
        let read = |database: Option<HistoryEntry>| {
            let opened = open(&path, &identity(), &zones).expect("the header matches");
            assert_eq!(opened.followed_seq(), 7);
            opened.read(database)
        };
        assert!(read(Some(ours)).is_ok());
        let other_token = HistoryEntry {
            token: [8; 16],
            ..ours
        };
        let earlier = HistoryEntry { version: 5, ..ours };
        for database in [Some(other_token), Some(earlier), None] {
            assert!(
                matches!(
                    read(database),
                    Err(SnapshotError::Diverged { version: 7, .. })
                ),
                "{database:?}"
            );
        }
        // Made before any entry: used only where the database has none at or below it.
        let path = written(dir.path(), None, &zones);
        let opened = open(&path, &identity(), &zones).expect("the header matches");
        assert!(opened.read(None).is_ok());
        let opened = open(&path, &identity(), &zones).expect("the header matches");
        assert!(matches!(
            opened.read(Some(ours)),
            Err(SnapshotError::Diverged { .. })
        ));
    }
}
