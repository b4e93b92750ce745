//! `StreetPrefixes`: the registered streets sorted by their folded names, globally and per
//! zone, for completing a name from its first letters (`GET /v1/autocomplete`).
//!
//! Decisions:
//! - Each street is filed under two forms: its key (the folded name without its generic
//!   marker, "le van sy", what `street_key` gives) and, when different, its whole label
//!   folded ("duong le van sy"). A user types either "Lê V" or "Đường Lê V", and
//!   "Đường Số 7" has the key "7", which no prefix of "Đường S" reaches otherwise.
//! - The global list is a `BTreeSet` of (form, street): one entry per distinct label ever
//!   registered (a few thousand, not one per address), inserted in O(log n) when the key
//!   table interns a new label — a sorted vector would shift on every new label of a bulk
//!   load. Labels are never forgotten (the key table keeps them too): a street whose last
//!   address went has no zones left, so a prefix that finds it yields nothing.
//! - Per zone, a vector of forms (street id and which form) sorted by their text: a zone
//!   has tens of streets, kept in order by a binary insert when a street first gets an
//!   address there and taken out when its last one goes.
//! - Nothing here is stored in the snapshot: `TextIndex::from_parts` derives it from the
//!   key table and the zones' street lists (measured in the README).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use foldhash::HashMap;

use super::text_index::KeyTable;
use crate::parse::fold_words;

/// A street id and which of its forms: `id << 1`, plus 1 for the whole folded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Form(u32);

impl Form {
    fn key(street: u32) -> Form {
        Form(street << 1)
    }

    fn label(street: u32) -> Form {
        Form(street << 1 | 1)
    }

    /// The street this form names.
    pub fn street(self) -> u32 {
        self.0 >> 1
    }
}

#[derive(Debug, Default, Clone)]
pub struct StreetPrefixes {
    /// By street id − 1: its label folded whole, empty when that is its key.
    folded_labels: Vec<Box<str>>,
    global: BTreeSet<(Box<str>, Form)>,
    /// By zone number: the forms of its streets, sorted by (text, form).
    zones: HashMap<u32, Vec<Form>>,
}

impl StreetPrefixes {
    /// Files the street `id` of `streets` (just interned) under its forms.
    pub fn add_street(&mut self, streets: &KeyTable, id: u32) {
        let slot = id.saturating_sub(1) as usize;
        if self.folded_labels.len() <= slot {
            self.folded_labels.resize(slot + 1, Box::from(""));
        }
        let key = streets.key(id);
        let folded = fold_words(streets.label(id));
        if !folded.is_empty() && folded != key {
            self.global
                .insert((folded.as_str().into(), Form::label(id)));
            self.folded_labels[slot] = folded.into();
        }
        self.global.insert((key.into(), Form::key(id)));
    }

    /// The text of a form.
    pub fn text<'a>(&'a self, streets: &'a KeyTable, form: Form) -> &'a str {
        if form.0 & 1 == 0 {
            streets.key(form.street())
        } else {
            form.street()
                .checked_sub(1)
                .and_then(|slot| self.folded_labels.get(slot as usize))
                .map_or("", |text| text)
        }
    }

    /// The forms of a street: its key, and its folded label when that differs.
    fn forms(&self, street: u32) -> impl Iterator<Item = Form> + '_ {
        let has_label = street
            .checked_sub(1)
            .and_then(|slot| self.folded_labels.get(slot as usize))
            .is_some_and(|text| !text.is_empty());
        std::iter::once(Form::key(street)).chain(has_label.then(|| Form::label(street)))
    }

    /// The street now has an address in `zone` (it had none there).
    pub fn add_to_zone(&mut self, streets: &KeyTable, zone: u32, street: u32) {
        let forms: Vec<Form> = self.forms(street).collect();
        let mut list = self.zones.remove(&zone).unwrap_or_default();
        for form in forms {
            let text = self.text(streets, form);
            if let Err(at) = list.binary_search_by(|other| {
                self.text(streets, *other).cmp(text).then(other.cmp(&form))
            }) {
                list.insert(at, form);
            }
        }
        self.zones.insert(zone, list);
    }

    /// Sets the streets of `zone` at once (a load: one sort instead of an insert each).
    pub fn set_zone(&mut self, streets: &KeyTable, zone: u32, ids: impl Iterator<Item = u32>) {
        let mut list: Vec<Form> = ids.flat_map(|id| self.forms(id)).collect();
        list.sort_unstable_by(|a, b| {
            self.text(streets, *a)
                .cmp(self.text(streets, *b))
                .then(a.cmp(b))
        });
        list.dedup();
        if !list.is_empty() {
            self.zones.insert(zone, list);
        }
    }

    /// The street has no address left in `zone`.
    pub fn remove_from_zone(&mut self, zone: u32, street: u32) {
        if let Some(list) = self.zones.get_mut(&zone) {
            list.retain(|form| form.street() != street);
            if list.is_empty() {
                self.zones.remove(&zone);
            }
        }
    }

    /// Every form whose text starts with `prefix`, in text order.
    pub fn global_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = Form> + 'a {
        self.global
            .range::<(Box<str>, Form), _>((
                std::ops::Bound::Included((Box::from(prefix), Form(0))),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(text, _)| text.starts_with(prefix))
            .map(|(_, form)| *form)
    }

    /// The forms of `zone`'s streets whose text starts with `prefix`, in text order.
    pub fn zone_with_prefix<'a>(
        &'a self,
        streets: &'a KeyTable,
        zone: u32,
        prefix: &'a str,
    ) -> impl Iterator<Item = Form> + 'a {
        let list = self.zones.get(&zone).map_or(&[][..], Vec::as_slice);
        let first =
            list.partition_point(|form| self.text(streets, *form).cmp(prefix) == Ordering::Less);
        list[first..]
            .iter()
            .take_while(move |form| self.text(streets, **form).starts_with(prefix))
            .copied()
    }

    /// Bytes held, roughly.
    pub fn heap_bytes(&self) -> usize {
        let labels: usize = self.folded_labels.iter().map(|l| l.len() + 16).sum();
        let global: usize = self.global.iter().map(|(text, _)| text.len() + 40).sum();
        let zones: usize = self.zones.values().map(|l| l.capacity() * 4 + 48).sum();
        labels + global + zones
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geocode::TextIndex;

    fn streets_of(index: &TextIndex, forms: impl Iterator<Item = Form>) -> Vec<&str> {
        forms
            .map(|form| index.streets.label(form.street()))
            .collect()
    }

    #[test]
    fn prefixes_find_streets_by_key_and_by_whole_label_globally_and_per_zone() {
        let mut index = TextIndex::default();
        index.insert(1, 70000, Some("Đường Lê Văn Sỹ"), None, Some("12"));
        index.insert(2, 70000, Some("Đường Lê Văn Sỹ"), None, Some("14"));
        index.insert(3, 70001, Some("Phố Lê Lợi"), None, Some("1"));
        let seven = index.insert(4, 70001, Some("Đường Số 7"), None, Some("3"));
        let prefixes = &index.prefixes;
        assert_eq!(
            streets_of(&index, prefixes.global_with_prefix("le ")),
            ["Phố Lê Lợi", "Đường Lê Văn Sỹ"]
        );
        assert_eq!(
            streets_of(&index, prefixes.global_with_prefix("duong ")),
            ["Đường Lê Văn Sỹ", "Đường Số 7"]
        );
        assert_eq!(
            streets_of(&index, prefixes.global_with_prefix("7")),
            ["Đường Số 7"]
        );
        assert_eq!(
            streets_of(
                &index,
                prefixes.zone_with_prefix(&index.streets, 70001, "le")
            ),
            ["Phố Lê Lợi"]
        );
        assert!(
            prefixes
                .zone_with_prefix(&index.streets, 70000, "le l")
                .next()
                .is_none()
        );
        // The last address of a street in a zone takes it out of the zone's list.
        index.remove(4, seven);
        assert!(
            index
                .prefixes
                .zone_with_prefix(&index.streets, 70001, "duong")
                .next()
                .is_none()
        );
        assert_eq!(
            index
                .prefixes
                .zone_with_prefix(&index.streets, 70001, "")
                .count(),
            2,
            "Phố Lê Lợi under its key and its label"
        );
    }
}
