//! The boundary file: a versioned header with a CRC-32, then every ward with its rings as
//! fixed-point integers (1e-5°, the precision of the source), delta + zigzag varints.
//!
//! Layout (integers little-endian; `varint` is LEB128, `zigzag` maps ±n to 2|n| or 2|n|−1):
//!
//! ```text
//! header   magic "VMAPBND\0" · u32 version · u64 payload length · u32 CRC-32 of the payload
//! payload  varint n_wards, n_parts, n_rings, n_vertices (totals, stored vertices)
//!          per ward (ascending ward code):
//!            varint ward code · varint province code · varint name length · UTF-8 name
//!            f64 area in m² · f64 reference lon · f64 reference lat
//!            varint n_parts, per part: varint n_rings, per ring (exterior first):
//!              varint n_vertices (the closing vertex is not stored), then per vertex
//!              zigzag varint Δlon, Δlat in 1e-5° from the previous vertex of the file
//! ```

use super::{BoundaryError, RawWard, WardSummary};

const MAGIC: &[u8; 8] = b"VMAPBND\0";
/// Bumped whenever the layout or the meaning of a field changes.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;
/// Coordinates are stored as integers in units of 1e-5°.
pub(super) const UNITS_PER_DEGREE: f64 = 100_000.0;
/// Ring lengths and counts beyond this are refused rather than allocated.
const MAX_COUNT: u64 = 1 << 28;

/// Serialises wards (already sorted by code, rings without their closing vertex).
pub(super) fn encode(wards: &[(RawWard, WardSummary)]) -> Vec<u8> {
    let n_parts: usize = wards.iter().map(|(ward, _)| ward.parts.len()).sum();
    let n_rings: usize = wards
        .iter()
        .flat_map(|(ward, _)| &ward.parts)
        .map(Vec::len)
        .sum();
    let n_vertices: usize = wards
        .iter()
        .flat_map(|(ward, _)| &ward.parts)
        .flatten()
        .map(Vec::len)
        .sum();
    let mut payload = Vec::with_capacity(n_vertices * 3);
    for count in [wards.len(), n_parts, n_rings, n_vertices] {
        put_varint(&mut payload, count as u64);
    }
    let mut previous = [0i64; 2];
    for (ward, summary) in wards {
        put_varint(&mut payload, u64::from(ward.ward_code));
        put_varint(&mut payload, u64::from(ward.province_code));
        put_varint(&mut payload, ward.name.len() as u64);
        payload.extend_from_slice(ward.name.as_bytes());
        for value in [
            summary.area_m2,
            summary.reference_lon,
            summary.reference_lat,
        ] {
            payload.extend_from_slice(&value.to_le_bytes());
        }
        put_varint(&mut payload, ward.parts.len() as u64);
        for part in &ward.parts {
            put_varint(&mut payload, part.len() as u64);
            for ring in part {
                put_varint(&mut payload, ring.len() as u64);
                for vertex in ring {
                    for axis in 0..2 {
                        let value = i64::from(vertex[axis]);
                        put_varint(&mut payload, zigzag(value - previous[axis]));
                        previous[axis] = value;
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// What [`decode`] hands to the caller: the wards as stored, rings without the closing vertex.
#[derive(Debug)]
pub(super) struct Decoded {
    pub wards: Vec<(RawWard, WardSummary)>,
    pub n_rings: usize,
    pub n_vertices: usize,
}

/// Visits every ward of a file, checking the header, the checksum and every count.
pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, BoundaryError> {
    let payload = check_header(bytes)?;
    let mut reader = Reader {
        bytes: payload,
        position: 0,
    };
    let n_wards = reader.count("ward count")?;
    let n_parts = reader.count("part count")?;
    let n_rings = reader.count("ring count")?;
    let n_vertices = reader.count("vertex count")?;
    let mut wards = Vec::with_capacity(n_wards);
    let (mut seen_parts, mut seen_rings, mut seen_vertices) = (0usize, 0usize, 0usize);
    let mut previous = [0i64; 2];
    for _ in 0..n_wards {
        let ward_code = reader.small("ward code", 99_999)?;
        let province_code = reader.small("province code", 99)?;
        let name_len = reader.count("name length")?;
        let name = std::str::from_utf8(reader.take(name_len, "name")?)
            .map_err(|_| malformed("a ward name is not UTF-8"))?
            .to_owned();
        let area_m2 = reader.f64("area")?;
        let reference_lon = reader.f64("reference point")?;
        let reference_lat = reader.f64("reference point")?;
        let ward_parts = reader.count("part count")?;
        seen_parts += ward_parts;
        if ward_parts == 0 || seen_parts > n_parts {
            return Err(malformed("part counts do not add up"));
        }
        let mut parts = Vec::with_capacity(ward_parts);
        for _ in 0..ward_parts {
            let part_rings = reader.count("ring count")?;
            seen_rings += part_rings;
            if part_rings == 0 || seen_rings > n_rings {
                return Err(malformed("ring counts do not add up"));
            }
            let mut rings = Vec::with_capacity(part_rings);
            for _ in 0..part_rings {
                let ring_len = reader.count("ring length")?;
                seen_vertices += ring_len;
                if ring_len < 3 || seen_vertices > n_vertices {
                    return Err(malformed("ring lengths do not add up"));
                }
                let mut ring = Vec::with_capacity(ring_len);
                for _ in 0..ring_len {
                    let mut vertex = [0i32; 2];
                    for (axis, limit) in [(0, 180i64), (1, 90i64)] {
                        let delta = unzigzag(reader.varint("vertex")?);
                        let value = previous[axis]
                            .checked_add(delta)
                            .filter(|value| value.abs() <= limit * UNITS_PER_DEGREE as i64)
                            .ok_or_else(|| malformed("a vertex lies outside lon/lat range"))?;
                        previous[axis] = value;
                        vertex[axis] = value as i32;
                    }
                    ring.push(vertex);
                }
                rings.push(ring);
            }
            parts.push(rings);
        }
        let summary = WardSummary {
            area_m2,
            reference_lon,
            reference_lat,
        };
        wards.push((
            RawWard {
                ward_code,
                province_code,
                name,
                parts,
            },
            summary,
        ));
    }
    if seen_parts != n_parts || seen_rings != n_rings || seen_vertices != n_vertices {
        return Err(malformed("the totals of the header do not match the wards"));
    }
    if reader.position != payload.len() {
        return Err(malformed("bytes left over after the last ward"));
    }
    Ok(Decoded {
        wards,
        n_rings,
        n_vertices,
    })
}

fn check_header(bytes: &[u8]) -> Result<&[u8], BoundaryError> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(BoundaryError::NotABoundaryFile);
    }
    let word = |range: std::ops::Range<usize>| -> u64 {
        bytes[range]
            .iter()
            .rev()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
    };
    let version = word(8..12) as u32;
    if version != FORMAT_VERSION {
        return Err(BoundaryError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let payload_len = word(12..20);
    let expected_crc = word(20..24) as u32;
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != payload_len {
        return Err(BoundaryError::Truncated {
            expected: payload_len,
            found: payload.len() as u64,
        });
    }
    let found_crc = crc32fast::hash(payload);
    if found_crc != expected_crc {
        return Err(BoundaryError::ChecksumMismatch {
            expected: expected_crc,
            found: found_crc,
        });
    }
    Ok(payload)
}

fn malformed(what: &str) -> BoundaryError {
    BoundaryError::Malformed(what.to_owned())
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self, what: &str) -> Result<u64, BoundaryError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.position) else {
                return Err(malformed(&format!("the file ends inside a {what}")));
            };
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(malformed(&format!("a {what} is not a valid varint")))
    }

    fn count(&mut self, what: &str) -> Result<usize, BoundaryError> {
        let value = self.varint(what)?;
        if value > MAX_COUNT {
            return Err(malformed(&format!("a {what} of {value} is implausible")));
        }
        Ok(value as usize)
    }

    fn small(&mut self, what: &str, max: u32) -> Result<u32, BoundaryError> {
        let value = self.varint(what)?;
        u32::try_from(value)
            .ok()
            .filter(|&value| value <= max)
            .ok_or_else(|| malformed(&format!("a {what} of {value} is out of range")))
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], BoundaryError> {
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| malformed(&format!("the file ends inside a {what}")))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn f64(&mut self, what: &str) -> Result<f64, BoundaryError> {
        let bytes = self.take(8, what)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        let value = f64::from_le_bytes(array);
        if !value.is_finite() {
            return Err(malformed(&format!("a {what} is not a finite number")));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for value in [
            0,
            1,
            -1,
            63,
            -64,
            18_000_000,
            -18_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
        let mut out = Vec::new();
        put_varint(&mut out, u64::MAX);
        let mut reader = Reader {
            bytes: &out,
            position: 0,
        };
        assert_eq!(reader.varint("test").ok(), Some(u64::MAX));
    }
}
