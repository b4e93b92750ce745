//! Deciding a list's rows: same place or a new code, the cell's highest suffix, and the rows
//! of one batch against each other.
//!
//! Decisions: a new address in a taken cell gets the cell's highest suffix + 1, never a
//! lower free one, so a retired code is never handed out again; the highest suffix is
//! gathered from the addresses the index finds near the cell plus a small table of those
//! displaced from it (a suffix can outlive a move), which keeps minting in memory. An
//! address within the match radius of a registered one with the same parts is the same
//! address (`existing`), not a new code.

use std::collections::HashMap;

use super::memory::{Interner, Memory};
use super::query::MatchRadius;
use super::{CELL_SEARCH_RADIUS_M, Registry};
use crate::address::{AddressParts, NewAddress};
use crate::code::{CodeError, PostalScheme, VmapCode};
use crate::index::PointId;
use crate::point::LatLon;

/// The highest suffix held in one cell (1 for the bare base code), gathered address by
/// address from those near the cell, plus the displaced ones the index cannot find there.
struct CellSuffixes {
    base_key: u64,
    highest: Option<u32>,
}

impl CellSuffixes {
    fn new(memory: &Memory, base: VmapCode) -> CellSuffixes {
        let base_key = base.pack();
        CellSuffixes {
            base_key,
            highest: memory.displaced.get(&base_key).copied(),
        }
    }

    /// Counts `id`'s code when it is a code of this cell; any other address is ignored, so
    /// candidates a hair beyond the cell do no harm.
    fn note(&mut self, memory: &Memory, id: PointId) {
        if let Some(code) = memory
            .record(id)
            .and_then(|record| VmapCode::unpack(record.code_key))
            && code.base().pack() == self.base_key
        {
            let n = code.suffix().unwrap_or(1);
            self.highest = Some(self.highest.map_or(n, |highest| highest.max(n)));
        }
    }
}

/// The largest suffix (1 for the bare base) held by any address in `base`'s cell.
pub(super) fn highest_suffix_in_cell(
    memory: &Memory,
    base: VmapCode,
    reference: LatLon,
) -> Option<u32> {
    let mut suffixes = CellSuffixes::new(memory, base);
    let center = base.cell(reference).center();
    memory
        .index
        .for_each_within(center, CELL_SEARCH_RADIUS_M, |id| suffixes.note(memory, id));
    suffixes.highest
}

/// The code after the highest one taken in `base`'s cell: the base itself when none is.
pub(super) fn next_free_code(base: VmapCode, highest: Option<u32>) -> Result<VmapCode, CodeError> {
    match highest {
        None => Ok(base),
        Some(n) => base.with_suffix(n + 1),
    }
}

/// One address of a list to assign, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignRow {
    pub location: LatLon,
    pub parts: AddressParts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AssignOptions {
    /// An address this close (and with the same house number/unit, when given) is the
    /// same place.
    pub match_radius: MatchRadius,
    /// Decide codes but register nothing.
    pub dry_run: bool,
}

/// Why a row could not be given a code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AssignFailure {
    /// No zone of the minting scheme's table covers the point (`scheme` says which rule).
    #[error(
        "({}, {}) is outside coverage: {}",
        .location.lat,
        .location.lon,
        crate::zones::outside_coverage_rule(*.scheme)
    )]
    OutsideCoverage {
        location: LatLon,
        scheme: PostalScheme,
    },
    /// The point cannot be coded in its zone (too far from the zone's reference point), or
    /// its cell has run out of suffixes.
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignOutcome {
    /// A new address was registered (or would be, in a dry run) under `code`.
    Created { code: VmapCode },
    /// The same place is already registered (or came earlier in the same list).
    Existing { code: VmapCode, distance_m: f64 },
    /// The row could not be given a code.
    Failed(AssignFailure),
}

/// Row keys for same-place matching: the interned house number and unit, `None` meaning
/// "given, but no stored address has it".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PlaceKeys {
    house: Option<u32>,
    unit: Option<u32>,
    house_given: bool,
    unit_given: bool,
}

/// The parallel, read-only half of deciding a row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Draft {
    Match {
        code: VmapCode,
        distance_m: f64,
    },
    Mint {
        base: VmapCode,
        highest_taken: Option<u32>,
    },
    Fail(AssignFailure),
}

/// A row created earlier in the same batch, for same-place matching within the batch.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    location: LatLon,
    code: VmapCode,
    house: String,
    unit: String,
}

/// Buckets of about 11 m for finding pending rows near a point.
pub(super) fn bucket(point: LatLon) -> (i64, i64) {
    (
        (point.lat * 10_000.0).floor() as i64,
        (point.lon * 10_000.0).floor() as i64,
    )
}

pub(super) fn normalised(text: Option<&str>) -> String {
    text.map(Interner::normalise).unwrap_or_default()
}

impl Registry {
    pub(super) fn place_keys(memory: &Memory, parts: &AddressParts) -> PlaceKeys {
        let house_given = !normalised(parts.house_number.as_deref()).is_empty();
        let unit_given = !normalised(parts.unit.as_deref()).is_empty();
        PlaceKeys {
            house: memory.interner.find(parts.house_number.as_deref()),
            unit: memory.interner.find(parts.unit.as_deref()),
            house_given,
            unit_given,
        }
    }

    /// Read-only decision against memory: an existing same place, or the cell to mint in
    /// (in the zone of the registry's postal scheme).
    pub(super) fn draft(&self, memory: &Memory, row: &AssignRow, options: AssignOptions) -> Draft {
        let keys = Registry::place_keys(memory, &row.parts);
        let could_match = (!keys.house_given || keys.house.is_some())
            && (!keys.unit_given || keys.unit.is_some());
        // One walk serves both the same-place match and, failing that, the cell's occupants:
        // every address in the point's ~3 m cell lies within CELL_SEARCH_RADIUS_M of it.
        let near = memory.index.nearest(
            row.location,
            usize::MAX,
            options.match_radius.metres().max(CELL_SEARCH_RADIUS_M),
            |_| true,
        );
        if could_match {
            // The first registered of the candidates (smallest id), not the nearest: a later
            // row of the same list may register a nearer one, and the list run again must
            // still answer what it answered the first time.
            let same_place = near.iter().filter(|neighbor| {
                neighbor.distance_m <= options.match_radius.metres()
                    && memory.record(neighbor.id).is_some_and(|record| {
                        record.active
                            && (!keys.house_given || keys.house == Some(record.house_key))
                            && (!keys.unit_given || keys.unit == Some(record.unit_key))
                    })
            });
            if let Some(neighbor) = same_place.min_by_key(|neighbor| neighbor.id)
                && let Some(code) = memory
                    .record(neighbor.id)
                    .and_then(|record| VmapCode::unpack(record.code_key))
            {
                return Draft::Match {
                    code,
                    distance_m: neighbor.distance_m,
                };
            }
        }
        let Some(zone) = self.resolve_zone_in(memory, row.location) else {
            return Draft::Fail(AssignFailure::OutsideCoverage {
                location: row.location,
                scheme: self.zones.minting_scheme(memory.scheme),
            });
        };
        let postcode = self.zones.get(zone.zone_id).postcode;
        let reference = self.zones.reference_of(zone.zone_id);
        match VmapCode::encode(postcode, reference, row.location) {
            Ok(base) => {
                let mut suffixes = CellSuffixes::new(memory, base);
                for neighbor in near
                    .iter()
                    .filter(|neighbor| neighbor.distance_m <= CELL_SEARCH_RADIUS_M)
                {
                    suffixes.note(memory, neighbor.id);
                }
                Draft::Mint {
                    base,
                    highest_taken: suffixes.highest,
                }
            }
            Err(error) => Draft::Fail(error.into()),
        }
    }
}

impl Registry {
    /// Decides every row of a batch against memory (in parallel) and then against the
    /// batch's own earlier rows; returns the outcomes and the addresses to insert.
    pub(super) fn decide_batch(
        &self,
        rows: &[AssignRow],
        options: AssignOptions,
    ) -> (Vec<AssignOutcome>, Vec<NewAddress>, PostalScheme) {
        use rayon::prelude::*;
        let (drafts, scheme): (Vec<Draft>, PostalScheme) = {
            let memory = self.read_memory();
            let drafts = rows
                .par_iter()
                .map(|row| self.draft(&memory, row, options))
                .collect();
            (drafts, memory.scheme)
        };
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut new_rows: Vec<NewAddress> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut pending_by_bucket: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        let mut taken_in_batch: HashMap<u64, u32> = HashMap::new();
        for (row, draft) in rows.iter().zip(drafts) {
            let outcome = match draft {
                Draft::Fail(failure) => AssignOutcome::Failed(failure),
                // A registered address is older than anything this batch creates.
                Draft::Match { code, distance_m } => AssignOutcome::Existing { code, distance_m },
                Draft::Mint {
                    base,
                    highest_taken,
                } => {
                    if let Some((code, distance_m)) = first_pending(
                        &pending,
                        &pending_by_bucket,
                        row,
                        options.match_radius.metres(),
                    ) {
                        AssignOutcome::Existing { code, distance_m }
                    } else {
                        let highest = match (highest_taken, taken_in_batch.get(&base.pack())) {
                            (Some(a), Some(&b)) => Some(a.max(b)),
                            (a, b) => a.or(b.copied()),
                        };
                        match next_free_code(base, highest) {
                            Ok(code) => {
                                taken_in_batch.insert(base.pack(), code.suffix().unwrap_or(1));
                                pending_by_bucket
                                    .entry(bucket(row.location))
                                    .or_default()
                                    .push(pending.len());
                                pending.push(Pending {
                                    location: row.location,
                                    code,
                                    house: normalised(row.parts.house_number.as_deref()),
                                    unit: normalised(row.parts.unit.as_deref()),
                                });
                                new_rows.push(NewAddress {
                                    code,
                                    location: row.location,
                                    parts: row.parts.clone(),
                                });
                                AssignOutcome::Created { code }
                            }
                            Err(error) => AssignOutcome::Failed(error.into()),
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        (outcomes, new_rows, scheme)
    }
}

/// The first row created earlier in this batch that is the same place as `row` (the first,
/// not the nearest, for the reason given in `Registry::draft`).
pub(super) fn first_pending(
    pending: &[Pending],
    by_bucket: &HashMap<(i64, i64), Vec<usize>>,
    row: &AssignRow,
    match_radius_m: f64,
) -> Option<(VmapCode, f64)> {
    if pending.is_empty() {
        return None;
    }
    let house = normalised(row.parts.house_number.as_deref());
    let unit = normalised(row.parts.unit.as_deref());
    let (lat_bucket, lon_bucket) = bucket(row.location);
    // A bucket is ~11 m; search as many rings as the radius needs.
    let rings = (match_radius_m / 11.0).ceil() as i64 + 1;
    let mut best: Option<(usize, VmapCode, f64)> = None;
    for lat_step in -rings..=rings {
        for lon_step in -rings..=rings {
            let Some(indices) = by_bucket.get(&(lat_bucket + lat_step, lon_bucket + lon_step))
            else {
                continue;
            };
            for &idx in indices {
                let candidate = &pending[idx];
                if (!house.is_empty() && candidate.house != house)
                    || (!unit.is_empty() && candidate.unit != unit)
                {
                    continue;
                }
                let distance_m = crate::point::haversine_m(row.location, candidate.location);
                if distance_m <= match_radius_m
                    && best.is_none_or(|(best_idx, _, _)| idx < best_idx)
                {
                    best = Some((idx, candidate.code, distance_m));
                }
            }
        }
    }
    best.map(|(_, code, distance_m)| (code, distance_m))
}
