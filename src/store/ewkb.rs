//! PostGIS-compatible EWKB for points: what the `geom` column holds in both backends.
//!
//! Written here rather than through `geozero` because vmap stores exactly one geometry type,
//! must control every byte (rows move between SQLite and PostGIS byte for byte), and decodes
//! tens of millions of them at start-up; 25 bytes do not need a geometry visitor framework.

use crate::point::LatLon;

/// The SRID of WGS84 longitude/latitude.
pub const SRID_WGS84: u32 = 4326;

const WKB_POINT: u32 = 1;
const EWKB_SRID_FLAG: u32 = 0x2000_0000;
const EWKB_Z_FLAG: u32 = 0x8000_0000;
const EWKB_M_FLAG: u32 = 0x4000_0000;

/// Little-endian EWKB length of a 2-D point with SRID.
pub const POINT_EWKB_LEN: usize = 25;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EwkbError {
    #[error("geometry is {0} bytes, too short for a point")]
    TooShort(usize),
    #[error("geometry byte order marker {0} is neither 0 nor 1")]
    ByteOrder(u8),
    #[error("geometry type {0:#x} is not a 2-D point")]
    NotAPoint(u32),
    #[error("geometry SRID {0} is not 4326")]
    WrongSrid(u32),
    #[error("geometry has no SRID (plain WKB); expected EWKB with SRID 4326")]
    NoSrid,
    #[error("point coordinates out of range: {0}")]
    OutOfRange(#[from] crate::point::PointError),
}

/// EWKB (little endian, SRID 4326) of a point, as PostGIS writes `ST_SetSRID(ST_MakePoint(lon, lat), 4326)`.
pub fn encode_point(location: LatLon) -> [u8; POINT_EWKB_LEN] {
    let mut bytes = [0u8; POINT_EWKB_LEN];
    bytes[0] = 1;
    bytes[1..5].copy_from_slice(&(WKB_POINT | EWKB_SRID_FLAG).to_le_bytes());
    bytes[5..9].copy_from_slice(&SRID_WGS84.to_le_bytes());
    bytes[9..17].copy_from_slice(&location.lon.to_le_bytes());
    bytes[17..25].copy_from_slice(&location.lat.to_le_bytes());
    bytes
}

/// Reads an EWKB point with SRID 4326 in either byte order.
pub fn decode_point(bytes: &[u8]) -> Result<LatLon, EwkbError> {
    if bytes.len() < POINT_EWKB_LEN {
        return Err(EwkbError::TooShort(bytes.len()));
    }
    let little_endian = match bytes[0] {
        0 => false,
        1 => true,
        other => return Err(EwkbError::ByteOrder(other)),
    };
    let read_u32 = |at: usize| {
        let mut word = [0u8; 4];
        word.copy_from_slice(&bytes[at..at + 4]);
        if little_endian {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        }
    };
    let read_f64 = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        if little_endian {
            f64::from_le_bytes(word)
        } else {
            f64::from_be_bytes(word)
        }
    };
    let geometry_type = read_u32(1);
    if geometry_type & EWKB_SRID_FLAG == 0 {
        return Err(EwkbError::NoSrid);
    }
    if geometry_type & (EWKB_Z_FLAG | EWKB_M_FLAG) != 0 || geometry_type & 0xffff != WKB_POINT {
        return Err(EwkbError::NotAPoint(geometry_type));
    }
    let srid = read_u32(5);
    if srid != SRID_WGS84 {
        return Err(EwkbError::WrongSrid(srid));
    }
    if bytes.len() != POINT_EWKB_LEN {
        return Err(EwkbError::NotAPoint(geometry_type));
    }
    Ok(LatLon::new(read_f64(17), read_f64(9))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgis_bytes() {
        // SELECT encode(ST_AsEWKB(ST_SetSRID(ST_MakePoint(105.5, 21.25), 4326)), 'hex');
        let expected = "0101000020e61000000000000000605a400000000000403540";
        let bytes = encode_point(LatLon {
            lat: 21.25,
            lon: 105.5,
        });
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn round_trips_and_reads_big_endian() {
        let point = LatLon {
            lat: 10.776_889,
            lon: 106.700_806,
        };
        assert_eq!(decode_point(&encode_point(point)), Ok(point));
        let mut big = vec![0u8];
        big.extend_from_slice(&(WKB_POINT | EWKB_SRID_FLAG).to_be_bytes());
        big.extend_from_slice(&SRID_WGS84.to_be_bytes());
        big.extend_from_slice(&point.lon.to_be_bytes());
        big.extend_from_slice(&point.lat.to_be_bytes());
        assert_eq!(decode_point(&big), Ok(point));
    }

    #[test]
    fn rejects_other_geometries() {
        let mut bytes = encode_point(LatLon { lat: 1.0, lon: 2.0 });
        bytes[5] = 0x11; // SRID 4369
        assert!(matches!(decode_point(&bytes), Err(EwkbError::WrongSrid(_))));
        assert_eq!(decode_point(&bytes[..10]), Err(EwkbError::TooShort(10)));
        let mut plain = encode_point(LatLon { lat: 1.0, lon: 2.0 });
        plain[4] = 0; // clear the SRID flag
        assert_eq!(decode_point(&plain), Err(EwkbError::NoSrid));
    }
}
