//! Forward geocoding's pure parts: the keys registered text is filed under
//! (`keys`), and the text index over the registry (`text_index`, with its street-name
//! prefixes in `prefix`). The registry keeps a `TextIndex` beside its point index and
//! answers searches with it (`registry/search.rs`). For autocomplete: the text typed so
//! far (`partial`) and every unit's name by prefix (`units`). No I/O.

pub mod keys;
pub mod partial;
pub mod prefix;
pub mod text_index;
pub mod units;

pub use text_index::{Filed, KeyTable, Posting, StreetPostings, TextIndex};
