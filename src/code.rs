//! The vmap code of DESIGN §2: `PPPPP GGGGGGG [-N]`.
//!
//! A zone's 5-digit postal code, then characters 5..11 of the point's Open Location Code
//! without the '+', then `-N` (N >= 2) for the second and later addresses of one ~3 m cell.
//! The 4 OLC characters left out name a 1°×1° cell; they come back from the zone's reference
//! point, so decoding needs no registry. Pure: no I/O, and nothing here panics on input.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::point::LatLon;

/// The 20 characters of Open Location Code, in value order (which is also ASCII order).
pub const OLC_ALPHABET: &[u8; 20] = b"23456789CFGHJMPQRVWX";

/// The largest suffix: `pack` needs a bounded suffix to fit a code into a `u64`.
pub const MAX_SUFFIX: u32 = 99_999;

const POSTCODE_DIGITS: usize = 5;
const GRID_CHARS: usize = 7;
const CODE_CHARS: usize = POSTCODE_DIGITS + GRID_CHARS;
/// OLC characters 1..4 (the 1°×1° cell) are not part of a vmap code.
const GRID_OFFSET: usize = 4;
const MAX_POSTCODE: u32 = 99_999;
/// Any 7 alphabet characters are a grid, so the grid is a 7-digit base-20 number.
const GRID_VALUES: u64 = 20u64.pow(GRID_CHARS as u32);
/// Suffixes 1..=MAX_SUFFIX are packed as 0..MAX_SUFFIX.
const SUFFIX_SLOTS: u64 = MAX_SUFFIX as u64;
/// The suffix value of a base code.
const NO_SUFFIX: u32 = 1;
/// Caps the text kept in an error so a huge input cannot make a huge error.
const MAX_ERROR_TEXT_CHARS: usize = 24;
/// Margin under the 0.5° of "recover nearest" so that rounding never picks the wrong cell.
const MAX_REFERENCE_OFFSET_DEGREES: f64 = 0.45;

const INVALID_DIGIT: u8 = u8::MAX;

/// Alphabet value of each uppercase byte, `INVALID_DIGIT` for the others.
const DIGIT_VALUES: [u8; 256] = {
    let mut values = [INVALID_DIGIT; 256];
    let mut value = 0;
    while value < OLC_ALPHABET.len() {
        values[OLC_ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    values
};

/// The alphabet value of an uppercase OLC digit.
fn digit_value(byte: u8) -> Option<u8> {
    let value = DIGIT_VALUES[usize::from(byte)];
    (value != INVALID_DIGIT).then_some(value)
}

/// Open Location Code ("plus codes"), after Google's reference implementation.
///
/// Written here because the only crate, `open-location-code` 0.1.0 (2019), is unmaintained
/// and computes in floating point, while the reference now converts degrees to integers
/// once (latitude × 2.5e7, longitude × 8.192e6) and does all digit work exactly.
pub mod olc {
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
        if code_length < MIN_DIGIT_COUNT || (code_length < PAIR_CODE_LENGTH && code_length % 2 == 1)
        {
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
    pub fn recover_nearest(
        short_code: &str,
        ref_lat: f64,
        ref_lon: f64,
    ) -> Result<String, OlcError> {
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
        if ref_lat + half_resolution < center_lat
            && center_lat - resolution >= -(LATITUDE_MAX as f64)
        {
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
}

/// A 5-digit postal code (Quyết định 2475/QĐ-BTTTT), stored as its number; displays, and
/// serializes, as the 5-digit string with leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(u32);

impl Postcode {
    /// `None` above 99 999.
    pub fn new(value: u32) -> Option<Postcode> {
        (value <= MAX_POSTCODE).then_some(Postcode(value))
    }

    pub fn value(self) -> u32 {
        self.0
    }

    /// Exactly 5 ASCII digits once surrounding whitespace is trimmed.
    pub fn parse(s: &str) -> Result<Postcode, CodeError> {
        let trimmed = s.trim();
        if trimmed.len() != POSTCODE_DIGITS || !trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(CodeError::InvalidPostcode {
                input: excerpt(trimmed),
            });
        }
        let value = trimmed
            .bytes()
            .fold(0, |value, byte| value * 10 + u32::from(byte - b'0'));
        Ok(Postcode(value))
    }
}

impl TryFrom<u32> for Postcode {
    type Error = CodeError;

    fn try_from(value: u32) -> Result<Postcode, CodeError> {
        Postcode::new(value).ok_or_else(|| CodeError::InvalidPostcode {
            input: value.to_string(),
        })
    }
}

impl TryFrom<String> for Postcode {
    type Error = CodeError;

    fn try_from(text: String) -> Result<Postcode, CodeError> {
        Postcode::parse(&text)
    }
}

impl From<Postcode> for String {
    fn from(postcode: Postcode) -> String {
        postcode.to_string()
    }
}

impl FromStr for Postcode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Postcode, CodeError> {
        Postcode::parse(s)
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

/// A parsed vmap code. Field order gives the derived order: postcode, grid, suffix (the
/// grid bytes compare like their alphabet values because the alphabet is in ASCII order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmapCode {
    postcode: Postcode,
    /// Uppercase alphabet bytes: OLC characters 5..11.
    grid: [u8; GRID_CHARS],
    /// 1 for the base code, 2..=MAX_SUFFIX for `-N`.
    suffix: u32,
}

impl VmapCode {
    /// The base code (no suffix) of `point` in the zone whose postal code and reference
    /// point are given.
    ///
    /// `Err(CodeError::TooFarFromReference)` unless decoding the code through `reference`
    /// gives back the cell that contains `point` (a point within 2e-14° below a cell edge
    /// counts as on it, see `olc::encode`). "Recover nearest" works within 0.5° of the
    /// reference; this requires |Δlat| < 0.45° and |Δlon| < 0.45° (longitude across the
    /// antimeridian counts the short way) to leave a margin. Coordinates outside
    /// [-90, 90] × [-180, 180] or not finite are `CodeError::InvalidCoordinate`.
    pub fn encode(
        postcode: Postcode,
        reference: LatLon,
        point: LatLon,
    ) -> Result<VmapCode, CodeError> {
        if LatLon::new(point.lat, point.lon).is_err()
            || LatLon::new(reference.lat, reference.lon).is_err()
        {
            return Err(CodeError::InvalidCoordinate);
        }
        let lat_offset = point.lat - reference.lat;
        let lon_offset = (point.lon - reference.lon + 540.0).rem_euclid(360.0) - 180.0;
        if lat_offset.abs() >= MAX_REFERENCE_OFFSET_DEGREES
            || lon_offset.abs() >= MAX_REFERENCE_OFFSET_DEGREES
        {
            return Err(CodeError::TooFarFromReference);
        }
        let digits = olc::encode_integer_digits(point.lat, point.lon);
        let mut grid = [0u8; GRID_CHARS];
        grid.copy_from_slice(&digits[GRID_OFFSET..GRID_OFFSET + GRID_CHARS]);
        let code = VmapCode {
            postcode,
            grid,
            suffix: NO_SUFFIX,
        };
        // The margin should make this hold everywhere; checking costs little and turns a
        // wrong code into an error.
        let recovered = code.full_olc(reference);
        let recovered_digits = recovered.bytes().filter(|&byte| byte != b'+');
        if !recovered_digits.eq(digits[..GRID_OFFSET + GRID_CHARS].iter().copied()) {
            return Err(CodeError::TooFarFromReference);
        }
        Ok(code)
    }

    pub fn postcode(&self) -> Postcode {
        self.postcode
    }

    /// The 7 grid characters, uppercase.
    pub fn grid(&self) -> &str {
        // The grid holds only alphabet bytes, so this never falls back.
        std::str::from_utf8(&self.grid).unwrap_or_default()
    }

    /// `None` for the base code, else `Some(n)` with n >= 2.
    pub fn suffix(&self) -> Option<u32> {
        (self.suffix != NO_SUFFIX).then_some(self.suffix)
    }

    /// The same cell with suffix `n`; 1 gives the base code, 0 and above `MAX_SUFFIX` are errors.
    pub fn with_suffix(self, n: u32) -> Result<VmapCode, CodeError> {
        if n == 0 || n > MAX_SUFFIX {
            return Err(CodeError::SuffixOutOfRange { suffix: n });
        }
        Ok(VmapCode { suffix: n, ..self })
    }

    /// The code without its suffix.
    pub fn base(self) -> VmapCode {
        VmapCode {
            suffix: NO_SUFFIX,
            ..self
        }
    }

    /// The full 11-digit OLC (with '+') recovered through the zone's reference point.
    pub fn full_olc(&self, reference: LatLon) -> String {
        olc::recover_digits(&self.grid, GRID_OFFSET, reference.lat, reference.lon)
    }

    /// The ~3 m cell: bounds and centre.
    pub fn cell(&self, reference: LatLon) -> olc::CodeArea {
        let digits: Vec<u8> = self
            .full_olc(reference)
            .bytes()
            .filter(|&byte| byte != b'+')
            .collect();
        olc::decode_digits(&digits)
    }

    /// Reads a code as people type it: any case, whitespace anywhere, hyphens inside the
    /// first 12 characters, one '+' in the grid part, then an optional suffix `-N`.
    pub fn parse(input: &str) -> Result<VmapCode, CodeError> {
        let mut chars = input
            .chars()
            .enumerate()
            .map(|(idx, character)| (idx + 1, character));
        let mut significant = [0u8; CODE_CHARS];
        let mut n_significant = 0;
        let mut seen_plus = false;
        while n_significant < CODE_CHARS {
            let Some((position, character)) = chars.next() else {
                break;
            };
            if character.is_whitespace() {
                continue;
            }
            let problem = if n_significant < POSTCODE_DIGITS {
                if let Some(byte) = ascii_byte(character).filter(u8::is_ascii_digit) {
                    significant[n_significant] = byte;
                    n_significant += 1;
                    continue;
                }
                match character {
                    '-' if n_significant > 0 => continue,
                    '-' => CharacterProblem::LeadingHyphen,
                    '+' => CharacterProblem::PlusInPostcode,
                    _ => CharacterProblem::NotAPostcodeDigit,
                }
            } else {
                let grid_byte = ascii_byte(character).map(|byte| byte.to_ascii_uppercase());
                if let Some(byte) = grid_byte.filter(|&byte| digit_value(byte).is_some()) {
                    significant[n_significant] = byte;
                    n_significant += 1;
                    continue;
                }
                match character {
                    '-' => continue,
                    '+' if !seen_plus => {
                        seen_plus = true;
                        continue;
                    }
                    '+' => CharacterProblem::SecondPlus,
                    '0' => CharacterProblem::Padding,
                    _ => CharacterProblem::NotInAlphabet,
                }
            };
            return Err(CodeError::InvalidCharacter {
                character,
                position,
                problem,
            });
        }
        if n_significant == 0 {
            return Err(CodeError::Empty);
        }
        if n_significant < CODE_CHARS {
            return Err(CodeError::TooShort {
                found: n_significant,
            });
        }
        let suffix = parse_suffix(chars)?;
        let postcode_value = significant[..POSTCODE_DIGITS]
            .iter()
            .fold(0, |value, &byte| value * 10 + u32::from(byte - b'0'));
        let mut grid = [0u8; GRID_CHARS];
        grid.copy_from_slice(&significant[POSTCODE_DIGITS..]);
        Ok(VmapCode {
            postcode: Postcode(postcode_value),
            grid,
            suffix,
        })
    }

    /// 12 uppercase characters, then `-N` when there is a suffix: `111162RWXP69-2`.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// Grouped for people: `11116 2RWX P69`, `11116 2RWX P69-2`.
    pub fn pretty(&self) -> String {
        let grid = self.grid();
        let mut text = format!("{} {} {}", self.postcode, &grid[..4], &grid[4..]);
        if let Some(suffix) = self.suffix() {
            text.push('-');
            text.push_str(&suffix.to_string());
        }
        text
    }

    /// A `u64` key: ((postcode × 20^7 + grid as a base-20 number) × 99 999 + suffix − 1).
    /// Keys sort like codes and `unpack(pack(c)) == c`.
    pub fn pack(&self) -> u64 {
        let grid_value = self.grid.iter().fold(0, |value, &byte| {
            value * 20 + digit_value(byte).map_or(0, u64::from)
        });
        (u64::from(self.postcode.0) * GRID_VALUES + grid_value) * SUFFIX_SLOTS
            + u64::from(self.suffix - NO_SUFFIX)
    }

    /// The code of a key made by `pack`; `None` for a number no code packs to.
    pub fn unpack(key: u64) -> Option<VmapCode> {
        let suffix = u32::try_from(key % SUFFIX_SLOTS).ok()? + NO_SUFFIX;
        let cell_value = key / SUFFIX_SLOTS;
        let postcode = Postcode::new(u32::try_from(cell_value / GRID_VALUES).ok()?)?;
        let mut grid_value = cell_value % GRID_VALUES;
        let mut grid = [0u8; GRID_CHARS];
        for byte in grid.iter_mut().rev() {
            *byte = OLC_ALPHABET[(grid_value % 20) as usize];
            grid_value /= 20;
        }
        Some(VmapCode {
            postcode,
            grid,
            suffix,
        })
    }
}

impl FromStr for VmapCode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<VmapCode, CodeError> {
        VmapCode::parse(s)
    }
}

impl fmt::Display for VmapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.postcode, self.grid())?;
        if let Some(suffix) = self.suffix() {
            write!(f, "-{suffix}")?;
        }
        Ok(())
    }
}

impl Serialize for VmapCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VmapCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<VmapCode, D::Error> {
        struct CodeVisitor;

        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = VmapCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a vmap code like \"111162RWXP69\"")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<VmapCode, E> {
                VmapCode::parse(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}

/// Why a code, postcode or point was refused. Positions are 1-based and count characters
/// of the input as typed (whitespace included), not bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    #[error("empty input: a code has 12 characters, like 11116 2RWX P69")]
    Empty,
    #[error("character {character:?} at position {position}{problem}")]
    InvalidCharacter {
        character: char,
        position: usize,
        problem: CharacterProblem,
    },
    #[error("too short: {found} of the 12 characters of a code")]
    TooShort { found: usize },
    #[error(
        "unexpected {character:?} at position {position} after the 12 characters of a code: only a suffix like -2 may follow"
    )]
    TooLong { character: char, position: usize },
    /// `suffix` is the suffix as far as it was read, like "-02" (long ones cut short).
    #[error("{}", suffix_message(.suffix, *.position, .problem))]
    InvalidSuffix {
        suffix: String,
        position: usize,
        problem: SuffixProblem,
    },
    #[error(
        "suffix {suffix} is out of range: suffixes run from 2 to {MAX_SUFFIX}, and 1 means none"
    )]
    SuffixOutOfRange { suffix: u32 },
    /// `input` is the text or number given (long ones cut short).
    #[error("postal code {input:?} is not 5 digits")]
    InvalidPostcode { input: String },
    #[error("coordinates must be finite, with lat in [-90, 90] and lon in [-180, 180]")]
    InvalidCoordinate,
    #[error(
        "the point is too far from the zone's reference point: a code works only within 0.45° of it in latitude and in longitude"
    )]
    TooFarFromReference,
}

impl CodeError {
    /// A machine-readable snake_case name of the error, for APIs.
    pub fn kind(&self) -> &'static str {
        match self {
            CodeError::Empty => "empty",
            CodeError::InvalidCharacter { .. } => "invalid_character",
            CodeError::TooShort { .. } => "too_short",
            CodeError::TooLong { .. } => "too_long",
            CodeError::InvalidSuffix { .. } | CodeError::SuffixOutOfRange { .. } => {
                "invalid_suffix"
            }
            CodeError::InvalidPostcode { .. } => "invalid_postcode",
            CodeError::InvalidCoordinate => "invalid_coordinate",
            CodeError::TooFarFromReference => "too_far_from_reference",
        }
    }

    /// The 1-based character position in the input that the error is about, if any.
    pub fn position(&self) -> Option<usize> {
        match self {
            CodeError::InvalidCharacter { position, .. }
            | CodeError::TooLong { position, .. }
            | CodeError::InvalidSuffix { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// The offending character, if the error is about one.
    pub fn character(&self) -> Option<char> {
        match self {
            CodeError::InvalidCharacter { character, .. }
            | CodeError::TooLong { character, .. } => Some(*character),
            CodeError::InvalidSuffix {
                problem: SuffixProblem::UnexpectedCharacter(character),
                ..
            } => Some(*character),
            _ => None,
        }
    }
}

/// What is wrong with a character among the 12 of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharacterProblem {
    NotAPostcodeDigit,
    NotInAlphabet,
    /// '0' in the grid part: OLC padding, meaningless for 7 fixed grid characters.
    Padding,
    SecondPlus,
    PlusInPostcode,
    LeadingHyphen,
}

impl fmt::Display for CharacterProblem {
    /// The tail of the message after "character 'X' at position N".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CharacterProblem::NotAPostcodeDigit => ": the first 5 characters are the postal code and must be digits",
            CharacterProblem::NotInAlphabet => " is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
            CharacterProblem::Padding => {
                ": '0' is plus-code padding, which a vmap code never has; the 7 grid characters are from 23456789CFGHJMPQRVWX"
            }
            CharacterProblem::SecondPlus => ": a code may have only one '+'",
            CharacterProblem::PlusInPostcode => ": '+' may only come after the 5-digit postal code",
            CharacterProblem::LeadingHyphen => ": a code cannot start with '-'",
        })
    }
}

/// What is wrong with the `-N` after the 12 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuffixProblem {
    MissingNumber,
    UnexpectedCharacter(char),
    Zero,
    One,
    LeadingZero,
    TooLarge,
}

fn suffix_message(suffix: &str, position: usize, problem: &SuffixProblem) -> String {
    match problem {
        SuffixProblem::MissingNumber => {
            format!("'-' at position {position} must be followed by a suffix number like -2")
        }
        SuffixProblem::UnexpectedCharacter(character) => format!(
            "character {character:?} at position {position}: a suffix is a decimal number like -2 and nothing may follow it"
        ),
        SuffixProblem::Zero => format!("suffix {suffix} is not allowed: suffixes start at -2"),
        SuffixProblem::One => {
            format!("suffix {suffix} is not allowed: the first address in a cell has no suffix")
        }
        SuffixProblem::LeadingZero => {
            format!("suffix {suffix} is not allowed: write it without leading zeros")
        }
        SuffixProblem::TooLarge => {
            format!("suffix {suffix} is too large: the largest is -{MAX_SUFFIX}")
        }
    }
}

/// Reads what follows the 12 characters: nothing, or `-N` with optional whitespace around
/// the hyphen. Returns the suffix value (1 for none).
fn parse_suffix(mut chars: impl Iterator<Item = (usize, char)>) -> Result<u32, CodeError> {
    let hyphen_position = loop {
        match chars.next() {
            None => return Ok(NO_SUFFIX),
            Some((_, character)) if character.is_whitespace() => continue,
            Some((position, '-')) => break position,
            Some((position, character)) => {
                return Err(CodeError::TooLong {
                    character,
                    position,
                });
            }
        }
    };
    let mut digits = String::new();
    let mut digits_position = hyphen_position;
    let mut digits_ended = false;
    for (position, character) in chars {
        if character.is_whitespace() {
            digits_ended = !digits.is_empty();
            continue;
        }
        if character.is_ascii_digit() && !digits_ended {
            if digits.is_empty() {
                digits_position = position;
            }
            digits.push(character);
            continue;
        }
        return Err(CodeError::InvalidSuffix {
            suffix: excerpt(&format!("-{digits}")),
            position,
            problem: SuffixProblem::UnexpectedCharacter(character),
        });
    }
    if digits.is_empty() {
        return Err(CodeError::InvalidSuffix {
            suffix: "-".to_owned(),
            position: hyphen_position,
            problem: SuffixProblem::MissingNumber,
        });
    }
    let value = digits.parse::<u32>().ok();
    let problem = match value {
        Some(0) => SuffixProblem::Zero,
        Some(1) => SuffixProblem::One,
        _ if digits.starts_with('0') => SuffixProblem::LeadingZero,
        Some(suffix) if suffix <= MAX_SUFFIX => return Ok(suffix),
        _ => SuffixProblem::TooLarge,
    };
    Err(CodeError::InvalidSuffix {
        suffix: excerpt(&format!("-{digits}")),
        position: digits_position,
        problem,
    })
}

fn ascii_byte(character: char) -> Option<u8> {
    u8::try_from(character).ok().filter(u8::is_ascii)
}

/// At most `MAX_ERROR_TEXT_CHARS` characters of `text`, marked when cut.
fn excerpt(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_TEXT_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_ERROR_TEXT_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test should fail loudly where its own fixtures are wrong
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HANOI: LatLon = LatLon {
        lat: 21.0285,
        lon: 105.8542,
    };

    fn code(text: &str) -> VmapCode {
        match VmapCode::parse(text) {
            Ok(code) => code,
            Err(err) => panic!("{text:?} should parse: {err}"),
        }
    }

    fn parse_error(text: &str) -> CodeError {
        match VmapCode::parse(text) {
            Ok(code) => panic!("{text:?} should not parse, got {code}"),
            Err(err) => err,
        }
    }

    #[test]
    fn grid_is_olc_characters_5_to_11() {
        let full = olc::encode(HANOI.lat, HANOI.lon, 11).unwrap();
        let reference = LatLon {
            lat: 21.1,
            lon: 105.9,
        };
        let vmap = VmapCode::encode(Postcode::new(11116).unwrap(), reference, HANOI).unwrap();
        assert_eq!(vmap.grid(), format!("{}{}", &full[4..8], &full[9..12]));
        assert_eq!(vmap.full_olc(reference), full);
        assert_eq!(vmap.suffix(), None);
    }

    #[test]
    fn example_from_the_brief() {
        // 7P3WQGQQ+XV4 lies in the 1° cell 7P3W; any reference nearby recovers it.
        let area = olc::decode("7P3WQGQQ+XV4").unwrap();
        let reference = LatLon {
            lat: area.center().lat + 0.3,
            lon: area.center().lon - 0.2,
        };
        let vmap =
            VmapCode::encode(Postcode::new(10000).unwrap(), reference, area.center()).unwrap();
        assert_eq!(vmap.grid(), "QGQQXV4");
        assert_eq!(vmap.full_olc(reference), "7P3WQGQQ+XV4");
        assert_eq!(vmap.cell(reference), area);
    }

    #[test]
    fn canonical_and_pretty_forms() {
        let base = code("111162RWXP69");
        assert_eq!(base.canonical(), "111162RWXP69");
        assert_eq!(base.pretty(), "11116 2RWX P69");
        let second = base.with_suffix(2).unwrap();
        assert_eq!(second.canonical(), "111162RWXP69-2");
        assert_eq!(second.to_string(), "111162RWXP69-2");
        assert_eq!(second.pretty(), "11116 2RWX P69-2");
        assert_eq!(second.base(), base);
        assert_eq!(base.with_suffix(1).unwrap(), base);
        assert_eq!(second.suffix(), Some(2));
        assert_eq!(base.postcode().value(), 11116);
    }

    #[test]
    fn parse_accepts_what_people_type() {
        let expected = code("111162RWXP69");
        for text in [
            "11116 2RWX P69",
            "11116-2rwx-p69",
            "  11116\t2RWX+P69 ",
            "111162RWX+P69",
            "11116+2RWXP69",
            "1\u{a0}1116 2RWX\u{3000}P69",
            "1-1-1-1-6-2-R-W-X-P-6-9",
        ] {
            assert_eq!(code(text), expected, "{text:?}");
        }
        let second = expected.with_suffix(2).unwrap();
        for text in [
            "111162RWXP69-2",
            "11116 2RWX P69 - 2",
            "11116 2rwx p69 -2  ",
        ] {
            assert_eq!(code(text), second, "{text:?}");
        }
        assert_eq!(code("00001 2222 222-99999").suffix(), Some(99_999));
        assert_eq!(
            "111162RWXP69-3".parse::<VmapCode>().unwrap().suffix(),
            Some(3)
        );
    }

    #[test]
    fn parse_errors_say_which_character_and_why() {
        let cases = [
            (
                "11116 2RWI P69",
                "character 'I' at position 10 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
            ),
            (
                // Positions count characters: the ideographic space is 3 bytes.
                "11116\u{3000}2RI P69",
                "character 'I' at position 9 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
            ),
            (
                "11A16 2RWX P69",
                "character 'A' at position 3: the first 5 characters are the postal code and must be digits",
            ),
            (
                "11116 2RWX P6",
                "too short: 11 of the 12 characters of a code",
            ),
            ("11116 2RW", "too short: 8 of the 12 characters of a code"),
            (
                "11116 2RWX P69X",
                "unexpected 'X' at position 15 after the 12 characters of a code: only a suffix like -2 may follow",
            ),
            (
                "111162RWXP69-1",
                "suffix -1 is not allowed: the first address in a cell has no suffix",
            ),
            (
                "111162RWXP69-0",
                "suffix -0 is not allowed: suffixes start at -2",
            ),
            (
                "111162RWXP69-02",
                "suffix -02 is not allowed: write it without leading zeros",
            ),
            (
                "111162RWXP69-100000",
                "suffix -100000 is too large: the largest is -99999",
            ),
            (
                "111162RWXP69-",
                "'-' at position 13 must be followed by a suffix number like -2",
            ),
            (
                "111162RWXP69-2a",
                "character 'a' at position 15: a suffix is a decimal number like -2 and nothing may follow it",
            ),
            (
                "111162RWXP69-2 3",
                "character '3' at position 16: a suffix is a decimal number like -2 and nothing may follow it",
            ),
            (
                "11116 2RW0 P69",
                "character '0' at position 10: '0' is plus-code padding, which a vmap code never has; the 7 grid characters are from 23456789CFGHJMPQRVWX",
            ),
            (
                "11116 2R+W+X P69",
                "character '+' at position 11: a code may have only one '+'",
            ),
            (
                "111+16 2RWX P69",
                "character '+' at position 4: '+' may only come after the 5-digit postal code",
            ),
            (
                "-11116 2RWX P69",
                "character '-' at position 1: a code cannot start with '-'",
            ),
            (
                "11116 ĐRWX P69",
                "character 'Đ' at position 7 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
            ),
            (
                "Đ1116 2RWX P69",
                "character 'Đ' at position 1: the first 5 characters are the postal code and must be digits",
            ),
            (
                "",
                "empty input: a code has 12 characters, like 11116 2RWX P69",
            ),
            (
                " \t ",
                "empty input: a code has 12 characters, like 11116 2RWX P69",
            ),
        ];
        for (input, message) in cases {
            let err = parse_error(input);
            assert_eq!(err.to_string(), message, "{input:?}");
            assert!(!err.to_string().ends_with('.'));
        }
    }

    #[test]
    fn errors_carry_position_character_and_kind() {
        let err = parse_error("ĐĐ11116");
        assert_eq!(err.kind(), "invalid_character");
        assert_eq!(err.position(), Some(1));
        assert_eq!(err.character(), Some('Đ'));
        let err = parse_error("11116 2RWX P69X");
        assert_eq!(
            (err.kind(), err.position(), err.character()),
            ("too_long", Some(15), Some('X'))
        );
        let err = parse_error("111162RWXP69-1");
        assert_eq!(
            (err.kind(), err.position(), err.character()),
            ("invalid_suffix", Some(14), None)
        );
        assert_eq!(parse_error("1111").kind(), "too_short");
        assert_eq!(parse_error("").kind(), "empty");
        assert_eq!(
            Postcode::parse("1234").unwrap_err().kind(),
            "invalid_postcode"
        );
        let far = VmapCode::encode(
            Postcode::new(1).unwrap(),
            HANOI,
            LatLon {
                lat: 21.5,
                lon: 105.8542,
            },
        );
        assert_eq!(far.unwrap_err().kind(), "too_far_from_reference");
        let nan = VmapCode::encode(
            Postcode::new(1).unwrap(),
            HANOI,
            LatLon {
                lat: f64::NAN,
                lon: 0.0,
            },
        );
        assert_eq!(nan.unwrap_err().kind(), "invalid_coordinate");
        assert_eq!(
            code("111162RWXP69").with_suffix(0).unwrap_err().kind(),
            "invalid_suffix"
        );
        assert!(code("111162RWXP69").with_suffix(MAX_SUFFIX + 1).is_err());
    }

    #[test]
    fn huge_suffix_errors_stay_small() {
        let input = format!("111162RWXP69-{}", "9".repeat(10_000));
        let err = parse_error(&input);
        assert!(err.to_string().len() < 120, "{err}");
    }

    #[test]
    fn postcode_parse_and_display() {
        assert_eq!(Postcode::parse(" 01234 ").unwrap().value(), 1234);
        assert_eq!(Postcode::parse("01234").unwrap().to_string(), "01234");
        for bad in ["1234", "123456", "12a45", "", "１２３４５", "12 45"] {
            assert!(Postcode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Postcode::new(99_999).map(Postcode::value), Some(99_999));
        assert_eq!(Postcode::new(100_000), None);
        assert_eq!(
            Postcode::parse("1234").unwrap_err().to_string(),
            "postal code \"1234\" is not 5 digits"
        );
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let second = code("11116 2RWX P69-2");
        let json = serde_json::to_string(&second).unwrap();
        assert_eq!(json, "\"111162RWXP69-2\"");
        assert_eq!(
            serde_json::from_str::<VmapCode>("\"11116 2rwx p69-2\"").unwrap(),
            second
        );
        assert!(serde_json::from_str::<VmapCode>("\"11116 2RWX P69-1\"").is_err());
        assert_eq!(
            serde_json::to_string(&Postcode::new(1234).unwrap()).unwrap(),
            "\"01234\""
        );
        assert!(serde_json::from_str::<Postcode>("\"100000\"").is_err());
        assert!(serde_json::from_str::<Postcode>("11116").is_err());
    }

    #[test]
    fn pack_extremes_round_trip() {
        let smallest = code("000002222222");
        let largest = code("99999XXXXXXX").with_suffix(MAX_SUFFIX).unwrap();
        assert_eq!(smallest.pack(), 0);
        assert_eq!(VmapCode::unpack(largest.pack()), Some(largest));
        assert_eq!(VmapCode::unpack(largest.pack() + 1), None);
        assert_eq!(VmapCode::unpack(u64::MAX), None);
    }

    #[test]
    fn codes_at_the_antimeridian_and_poles() {
        let postcode = Postcode::new(1).unwrap();
        for (reference, point) in [
            (
                LatLon {
                    lat: 0.0,
                    lon: 179.8,
                },
                LatLon {
                    lat: 0.1,
                    lon: -179.9,
                },
            ),
            (
                LatLon {
                    lat: 0.0,
                    lon: -179.8,
                },
                LatLon {
                    lat: 0.1,
                    lon: 179.9,
                },
            ),
            (
                LatLon {
                    lat: 89.8,
                    lon: 0.0,
                },
                LatLon {
                    lat: 90.0,
                    lon: 0.0,
                },
            ),
            (
                LatLon {
                    lat: -89.8,
                    lon: 0.0,
                },
                LatLon {
                    lat: -90.0,
                    lon: 0.0,
                },
            ),
        ] {
            let vmap = VmapCode::encode(postcode, reference, point).unwrap();
            assert_eq!(
                vmap.full_olc(reference),
                olc::encode(point.lat, point.lon, 11).unwrap()
            );
            let cell = vmap.cell(reference);
            assert!(
                cell.south <= point.lat && point.lat <= cell.north,
                "{cell:?} {point:?}"
            );
            assert!(
                cell.west <= point.lon && point.lon <= cell.east,
                "{cell:?} {point:?}"
            );
        }
    }

    /// The integer columns of the reference encoding vectors.
    #[test]
    fn location_to_integers_matches_the_vectors() {
        let vectors = include_str!("../tests/data/olc/encoding.csv");
        let mut n_checked = 0;
        for line in vectors
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
        {
            let fields: Vec<&str> = line.split(',').collect();
            let degrees = |idx: usize| fields[idx].parse::<f64>().unwrap();
            let steps = |idx: usize| fields[idx].parse::<i64>().unwrap();
            let got = olc::location_to_integers(degrees(0), degrees(1));
            assert_eq!(got, (steps(2), steps(3)), "{line}");
            n_checked += 1;
        }
        assert!(n_checked > 300);
    }

    fn arbitrary_code() -> impl Strategy<Value = VmapCode> {
        let suffix = prop_oneof![Just(1u32), 2u32..20, 2u32..=MAX_SUFFIX];
        (0u32..=99_999, proptest::array::uniform7(0usize..20), suffix).prop_map(
            |(postcode, grid_values, suffix)| {
                let grid = grid_values.map(|value| OLC_ALPHABET[value]);
                VmapCode {
                    postcode: Postcode(postcode),
                    grid,
                    suffix,
                }
            },
        )
    }

    fn wrap_longitude(lon: f64) -> f64 {
        (lon + 540.0).rem_euclid(360.0) - 180.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decoded_cell_contains_the_point(
            ref_lat in -85.0f64..85.0,
            ref_lon in -180.0f64..180.0,
            lat_offset in -0.44f64..0.44,
            lon_offset in -0.44f64..0.44,
        ) {
            let reference = LatLon { lat: ref_lat, lon: ref_lon };
            let point = LatLon { lat: ref_lat + lat_offset, lon: wrap_longitude(ref_lon + lon_offset) };
            let vmap = VmapCode::encode(Postcode(12345), reference, point).unwrap();
            let cell = vmap.cell(reference);
            // Encoding may round a point up by 2e-14° onto a cell edge (see `olc::encode`).
            let slack = 1e-12;
            prop_assert!(cell.south - slack <= point.lat && point.lat < cell.north, "{:?} {:?}", cell, point);
            prop_assert!(cell.west - slack <= point.lon && point.lon < cell.east, "{:?} {:?}", cell, point);
            prop_assert!(cell.north - cell.south < 3e-5 && cell.east - cell.west < 4e-5);
            prop_assert_eq!(vmap.full_olc(reference), olc::encode(point.lat, point.lon, 11).unwrap());
            let center = cell.center();
            prop_assert!(cell.south < center.lat && center.lat < cell.north);
        }

        #[test]
        fn recovery_from_a_nearby_reference_gives_the_full_code(
            lat in -89.0f64..89.0,
            lon in -180.0f64..180.0,
            lat_offset in -0.4f64..0.4,
            lon_offset in -0.4f64..0.4,
        ) {
            let full = olc::encode(lat, lon, 11).unwrap();
            let short = &full[4..];
            let ref_lat = lat + lat_offset;
            let ref_lon = wrap_longitude(lon + lon_offset);
            prop_assert_eq!(olc::recover_nearest(short, ref_lat, ref_lon).unwrap(), full.clone());
            let shortened = olc::shorten(&full, ref_lat, ref_lon).unwrap();
            prop_assert_eq!(olc::recover_nearest(&shortened, ref_lat, ref_lon).unwrap(), full);
        }

        #[test]
        fn canonical_and_pretty_parse_back(vmap in arbitrary_code()) {
            prop_assert_eq!(VmapCode::parse(&vmap.canonical()).unwrap(), vmap);
            prop_assert_eq!(VmapCode::parse(&vmap.pretty()).unwrap(), vmap);
            prop_assert_eq!(VmapCode::parse(&vmap.pretty().to_lowercase()).unwrap(), vmap);
            prop_assert_eq!(vmap.canonical().len(), if vmap.suffix().is_some() { 13 + vmap.suffix.to_string().len() } else { 12 });
        }

        #[test]
        fn pack_round_trips_and_keeps_order(first in arbitrary_code(), second in arbitrary_code()) {
            prop_assert_eq!(VmapCode::unpack(first.pack()), Some(first));
            prop_assert_eq!(first.pack().cmp(&second.pack()), first.cmp(&second));
            let same_cell = first.base().with_suffix(second.suffix.max(1)).unwrap();
            prop_assert_eq!(same_cell.pack().cmp(&first.pack()), same_cell.suffix.cmp(&first.suffix));
        }

        #[test]
        fn unpack_never_panics(key in any::<u64>()) {
            if let Some(vmap) = VmapCode::unpack(key) {
                prop_assert_eq!(vmap.pack(), key);
            }
        }

        #[test]
        fn parse_never_panics(input in ".*") {
            let _ = VmapCode::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_code_like_input(input in "[0-9A-Za-zĐđ +\\-\t]{0,24}") {
            match VmapCode::parse(&input) {
                Ok(vmap) => prop_assert_eq!(VmapCode::parse(&vmap.canonical()).unwrap(), vmap),
                Err(err) => {
                    let message = err.to_string();
                    prop_assert!(!message.ends_with('.'));
                    if let Some(position) = err.position() {
                        prop_assert!(position >= 1 && position <= input.chars().count());
                    }
                    if let (Some(position), Some(character)) = (err.position(), err.character()) {
                        prop_assert_eq!(input.chars().nth(position - 1), Some(character));
                    }
                }
            }
        }

        #[test]
        fn olc_functions_never_panic(input in ".{0,20}", lat in any::<f64>(), lon in any::<f64>()) {
            let _ = olc::is_valid(&input);
            let _ = olc::decode(&input);
            let _ = olc::shorten(&input, lat, lon);
            let _ = olc::recover_nearest(&input, lat, lon);
            let _ = olc::encode(lat, lon, 11);
        }
    }
}
