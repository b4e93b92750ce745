//! The keys registered text is filed under and queries are looked up by: a street's name
//! without its marker, and an address's place on the street (alley and house number as one
//! path, "30/9").
//!
//! Decisions: text is folded to ASCII words (`parse::fold_words`), so a key matches however
//! the marks and case were typed. The generic street markers ("Đường", "Phố", "Đ.") are
//! dropped, because people write "12 Hàng Bạc" for "12 Phố Hàng Bạc"; the numbered-road
//! markers are kept, spelt out ("QL 1A" → "quoc lo 1a"), because "1A" alone names nothing.
//! Alley markers (Ngõ, Ngách, Hẻm, Kiệt) are dropped and the alley's numbers joined with the
//! house number by "/": "Số 9, Ngõ 30" and "30/9" are the same place, which is how
//! addresses in alleys are written in both halves of the country. A Hẻm and a Ngõ with the
//! same number on the same street are thereby one place; such pairs are not known to exist.

use crate::parse::fold_words;

/// Generic words for "street" that are not part of its name.
pub(crate) const STREET_MARKERS: [&str; 4] = ["duong", "pho", "dg", "d"];

/// Abbreviated road kinds, spelt out so both forms meet.
const ROAD_ABBREVIATIONS: [(&str, &str); 4] = [
    ("ql", "quoc lo"),
    ("tl", "tinh lo"),
    ("hl", "huong lo"),
    ("dt", "duong tinh"),
];

/// Words that start an alley's name.
pub(crate) const ALLEY_MARKERS: [&str; 4] = ["ngo", "ngach", "hem", "kiet"];

/// Alley words and house-number words, dropped from a place.
pub(crate) const PLACE_MARKERS: [&str; 12] = [
    "ngo", "ngach", "hem", "kiet", "ng", "h", "k", "so", "sn", "nha", "no", "lo",
];

/// The street's key: "Phố Hàng Bạc" → "hang bac", "QL.1A" → "quoc lo 1a", "Đường số 5" →
/// "5". `None` when nothing of a name is left.
pub fn street_key(text: &str) -> Option<String> {
    let folded = fold_words(text);
    let mut words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() > 1 && STREET_MARKERS.contains(&words[0]) {
        words.remove(0);
        // "Đường số 5": the number is the name.
        if words.len() > 1 && words[0] == "so" && words[1].starts_with(|c: char| c.is_ascii_digit())
        {
            words.remove(0);
        }
    }
    let mut key = String::with_capacity(folded.len());
    for word in words {
        if !key.is_empty() {
            key.push(' ');
        }
        match ROAD_ABBREVIATIONS.iter().find(|(short, _)| *short == word) {
            Some((_, long)) if key.is_empty() => key.push_str(long),
            _ => key.push_str(word),
        }
    }
    (!key.is_empty()).then_some(key)
}

/// The place on a street: the alley's numbers and the house number as one path ("Ngõ 30",
/// "9" → "30/9"; "12/3" → "12/3"; "Số 12A" → "12a"). `None` when neither says anything.
pub fn place_key(alley: Option<&str>, house: Option<&str>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for text in [alley, house].into_iter().flatten() {
        let folded = fold_words(&text.replace(['/', '-', '\\'], " / "));
        // "12 A" and "12A" are one house: letters after a number join it.
        for word in folded.split(' ').filter(|w| !w.is_empty()) {
            if word == "/" || PLACE_MARKERS.contains(&word) {
                continue;
            }
            let joins = word.chars().all(|c| c.is_ascii_alphabetic())
                && word.len() <= 2
                && parts
                    .last()
                    .is_some_and(|last| last.ends_with(|c: char| c.is_ascii_digit()));
            match parts.last_mut() {
                Some(last) if joins => last.push_str(word),
                _ => parts.push(word.to_owned()),
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The house number a place ends with, for ordering the houses of a street by it: "30/9"
/// → 9, "12a" → 12.
pub fn house_number_of(place: &str) -> Option<u32> {
    let last = place.rsplit('/').next()?;
    let digits = last.bytes().take_while(u8::is_ascii_digit).count();
    last[..digits].parse().ok()
}

/// The place's alley part (everything before the last "/"), "" when not in an alley.
pub fn alley_of(place: &str) -> &str {
    place.rsplit_once('/').map_or("", |(alley, _)| alley)
}

/// A last resort for text the parser read no street in (it took the street's words for a
/// unit: "8A Tô Vĩnh Diện"): the first comma-separated part, its leading numbers and alley
/// words as the place, and the words after them, longest first, as street keys.
pub fn leading_line(text: &str) -> (Option<String>, Vec<String>) {
    let first = text.split([',', ';', '\n']).next().unwrap_or("");
    let folded = fold_words(&first.replace('/', " / "));
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let place_words = words
        .iter()
        .take_while(|w| {
            **w == "/" || PLACE_MARKERS.contains(w) || w.starts_with(|c: char| c.is_ascii_digit())
        })
        .count();
    let leading = &words[..place_words];
    // "Số 2 Hẻm 13": the house is written before its alley.
    let place = match leading.iter().position(|w| ALLEY_MARKERS.contains(w)) {
        Some(at) if at > 0 => place_key(
            Some(&leading[at..].join(" ")),
            Some(&leading[..at].join(" ")),
        ),
        _ => place_key(None, Some(&leading.join(" "))),
    };
    let rest = &words[place_words..];
    let keys = (1..=rest.len())
        .rev()
        .filter_map(|n| street_key(&rest[..n].join(" ")))
        .collect();
    (place, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_keys_drop_generic_markers_and_spell_out_road_kinds() {
        assert_eq!(street_key("Phố Hàng Bạc").as_deref(), Some("hang bac"));
        assert_eq!(street_key("pho hang bac").as_deref(), Some("hang bac"));
        assert_eq!(
            street_key("Đường Trần Hưng Đạo").as_deref(),
            Some("tran hung dao")
        );
        assert_eq!(street_key("Đ. Lê Lợi").as_deref(), Some("le loi"));
        assert_eq!(street_key("QL 1A").as_deref(), Some("quoc lo 1a"));
        assert_eq!(street_key("Quốc lộ 1A").as_deref(), Some("quoc lo 1a"));
        assert_eq!(street_key("Đường số 5").as_deref(), Some("5"));
        // A street called only "Phố" keeps its one word.
        assert_eq!(street_key("Phố").as_deref(), Some("pho"));
        assert_eq!(street_key("  ,; "), None);
    }

    #[test]
    fn places_join_alley_and_house_whatever_the_writing() {
        assert_eq!(
            place_key(Some("Ngõ 30"), Some("9")).as_deref(),
            Some("30/9")
        );
        assert_eq!(place_key(None, Some("30/9")).as_deref(), Some("30/9"));
        assert_eq!(
            place_key(Some("Hẻm 45/3"), Some("5")).as_deref(),
            Some("45/3/5")
        );
        assert_eq!(place_key(None, Some("Số 12A")).as_deref(), Some("12a"));
        assert_eq!(place_key(None, Some("12 a")).as_deref(), Some("12a"));
        assert_eq!(
            place_key(Some("Ngõ 34 Ngách 12"), Some("7")).as_deref(),
            Some("34/12/7")
        );
        assert_eq!(place_key(Some("Ngõ Huế"), None).as_deref(), Some("hue"));
        assert_eq!(place_key(None, None), None);
        assert_eq!(place_key(Some(" "), Some("số")), None);
    }

    #[test]
    fn a_leading_line_gives_its_place_and_street_keys_longest_first() {
        let (place, keys) = leading_line("8A Tô Vĩnh Diện, Dĩ An");
        assert_eq!(place.as_deref(), Some("8a"));
        assert_eq!(keys, ["to vinh dien", "to vinh", "to"]);
        let (place, keys) = leading_line("số 2 hẻm 13 Đường Láng");
        assert_eq!(place.as_deref(), Some("13/2"));
        assert_eq!(keys[0], "lang");
        assert_eq!(leading_line(""), (None, Vec::new()));
    }

    #[test]
    fn house_numbers_and_alleys_of_places() {
        assert_eq!(house_number_of("30/9"), Some(9));
        assert_eq!(house_number_of("12a"), Some(12));
        assert_eq!(house_number_of("hue"), None);
        assert_eq!(alley_of("30/9"), "30");
        assert_eq!(alley_of("45/3/5"), "45/3");
        assert_eq!(alley_of("12a"), "");
    }
}
