//! The snapshot file: the registry's memory written after a build, read back at start-up
//! instead of reading every row of the database.
//!
//! Layout: the magic bytes, the format number, a small header saying which database, data
//! version and zone table the memory was built from, a table of sections (offset, length,
//! CRC-32 each), then the sections: small facts (postcard), the records and the index
//! points as fixed-size little-endian rows, the k-d tree (rkyv), the text index's two
//! sections (`snapshot_text.rs`), and the index's changes since its tree was built (removed
//! slots, points added).
//!
//! Decisions: sections are read and decoded in parallel, the big row sections in pieces
//! straight into their final memory (`snapshot_rows.rs`), and records are fixed-size rows
//! rather than a serde format, because they decode far faster, which is what keeps a
//! 25 M-address start within seconds; the format is vmap's own, so it carries its own
//! number and is simply rebuilt when the number changes.
//!
//! Decisions: a snapshot is written from a [`SnapshotView`], a copy of memory taken under
//! its lock in milliseconds that shares the big parts with it (record chunks, the point
//! tree and its points, the text index's zones; a write copies what it changes while the
//! view holds it): `serve` writes it after it is ready, while writes go on, instead of
//! making every start that builds from the database wait for it. The index's changes since
//! its tree was built go into the file as they are (removed slots, added points) rather than
//! being folded into a new tree first, which at 25 M points would take longer than the
//! write. The view is taken only when memory holds no change above its data version.
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
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::memory::{Interner, Memory};
use super::records::Records;
use super::snapshot_rows::{self as rows, Section, le_u32, le_u64};
use super::snapshot_text::{self, TextView};
use crate::index::{FrozenIndex, PointIndex};
use crate::store::{HistoryEntry, StoreIdentity};
use crate::zones::ZoneTable;

const MAGIC: &[u8; 8] = b"VMAPSNAP";
/// Bumped whenever a section or the header changes shape (3: the history entry; 4: the
/// text index; 5: the point tree in rkyv's form, the index's removed slots and added
/// points).
const FORMAT: u32 = 5;
/// The header is read before anything else; it is far smaller than this.
const MAX_HEADER_BYTES: u32 = 64 * 1024;
const N_SECTIONS: usize = 8;

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

/// Everything of [`Memory`] but the records and the indexes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Facts {
    interner: Vec<(Box<str>, u32)>,
    displaced: Vec<(u64, u32)>,
    n_active: u64,
    n_retired: u64,
    data_version: i64,
    followed_seq: i64,
}

/// Fingerprints the zone table: records and displaced codes depend on it, so a snapshot
/// made with another table must not be used.
fn zones_fingerprint(zones: &ZoneTable) -> u32 {
    // Debug output prints every field, floats exactly; ample for telling tables apart.
    crc32fast::hash(format!("{:?}", zones.zones()).as_bytes())
}

/// What a snapshot holds, as memory was when [`SnapshotView::of`] was called.
#[derive(Debug)]
pub(super) struct SnapshotView {
    facts: Facts,
    records: Records,
    index: FrozenIndex,
    text: TextView,
}

impl SnapshotView {
    /// A consistent copy of `memory`, sharing its big parts; `None` when memory holds a
    /// change numbered above its `followed_seq` (an own write ahead of another writer's
    /// change not applied yet), which a snapshot must not.
    pub(super) fn of(memory: &Memory) -> Option<SnapshotView> {
        if memory.data_version > memory.followed_seq {
            return None;
        }
        Some(SnapshotView {
            facts: Facts {
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
            },
            records: memory.records.clone(),
            index: memory.index.frozen(),
            text: TextView::of(&memory.text),
        })
    }

    /// Every change numbered up to here is in the view.
    pub(super) fn followed_seq(&self) -> i64 {
        self.facts.followed_seq
    }
}

/// Writes `view` to `path`, through a temporary file and a rename so that a reader never
/// sees half a snapshot. `history` is the database's latest entry at or below the view's
/// `followed_seq`. Returns the bytes written.
pub(super) fn write(
    path: &Path,
    view: &SnapshotView,
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
        followed_seq: view.facts.followed_seq,
        max_id: identity.max_id,
        zones_fingerprint: zones_fingerprint(zones),
        history: history.map(HistoryMark::from),
    };
    let header_bytes = postcard::to_stdvec(&header).map_err(|err| damaged(path, &err))?;
    let temporary = path.with_extension("partial");
    let written = write_sections(&temporary, &header_bytes, view).and_then(|bytes| {
        std::fs::rename(&temporary, path).map_err(io)?;
        Ok(bytes)
    });
    if written.is_err() {
        // Nothing half-written stays behind (a full disk keeps no dead file either).
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Writes sections one after the other, each's length and CRC noted for the table.
struct SectionWriter {
    out: BufWriter<File>,
    offset: u64,
    start: u64,
    crc: crc32fast::Hasher,
    table: Vec<u8>,
}

impl Write for &mut SectionWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.put(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SectionWriter {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.crc.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn end_section(&mut self) {
        let crc = std::mem::take(&mut self.crc).finalize();
        self.table.extend_from_slice(&self.start.to_le_bytes());
        self.table
            .extend_from_slice(&(self.offset - self.start).to_le_bytes());
        self.table.extend_from_slice(&crc.to_le_bytes());
        self.start = self.offset;
    }
}

/// Writes the whole snapshot to `temporary` and syncs it; returns the bytes written.
fn write_sections(
    temporary: &Path,
    header_bytes: &[u8],
    view: &SnapshotView,
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
    // The table is written last, once the sections' lengths and checksums are known; the
    // big sections are written a piece at a time.
    out.write_all(&[0u8; N_SECTIONS * 20]).map_err(io)?;
    let start = table_offset + (N_SECTIONS * 20) as u64;
    let mut sections = SectionWriter {
        out,
        offset: start,
        start,
        crc: crc32fast::Hasher::new(),
        table: Vec::with_capacity(N_SECTIONS * 20),
    };
    let facts = postcard::to_stdvec(&view.facts).map_err(|err| damaged(temporary, &err))?;
    sections.put(&facts).map_err(io)?;
    sections.end_section();
    let mut piece = Vec::with_capacity(rows::RECORD_BYTES << 16);
    for chunk in view.records.chunks() {
        piece.clear();
        for record in chunk.iter() {
            rows::encode_record(record.as_ref(), &mut piece);
        }
        sections.put(&piece).map_err(io)?;
    }
    sections.end_section();
    for points in view.index.main_points().chunks(1 << 16) {
        piece.clear();
        for point in points {
            rows::encode_point(point, &mut piece);
        }
        sections.put(&piece).map_err(io)?;
    }
    sections.end_section();
    // Through a buffer: the archive is written a few bytes at a time.
    let tree = BufWriter::with_capacity(1 << 20, &mut sections);
    let tree = view
        .index
        .write_tree(tree)
        .map_err(|err| damaged(temporary, &err))?;
    tree.into_inner().map_err(|err| io(err.into_error()))?;
    sections.end_section();
    let keys = snapshot_text::encode_keys(&view.text).map_err(|err| damaged(temporary, &err))?;
    sections.put(&keys).map_err(io)?;
    sections.end_section();
    sections
        .put(&snapshot_text::encode_postings(&view.text))
        .map_err(io)?;
    sections.end_section();
    sections
        .put(&rows::encode_u32s(view.index.removed_slots()))
        .map_err(io)?;
    sections.end_section();
    piece.clear();
    for point in view.index.live() {
        rows::encode_point(point, &mut piece);
    }
    sections.put(&piece).map_err(io)?;
    sections.end_section();
    let file = sections
        .out
        .into_inner()
        .map_err(|err| io(err.into_error()))?;
    file.write_all_at(&sections.table, table_offset)
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(sections.offset)
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
    let started = Instant::now();
    let mut table = [0u8; N_SECTIONS * 20];
    file.read_exact(&mut table)
        .map_err(|err| damaged(path, &err))?;
    let file_len = file
        .metadata()
        .map_err(|source| SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
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
    let file = &file;
    let section_error = |index: usize| {
        move |err: rows::RowsError| damaged(path, &format!("section {index}: {err}"))
    };
    let whole =
        |index: usize| rows::read_whole(file, sections[index]).map_err(section_error(index));
    // Each part's time goes to the log: what a start from the snapshot spends where.
    let timed = |what: &'static str, seconds: f64| {
        tracing::debug!(seconds, "snapshot: {what} read");
        seconds
    };
    // The tree is the slowest part to decode, one thread's work; the rest goes alongside
    // it, the row sections in parallel pieces.
    let (tree, (records, (points, rest))) = rayon::join(
        || {
            let at = Instant::now();
            let bytes = rows::read_aligned(file, sections[3]).map_err(section_error(3))?;
            let tree = PointIndex::decode_tree(&bytes).map_err(|err| damaged(path, &err))?;
            drop(bytes);
            Ok::<_, SnapshotError>((tree, timed("point tree", at.elapsed().as_secs_f64())))
        },
        || {
            rayon::join(
                || {
                    let at = Instant::now();
                    let records =
                        rows::read_records(file, sections[1]).map_err(section_error(1))?;
                    Ok::<_, SnapshotError>((records, timed("records", at.elapsed().as_secs_f64())))
                },
                || {
                    rayon::join(
                        || {
                            let at = Instant::now();
                            let points =
                                rows::read_points(file, sections[2]).map_err(section_error(2))?;
                            Ok::<_, SnapshotError>((
                                points,
                                timed("points", at.elapsed().as_secs_f64()),
                            ))
                        },
                        || read_small_sections(path, &whole),
                    )
                },
            )
        },
    );
    let (tree, tree_seconds) = tree?;
    let (records, records_seconds) = records?;
    let (points, points_seconds) = points?;
    let (facts, text, removed, live, text_seconds) = rest?;
    let index =
        PointIndex::from_parts(points, tree, &removed, &live).map_err(|err| damaged(path, &err))?;
    if facts.followed_seq != header.followed_seq {
        return Err(damaged(path, &"header and body disagree"));
    }
    // Its share of the start-up (issue 12 holds the text index to ≤ 1 s); the parts ran
    // side by side, so their times add up to more than the whole.
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        point_tree_seconds = tree_seconds,
        records_seconds,
        points_seconds,
        text_index_seconds = text_seconds,
        "snapshot read"
    );
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

/// What is read whole: the facts, the text index, the index's removed slots and added
/// points.
type SmallSections = (
    Facts,
    crate::geocode::TextIndex,
    Vec<u32>,
    Vec<crate::index::IndexEntry>,
    f64,
);

fn read_small_sections(
    path: &Path,
    whole: &(dyn Fn(usize) -> Result<Vec<u8>, SnapshotError> + Sync),
) -> Result<SmallSections, SnapshotError> {
    let facts: Facts = postcard::from_bytes(&whole(0)?).map_err(|err| damaged(path, &err))?;
    let removed = rows::decode_u32s(&whole(6)?).map_err(|err| damaged(path, &err))?;
    let live = rows::decode_points(&whole(7)?).map_err(|err| damaged(path, &err))?;
    let at = Instant::now();
    let text = snapshot_text::decode(&whole(4)?, &whole(5)?)
        .ok_or_else(|| damaged(path, &"text index"))?;
    Ok((facts, text, removed, live, at.elapsed().as_secs_f64()))
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
        let view = SnapshotView::of(&memory).expect("nothing above its data version");
        write(&path, &view, &identity(), history, zones).expect("write");
        path
    }

    #[test]
    fn no_view_of_memory_holding_a_change_above_its_data_version() {
        let ahead = Memory {
            data_version: 8,
            followed_seq: 7,
            ..Memory::default()
        };
        assert!(SnapshotView::of(&ahead).is_none());
        let caught_up = Memory {
            data_version: 8,
            followed_seq: 8,
            ..Memory::default()
        };
        assert_eq!(
            SnapshotView::of(&caught_up).map(|view| view.followed_seq()),
            Some(8)
        );
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
