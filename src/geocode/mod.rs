//! Forward geocoding's pure parts: the keys registered text is filed under
//! (`keys`), and the text index over the registry (`text_index`). The registry keeps a
//! `TextIndex` beside its point index and answers searches with it (`registry/search.rs`).
//! No I/O.

pub mod keys;
pub mod text_index;

pub use text_index::{Filed, KeyTable, Posting, StreetPostings, TextIndex};
