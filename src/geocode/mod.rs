//! Forward geocoding's pure parts: the keys registered text is filed under
//! (`keys`), and the text index over the registry (`text_index`, with its street-name
//! prefixes in `prefix`). The registry keeps a `TextIndex` beside its point index and
//! answers searches with it (`registry/search.rs`). For autocomplete: the text typed so
//! far (`partial`) and every unit's name by prefix (`units`). No I/O.

pub mod houses;
pub mod keys;
pub mod partial;
pub mod prefix;
pub mod text_index;
pub mod units;

pub use text_index::{Filed, KeyTable, Posting, StreetPostings, TextIndex};

/// An address given in parts as the one line the search reads: the street line (house
/// number, alley, street) then the units (ward, district, province), comma-separated, each
/// trimmed, empty parts left out: "9 ngõ 30 Bùi Thị Xuân, Hai Bà Trưng, Hà Nội".
pub fn parts_line(street_line: [&Option<String>; 3], units: [&Option<String>; 3]) -> String {
    fn present(parts: [&Option<String>; 3]) -> Vec<&str> {
        parts
            .into_iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect()
    }
    let street_line = present(street_line).join(" ");
    std::iter::once(street_line.as_str())
        .chain(present(units))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}
