//! `TextIndex`: the registered addresses by zone, street and place, for finding an address
//! from its text.
//!
//! Decisions: a zone (its postal code) holds a short list of streets, each with its
//! addresses as (place, id) pairs sorted by place — 8 bytes per address, plus a list per
//! street of a zone. A query names its zones (from the parser's wards) and a street, so it
//! reads one short list; a query that names no ward finds its street's zones through
//! `zones_of_street`. Names are interned once (`KeyTable`), with the form first registered
//! kept for labels. Sorted vectors rather than a B-tree: they are a quarter of the memory,
//! and an insert shifts at most one street's list.

use std::sync::Arc;

use foldhash::HashMap;

use super::keys::{place_key, street_key};
use super::prefix::StreetPrefixes;

/// Interned names: one id per distinct text as registered (its label), found by its folded
/// key; one key may have several labels ("Phố Lê Lợi" in Hà Nội, "Đường Lê Lợi" in Huế).
#[derive(Debug, Default, Clone)]
pub struct KeyTable {
    by_label: HashMap<Box<str>, u32>,
    by_key: HashMap<Box<str>, Vec<u32>>,
    keys: Vec<Box<str>>,
    labels: Vec<Box<str>>,
}

impl KeyTable {
    /// The id of `label` (filed under `key`), adding it when new. Ids start at 1; 0 means
    /// none.
    pub fn intern(&mut self, key: &str, label: &str) -> u32 {
        let label = label.trim();
        if let Some(&id) = self.by_label.get(label) {
            return id;
        }
        self.push(key, label)
    }

    /// The id of `label` when it is interned already: what a caller checks before it
    /// folds the label into its key, since most labels repeat (a street's every house).
    pub fn id_of_label(&self, label: &str) -> Option<u32> {
        self.by_label.get(label.trim()).copied()
    }

    fn push(&mut self, key: &str, label: &str) -> u32 {
        self.keys.push(key.into());
        self.labels.push(label.into());
        let id = self.keys.len() as u32;
        self.by_label.insert(label.into(), id);
        self.by_key.entry(key.into()).or_default().push(id);
        id
    }

    /// Every id filed under `key`.
    pub fn find(&self, key: &str) -> &[u32] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// The key of `id` ("" for 0 or an unknown id).
    pub fn key(&self, id: u32) -> &str {
        id.checked_sub(1)
            .and_then(|slot| self.keys.get(slot as usize))
            .map_or("", |key| key)
    }

    /// The text `id` was registered as.
    pub fn label(&self, id: u32) -> &str {
        id.checked_sub(1)
            .and_then(|slot| self.labels.get(slot as usize))
            .map_or("", |label| label)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every (key, label), in id order (for the snapshot).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys
            .iter()
            .zip(&self.labels)
            .map(|(k, l)| (&**k, &**l))
    }

    /// Rebuilds a table from its entries in id order.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> KeyTable {
        let mut table = KeyTable::default();
        for (key, label) in entries {
            table.push(key, label);
        }
        table
    }
}

/// A place as Vietnam Post writes it: "9 Ngõ 30", "30/9" for a bare alley number; written
/// into `label` (cleared first), a buffer the caller keeps between addresses.
fn write_place_label(label: &mut String, alley: Option<&str>, house: Option<&str>) {
    let alley = alley.map(str::trim).filter(|text| !text.is_empty());
    let house = house.map(str::trim).filter(|text| !text.is_empty());
    label.clear();
    match (alley, house) {
        (Some(alley), Some(house)) if alley.starts_with(|c: char| c.is_ascii_digit()) => {
            label.extend([alley, "/", house]);
        }
        (Some(alley), Some(house)) => label.extend([house, " ", alley]),
        (Some(only), None) | (None, Some(only)) => label.push_str(only),
        (None, None) => {}
    }
}

/// An address on a street: its place key and its row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Posting {
    pub place: u32,
    pub id: u32,
}

/// One street of a zone and its addresses, sorted by (place, id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreetPostings {
    pub street: u32,
    pub postings: Vec<Posting>,
}

/// Where an address was filed, to take it out again: its zone and street (0 when it was
/// not filed, having no street).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filed {
    pub zone: u32,
    pub street: u32,
}

#[derive(Debug, Default, Clone)]
pub struct TextIndex {
    pub streets: KeyTable,
    pub places: KeyTable,
    /// By zone (postal code): its streets, sorted by street id. Shared, so that a snapshot
    /// takes the zones as they are ([`TextIndex::zone_lists`]) while writes go on: a write
    /// copies the one zone's list it changes if a snapshot still holds it.
    zones: HashMap<u32, Arc<Vec<StreetPostings>>>,
    /// By street id: the zones that have it, sorted.
    zones_of_street: HashMap<u32, Vec<u32>>,
    /// The streets by their folded names, globally and per zone (for autocomplete);
    /// derived, not stored in the snapshot.
    pub prefixes: StreetPrefixes,
    len: usize,
    /// The street filed last, by its label as given: rows come grouped by street (a list
    /// is imported street by street, and the registry's rows keep that order), so most
    /// find their street here without hashing the label. Ids are never reused, so it
    /// cannot go stale.
    last_street: Option<(Box<str>, u32)>,
    /// The place label being looked up, kept between addresses.
    place_label: String,
}

impl TextIndex {
    /// Files address `id` of zone `zone` under its street and place. Addresses without a
    /// street are not filed (nothing in a query could reach them below the ward).
    pub fn insert(
        &mut self,
        id: u32,
        zone: u32,
        street: Option<&str>,
        alley: Option<&str>,
        house: Option<&str>,
    ) -> Filed {
        let Some(street_text) = street else {
            return Filed::default();
        };
        // A label seen before has its key already (the key is a function of the label):
        // folding it again was most of a start-up's time.
        let street = match &self.last_street {
            Some((label, street)) if **label == *street_text => *street,
            _ => {
                let street = match self.streets.id_of_label(street_text) {
                    Some(street) => street,
                    None => {
                        let Some(key) = street_key(street_text) else {
                            return Filed::default();
                        };
                        let street = self.streets.intern(&key, street_text);
                        self.prefixes.add_street(&self.streets, street);
                        street
                    }
                };
                self.last_street = Some((street_text.into(), street));
                street
            }
        };
        let mut label = std::mem::take(&mut self.place_label);
        write_place_label(&mut label, alley, house);
        let place = match self.places.id_of_label(&label) {
            Some(place) => place,
            None => match place_key(alley, house) {
                Some(place) => self.places.intern(&place, &label),
                None => 0,
            },
        };
        self.place_label = label;
        self.file(zone, street, Posting { place, id });
        Filed { zone, street }
    }

    /// Adds a posting under (zone, street); a posting already there is not doubled.
    pub fn file(&mut self, zone: u32, street: u32, posting: Posting) {
        let streets = Arc::make_mut(self.zones.entry(zone).or_default());
        let mut new_here = false;
        let slot = match streets.binary_search_by_key(&street, |s| s.street) {
            Ok(slot) => slot,
            Err(slot) => {
                new_here = true;
                streets.insert(
                    slot,
                    StreetPostings {
                        street,
                        postings: Vec::new(),
                    },
                );
                let zones = self.zones_of_street.entry(street).or_default();
                if let Err(at) = zones.binary_search(&zone) {
                    zones.insert(at, zone);
                }
                slot
            }
        };
        let postings = &mut streets[slot].postings;
        if let Err(at) = postings.binary_search(&posting) {
            postings.insert(at, posting);
            self.len += 1;
        }
        if new_here {
            self.prefixes.add_to_zone(&self.streets, zone, street);
        }
    }

    /// Takes address `id` out from where it was filed.
    pub fn remove(&mut self, id: u32, filed: Filed) {
        if filed.street == 0 {
            return;
        }
        let Some(streets) = self.zones.get_mut(&filed.zone) else {
            return;
        };
        let streets = Arc::make_mut(streets);
        let Ok(slot) = streets.binary_search_by_key(&filed.street, |s| s.street) else {
            return;
        };
        let postings = &mut streets[slot].postings;
        if let Some(at) = postings.iter().position(|posting| posting.id == id) {
            postings.remove(at);
            self.len -= 1;
        }
        if postings.is_empty() {
            streets.remove(slot);
            if let Some(zones) = self.zones_of_street.get_mut(&filed.street) {
                zones.retain(|&zone| zone != filed.zone);
            }
            self.prefixes.remove_from_zone(filed.zone, filed.street);
        }
    }

    /// The streets of a zone.
    pub fn streets_of_zone(&self, zone: u32) -> &[StreetPostings] {
        self.zones
            .get(&zone)
            .map_or(&[], |streets| streets.as_slice())
    }

    /// The addresses of a street in a zone, sorted by place.
    pub fn postings(&self, zone: u32, street: u32) -> &[Posting] {
        let streets = self.streets_of_zone(zone);
        streets
            .binary_search_by_key(&street, |s| s.street)
            .map_or(&[], |slot| streets[slot].postings.as_slice())
    }

    /// The zones where a street is registered.
    pub fn zones_of_street(&self, street: u32) -> &[u32] {
        self.zones_of_street.get(&street).map_or(&[], Vec::as_slice)
    }

    /// How many addresses are filed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every zone's streets (for the snapshot), in no particular order.
    pub fn zones(&self) -> impl Iterator<Item = (u32, &[StreetPostings])> {
        self.zones
            .iter()
            .map(|(&zone, streets)| (zone, streets.as_slice()))
    }

    /// Every zone's streets as they are now, shared with the index (for a snapshot written
    /// while the index changes).
    pub fn zone_lists(&self) -> Vec<(u32, Arc<Vec<StreetPostings>>)> {
        self.zones
            .iter()
            .map(|(&zone, streets)| (zone, streets.clone()))
            .collect()
    }

    /// Rebuilds an index from its parts, as [`TextIndex::zones`] and the key tables give
    /// them; streets and postings need not be sorted.
    pub fn from_parts(
        streets: KeyTable,
        places: KeyTable,
        zones: impl IntoIterator<Item = (u32, Vec<StreetPostings>)>,
    ) -> TextIndex {
        let mut index = TextIndex {
            streets,
            places,
            ..TextIndex::default()
        };
        for (zone, mut list) in zones {
            list.sort_unstable_by_key(|s| s.street);
            for street in &mut list {
                street.postings.sort_unstable();
                street.postings.dedup();
                index.len += street.postings.len();
                index
                    .zones_of_street
                    .entry(street.street)
                    .or_default()
                    .push(zone);
            }
            index.zones.insert(zone, Arc::new(list));
        }
        for zones in index.zones_of_street.values_mut() {
            zones.sort_unstable();
        }
        index.derive_prefixes();
        index
    }

    /// Files every street under its forms, globally and in each zone that has it (at
    /// load; writes keep the lists up to date after).
    pub fn derive_prefixes(&mut self) {
        let mut prefixes = StreetPrefixes::default();
        for id in 1..=self.streets.len() as u32 {
            prefixes.add_street(&self.streets, id);
        }
        for (&zone, streets) in &self.zones {
            prefixes.set_zone(&self.streets, zone, streets.iter().map(|s| s.street));
        }
        self.prefixes = prefixes;
    }

    /// Bytes held, roughly (for `/v1/status` and the memory budget).
    pub fn heap_bytes(&self) -> usize {
        let postings: usize = self
            .zones
            .values()
            .flat_map(|streets| streets.iter())
            .map(|street| {
                street.postings.capacity() * size_of::<Posting>() + size_of::<StreetPostings>()
            })
            .sum();
        let keys = |table: &KeyTable| -> usize {
            table
                .entries()
                .map(|(key, label)| 2 * key.len() + label.len() + 48)
                .sum()
        };
        postings
            + self.zones.len() * 48
            + self
                .zones_of_street
                .values()
                .map(|z| z.capacity() * 4 + 40)
                .sum::<usize>()
            + keys(&self.streets)
            + keys(&self.places)
            + self.prefixes.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_found_by_zone_street_and_place_and_removed_again() {
        let mut index = TextIndex::default();
        let a = index.insert(1, 11007, Some("Phố Hàng Bạc"), None, Some("12"));
        let b = index.insert(2, 11007, Some("pho hang bac"), Some("Ngõ 30"), Some("9"));
        let c = index.insert(3, 11008, Some("Hàng Bạc"), None, Some("12"));
        assert_eq!(
            index.insert(4, 11007, None, None, Some("5")),
            Filed::default()
        );
        assert_eq!(index.len(), 3);
        let streets = index.streets.find("hang bac");
        assert_eq!(streets.len(), 3, "one id per way of writing it");
        let street = streets[0];
        assert_eq!(index.streets.label(street), "Phố Hàng Bạc");
        assert_eq!(index.streets.label(c.street), "Hàng Bạc");
        assert_ne!(a.street, b.street);
        assert_eq!(index.zones_of_street(street), [11007]);
        assert_eq!(index.zones_of_street(c.street), [11008]);
        let b_street = b.street;
        let place = index.postings(11007, b_street)[0].place;
        assert_eq!(index.places.key(place), "30/9");
        assert_eq!(index.places.label(place), "9 Ngõ 30");

        index.remove(3, c);
        assert!(index.zones_of_street(c.street).is_empty());
        assert!(index.postings(11008, c.street).is_empty());
        index.remove(1, a);
        index.remove(1, a);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn parts_rebuild_the_same_index() {
        let mut index = TextIndex::default();
        for id in 0..50u32 {
            let street = format!("Phố {}", ["Huế", "Lò Đúc", "Bà Triệu"][id as usize % 3]);
            index.insert(
                id,
                11000 + id % 4,
                Some(&street),
                None,
                Some(&id.to_string()),
            );
        }
        let rebuilt = TextIndex::from_parts(
            KeyTable::from_entries(index.streets.entries()),
            KeyTable::from_entries(index.places.entries()),
            index.zones().map(|(zone, streets)| {
                let mut streets = streets.to_vec();
                streets.reverse();
                (zone, streets)
            }),
        );
        assert_eq!(rebuilt.len(), index.len());
        // The prefix lists are derived, not stored: the same either way.
        let global = |index: &TextIndex| -> Vec<String> {
            let prefixes = &index.prefixes;
            prefixes
                .global_with_prefix("")
                .map(|form| prefixes.text(&index.streets, form).to_owned())
                .collect()
        };
        assert_eq!(global(&rebuilt), global(&index));
        assert_eq!(global(&index).len(), 6, "3 streets, each by key and label");
        for zone in 11_000..11_004 {
            let of = |index: &TextIndex| -> Vec<_> {
                index
                    .prefixes
                    .zone_with_prefix(&index.streets, zone, "")
                    .collect()
            };
            assert_eq!(of(&rebuilt), of(&index));
        }
        for (zone, streets) in index.zones() {
            for street in streets {
                assert_eq!(rebuilt.postings(zone, street.street), street.postings);
                assert_eq!(
                    rebuilt.zones_of_street(street.street),
                    index.zones_of_street(street.street)
                );
            }
        }
    }
}
