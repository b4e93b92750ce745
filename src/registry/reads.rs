//! Reads answered from memory: reverse, nearest addresses, zone resolution, code lookup.

use super::memory::Memory;
use super::mint::{highest_suffix_in_cell, next_free_code};
use super::query::{ReverseParts, ReverseQuery};
use super::{
    CodeLookup, NearbyAddress, Registry, RegistryError, ResolvedZone, ReverseAnswer,
    ZONE_VOTE_RADIUS_M, ZONE_VOTERS,
};
use crate::admin::LegacyWardId;
use crate::code::PostalScheme;
use crate::code::olc::CodeArea;
use crate::code::{CodeError, VmapCode};
use crate::index::{IndexEntry, Neighbor};
use crate::point::{LatLon, haversine_m};
use crate::zones::{ZoneAdmin, ZoneId, ZoneMethod};

impl Registry {
    /// Nearest active addresses, the zone of the point and its would-be code.
    pub fn reverse(&self, point: LatLon, query: ReverseQuery) -> ReverseAnswer {
        let memory = self.read_memory();
        self.reverse_in(&memory, point, query)
    }

    /// Only the nearest active addresses: the index part of [`Registry::reverse`].
    pub fn nearest_addresses(&self, point: LatLon, query: ReverseQuery) -> Vec<NearbyAddress> {
        let memory = self.read_memory();
        memory
            .index
            .nearest(point, query.limit(), query.radius_m(), |id| {
                memory.is_active(id)
            })
            .iter()
            .filter_map(|neighbor| self.nearby(&memory, neighbor))
            .collect()
    }

    /// Up to `n` locations of active addresses, drawn reproducibly from `seed`.
    pub fn sample_locations(&self, n: usize, seed: u64) -> Vec<LatLon> {
        use rand::{Rng, SeedableRng};
        let memory = self.read_memory();
        let locations: Vec<LatLon> = memory
            .index
            .iter()
            .filter(|entry| memory.is_active(entry.id))
            .map(|entry| entry.location)
            .collect();
        if locations.is_empty() {
            return Vec::new();
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| locations[rng.random_range(0..locations.len())])
            .collect()
    }

    /// The oracle for [`Registry::nearest_addresses`]: a scan of every indexed point.
    pub fn nearest_addresses_brute_force(
        &self,
        point: LatLon,
        query: ReverseQuery,
    ) -> Vec<NearbyAddress> {
        let memory = self.read_memory();
        let entries: Vec<IndexEntry> = memory.index.iter().collect();
        let (limit, radius_m) = (query.limit(), query.radius_m());
        crate::index::brute_force_nearest(&entries, point, limit, radius_m, |id| {
            memory.is_active(id)
        })
        .iter()
        .filter_map(|neighbor| self.nearby(&memory, neighbor))
        .collect()
    }

    /// Many reverse queries under one read lock, in input order.
    pub fn reverse_many(&self, points: &[LatLon], query: ReverseQuery) -> Vec<ReverseAnswer> {
        use rayon::prelude::*;
        let memory = self.read_memory();
        points
            .par_iter()
            .map(|&point| self.reverse_in(&memory, point, query))
            .collect()
    }

    fn reverse_in(&self, memory: &Memory, point: LatLon, query: ReverseQuery) -> ReverseAnswer {
        let (limit, radius_m, parts) = (query.limit(), query.radius_m(), query.parts());
        let parts = ReverseParts {
            zone: parts.zone || parts.admin || parts.grid_code,
            ..parts
        };
        // The nearest addresses vote on the legacy ward (both maps) and, with the legacy
        // scheme, on the zone; a query needing neither asks the index for `limit` only.
        let legacy_scheme = self.zones.minting_scheme(memory.scheme) == PostalScheme::Legacy;
        let voters_wanted = parts.admin || (parts.zone && legacy_scheme);
        // One search serves both the answer and the zone's voters: the nearest
        // max(limit, voters) within the larger radius, nearest first, hold the nearest
        // `limit` within `radius_m` and the nearest voters within the vote radius as prefixes.
        let neighbors = if voters_wanted {
            memory.index.nearest(
                point,
                limit.max(ZONE_VOTERS),
                radius_m.max(ZONE_VOTE_RADIUS_M),
                |id| memory.is_active(id),
            )
        } else {
            memory
                .index
                .nearest(point, limit, radius_m, |id| memory.is_active(id))
        };
        let addresses = neighbors
            .iter()
            .filter(|neighbor| neighbor.distance_m <= radius_m)
            .take(limit)
            .filter_map(|neighbor| self.nearby(memory, neighbor))
            .collect();
        if !parts.zone {
            return ReverseAnswer {
                addresses,
                zone: None,
                admin: ZoneAdmin::default(),
                grid_code: None,
            };
        }
        let voters: Vec<Neighbor> = neighbors
            .iter()
            .filter(|neighbor| neighbor.distance_m <= ZONE_VOTE_RADIUS_M)
            .take(ZONE_VOTERS)
            .copied()
            .collect();
        let zone = self.zone_by_voters(&voters, memory, point);
        let grid_code = zone
            .filter(|_| parts.grid_code)
            .and_then(|zone| self.next_code_in(memory, zone.zone_id, point).ok());
        let admin = zone.filter(|_| parts.admin).map(|zone| {
            self.zones.zone_admin(
                zone.zone_id,
                Some(point),
                &self.legacy_voters(&voters, memory),
            )
        });
        ReverseAnswer {
            addresses,
            zone,
            admin: admin.unwrap_or_default(),
            grid_code,
        }
    }

    fn nearby(&self, memory: &Memory, neighbor: &Neighbor) -> Option<NearbyAddress> {
        let code = VmapCode::unpack(memory.record(neighbor.id)?.code_key)?;
        Some(NearbyAddress {
            code,
            postcode: code.postcode(),
            lat: neighbor.location.lat,
            lon: neighbor.location.lon,
            distance_m: neighbor.distance_m,
        })
    }

    /// The zone a new code at `point` would be minted in: with the 2025 scheme the ward
    /// whose polygon holds it (else the nearest boundary within 2 km); with the legacy
    /// scheme the majority of the nearest registered addresses, else by bounding box, else
    /// nearest reference point within 50 km. `None` outside coverage.
    pub fn resolve_zone(&self, point: LatLon) -> Option<ResolvedZone> {
        let memory = self.read_memory();
        self.resolve_zone_in(&memory, point)
    }

    /// The postal scheme new codes are minted in.
    pub fn postal_scheme(&self) -> PostalScheme {
        self.zones.minting_scheme(self.read_memory().scheme)
    }

    /// A zone on both administrative maps at `point` (the zone's reference point when
    /// `None`); the legacy ward of a 2025 zone is voted by the registered addresses near
    /// the point. The one function every answer that shows a zone (and, later, assign's
    /// 2025 columns) asks.
    pub fn zone_admin(&self, zone_id: ZoneId, point: Option<LatLon>) -> ZoneAdmin {
        let memory = self.read_memory();
        let voters = match point {
            Some(point) => memory
                .index
                .nearest(point, ZONE_VOTERS, ZONE_VOTE_RADIUS_M, |id| {
                    memory.is_active(id)
                }),
            None => Vec::new(),
        };
        self.zones
            .zone_admin(zone_id, point, &self.legacy_voters(&voters, &memory))
    }

    /// The legacy wards the voters' codes name (codes whose number the legacy table has).
    fn legacy_voters(&self, voters: &[Neighbor], memory: &Memory) -> Vec<LegacyWardId> {
        voters
            .iter()
            .filter_map(|voter| {
                let code = VmapCode::unpack(memory.record(voter.id)?.code_key)?;
                let zone_id = self
                    .zones
                    .by_postcode_in(code.postcode(), PostalScheme::Legacy)?;
                self.zones.legacy_ward_of_zone(zone_id)
            })
            .collect()
    }

    pub(super) fn resolve_zone_in(&self, memory: &Memory, point: LatLon) -> Option<ResolvedZone> {
        if self.zones.minting_scheme(memory.scheme) == PostalScheme::Y2025 {
            return self.resolve_2025(point);
        }
        let voters = memory
            .index
            .nearest(point, ZONE_VOTERS, ZONE_VOTE_RADIUS_M, |id| {
                memory.is_active(id)
            });
        self.zone_by_voters(&voters, memory, point)
    }

    fn resolve_2025(&self, point: LatLon) -> Option<ResolvedZone> {
        self.zones
            .resolve_by_geometry(point, PostalScheme::Y2025)
            .map(|(zone_id, method)| ResolvedZone { zone_id, method })
    }

    /// [`Registry::resolve_zone`] given the nearest active addresses within the vote radius.
    fn zone_by_voters(
        &self,
        voters: &[Neighbor],
        memory: &Memory,
        point: LatLon,
    ) -> Option<ResolvedZone> {
        if self.zones.minting_scheme(memory.scheme) == PostalScheme::Y2025 {
            return self.resolve_2025(point);
        }
        // Votes per zone; ties go to the zone of the nearer voter (voters come nearest first).
        let mut tally: Vec<(ZoneId, usize, usize)> = Vec::new();
        for (rank, voter) in voters.iter().enumerate() {
            let Some(code) = memory
                .record(voter.id)
                .and_then(|record| VmapCode::unpack(record.code_key))
            else {
                continue;
            };
            let Some(zone_id) = self.zones.by_postcode(code.postcode()) else {
                continue;
            };
            match tally.iter_mut().find(|(id, _, _)| *id == zone_id) {
                Some(entry) => entry.1 += 1,
                None => tally.push((zone_id, 1, rank)),
            }
        }
        let winner = tally
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .map(|&(zone_id, _, _)| zone_id)
            .filter(|&zone_id| self.zones.can_own(zone_id, point));
        if let Some(zone_id) = winner {
            return Some(ResolvedZone {
                zone_id,
                method: ZoneMethod::Addresses,
            });
        }
        self.zones
            .resolve_by_geometry(point, PostalScheme::Legacy)
            .map(|(zone_id, method)| ResolvedZone { zone_id, method })
    }

    /// The code a new address at `point` in `zone_id` gets: the cell's base code, with the
    /// next free suffix when an address (active or retired) already holds it.
    fn next_code_in(
        &self,
        memory: &Memory,
        zone_id: ZoneId,
        point: LatLon,
    ) -> Result<VmapCode, CodeError> {
        let postcode = self.zones.get(zone_id).postcode;
        let reference = self.zones.reference_of(zone_id);
        let base = VmapCode::encode(postcode, reference, point)?;
        next_free_code(base, highest_suffix_in_cell(memory, base, reference))
    }

    /// Code lookup: the registered address, or the decoded cell of a well-formed code nobody
    /// holds; an error for a postal code no zone has.
    pub async fn lookup(&self, code: VmapCode) -> Result<CodeLookup, RegistryError> {
        let zone_id = self
            .zones
            .by_postcode(code.postcode())
            .ok_or(RegistryError::UnknownPostcode(code.postcode()))?;
        let cell = code.cell(self.zones.reference_of(zone_id));
        match self.noted(self.store.get_by_code(&code).await)? {
            Some(address) => {
                // A legacy code of a number the 2025 table gave to a far-away ward (66662,
                // 92308): the stored address says which table it was minted in.
                let (zone_id, cell) = match self
                    .zones
                    .by_postcode_in(code.postcode(), PostalScheme::Legacy)
                {
                    Some(legacy) if legacy != zone_id => {
                        let legacy_cell = code.cell(self.zones.get(legacy).center);
                        let from = |cell: CodeArea| haversine_m(cell.center(), address.location);
                        if from(legacy_cell) < from(cell) {
                            (legacy, legacy_cell)
                        } else {
                            (zone_id, cell)
                        }
                    }
                    _ => (zone_id, cell),
                };
                Ok(CodeLookup::Registered {
                    address: Box::new(address),
                    zone_id,
                    cell,
                })
            }
            None => Ok(CodeLookup::Unregistered {
                code,
                zone_id,
                cell,
            }),
        }
    }
}
