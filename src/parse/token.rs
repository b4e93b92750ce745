//! Splitting text into words.
//!
//! A word is a run of letters and digits; a run is also split where letters and digits
//! meet ("P7" → "p" "7", "12A" → "12" "a"), with nothing between them. Each word keeps its
//! place in the text, its folded key (ASCII, lowercase; numbers without leading zeros),
//! the separators before it, and a signature of its marks.
//!
//! All keys go into one buffer without spaces, so the key of a run of words is one slice
//! of it: looking up "ba dinh" is looking up `keys[start..end]`, with no allocation.

use super::fold::{Folded, QUALITY_NONE, SepKind, TONE_NONE, fold_char};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Word,
    Number,
    /// Holds a letter of another script: never part of a name.
    Foreign,
}

/// Separator flags between a token and the one before it.
pub(crate) const SEP_SPACE: u8 = 1;
pub(crate) const SEP_HYPHEN: u8 = 2;
pub(crate) const SEP_SLASH: u8 = 4;
pub(crate) const SEP_DOT: u8 = 8;
pub(crate) const SEP_HARD: u8 = 16;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// Byte range in the text.
    pub start: u32,
    pub end: u32,
    /// Byte range in [`Tokens::keys`].
    pub key_start: u32,
    pub key_end: u32,
    /// `SEP_*` flags seen since the previous token (0: glued to it, as "12" and "A").
    pub sep: u8,
    pub kind: TokenKind,
    /// Whether any letter carried a Vietnamese mark.
    pub marked: bool,
    /// Letters with their vowel marks and the syllable's tone, hashed; equal for two
    /// spellings of one syllable whatever the tone's position ("hoà", "hòa").
    pub sig: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Tokens {
    pub tokens: Vec<Token>,
    pub keys: String,
    /// Whether any token carried a mark: text typed with marks everywhere but a name
    /// written without is telling us something; text without any tells nothing.
    pub any_marked: bool,
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv(hash: u32, byte: u8) -> u32 {
    (hash ^ u32::from(byte)).wrapping_mul(FNV_PRIME)
}

/// Combines token signatures into the signature of a run of tokens.
pub(crate) fn combine_sig(acc: u32, sig: u32) -> u32 {
    acc.rotate_left(7).wrapping_mul(0x9e37_79b1) ^ sig
}

struct Pending {
    start: usize,
    end: usize,
    kind: TokenKind,
    key_start: usize,
    sig: u32,
    /// The last letter and its vowel mark, hashed once the next letter starts (a mark
    /// of NFD text comes after its letter).
    last: Option<(u8, u8)>,
    tone: u8,
    marked: bool,
    sep: u8,
}

impl Pending {
    fn new(start: usize, end: usize, kind: TokenKind, key_start: usize, sep: u8) -> Pending {
        Pending {
            start,
            end,
            kind,
            key_start,
            sig: FNV_OFFSET,
            last: None,
            tone: TONE_NONE,
            marked: false,
            sep,
        }
    }

    fn flush_letter(&mut self) {
        if let Some((ascii, quality)) = self.last.take() {
            self.sig = fnv(fnv(self.sig, ascii), quality);
        }
    }
}

impl Tokens {
    pub fn key(&self, token: &Token) -> &str {
        &self.keys[token.key_start as usize..token.key_end as usize]
    }

    /// The key of tokens `start..end` (end exclusive, `start < end`).
    pub fn span_key(&self, start: usize, end: usize) -> &str {
        let first = self.tokens[start].key_start as usize;
        let last = self.tokens[end - 1].key_end as usize;
        &self.keys[first..last]
    }

    /// The signature of tokens `start..end`.
    pub fn span_sig(&self, start: usize, end: usize) -> u32 {
        self.tokens[start..end]
            .iter()
            .fold(0, |acc, token| combine_sig(acc, token.sig))
    }

    /// Number of ASCII letters in the key of tokens `start..end`.
    pub fn span_letters(&self, start: usize, end: usize) -> usize {
        self.span_key(start, end)
            .bytes()
            .filter(u8::is_ascii_alphabetic)
            .count()
    }

    /// Splits `text` into tokens (`text` is used as is: NFC or NFD both work).
    pub fn tokenize(text: &str) -> Tokens {
        let bytes = text.as_bytes();
        let mut tokens = Tokens {
            tokens: Vec::with_capacity(bytes.len() / 4 + 1),
            keys: String::with_capacity(bytes.len()),
            any_marked: false,
        };
        // The token being read; `active` says whether there is one.
        let mut current = Pending::new(0, 0, TokenKind::Word, 0, 0);
        let mut active = false;
        let mut sep: u8 = 0;
        let mut pos = 0;
        while pos < bytes.len() {
            let byte = bytes[pos];
            // ASCII is most of any address: no decoding for it.
            let (folded, len) = if byte.is_ascii() {
                (fold_char(byte as char), 1)
            } else {
                match text[pos..].chars().next() {
                    Some(c) => (fold_char(c), c.len_utf8()),
                    None => break,
                }
            };
            let end = pos + len;
            match folded {
                Folded::Letter {
                    ascii,
                    quality,
                    tone,
                } => {
                    let kind = if ascii.is_ascii_digit() {
                        TokenKind::Number
                    } else {
                        TokenKind::Word
                    };
                    let continues =
                        active && (current.kind == kind || current.kind == TokenKind::Foreign);
                    if !continues {
                        if active {
                            tokens.finish(&mut current);
                        }
                        current = Pending::new(
                            pos,
                            end,
                            kind,
                            tokens.keys.len(),
                            std::mem::take(&mut sep),
                        );
                        active = true;
                    }
                    current.end = end;
                    tokens.keys.push(ascii as char);
                    current.flush_letter();
                    current.last = Some((ascii, quality));
                    if tone != TONE_NONE && current.tone == TONE_NONE {
                        current.tone = tone;
                    }
                    current.marked |= quality != QUALITY_NONE || tone != TONE_NONE;
                }
                Folded::Mark { quality, tone } => {
                    if active {
                        current.end = end;
                        if let Some((_, last_quality)) = current.last.as_mut() {
                            *last_quality = (*last_quality).max(quality);
                        }
                        if tone != TONE_NONE && current.tone == TONE_NONE {
                            current.tone = tone;
                        }
                        current.marked |= quality != QUALITY_NONE || tone != TONE_NONE;
                    }
                }
                Folded::Foreign => {
                    if active {
                        current.end = end;
                        current.kind = TokenKind::Foreign;
                    } else {
                        current = Pending::new(
                            pos,
                            end,
                            TokenKind::Foreign,
                            tokens.keys.len(),
                            std::mem::take(&mut sep),
                        );
                        active = true;
                    }
                    // A byte no name key holds, so this token matches nothing.
                    tokens.keys.push('~');
                }
                Folded::Separator(kind) => {
                    if active {
                        tokens.finish(&mut current);
                        active = false;
                    }
                    sep |= match kind {
                        SepKind::Space => SEP_SPACE,
                        SepKind::Hyphen => SEP_HYPHEN,
                        SepKind::Slash => SEP_SLASH,
                        SepKind::Dot => SEP_DOT,
                        SepKind::Hard => SEP_HARD,
                    };
                }
            }
            pos = end;
        }
        if active {
            tokens.finish(&mut current);
        }
        tokens
    }

    fn finish(&mut self, pending: &mut Pending) {
        pending.flush_letter();
        let key_start = pending.key_start;
        if pending.kind == TokenKind::Number {
            // "07" and "7" are one number: drop leading zeros, keeping a last digit.
            let digits = &self.keys[key_start..];
            let zeros = digits.bytes().take_while(|&b| b == b'0').count();
            let keep_from = zeros.min(digits.len().saturating_sub(1));
            if keep_from > 0 {
                self.keys
                    .replace_range(key_start..key_start + keep_from, "");
            }
        }
        let marked = pending.marked;
        self.any_marked |= marked;
        let sig = fnv(pending.sig, pending.tone);
        self.tokens.push(Token {
            start: pending.start as u32,
            end: pending.end as u32,
            key_start: key_start as u32,
            key_end: self.keys.len() as u32,
            sep: pending.sep,
            kind: pending.kind,
            marked,
            sig,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        let tokens = Tokens::tokenize(text);
        tokens
            .tokens
            .iter()
            .map(|token| tokens.key(token).to_owned())
            .collect()
    }

    #[test]
    fn splits_words_numbers_and_glued_markers() {
        assert_eq!(
            keys("12/3 Hẻm 45, P.13, Q10, TP.HCM"),
            ["12", "3", "hem", "45", "p", "13", "q", "10", "tp", "hcm"]
        );
        assert_eq!(keys("P.07"), ["p", "7"]);
        assert_eq!(keys("số 0"), ["so", "0"]);
        assert_eq!(keys("12A"), ["12", "a"]);
        assert_eq!(keys("  ,,, "), Vec::<String>::new());
    }

    #[test]
    fn separators_are_recorded_on_the_following_token() {
        let tokens = Tokens::tokenize("12/3 Lê, P.7-8");
        let seps: Vec<u8> = tokens.tokens.iter().map(|t| t.sep).collect();
        assert_eq!(
            seps,
            [
                0,
                SEP_SLASH,
                SEP_SPACE,
                SEP_HARD | SEP_SPACE,
                SEP_DOT,
                SEP_HYPHEN
            ]
        );
    }

    #[test]
    fn signatures_ignore_tone_position_and_form_but_not_marks() {
        let sig = |text: &str| {
            let tokens = Tokens::tokenize(text);
            tokens.span_sig(0, tokens.tokens.len())
        };
        assert_eq!(sig("Hòa Bình"), sig("Hoà Bình"));
        assert_eq!(sig("hòa bình"), sig("HÒA BÌNH"));
        use unicode_normalization::UnicodeNormalization;
        let nfd: String = "Phường Sa Pả".nfd().collect();
        assert_eq!(sig(&nfd), sig("Phường Sa Pả"));
        assert_ne!(sig("Sa Pa"), sig("Sa Pả"));
        assert_ne!(sig("Ba Tơ"), sig("Ba Tô"));
        let tokens = Tokens::tokenize("sa pa");
        assert!(!tokens.any_marked);
    }

    #[test]
    fn foreign_letters_never_form_a_name_key() {
        let tokens = Tokens::tokenize("Hà中Nội");
        assert_eq!(tokens.tokens.len(), 1);
        assert!(tokens.keys.contains('~'));
        assert_eq!(tokens.tokens[0].kind, TokenKind::Foreign);
    }
}
