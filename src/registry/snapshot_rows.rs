//! The snapshot's sections of fixed-size little-endian rows (records, index points, removed
//! slots), and the section table they sit in.
//!
//! Decisions: a big section is read in pieces of whole rows, in parallel, each piece
//! straight from the file (`read_exact_at`) into a small buffer of its reader and decoded
//! into the final memory at once; the section's CRC is the pieces' CRCs combined in order
//! (`crc32fast::Hasher::combine`). Reading a section whole first would hold a second copy
//! of it (0.9 GB for the records at 25 M addresses): more memory at the peak, and fresh
//! pages to fault in, which cost more than the copy itself on a machine whose free memory
//! is page cache. Memory-mapping the file would spare even the small buffers, but needs
//! `unsafe`, which the crate forbids.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use rayon::prelude::*;

use super::memory::MemRecord;
use super::records::{CHUNK, Records};
use crate::index::IndexEntry;
use crate::point::LatLon;

/// code key, latitude, longitude, house key, unit key, street key, flags.
pub(super) const RECORD_BYTES: usize = 8 + 8 + 8 + 4 + 4 + 4 + 1;
const RECORD_PRESENT: u8 = 1;
const RECORD_ACTIVE: u8 = 2;
/// latitude, longitude, id.
pub(super) const POINT_BYTES: usize = 8 + 8 + 4;
/// Points read per piece (1.3 MB).
const POINTS_PER_PIECE: usize = 1 << 16;

/// Where a section lies in the file, and its CRC-32.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section {
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) crc: u32,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum RowsError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("checksum mismatch")]
    Checksum,
    #[error("not whole rows")]
    Shape,
}

/// Reads a whole section and checks its CRC (for the sections decoded as one piece).
pub(super) fn read_whole(file: &File, section: Section) -> Result<Vec<u8>, RowsError> {
    let mut bytes = vec![0u8; section.len as usize];
    file.read_exact_at(&mut bytes, section.offset)?;
    if crc32fast::hash(&bytes) != section.crc {
        return Err(RowsError::Checksum);
    }
    Ok(bytes)
}

/// Reads a whole section into a buffer aligned as rkyv's archive of the point tree needs
/// (its offsets assume 128-byte alignment), and checks its CRC.
pub(super) fn read_aligned(
    file: &File,
    section: Section,
) -> Result<rkyv::util::AlignedVec<128>, RowsError> {
    let mut bytes = rkyv::util::AlignedVec::<128>::with_capacity(section.len as usize);
    bytes.resize(section.len as usize, 0);
    file.read_exact_at(&mut bytes, section.offset)?;
    if crc32fast::hash(&bytes) != section.crc {
        return Err(RowsError::Checksum);
    }
    Ok(bytes)
}

/// Reads `rows` rows of `row_bytes` starting at row `first` of `section` into `buffer`;
/// returns their CRC.
fn read_piece(
    file: &File,
    section: Section,
    row_bytes: usize,
    first: usize,
    rows: usize,
    buffer: &mut Vec<u8>,
) -> Result<crc32fast::Hasher, RowsError> {
    buffer.resize(rows * row_bytes, 0);
    file.read_exact_at(buffer, section.offset + (first * row_bytes) as u64)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(buffer);
    Ok(hasher)
}

/// Checks the pieces' CRCs, in order, against the section's.
fn check_pieces(
    section: Section,
    pieces: impl IntoIterator<Item = crc32fast::Hasher>,
) -> Result<(), RowsError> {
    let mut whole = crc32fast::Hasher::new();
    for piece in pieces {
        whole.combine(&piece);
    }
    if whole.finalize() != section.crc {
        return Err(RowsError::Checksum);
    }
    Ok(())
}

fn n_rows(section: Section, row_bytes: usize) -> Result<usize, RowsError> {
    let len = section.len as usize;
    if !len.is_multiple_of(row_bytes) {
        return Err(RowsError::Shape);
    }
    Ok(len / row_bytes)
}

pub(super) fn encode_record(record: Option<&MemRecord>, bytes: &mut Vec<u8>) {
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

fn decode_record(row: &[u8]) -> Option<MemRecord> {
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
}

/// The records section, one chunk of [`Records`] per piece.
pub(super) fn read_records(file: &File, section: Section) -> Result<Records, RowsError> {
    let n = n_rows(section, RECORD_BYTES)?;
    let pieces: Vec<(Arc<Vec<Option<MemRecord>>>, crc32fast::Hasher)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(Vec::new, |buffer, chunk| {
            let first = chunk * CHUNK;
            let rows = CHUNK.min(n - first);
            let crc = read_piece(file, section, RECORD_BYTES, first, rows, buffer)?;
            let records = buffer
                .chunks_exact(RECORD_BYTES)
                .map(decode_record)
                .collect();
            Ok((Arc::new(records), crc))
        })
        .collect::<Result<_, RowsError>>()?;
    let (chunks, crcs): (Vec<_>, Vec<_>) = pieces.into_iter().unzip();
    check_pieces(section, crcs)?;
    Records::from_chunks(chunks).ok_or(RowsError::Shape)
}

pub(super) fn encode_point(point: &IndexEntry, bytes: &mut Vec<u8>) {
    bytes.extend_from_slice(&point.location.lat.to_le_bytes());
    bytes.extend_from_slice(&point.location.lon.to_le_bytes());
    bytes.extend_from_slice(&point.id.to_le_bytes());
}

fn decode_point(row: &[u8]) -> IndexEntry {
    IndexEntry::new(
        LatLon {
            lat: le_f64(&row[0..8]),
            lon: le_f64(&row[8..16]),
        },
        le_u32(&row[16..20]),
    )
}

/// A section of index points, decoded in parallel pieces into one vector.
pub(super) fn read_points(file: &File, section: Section) -> Result<Vec<IndexEntry>, RowsError> {
    let n = n_rows(section, POINT_BYTES)?;
    let mut points = Vec::with_capacity(n);
    // Filled in parallel first (rayon writes an indexed iterator straight into the
    // vector): the pages are faulted in on both cores, then overwritten piece by piece.
    let zero = IndexEntry::new(LatLon { lat: 0.0, lon: 0.0 }, 0);
    points.par_extend(rayon::iter::repeat_n(zero, n));
    let crcs: Vec<crc32fast::Hasher> = points
        .par_chunks_mut(POINTS_PER_PIECE)
        .enumerate()
        .map_init(Vec::new, |buffer, (piece, out)| {
            let first = piece * POINTS_PER_PIECE;
            let crc = read_piece(file, section, POINT_BYTES, first, out.len(), buffer)?;
            for (point, row) in out.iter_mut().zip(buffer.chunks_exact(POINT_BYTES)) {
                *point = decode_point(row);
            }
            Ok(crc)
        })
        .collect::<Result<_, RowsError>>()?;
    check_pieces(section, crcs)?;
    Ok(points)
}

/// Index points from a section read whole.
pub(super) fn decode_points(bytes: &[u8]) -> Result<Vec<IndexEntry>, RowsError> {
    if !bytes.len().is_multiple_of(POINT_BYTES) {
        return Err(RowsError::Shape);
    }
    Ok(bytes.chunks_exact(POINT_BYTES).map(decode_point).collect())
}

pub(super) fn encode_u32s(values: &[u32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

pub(super) fn decode_u32s(bytes: &[u8]) -> Result<Vec<u32>, RowsError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(RowsError::Shape);
    }
    Ok(bytes.chunks_exact(4).map(le_u32).collect())
}

// The slices below always have the exact length (callers cut them from fixed-size rows),
// so the conversions cannot fail; a zero stands in rather than a panic.
pub(super) fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().unwrap_or_default())
}

pub(super) fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

fn le_f64(bytes: &[u8]) -> f64 {
    f64::from_le_bytes(bytes.try_into().unwrap_or_default())
}
