//! The vmap code: `PPPPP GGGGGGG [-N]`.
//!
//! A zone's 5-digit postal code, then characters 5..11 of the point's Open Location Code
//! without the '+', then `-N` (N >= 2) for the second and later addresses of one ~3 m cell.
//! The 4 OLC characters left out name a 1°×1° cell; they come back from the zone's reference
//! point, so decoding needs no registry. Pure: no I/O, and nothing here panics on input.

use std::fmt;
use std::str::FromStr;

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

pub mod olc;
mod scheme;

pub use scheme::PostalScheme;

/// A 5-digit postal code (Quyết định 2475/QĐ-BTTTT), stored as its number; displays as the
/// 5-digit string with leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// Appends the canonical form to `text` without the formatting machinery: a bulk writer
    /// writes it for every row, and `write!` cost that single thread a tenth of its time.
    pub fn push_canonical(&self, text: &mut String) {
        let mut digits = [b'0'; POSTCODE_DIGITS];
        let mut value = self.postcode.0;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
        // Both arrays hold ASCII only (digits; alphabet bytes), so neither falls back.
        text.push_str(std::str::from_utf8(&digits).unwrap_or_default());
        text.push_str(self.grid());
        if let Some(suffix) = self.suffix() {
            text.push('-');
            let mut suffix_digits = [0u8; 10];
            let mut start = suffix_digits.len();
            let mut value = suffix;
            while value > 0 {
                start -= 1;
                suffix_digits[start] = b'0' + (value % 10) as u8;
                value /= 10;
            }
            text.push_str(std::str::from_utf8(&suffix_digits[start..]).unwrap_or_default());
        }
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
mod tests;
