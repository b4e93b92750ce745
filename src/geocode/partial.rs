//! What a user has typed so far into a search box, read for completion: the text before
//! the part being typed (it narrows, as in `/v1/search`), the house number typed before a
//! street, the prefix of a street's name and the prefix of a unit's name.
//!
//! Decisions:
//! - The part being typed is the text after the last comma (or semicolon, new line): the
//!   text before it is finished and is read by the parser. Within that part, a unit word
//!   followed by more text ("12 Lê Văn Sỹ Phường Bến Ng") also starts the part being
//!   typed, for text written without commas.
//! - The last word is a prefix ("le v" finds "le van sy"), unless the text ends with a
//!   space or other separator: then it is a whole word ("le van " does not find "le vang").
//! - Leading numbers are the place (house number, alley path), and a place word ("Số",
//!   "Ngõ") only when a number follows it, since "Ngô", "Sở" also start street names; the
//!   caller also tries them as the start of a street's name (`without_place`: "30 T" for
//!   "Đường 30 Tháng 4").
//! - A unit word ("Phường", "P.", "Quận", "Q", "Tỉnh", "TP"…) counts once a separator
//!   follows it: "Q" alone may be the start of "Quang Trung".
//! - "Exact" means every letter typed has the marks of the name's letter ("Lê Văn S" for
//!   "Lê Văn Sỹ"; "le van s" or "Lê Vân S" are only folded matches); unmarked letters
//!   that need none ("s" of "Sỹ") are exact.

use unicode_normalization::UnicodeNormalization;

use super::keys::{ALLEY_MARKERS, PLACE_MARKERS, STREET_MARKERS, place_key, street_key};
use crate::admin::UnitType;
use crate::parse::fold::{Folded, fold_char};

/// One word typed: folded to ASCII, and lower-cased with its marks (NFC).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub folded: String,
    pub marked: String,
    /// Byte range in the text it was read from.
    pub start: usize,
    pub end: usize,
}

/// The words of `text`, and whether it ends with a separator after its last word.
pub fn words(text: &str) -> (Vec<Word>, bool) {
    let mut out: Vec<Word> = Vec::new();
    let mut current: Option<Word> = None;
    for (at, c) in text.char_indices() {
        let letter = match fold_char(c) {
            Folded::Letter { ascii, .. } => Some(char::from(ascii)),
            Folded::Foreign => c.to_lowercase().next(),
            Folded::Mark { .. } => {
                // A combining mark belongs to the letter before it.
                if let Some(word) = current.as_mut() {
                    word.marked.push(c);
                    word.end = at + c.len_utf8();
                }
                continue;
            }
            Folded::Separator(_) => None,
        };
        match (letter, current.as_mut()) {
            (Some(ascii), Some(word)) => {
                word.folded.push(ascii);
                word.marked.extend(c.to_lowercase());
                word.end = at + c.len_utf8();
            }
            (Some(ascii), None) => {
                current = Some(Word {
                    folded: ascii.to_string(),
                    marked: c.to_lowercase().collect(),
                    start: at,
                    end: at + c.len_utf8(),
                });
            }
            (None, _) => out.extend(current.take()),
        }
    }
    let ends_with_separator = current.is_none() && !out.is_empty();
    out.extend(current);
    for word in &mut out {
        if !word.marked.is_ascii() {
            word.marked = word.marked.nfc().collect();
        }
    }
    (out, ends_with_separator)
}

/// The unit words, folded, and the types they announce.
const UNIT_MARKERS: [(&[&str], UnitType); 17] = [
    (&["thanh", "pho"], UnitType::ThanhPho),
    (&["tp"], UnitType::ThanhPho),
    (&["tinh"], UnitType::Tinh),
    (&["quan"], UnitType::Quan),
    (&["q"], UnitType::Quan),
    (&["huyen"], UnitType::Huyen),
    (&["h"], UnitType::Huyen),
    (&["thi", "xa"], UnitType::ThiXa),
    (&["tx"], UnitType::ThiXa),
    (&["phuong"], UnitType::Phuong),
    (&["p"], UnitType::Phuong),
    (&["xa"], UnitType::Xa),
    (&["x"], UnitType::Xa),
    (&["thi", "tran"], UnitType::ThiTran),
    (&["tt"], UnitType::ThiTran),
    (&["dac", "khu"], UnitType::DacKhu),
    (&["f"], UnitType::Phuong),
];

/// The unit word at the start of `words`, when a separator follows it: its type and how
/// many words it takes.
fn unit_marker(words: &[Word], ends_with_separator: bool) -> Option<(UnitType, usize)> {
    UNIT_MARKERS.iter().find_map(|(marker, unit_type)| {
        let n = marker.len();
        let matches = words.len() >= n
            && marker
                .iter()
                .zip(words)
                .all(|(want, word)| *want == word.folded);
        let followed = words.len() > n || ends_with_separator;
        (matches && followed).then_some((*unit_type, n))
    })
}

/// A unit name being typed.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitPrefix {
    /// The type the unit word announced; `None` when none was written (any type, but not
    /// a name that is a number alone).
    pub unit_type: Option<UnitType>,
    /// The folded prefix of the name proper ("ben ng").
    pub prefix: String,
    /// The name's words as typed, for the exact test.
    pub words: Vec<Word>,
    /// Where the text before the unit ends, when the unit word came after other words of
    /// the same part ("12 Lê Văn Sỹ Phường Bến Ng": the end of "Sỹ").
    pub head_end: Option<usize>,
}

/// The text typed so far, read for completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed<'a> {
    /// The finished text before the part being typed, without its separator ("" for none).
    pub head: &'a str,
    /// The place typed before the street, as a place-key prefix ("12", "30/9").
    pub place: Option<String>,
    /// The place as typed ("Số 12").
    pub place_text: &'a str,
    /// The name words after the place.
    pub name: Vec<Word>,
    /// Every word of the part being typed.
    pub words: Vec<Word>,
    /// The text ends with a separator: its last word is whole.
    pub whole_last: bool,
    /// Units the part may be naming.
    pub units: Vec<UnitPrefix>,
}

impl<'a> Typed<'a> {
    pub fn read(text: &'a str) -> Typed<'a> {
        let (head, tail_start) = match text.rfind([',', ';', '\n']) {
            Some(at) => (text[..at].trim(), at + 1),
            None => ("", 0),
        };
        let tail = &text[tail_start..];
        let (mut words, whole_last) = words(tail);
        for word in &mut words {
            word.start += tail_start;
            word.end += tail_start;
        }
        let n_place = place_words(&words);
        let place_words = &words[..n_place];
        let place = place_prefix(place_words);
        let place_text = match (place_words.first(), place_words.last()) {
            (Some(first), Some(last)) => &text[first.start..last.end],
            _ => "",
        };
        let name = words[n_place..].to_vec();
        let words_typed = words.clone();
        let mut units = Vec::new();
        if let Some((unit_type, n)) = unit_marker(&name, whole_last) {
            units.push(UnitPrefix {
                unit_type: Some(unit_type),
                prefix: prefix_of(&name[n..], whole_last),
                words: name[n..].to_vec(),
                head_end: None,
            });
        } else {
            if place.is_none() && !name.is_empty() {
                units.push(UnitPrefix {
                    unit_type: None,
                    prefix: prefix_of(&name, whole_last),
                    words: name.clone(),
                    head_end: None,
                });
            }
            // A unit word later in the part: the words before it are finished.
            if let Some((at, (unit_type, n))) = (1..name.len())
                .find_map(|at| unit_marker(&name[at..], whole_last).map(|found| (at, found)))
            {
                units.push(UnitPrefix {
                    unit_type: Some(unit_type),
                    prefix: prefix_of(&name[at + n..], whole_last),
                    words: name[at + n..].to_vec(),
                    head_end: Some(name[at - 1].end),
                });
            }
        }
        Typed {
            head,
            place,
            place_text,
            name,
            words: words_typed,
            whole_last,
            units,
        }
    }

    /// The same text with its leading numbers read as the start of a street's name
    /// ("30 T" for "Đường 30 Tháng 4"); `None` when no place was read.
    pub fn without_place(&self) -> Option<Typed<'a>> {
        self.place.as_ref()?;
        Some(Typed {
            place: None,
            place_text: "",
            name: self.words.clone(),
            units: Vec::new(),
            ..self.clone()
        })
    }

    /// The folded prefixes a street's forms are looked up by: the name without its
    /// generic marker as `street_key` folds it ("le v"), and the name as typed when that
    /// differs ("duong le v"). None when no name was typed.
    pub fn street_prefixes(&self) -> Vec<String> {
        if self.name.is_empty() {
            return Vec::new();
        }
        let whole = prefix_of(&self.name, self.whole_last);
        let joined = whole.trim_end();
        let stripped = match street_key(joined) {
            // "Phố " alone: the marker is finished, the name not begun.
            Some(key) if self.name.len() == 1 && self.whole_last => {
                if STREET_MARKERS.contains(&key.as_str()) {
                    String::new()
                } else {
                    format!("{key} ")
                }
            }
            Some(key) if self.whole_last => format!("{key} "),
            Some(key) => key,
            None => String::new(),
        };
        let mut prefixes = vec![stripped];
        if prefixes[0] != whole {
            prefixes.push(whole);
        }
        prefixes
    }
}

/// Folded words joined, with a trailing space when the last is whole.
fn prefix_of(words: &[Word], whole_last: bool) -> String {
    let mut out = words
        .iter()
        .map(|word| word.folded.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if whole_last && !out.is_empty() {
        out.push(' ');
    }
    out
}

/// How many leading words are the place: numbers, and place words followed by one.
fn place_words(words: &[Word]) -> usize {
    let starts_with_digit = |word: &Word| word.folded.starts_with(|c: char| c.is_ascii_digit());
    let mut n = 0;
    while let Some(word) = words.get(n) {
        let is_place = starts_with_digit(word)
            || (PLACE_MARKERS.contains(&word.folded.as_str())
                && words.get(n + 1).is_some_and(starts_with_digit));
        if !is_place {
            break;
        }
        n += 1;
    }
    n
}

/// The place key of the place words ("Số 2 Hẻm 13": the house before its alley).
fn place_prefix(words: &[Word]) -> Option<String> {
    let folded: Vec<&str> = words.iter().map(|word| word.folded.as_str()).collect();
    match folded.iter().position(|word| ALLEY_MARKERS.contains(word)) {
        Some(at) if at > 0 => {
            place_key(Some(&folded[at..].join(" ")), Some(&folded[..at].join(" ")))
        }
        _ => place_key(None, Some(&folded.join(" "))),
    }
}

/// Whether `typed` is a prefix of `name` with every mark typed as the name has it; a
/// leading street marker ("Đường") is set aside on either side.
pub fn is_exact_prefix(typed: &[Word], whole_last: bool, name: &str) -> bool {
    let (name_words, _) = words(name);
    let strip = |list: &'_ [Word]| -> usize {
        usize::from(list.len() > 1 && STREET_MARKERS.contains(&list[0].folded.as_str()))
    };
    let typed = &typed[strip(typed)..];
    let name_words = &name_words[strip(&name_words)..];
    let Some((last, before)) = typed.split_last() else {
        return false;
    };
    if typed.len() > name_words.len() {
        return false;
    }
    let same_before = before
        .iter()
        .zip(name_words)
        .all(|(a, b)| a.marked == b.marked);
    let name_last = &name_words[before.len()].marked;
    same_before
        && if whole_last {
            *name_last == last.marked
        } else {
            name_last.starts_with(&last.marked)
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.folded.as_str()).collect()
    }

    #[test]
    fn words_fold_keep_marks_and_say_whether_the_last_is_whole() {
        let (list, whole) = words("Lê Văn S");
        assert_eq!(folded(&list), ["le", "van", "s"]);
        assert_eq!(list[1].marked, "văn");
        assert!(!whole);
        let (list, whole) = words("LÊ VĂN ");
        assert_eq!(list[0].marked, "lê");
        assert!(whole);
        // NFD text: the marks join their letters.
        let nfd: String = "Lê".nfd().collect();
        assert_eq!(words(&nfd).0[0].marked, "lê");
        assert_eq!(words("").0, Vec::new());
    }

    #[test]
    fn a_house_number_then_a_street_prefix() {
        let typed = Typed::read("12 Lê V");
        assert_eq!(typed.head, "");
        assert_eq!(typed.place.as_deref(), Some("12"));
        assert_eq!(typed.place_text, "12");
        assert_eq!(typed.street_prefixes(), ["le v"]);
        assert!(typed.units.is_empty(), "a house number names no unit");
        let whole = typed.without_place().expect("a place was read");
        assert_eq!(whole.place, None);
        assert_eq!(whole.street_prefixes(), ["12 le v"]);
        let typed = Typed::read("Số 9 Ngõ 30 Đường Bùi T");
        assert_eq!(typed.place.as_deref(), Some("30/9"));
        assert_eq!(typed.street_prefixes(), ["bui t", "duong bui t"]);
        // "Ngô" is a name, not an alley, without a number after it.
        let typed = Typed::read("Ngô Q");
        assert_eq!(typed.place, None);
        assert_eq!(typed.street_prefixes(), ["ngo q"]);
        assert_eq!(Typed::read("le van ").street_prefixes(), ["le van "]);
        assert_eq!(Typed::read("Phố ").street_prefixes(), ["", "pho "]);
        assert_eq!(
            Typed::read("Đường Số 7").street_prefixes(),
            ["7", "duong so 7"]
        );
    }

    #[test]
    fn units_after_a_unit_word_and_the_head_before_the_last_comma() {
        let typed = Typed::read("Hồ Chí Minh, Quận 1, Phường Bến Ng");
        assert_eq!(typed.head, "Hồ Chí Minh, Quận 1");
        assert_eq!(typed.units.len(), 1);
        assert_eq!(typed.units[0].unit_type, Some(UnitType::Phuong));
        assert_eq!(typed.units[0].prefix, "ben ng");
        // Without the separator "Q" may start "Quang Trung".
        let typed = Typed::read("Q");
        assert_eq!(typed.units[0].unit_type, None);
        assert_eq!(Typed::read("Q.").units[0].unit_type, Some(UnitType::Quan));
        let text = "12 Lê Văn Sỹ P. Bến";
        let typed = Typed::read(text);
        let unit = &typed.units[0];
        assert_eq!(unit.unit_type, Some(UnitType::Phuong));
        assert_eq!(unit.prefix, "ben");
        assert_eq!(unit.head_end.map(|end| &text[..end]), Some("12 Lê Văn Sỹ"));
    }

    #[test]
    fn exact_prefixes_need_the_marks_typed() {
        let typed = |text: &str| {
            let (list, whole) = words(text);
            move |name: &str| is_exact_prefix(&list, whole, name)
        };
        assert!(typed("Lê Văn S")("Đường Lê Văn Sỹ"));
        assert!(typed("đường lê văn s")("Đường Lê Văn Sỹ"));
        assert!(!typed("le van s")("Đường Lê Văn Sỹ"));
        assert!(!typed("Lê Vân S")("Đường Lê Văn Sỹ"));
        assert!(!typed("Lê Văn ")("Đường Lê Vănh"));
        assert!(!typed("Lê Văn Sỹ Mới")("Lê Văn Sỹ"));
        assert!(typed("Bến Ng")("Bến Nghé"));
    }
}
