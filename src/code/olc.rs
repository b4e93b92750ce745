//! Open Location Code ("plus codes"), after Google's reference implementation.
//!
//! Written here because the only crate, `open-location-code` 0.1.0 (2019), is unmaintained
//! and computes in floating point, while the reference now converts degrees to integers
//! once (latitude × 2.5e7, longitude × 8.192e6) and does all digit work exactly.

use super::{OLC_ALPHABET, digit_value};
use crate::point::LatLon;

const SEPARATOR: u8 = b'+';
const SEPARATOR_POSITION: usize = 8;
const PADDING: u8 = b'0';
const ENCODING_BASE: i64 = 20;
const MIN_DIGIT_COUNT: usize = 2;
const MAX_DIGIT_COUNT: usize = 15;
const PAIR_CODE_LENGTH: usize = 10;
const GRID_COLUMNS: i64 = 4;
const GRID_ROWS: i64 = 5;
const LATITUDE_MAX: i64 = 90;
const LONGITUDE_MAX: i64 = 180;
/// Steps per degree of the last pair digit (20^3).
const PAIR_PRECISION: i64 = 8000;
/// Steps per degree of the last grid digit: 5 grid rows per digit, 5 grid digits.
const LAT_INTEGER_MULTIPLIER: i64 = PAIR_PRECISION * 3125;
/// Steps per degree of the last grid digit: 4 grid columns per digit, 5 grid digits.
const LNG_INTEGER_MULTIPLIER: i64 = PAIR_PRECISION * 1024;
const LAT_INTEGER_RANGE: i64 = 2 * LATITUDE_MAX * LAT_INTEGER_MULTIPLIER;
const LNG_INTEGER_RANGE: i64 = 2 * LONGITUDE_MAX * LNG_INTEGER_MULTIPLIER;
/// Cell sizes in degrees after 1..=5 pairs.
const PAIR_RESOLUTIONS: [f64; 5] = [20.0, 1.0, 0.05, 0.0025, 0.000125];
/// Beyond this the product with the multiplier would leave i64; reducing first is exact.
const LONGITUDE_REDUCE_ABOVE: f64 = 1e9;

/// An OLC cell: bounds in degrees and the code length it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeArea {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
    pub code_length: usize,
}

impl CodeArea {
    /// The centre, capped at 90 and 180 as the reference does.
    pub fn center(&self) -> LatLon {
        LatLon {
            lat: ((self.south + self.north) / 2.0).min(LATITUDE_MAX as f64),
            lon: ((self.west + self.east) / 2.0).min(LONGITUDE_MAX as f64),
        }
    }
}

/// Why an OLC operation refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OlcError {
    #[error("invalid code length {0}: valid lengths are 2, 4, 6, 8 and 10 or more")]
    InvalidLength(usize),
    #[error("latitude and longitude must be finite numbers")]
    InvalidCoordinate,
    #[error("{0:?} is not a valid full plus code")]
    NotFull(String),
    #[error("{0:?} is not a valid full or short plus code")]
    NotFullOrShort(String),
    #[error("{0:?} is padded, and padded codes cannot be shortened")]
    Padded(String),
}

/// The code of the cell of `code_length` digits (at most 15 are used) holding the point.
/// Latitude is clipped to [-90, 90] and longitude wrapped into [-180, 180). A value
/// within 2e-14° below a cell edge counts as on the edge, so that 129.7, stored as
/// 129.69999…, is encoded as the decimal 129.7.
pub fn encode(lat: f64, lon: f64, code_length: usize) -> Result<String, OlcError> {
    if code_length < MIN_DIGIT_COUNT || (code_length < PAIR_CODE_LENGTH && code_length % 2 == 1) {
        return Err(OlcError::InvalidLength(code_length));
    }
    if !lat.is_finite() || !lon.is_finite() {
        return Err(OlcError::InvalidCoordinate);
    }
    let (lat_integer, lng_integer) = location_to_integers(lat, lon);
    Ok(format_code(
        &integers_to_digits(lat_integer, lng_integer),
        code_length,
    ))
}

/// The cell of a full code; digits after the 15th are ignored.
pub fn decode(code: &str) -> Result<CodeArea, OlcError> {
    if !is_full(code) {
        return Err(OlcError::NotFull(code.to_owned()));
    }
    let digits: Vec<u8> = code
        .bytes()
        .filter(|&byte| byte != SEPARATOR && byte != PADDING)
        .map(|byte| byte.to_ascii_uppercase())
        .take(MAX_DIGIT_COUNT)
        .collect();
    Ok(decode_digits(&digits))
}

/// Whether `code` is a well-formed full or short code (any case).
pub fn is_valid(code: &str) -> bool {
    // No valid code has a non-ASCII character, and then byte positions are char positions.
    if !code.is_ascii() {
        return false;
    }
    let bytes = code.as_bytes();
    let mut separators = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &byte)| byte == SEPARATOR);
    let Some((separator_idx, _)) = separators.next() else {
        return false;
    };
    if separators.next().is_some() || bytes.len() == 1 {
        return false;
    }
    if separator_idx > SEPARATOR_POSITION || separator_idx % 2 == 1 {
        return false;
    }
    if let Some(first_pad_idx) = bytes.iter().position(|&byte| byte == PADDING) {
        // Padding: only in full codes, never first, one run of even length, then '+' last.
        if separator_idx < SEPARATOR_POSITION || first_pad_idx == 0 {
            return false;
        }
        let last_pad_idx = bytes
            .iter()
            .rposition(|&byte| byte == PADDING)
            .unwrap_or(first_pad_idx);
        let pads = &bytes[first_pad_idx..=last_pad_idx];
        if pads.len() % 2 == 1 || pads.iter().any(|&byte| byte != PADDING) {
            return false;
        }
        if bytes.last() != Some(&SEPARATOR) {
            return false;
        }
    }
    if bytes.len() - separator_idx - 1 == 1 {
        return false;
    }
    bytes.iter().all(|&byte| {
        byte == SEPARATOR || byte == PADDING || digit_value(byte.to_ascii_uppercase()).is_some()
    })
}

/// Whether `code` is a valid short code: one with leading digits left off.
pub fn is_short(code: &str) -> bool {
    is_valid(code)
        && code
            .bytes()
            .position(|byte| byte == SEPARATOR)
            .is_some_and(|idx| idx < SEPARATOR_POSITION)
}

/// Whether `code` is a valid full code naming a cell on Earth.
pub fn is_full(code: &str) -> bool {
    if !is_valid(code) || is_short(code) {
        return false;
    }
    let bytes = code.as_bytes();
    let first_value = |idx: usize| {
        bytes
            .get(idx)
            .and_then(|&byte| digit_value(byte.to_ascii_uppercase()))
            .map_or(0, |value| i64::from(value) * ENCODING_BASE)
    };
    first_value(0) < 2 * LATITUDE_MAX && first_value(1) < 2 * LONGITUDE_MAX
}

/// Drops as many leading digits as the reference point allows to be recovered safely.
pub fn shorten(code: &str, ref_lat: f64, ref_lon: f64) -> Result<String, OlcError> {
    if !is_full(code) {
        return Err(OlcError::NotFull(code.to_owned()));
    }
    if code.bytes().any(|byte| byte == PADDING) {
        return Err(OlcError::Padded(code.to_owned()));
    }
    if !ref_lat.is_finite() || !ref_lon.is_finite() {
        return Err(OlcError::InvalidCoordinate);
    }
    let code = code.to_ascii_uppercase();
    let center = decode(&code)?.center();
    let range = (center.lat - clip_latitude(ref_lat))
        .abs()
        .max((center.lon - normalize_longitude(ref_lon)).abs());
    // 0.3 rather than 0.5 of a cell leaves a safety margin for the recovery.
    for pairs_dropped in (1..=3).rev() {
        if range < PAIR_RESOLUTIONS[pairs_dropped] * 0.3 {
            return Ok(code[(pairs_dropped + 1) * 2..].to_owned());
        }
    }
    Ok(code)
}

/// The full code nearest to the reference point that ends with `short_code`. A full
/// code comes back uppercased.
pub fn recover_nearest(short_code: &str, ref_lat: f64, ref_lon: f64) -> Result<String, OlcError> {
    if is_full(short_code) {
        return Ok(short_code.to_ascii_uppercase());
    }
    if !is_short(short_code) {
        return Err(OlcError::NotFullOrShort(short_code.to_owned()));
    }
    if !ref_lat.is_finite() || !ref_lon.is_finite() {
        return Err(OlcError::InvalidCoordinate);
    }
    let digits: Vec<u8> = short_code
        .bytes()
        .filter(|&byte| byte != SEPARATOR)
        .map(|byte| byte.to_ascii_uppercase())
        .collect();
    let n_missing = SEPARATOR_POSITION
        - short_code
            .bytes()
            .position(|byte| byte == SEPARATOR)
            .unwrap_or(0);
    Ok(recover_digits(&digits, n_missing, ref_lat, ref_lon))
}

/// Recovers the `n_missing` leading digits (even, 2..=8) of `short_digits` (uppercase
/// alphabet characters, no '+') from the reference point, as the reference does.
pub(super) fn recover_digits(
    short_digits: &[u8],
    n_missing: usize,
    ref_lat: f64,
    ref_lon: f64,
) -> String {
    let ref_lat = clip_latitude(ref_lat);
    let ref_lon = normalize_longitude(ref_lon);
    let resolution = 20f64.powi(2 - (n_missing / 2) as i32);
    let half_resolution = resolution / 2.0;

    let (ref_lat_integer, ref_lng_integer) = location_to_integers(ref_lat, ref_lon);
    let reference_digits = integers_to_digits(ref_lat_integer, ref_lng_integer);
    let mut digits = Vec::with_capacity(MAX_DIGIT_COUNT);
    digits.extend_from_slice(&reference_digits[..n_missing.min(SEPARATOR_POSITION)]);
    digits.extend(short_digits.iter().take(MAX_DIGIT_COUNT - digits.len()));
    let area = decode_digits(&digits);
    let center = area.center();

    // The candidate shares the reference's leading digits; if it lies more than half a
    // cell away, the neighbouring cell holds the nearer match (but never past a pole).
    let mut center_lat = center.lat;
    if ref_lat + half_resolution < center_lat && center_lat - resolution >= -(LATITUDE_MAX as f64) {
        center_lat -= resolution;
    } else if ref_lat - half_resolution > center_lat
        && center_lat + resolution <= LATITUDE_MAX as f64
    {
        center_lat += resolution;
    }
    let mut center_lon = center.lon;
    if ref_lon + half_resolution < center_lon {
        center_lon -= resolution;
    } else if ref_lon - half_resolution > center_lon {
        center_lon += resolution;
    }
    let (lat_integer, lng_integer) = location_to_integers(center_lat, center_lon);
    format_code(
        &integers_to_digits(lat_integer, lng_integer),
        area.code_length,
    )
}

/// The 15 digits of the cell holding a point.
pub(super) fn encode_integer_digits(lat: f64, lon: f64) -> [u8; MAX_DIGIT_COUNT] {
    let (lat_integer, lng_integer) = location_to_integers(lat, lon);
    integers_to_digits(lat_integer, lng_integer)
}

/// The cell of `digits` (uppercase alphabet characters, at most 15, an even count
/// up to 10): integers first, one division to degrees at the end.
pub(super) fn decode_digits(digits: &[u8]) -> CodeArea {
    let value = |byte: u8| digit_value(byte).map_or(0, i64::from);
    let mut lat_low = 0;
    let mut lng_low = 0;
    let mut lat_step = 2 * LATITUDE_MAX * LAT_INTEGER_MULTIPLIER;
    let mut lng_step = 2 * LONGITUDE_MAX * LNG_INTEGER_MULTIPLIER;
    let mut lat_place = ENCODING_BASE * LAT_INTEGER_MULTIPLIER;
    let mut lng_place = ENCODING_BASE * LNG_INTEGER_MULTIPLIER;
    let n_pair_digits = digits.len().min(PAIR_CODE_LENGTH);
    for pair in digits[..n_pair_digits].chunks(2) {
        lat_low += value(pair[0]) * lat_place;
        lng_low += pair.get(1).map_or(0, |&byte| value(byte)) * lng_place;
        lat_step = lat_place;
        lng_step = lng_place;
        lat_place /= ENCODING_BASE;
        lng_place /= ENCODING_BASE;
    }
    let mut row_place = GRID_ROWS.pow(4);
    let mut column_place = GRID_COLUMNS.pow(4);
    for &byte in digits.iter().take(MAX_DIGIT_COUNT).skip(PAIR_CODE_LENGTH) {
        let digit = value(byte);
        lat_low += digit / GRID_COLUMNS * row_place;
        lng_low += digit % GRID_COLUMNS * column_place;
        lat_step = row_place;
        lng_step = column_place;
        row_place /= GRID_ROWS;
        column_place /= GRID_COLUMNS;
    }
    // Subtracting the offset on integers leaves a single rounding per bound.
    let lat_degrees = |steps: i64| {
        (steps - LATITUDE_MAX * LAT_INTEGER_MULTIPLIER) as f64 / LAT_INTEGER_MULTIPLIER as f64
    };
    let lng_degrees = |steps: i64| {
        (steps - LONGITUDE_MAX * LNG_INTEGER_MULTIPLIER) as f64 / LNG_INTEGER_MULTIPLIER as f64
    };
    CodeArea {
        south: lat_degrees(lat_low),
        west: lng_degrees(lng_low),
        north: lat_degrees(lat_low + lat_step),
        east: lng_degrees(lng_low + lng_step),
        code_length: digits.len().min(MAX_DIGIT_COUNT),
    }
}

/// Degrees to non-negative integer steps: latitude clipped to just under 90 so that the
/// north pole lands in the top cell, longitude wrapped.
pub(super) fn location_to_integers(lat: f64, lon: f64) -> (i64, i64) {
    // Clamping before multiplying keeps the product in i64 and agrees with the
    // reference's clip after flooring; NaN becomes 0 through the cast.
    let lat_steps = floor_steps(lat.clamp(-90.0, 90.0) * LAT_INTEGER_MULTIPLIER as f64);
    let lat_integer =
        (lat_steps + LATITUDE_MAX * LAT_INTEGER_MULTIPLIER).clamp(0, LAT_INTEGER_RANGE - 1);
    let lon = if lon.abs() < LONGITUDE_REDUCE_ABOVE {
        lon
    } else {
        lon % 360.0
    };
    let lng_steps = floor_steps(lon * LNG_INTEGER_MULTIPLIER as f64);
    let lng_integer =
        (lng_steps + LONGITUDE_MAX * LNG_INTEGER_MULTIPLIER).rem_euclid(LNG_INTEGER_RANGE);
    (lat_integer, lng_integer)
}

/// The floor of degrees × multiplier, after rounding the product to 1e-6 of a step (as
/// earlier reference versions did). A bare floor puts 129.7 (stored as 129.69999…) one
/// step below the cell its decimal value names: on the 302 encoding vectors it misses 17
/// integer columns by one step and gets 13 codes wrong (the reference's own tests
/// tolerate up to 5% such misses). Rounding first matches every row, and moves a point
/// by at most 2e-14 degrees.
fn floor_steps(product: f64) -> i64 {
    ((product * 1e6).round() / 1e6).floor() as i64
}

/// All 15 digits of the cell holding the point; shorter codes are prefixes of them.
fn integers_to_digits(mut lat_integer: i64, mut lng_integer: i64) -> [u8; MAX_DIGIT_COUNT] {
    let mut digits = [OLC_ALPHABET[0]; MAX_DIGIT_COUNT];
    for digit in digits[PAIR_CODE_LENGTH..].iter_mut().rev() {
        let row = lat_integer % GRID_ROWS;
        let column = lng_integer % GRID_COLUMNS;
        *digit = OLC_ALPHABET[(row * GRID_COLUMNS + column) as usize];
        lat_integer /= GRID_ROWS;
        lng_integer /= GRID_COLUMNS;
    }
    for pair in digits[..PAIR_CODE_LENGTH].chunks_mut(2).rev() {
        pair[0] = OLC_ALPHABET[(lat_integer % ENCODING_BASE) as usize];
        pair[1] = OLC_ALPHABET[(lng_integer % ENCODING_BASE) as usize];
        lat_integer /= ENCODING_BASE;
        lng_integer /= ENCODING_BASE;
    }
    digits
}

/// The code text of the first `code_length` digits (a valid length; more than 15 means
/// 15): '+' after the 8th digit, '0' padding up to it for short lengths.
fn format_code(digits: &[u8; MAX_DIGIT_COUNT], code_length: usize) -> String {
    let code_length = code_length.min(MAX_DIGIT_COUNT);
    let mut code = String::with_capacity(MAX_DIGIT_COUNT + 1);
    for (digit_idx, &digit) in digits
        .iter()
        .enumerate()
        .take(code_length.max(SEPARATOR_POSITION))
    {
        if digit_idx == SEPARATOR_POSITION {
            code.push(char::from(SEPARATOR));
        }
        code.push(char::from(if digit_idx < code_length {
            digit
        } else {
            PADDING
        }));
    }
    if code_length <= SEPARATOR_POSITION {
        code.push(char::from(SEPARATOR));
    }
    code
}

fn clip_latitude(lat: f64) -> f64 {
    lat.clamp(-(LATITUDE_MAX as f64), LATITUDE_MAX as f64)
}

fn normalize_longitude(lon: f64) -> f64 {
    if (-180.0..180.0).contains(&lon) {
        return lon;
    }
    let wrapped = (lon + 180.0).rem_euclid(360.0) - 180.0;
    // rem_euclid can round up to exactly 360 for tiny negative inputs.
    if wrapped >= 180.0 {
        wrapped - 360.0
    } else {
        wrapped
    }
}
