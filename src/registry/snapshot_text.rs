//! The text index's two snapshot sections: its key tables (postcard) and its postings
//! (fixed-size little-endian rows: per zone its number and street count, per street its
//! id and posting count, then (place, id) pairs).
//!
//! A snapshot is written from a [`TextView`]: the key tables copied and the zones' lists
//! shared with the index, so that writes go on while it is written.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::geocode::{KeyTable, Posting, StreetPostings, TextIndex};

#[derive(Debug, Serialize, Deserialize)]
struct TextKeys {
    streets: Vec<(Box<str>, Box<str>)>,
    places: Vec<(Box<str>, Box<str>)>,
}

/// The text index as it was when [`TextView::of`] was called.
#[derive(Debug)]
pub(super) struct TextView {
    keys: TextKeys,
    zones: Vec<(u32, Arc<Vec<StreetPostings>>)>,
    len: usize,
}

impl TextView {
    pub(super) fn of(text: &TextIndex) -> TextView {
        let owned = |table: &KeyTable| -> Vec<(Box<str>, Box<str>)> {
            table.entries().map(|(k, l)| (k.into(), l.into())).collect()
        };
        TextView {
            keys: TextKeys {
                streets: owned(&text.streets),
                places: owned(&text.places),
            },
            zones: text.zone_lists(),
            len: text.len(),
        }
    }
}

pub(super) fn encode_keys(text: &TextView) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(&text.keys)
}

pub(super) fn encode_postings(text: &TextView) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len * 8 + 1024);
    for (zone, streets) in &text.zones {
        let zone = *zone;
        let streets = streets.as_slice();
        bytes.extend_from_slice(&zone.to_le_bytes());
        bytes.extend_from_slice(&(streets.len() as u32).to_le_bytes());
        for street in streets {
            bytes.extend_from_slice(&street.street.to_le_bytes());
            bytes.extend_from_slice(&(street.postings.len() as u32).to_le_bytes());
            for posting in &street.postings {
                bytes.extend_from_slice(&posting.place.to_le_bytes());
                bytes.extend_from_slice(&posting.id.to_le_bytes());
            }
        }
    }
    bytes
}

/// The text index back from its two sections; `None` when they are not well formed.
pub(super) fn decode(keys: &[u8], postings: &[u8]) -> Option<TextIndex> {
    let keys: TextKeys = postcard::from_bytes(keys).ok()?;
    let table = |entries: &[(Box<str>, Box<str>)]| {
        KeyTable::from_entries(entries.iter().map(|(k, l)| (&**k, &**l)))
    };
    let mut reader = Words(postings);
    let mut zones = Vec::new();
    while !reader.0.is_empty() {
        let zone = reader.next()?;
        let n_streets = reader.next()? as usize;
        let mut streets = Vec::with_capacity(n_streets.min(reader.0.len() / 8));
        for _ in 0..n_streets {
            let street = reader.next()?;
            let n = reader.next()? as usize;
            let mut list = Vec::with_capacity(n.min(reader.0.len() / 8));
            for _ in 0..n {
                list.push(Posting {
                    place: reader.next()?,
                    id: reader.next()?,
                });
            }
            streets.push(StreetPostings {
                street,
                postings: list,
            });
        }
        zones.push((zone, streets));
    }
    Some(TextIndex::from_parts(
        table(&keys.streets),
        table(&keys.places),
        zones,
    ))
}

/// Reads little-endian `u32`s off the front of a byte slice.
struct Words<'a>(&'a [u8]);

impl Words<'_> {
    fn next(&mut self) -> Option<u32> {
        let (word, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_index_survives_its_sections_and_truncation_is_refused() {
        let mut text = TextIndex::default();
        for id in 1..40u32 {
            let street = ["Phố Huế", "Ngõ Huế", "Đường Láng"][id as usize % 3];
            text.insert(
                id,
                11000 + id % 3,
                Some(street),
                Some("Ngõ 5"),
                Some(&id.to_string()),
            );
        }
        let view = TextView::of(&text);
        let keys = encode_keys(&view).expect("encodes");
        let postings = encode_postings(&view);
        let back = decode(&keys, &postings).expect("decodes");
        assert_eq!(back.len(), text.len());
        assert_eq!(
            back.streets.entries().collect::<Vec<_>>(),
            text.streets.entries().collect::<Vec<_>>()
        );
        for (zone, streets) in text.zones() {
            for street in streets {
                assert_eq!(back.postings(zone, street.street), street.postings);
            }
        }
        assert!(decode(&keys, &postings[..postings.len() - 3]).is_none());
    }
}
