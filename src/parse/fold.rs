//! Folding characters for matching: lowercase ASCII letters and digits, with the Vietnamese
//! marks split off and kept apart as a "quality" (â ă ê ô ơ ư đ) and a "tone" (the five
//! tone marks), so that a name matches written with or without them and the marks can
//! still tell "Sa Pa" from "Sa Pả" when the text has them.
//!
//! Decisions:
//! - Latin letters U+00C0–U+1EFF are folded through a table made once from their canonical
//!   decomposition (`unicode-normalization`), so a lookup per character is an index.
//! - Combining marks (NFD input) fold to nothing but still report their quality and tone.
//! - Any other letter or digit is a "foreign" letter: it stays in its word but never
//!   matches a name. Everything else separates words; what kind of separator it is
//!   (comma-like, dot, slash, hyphen or space) is kept.

use std::sync::OnceLock;

use unicode_normalization::char::decompose_canonical;

/// Vowel (and đ) modifications that change the letter.
pub(crate) const QUALITY_NONE: u8 = 0;
const QUALITY_CIRCUMFLEX: u8 = 1;
const QUALITY_BREVE: u8 = 2;
const QUALITY_HORN: u8 = 3;
const QUALITY_STROKE: u8 = 4;

/// Tone marks (one per syllable; where it sits varies, "hoà"/"hòa").
pub(crate) const TONE_NONE: u8 = 0;

/// How a character folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folded {
    /// An ASCII letter (lowercased) or digit, with the marks it carried.
    Letter { ascii: u8, quality: u8, tone: u8 },
    /// A combining mark: belongs to the previous letter.
    Mark { quality: u8, tone: u8 },
    /// A letter or digit of another script, or a symbol that is part of a word.
    Foreign,
    /// Between words.
    Separator(SepKind),
}

/// What separates two words. Order matters: a stronger kind wins when several are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SepKind {
    Space,
    Hyphen,
    Slash,
    Dot,
    /// Comma, semicolon, line break, bracket, pipe, tab: parts of an address.
    Hard,
}

#[derive(Debug, Clone, Copy, Default)]
struct TableEntry {
    /// 0: not a foldable letter.
    ascii: u8,
    quality: u8,
    tone: u8,
}

const TABLE_START: u32 = 0x00C0;
const TABLE_END: u32 = 0x1EFF;

fn mark_of(mark: char) -> Option<(u8, u8)> {
    Some(match mark {
        '\u{0300}' => (QUALITY_NONE, 1),
        '\u{0301}' => (QUALITY_NONE, 2),
        '\u{0303}' => (QUALITY_NONE, 3),
        '\u{0309}' => (QUALITY_NONE, 4),
        '\u{0323}' => (QUALITY_NONE, 5),
        '\u{0302}' => (QUALITY_CIRCUMFLEX, TONE_NONE),
        '\u{0306}' => (QUALITY_BREVE, TONE_NONE),
        '\u{031B}' => (QUALITY_HORN, TONE_NONE),
        '\u{0300}'..='\u{036F}' => (QUALITY_NONE, TONE_NONE),
        _ => return None,
    })
}

fn table() -> &'static [TableEntry] {
    static TABLE: OnceLock<Vec<TableEntry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (TABLE_START..=TABLE_END)
            .map(|code| {
                let Some(c) = char::from_u32(code) else {
                    return TableEntry::default();
                };
                if c == 'đ' || c == 'Đ' {
                    return TableEntry {
                        ascii: b'd',
                        quality: QUALITY_STROKE,
                        tone: TONE_NONE,
                    };
                }
                let mut entry = TableEntry::default();
                let mut base_seen = false;
                let mut foldable = true;
                decompose_canonical(c, |part| {
                    if !base_seen {
                        base_seen = true;
                        if part.is_ascii_alphabetic() {
                            entry.ascii = part.to_ascii_lowercase() as u8;
                        } else {
                            foldable = false;
                        }
                    } else if let Some((quality, tone)) = mark_of(part) {
                        entry.quality = entry.quality.max(quality);
                        entry.tone = entry.tone.max(tone);
                    } else {
                        foldable = false;
                    }
                });
                if foldable {
                    entry
                } else {
                    TableEntry::default()
                }
            })
            .collect()
    })
}

/// Folds one character.
pub(crate) fn fold_char(c: char) -> Folded {
    if c.is_ascii() {
        return match c {
            'a'..='z' | '0'..='9' => Folded::Letter {
                ascii: c as u8,
                quality: QUALITY_NONE,
                tone: TONE_NONE,
            },
            'A'..='Z' => Folded::Letter {
                ascii: c.to_ascii_lowercase() as u8,
                quality: QUALITY_NONE,
                tone: TONE_NONE,
            },
            ',' | ';' | '\n' | '\r' | '\t' | '|' | '(' | ')' | '[' | ']' | '{' | '}' => {
                Folded::Separator(SepKind::Hard)
            }
            '.' => Folded::Separator(SepKind::Dot),
            '/' | '\\' => Folded::Separator(SepKind::Slash),
            '-' => Folded::Separator(SepKind::Hyphen),
            _ => Folded::Separator(SepKind::Space),
        };
    }
    let code = c as u32;
    if let Some((quality, tone)) = mark_of(c) {
        return Folded::Mark { quality, tone };
    }
    if (TABLE_START..=TABLE_END).contains(&code) {
        let entry = table()[(code - TABLE_START) as usize];
        if entry.ascii != 0 {
            return Folded::Letter {
                ascii: entry.ascii,
                quality: entry.quality,
                tone: entry.tone,
            };
        }
    }
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Folded::Separator(SepKind::Hyphen),
        '\u{FF0C}' | '\u{3001}' | '\u{2028}' | '\u{2029}' | '\u{FF1B}' => {
            Folded::Separator(SepKind::Hard)
        }
        _ if c.is_alphanumeric() => Folded::Foreign,
        _ => Folded::Separator(SepKind::Space),
    }
}

/// The text folded to ASCII words joined by single spaces ("Phường Phúc Xá" → "phuong phuc
/// xa"); used to compare names in tests and to build the renderer's name set.
pub fn fold_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        match fold_char(c) {
            Folded::Letter { ascii, .. } => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(ascii as char);
            }
            Folded::Mark { .. } => {}
            Folded::Foreign => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.extend(c.to_lowercase());
            }
            Folded::Separator(_) => pending_space = true,
        }
    }
    out
}

/// Removes the Vietnamese marks and keeps everything else, case included ("Phường Phúc
/// Xá" → "Phuong Phuc Xa"): how text is written on a keyboard without them.
pub fn strip_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match fold_char(c) {
            Folded::Letter { ascii, .. } if !c.is_ascii() => {
                if c.is_uppercase() {
                    out.push(ascii.to_ascii_uppercase() as char);
                } else {
                    out.push(ascii as char);
                }
            }
            Folded::Mark { .. } => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(c: char) -> (u8, u8, u8) {
        match fold_char(c) {
            Folded::Letter {
                ascii,
                quality,
                tone,
            } => (ascii, quality, tone),
            other => panic!("{c:?} folded to {other:?}"),
        }
    }

    #[test]
    fn vietnamese_letters_fold_to_ascii_with_their_marks() {
        assert_eq!(letter('Ấ').0, b'a');
        assert_eq!(letter('ấ'), letter('Ấ'));
        assert_ne!(letter('ả'), letter('a'));
        assert_eq!(letter('đ'), (b'd', QUALITY_STROKE, TONE_NONE));
        assert_eq!(letter('Đ'), letter('đ'));
        assert_eq!(letter('ự').0, b'u');
        assert_eq!(letter('ự').1, QUALITY_HORN);
        assert_eq!(
            fold_char('\u{0301}'),
            Folded::Mark {
                quality: QUALITY_NONE,
                tone: 2
            }
        );
        assert_eq!(fold_char('中'), Folded::Foreign);
        assert_eq!(fold_char('😀'), Folded::Separator(SepKind::Space));
        assert_eq!(fold_char('–'), Folded::Separator(SepKind::Hyphen));
    }

    #[test]
    fn words_fold_the_same_from_nfc_and_nfd() {
        use unicode_normalization::UnicodeNormalization;
        let text = "Phường Phúc Xá, Quận Ba Đình";
        let nfd: String = text.nfd().collect();
        assert_ne!(nfd, text);
        assert_eq!(fold_words(text), "phuong phuc xa quan ba dinh");
        assert_eq!(fold_words(&nfd), fold_words(text));
        assert_eq!(strip_marks(text), "Phuong Phuc Xa, Quan Ba Dinh");
    }
}
