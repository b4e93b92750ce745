//! The address line: what is left once the units are read — house number, alley, street,
//! hamlet — and what nothing explains.

use super::lexicon::{Marker, MarkerKind};
use super::token::{SEP_HARD, SEP_HYPHEN, SEP_SLASH, TokenKind, Tokens};

/// The parts of the address below the ward, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Line {
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub hamlet: Option<String>,
    pub unused: Vec<String>,
}

/// Letters glued to or after a house number that still belong to it ("12A", "12bis").
const MAX_HOUSE_SUFFIX_LETTERS: usize = 3;

/// A bare number this long is a postal code or a phone number, not a house.
const MIN_NOT_HOUSE_DIGITS: usize = 5;

struct Scan<'a> {
    text: &'a str,
    tokens: &'a Tokens,
    markers: &'a [Option<Marker>],
    covered: &'a [bool],
}

impl Scan<'_> {
    fn len(&self) -> usize {
        self.tokens.tokens.len()
    }

    fn slice(&self, first: usize, last_exclusive: usize) -> String {
        let start = self.tokens.tokens[first].start as usize;
        let end = self.tokens.tokens[last_exclusive - 1].end as usize;
        self.text[start..end].to_owned()
    }

    fn sep(&self, idx: usize) -> u8 {
        self.tokens.tokens[idx].sep
    }

    /// A run of words from `start` until a part boundary, a unit already read, or a
    /// marker (`stop_at` decides which markers end it). Returns the end (exclusive).
    fn words_until(&self, start: usize, stop_at: impl Fn(MarkerKind) -> bool) -> usize {
        let mut idx = start;
        while idx < self.len() {
            if self.covered[idx] || (idx > start && self.sep(idx) & SEP_HARD != 0) {
                break;
            }
            if idx > start
                && let Some(marker) = self.markers[idx]
                && stop_at(marker.kind)
            {
                break;
            }
            idx += 1;
        }
        idx
    }

    /// A house or alley number starting at `start`: digits, and glued or slash/hyphen
    /// joined digits and short letter groups ("12", "12A", "45/3/5", "12-14", "12bis").
    fn number_chain(&self, start: usize) -> Option<usize> {
        let first = self.tokens.tokens.get(start)?;
        if first.kind != TokenKind::Number || self.covered[start] {
            return None;
        }
        let mut idx = start + 1;
        while idx < self.len() && !self.covered[idx] {
            let token = &self.tokens.tokens[idx];
            let sep = token.sep;
            let joined = sep == 0 || sep == SEP_SLASH || sep == SEP_HYPHEN;
            let fits = match token.kind {
                TokenKind::Number => true,
                TokenKind::Word => {
                    sep == 0
                        && (token.key_end - token.key_start) as usize <= MAX_HOUSE_SUFFIX_LETTERS
                }
                TokenKind::Foreign => false,
            };
            if !joined || !fits {
                break;
            }
            idx += 1;
        }
        Some(idx)
    }
}

/// Reads the tokens no unit took.
pub(crate) fn extract(
    text: &str,
    tokens: &Tokens,
    markers: &[Option<Marker>],
    covered: &[bool],
) -> Line {
    let scan = Scan {
        text,
        tokens,
        markers,
        covered,
    };
    let mut line = Line::default();
    let mut alley_parts: Vec<String> = Vec::new();
    let mut hamlet_parts: Vec<String> = Vec::new();
    let n = scan.len();
    let mut idx = 0;
    let any_marker = |_: MarkerKind| true;
    let unit_or_place = |kind: MarkerKind| !matches!(kind, MarkerKind::House | MarkerKind::Street);
    while idx < n {
        if covered[idx] {
            idx += 1;
            continue;
        }
        if let Some(marker) = markers[idx]
            && marker.end() < n
            && !(marker.start..marker.end()).any(|pos| covered[pos])
        {
            let after = marker.end();
            match marker.kind {
                MarkerKind::Country => {
                    idx = after;
                    continue;
                }
                MarkerKind::House => {
                    if let Some(end) = scan.number_chain(after)
                        && line.house_number.is_none()
                    {
                        line.house_number = Some(scan.slice(after, end));
                        idx = end;
                        continue;
                    }
                }
                MarkerKind::Alley(word) => {
                    let end = match scan.number_chain(after) {
                        Some(end) => end,
                        None => scan.words_until(after, any_marker),
                    };
                    if end > after {
                        alley_parts.push(format!("{word} {}", scan.slice(after, end)));
                        idx = end;
                        continue;
                    }
                }
                MarkerKind::Hamlet => {
                    let end = match scan.number_chain(after) {
                        Some(end) => end,
                        None => scan.words_until(after, any_marker),
                    };
                    if end > after {
                        hamlet_parts.push(scan.slice(idx, end));
                        idx = end;
                        continue;
                    }
                }
                MarkerKind::Street => {
                    // "Đường Số 7", "Đường 3/2": numbers and "số" belong to the name.
                    let end = scan.words_until(after, unit_or_place);
                    if end > after && line.street.is_none() {
                        line.street = Some(scan.slice(idx, end));
                        idx = end;
                        continue;
                    }
                }
                MarkerKind::Unit(_) => {
                    // A unit no reading took ("Quận 3" beside a ward it does not hold).
                    let end = scan.words_until(after, any_marker).max(after);
                    line.unused.push(scan.slice(idx, end.max(idx + 1)));
                    idx = end.max(idx + 1);
                    continue;
                }
            }
        }
        let token = &tokens.tokens[idx];
        let long_bare_number = token.kind == TokenKind::Number
            && (token.end - token.start) as usize >= MIN_NOT_HOUSE_DIGITS
            && scan.number_chain(idx) == Some(idx + 1);
        if token.kind == TokenKind::Number
            && line.house_number.is_none()
            && !long_bare_number
            && let Some(end) = scan.number_chain(idx)
        {
            let chain = scan.slice(idx, end);
            let alley_follows = end < n
                && !covered[end]
                && matches!(markers[end], Some(marker) if matches!(marker.kind, MarkerKind::Alley(_)));
            match chain.rfind('/') {
                // "45/3/5" alone: house 5 in the alley 45/3.
                Some(slash) if !alley_follows => {
                    alley_parts.push(chain[..slash].to_owned());
                    line.house_number = Some(chain[slash + 1..].to_owned());
                }
                _ => line.house_number = Some(chain),
            }
            idx = end;
            continue;
        }
        let end = scan.words_until(idx, any_marker).max(idx + 1);
        if token.kind == TokenKind::Word && line.street.is_none() {
            line.street = Some(scan.slice(idx, end));
        } else {
            line.unused.push(scan.slice(idx, end));
        }
        idx = end;
    }
    if !alley_parts.is_empty() {
        line.alley = Some(alley_parts.join(", "));
    }
    if !hamlet_parts.is_empty() {
        line.hamlet = Some(hamlet_parts.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::Lexicon;
    use super::*;

    fn line(text: &str) -> Line {
        let tokens = Tokens::tokenize(text);
        let lexicon = Lexicon::new();
        let markers: Vec<Option<Marker>> = (0..tokens.tokens.len())
            .map(|idx| lexicon.marker_at(&tokens, idx))
            .collect();
        let covered = vec![false; tokens.tokens.len()];
        extract(text, &tokens, &markers, &covered)
    }

    #[test]
    fn house_alley_and_street() {
        let got = line("Số 7, ngõ 12, phố Huế");
        assert_eq!(got.house_number.as_deref(), Some("7"));
        assert_eq!(got.alley.as_deref(), Some("Ngõ 12"));
        assert_eq!(got.street.as_deref(), Some("phố Huế"));
        let got = line("12/3 Hẻm 45 Lê Văn Sỹ");
        assert_eq!(got.house_number.as_deref(), Some("12/3"));
        assert_eq!(got.alley.as_deref(), Some("Hẻm 45"));
        assert_eq!(got.street.as_deref(), Some("Lê Văn Sỹ"));
        let got = line("45/3/5B Nguyễn Trãi");
        assert_eq!(got.house_number.as_deref(), Some("5B"));
        assert_eq!(got.alley.as_deref(), Some("45/3"));
        assert_eq!(got.street.as_deref(), Some("Nguyễn Trãi"));
        let got = line("so 7 ngo 12 pho hue");
        assert_eq!(got.house_number.as_deref(), Some("7"));
        assert_eq!(got.alley.as_deref(), Some("Ngõ 12"));
        assert_eq!(got.street.as_deref(), Some("pho hue"));
    }

    #[test]
    fn numbered_streets_hamlets_and_leftovers() {
        let got = line("123 Đường 3/2, Tổ 5, Khu phố 3");
        assert_eq!(got.house_number.as_deref(), Some("123"));
        assert_eq!(got.street.as_deref(), Some("Đường 3/2"));
        assert_eq!(got.hamlet.as_deref(), Some("Tổ 5, Khu phố 3"));
        let got = line("Đường Số 7, Ấp Tân Hòa, 70000");
        assert_eq!(got.street.as_deref(), Some("Đường Số 7"));
        assert_eq!(got.hamlet.as_deref(), Some("Ấp Tân Hòa"));
        assert_eq!(got.house_number, None);
        assert_eq!(got.unused, ["70000"]);
        let got = line("12A Ngô Quyền, gần chợ");
        assert_eq!(got.house_number.as_deref(), Some("12A"));
        assert_eq!(got.street.as_deref(), Some("Ngô Quyền"));
        assert_eq!(got.unused, ["gần chợ"]);
    }
}
