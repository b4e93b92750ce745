//! What memory holds per address, and `Memory::apply`: the one way a stored row enters it.

use std::collections::HashMap;

use super::RegistryError;
use super::records::Records;
use crate::address::{AddressStatus, IndexRow};
use crate::code::{PostalScheme, VmapCode};
use crate::geocode::{Filed, TextIndex};
use crate::index::{IndexEntry, PointId, PointIndex};
use crate::point::LatLon;
use crate::zones::ZoneTable;

/// What memory keeps per address (indexed by row id): enough to match and mint without a
/// database round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct MemRecord {
    pub(super) code_key: u64,
    /// Where the index holds the address (needed to move or drop its entry).
    pub(super) location: LatLon,
    /// Interned normalised house number, 0 when none.
    pub(super) house_key: u32,
    /// Interned normalised unit, 0 when none.
    pub(super) unit_key: u32,
    /// The street the text index files the address under (its key in `text.streets`), 0
    /// when none: where to take it out from when its text changes.
    pub(super) street_key: u32,
    pub(super) active: bool,
}

/// Normalised house numbers and units, stored once each; records keep a `u32` key.
#[derive(Debug, Default)]
pub(super) struct Interner {
    pub(super) keys: HashMap<Box<str>, u32>,
}

impl Interner {
    /// The key of `text` if it was ever interned; `Some(0)` for none or blank, `None` when
    /// no stored address has this text.
    pub(super) fn find(&self, text: Option<&str>) -> Option<u32> {
        let Some(text) = text else { return Some(0) };
        let normalised = Interner::normalise(text);
        if normalised.is_empty() {
            return Some(0);
        }
        self.keys.get(normalised.as_str()).copied()
    }

    pub(super) fn normalise(text: &str) -> String {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase()
    }

    /// The key of `text`; 0 for none or blank.
    pub(super) fn intern(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text else { return 0 };
        let normalised = Interner::normalise(text);
        if normalised.is_empty() {
            return 0;
        }
        let next = self.keys.len() as u32 + 1;
        *self.keys.entry(normalised.into_boxed_str()).or_insert(next)
    }
}

#[derive(Debug, Default)]
pub(super) struct Memory {
    pub(super) index: PointIndex,
    /// By row id; `None` for ids not (yet) seen.
    pub(super) records: Records,
    pub(super) interner: Interner,
    /// The registered text: zone → street → place → address.
    pub(super) text: TextIndex,
    /// Largest suffix per base code for addresses whose location has left their code's cell
    /// (moved): the cell search cannot find those.
    pub(super) displaced: HashMap<u64, u32>,
    pub(super) n_active: u64,
    pub(super) n_retired: u64,
    /// The postal scheme the database records (refreshed by every catch-up, and by a batch
    /// the database refused because it changed).
    pub(super) scheme: PostalScheme,
    pub(super) data_version: i64,
    /// Every change numbered up to here is in memory; changes after it are fetched by
    /// [`Registry::catch_up`]. Own writes do not move it: another writer's change with a
    /// smaller number may not be visible yet when ours is.
    pub(super) followed_seq: i64,
}

impl Memory {
    pub(super) fn record(&self, id: PointId) -> Option<&MemRecord> {
        self.records.get(id as usize)
    }

    pub(super) fn is_active(&self, id: PointId) -> bool {
        self.record(id).is_some_and(|record| record.active)
    }

    /// Adds an address memory has not seen (`id` is `row.id`, checked); the caller puts the
    /// returned entry into the point index.
    pub(super) fn add(&mut self, id: PointId, row: &IndexRow) -> IndexEntry {
        let filed = self.file_text(id, row);
        self.add_filed(id, row, filed)
    }

    /// [`Memory::add`] with its text filed already ([`Memory::file_text`]).
    pub(super) fn add_filed(&mut self, id: PointId, row: &IndexRow, filed: Filed) -> IndexEntry {
        let active = row.status == AddressStatus::Active;
        let house_key = self.interner.intern(row.house_number.as_deref());
        let unit_key = self.interner.intern(row.unit.as_deref());
        self.records.set(
            id as usize,
            MemRecord {
                code_key: row.code.pack(),
                location: row.location,
                house_key,
                unit_key,
                street_key: filed.street,
                active,
            },
        );
        if active {
            self.n_active += 1;
        } else {
            self.n_retired += 1;
        }
        IndexEntry::new(row.location, id)
    }

    /// Files the address's text in the text index under its code's zone.
    pub(super) fn file_text(&mut self, id: PointId, row: &IndexRow) -> Filed {
        self.text.insert(
            id,
            row.code.postcode().value(),
            row.street.as_deref(),
            row.alley.as_deref(),
            row.house_number.as_deref(),
        )
    }

    /// Own writes numbered `first..=last` need not be fetched again by `catch_up` when they
    /// follow on from what memory already holds: writers are serialised, so no one else's
    /// change can sit in between.
    pub(super) fn advance_followed(&mut self, first: i64, last: i64) {
        if first == self.followed_seq + 1 {
            self.followed_seq = last;
        }
    }

    /// Brings one address up to date with its stored row: adds it, moves it, retires it.
    /// Applying the same row twice changes nothing.
    pub(super) fn apply(&mut self, zones: &ZoneTable, row: &IndexRow) -> Result<(), RegistryError> {
        let id = PointId::try_from(row.id).map_err(|_| RegistryError::IdOutOfRange(row.id))?;
        let active = row.status == AddressStatus::Active;
        match self.record(id).copied() {
            None => {
                let entry = self.add(id, row);
                self.index.insert(entry);
            }
            Some(old) => {
                let house_key = self.interner.intern(row.house_number.as_deref());
                let unit_key = self.interner.intern(row.unit.as_deref());
                // The text may have changed (PATCH): file it again. Filing is idempotent.
                let old_code = VmapCode::unpack(old.code_key);
                self.text.remove(
                    id,
                    Filed {
                        zone: old_code.map_or(0, |code| code.postcode().value()),
                        street: old.street_key,
                    },
                );
                let filed = self.file_text(id, row);
                if old.location != row.location {
                    self.index.remove(old.location, id);
                    self.index.insert(IndexEntry::new(row.location, id));
                }
                match (old.active, active) {
                    (true, false) => {
                        self.n_active = self.n_active.saturating_sub(1);
                        self.n_retired += 1;
                    }
                    (false, true) => {
                        self.n_retired = self.n_retired.saturating_sub(1);
                        self.n_active += 1;
                    }
                    _ => {}
                }
                if let Some(record) = self.records.get_mut(id as usize) {
                    *record = MemRecord {
                        code_key: row.code.pack(),
                        location: row.location,
                        house_key,
                        unit_key,
                        street_key: filed.street,
                        active,
                    };
                }
            }
        }
        note_if_displaced(&mut self.displaced, zones, row.code, row.location);
        self.data_version = self.data_version.max(row.change_seq);
        Ok(())
    }
}

/// Remembers a code whose address no longer lies in its code's cell.
pub(super) fn note_if_displaced(
    displaced: &mut HashMap<u64, u32>,
    zones: &ZoneTable,
    code: VmapCode,
    location: LatLon,
) {
    let Some(reference) = zones.reference_point(code.postcode()) else {
        return;
    };
    let inside = VmapCode::encode(code.postcode(), reference, location)
        .is_ok_and(|here| here == code.base());
    if !inside {
        let n = code.suffix().unwrap_or(1);
        let entry = displaced.entry(code.base().pack()).or_insert(n);
        *entry = (*entry).max(n);
    }
}
