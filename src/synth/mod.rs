//! Synthetic Vietnamese delivery addresses, deterministic from a seed.
//!
//! No real address points exist offline, so `vmap serve --demo`, the benches and the tests
//! fill the registry from here. Each ward gets a small town: a grid of streets around its
//! centre (gently bent, rotated, thinning out towards the edge), houses numbered odd on one
//! side and even on the other, and in towns alleys (ngõ/ngách in the north, kiệt in the old
//! central provinces, hẻm in the south) branching off the streets. Every point lies in the
//! ward's bounding box and close enough to its reference point for its code to decode.
//!
//! Towns are built in the zones new codes are minted in: the 3 321 wards of the 2025 map,
//! each town around the ward's reference point (the pole of inaccessibility of its
//! polygon), and a house is placed only where the ward's polygon holds it (exact
//! point-in-polygon, the same index that resolves zones), so every point of a seeded
//! registry lies inside its own ward. A table without the 2025 map (tests of made-up
//! tables) seeds its legacy zones as before.
//!
//! How many addresses each ward gets is weighted by ward type (phường > thị trấn > xã) and
//! capped by the room in its box. Addresses are small values pointing into static name
//! tables, so millions of them cost no per-address heap allocation; text is formatted only
//! on request.

mod layout;
mod names;
mod seed;
mod town;

pub use seed::{SeedError, SeedReport, seed, seed_new_sqlite_file};

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use rayon::prelude::*;

use crate::code::PostalScheme;
use crate::point::LatLon;
use crate::zones::{MAX_REFERENCE_OFFSET_DEG, WardType, ZoneId, ZoneTable};
use town::{ZoneGenerator, mix64};

/// Metres per degree of latitude on the mean Earth radius.
const METRES_PER_DEGREE: f64 = crate::point::EARTH_MEAN_RADIUS_M * std::f64::consts::PI / 180.0;

/// Addresses stay this close to the ward's centroid even when its bounding box is larger.
const MAX_CENTER_OFFSET_DEG: f64 = 0.3;

/// Strictly inside the 0.45° that `ZoneTable::can_own` allows, so that rounding never
/// puts a point on the wrong side of it.
const REFERENCE_OFFSET_DEG: f64 = MAX_REFERENCE_OFFSET_DEG - 0.01;

/// Streets are laid out for this many times the requested addresses, so the outer streets
/// stay partly empty and the estimate of how many fit is never short.
const CAPACITY_SLACK: f64 = 1.3;

/// Houses are never squeezed closer than this along a street; beyond that a ward holds
/// several flats per house (12, 12A, 12B…) at one spot instead.
const MIN_FRONTAGE_M: f64 = 3.0;

/// Letters for flats and split lots, in the order they are handed out.
const HOUSE_LETTERS: &[u8; 24] = b"ABCDEFGHKLMNPQRSTUVWXYZJ";

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

/// A house number: the number plus an optional letter for a split lot or a flat ("12A").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HouseNumber {
    pub number: u32,
    pub letter: Option<char>,
}

impl fmt::Display for HouseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number)?;
        if let Some(letter) = self.letter {
            write!(f, "{letter}")?;
        }
        Ok(())
    }
}

/// The word for an alley, which differs by region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlleyKind {
    /// Ngõ: an alley off a street (northern Vietnam).
    Ngo,
    /// Ngách: an alley off a ngõ (northern Vietnam).
    Ngach,
    /// Hẻm: any alley in the south, Central Highlands and south-central coast.
    Hem,
    /// Kiệt: any alley from Quảng Bình to Quảng Nam.
    Kiet,
}

impl AlleyKind {
    pub fn word(self) -> &'static str {
        match self {
            AlleyKind::Ngo => "Ngõ",
            AlleyKind::Ngach => "Ngách",
            AlleyKind::Hem => "Hẻm",
            AlleyKind::Kiet => "Kiệt",
        }
    }
}

/// An alley, numbered after the house on its parent street (or alley) where it branches
/// off: "Ngõ 12" leaves the street at house 12; "Ngách 12/5" and "Hẻm 12/5" leave that
/// alley at its house 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alley {
    pub kind: AlleyKind,
    pub number: u32,
    pub branch: Option<u32>,
}

impl fmt::Display for Alley {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.word(), self.number)?;
        if let Some(branch) = self.branch {
            write!(f, "/{branch}")?;
        }
        Ok(())
    }
}

/// How a street's name is written in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreetKind {
    /// "Đường Lê Lợi": the usual form everywhere.
    Duong,
    /// "Phố Huế": inner-city streets in Hà Nội and some other northern towns.
    Pho,
    /// "Quốc lộ 1A", "Tỉnh lộ 10": the name is already the full text.
    Highway,
}

impl StreetKind {
    pub fn prefix(self) -> Option<&'static str> {
        match self {
            StreetKind::Duong => Some("Đường"),
            StreetKind::Pho => Some("Phố"),
            StreetKind::Highway => None,
        }
    }
}

/// The three alley-naming regions, chosen by province.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// Hà Nội to Hà Tĩnh: ngõ and ngách.
    North,
    /// Quảng Bình to Quảng Nam (Huế, Đà Nẵng): kiệt.
    Central,
    /// Quảng Ngãi southwards and the Central Highlands: hẻm.
    South,
}

impl Region {
    /// By the two-digit province code of the 63-province structure; unknown codes count as
    /// the south, where most addresses are.
    pub fn of_province_code(code: &str) -> Region {
        match code.trim().parse::<u32>() {
            Ok(0..=43) => Region::North,
            Ok(44..=50) => Region::Central,
            _ => Region::South,
        }
    }

    fn alley_kind(self, branch: bool) -> AlleyKind {
        match (self, branch) {
            (Region::North, false) => AlleyKind::Ngo,
            (Region::North, true) => AlleyKind::Ngach,
            (Region::Central, _) => AlleyKind::Kiet,
            (Region::South, _) => AlleyKind::Hem,
        }
    }
}

/// One synthetic address. Strings are views into static tables or small Copy values, so a
/// chunk of millions costs no per-address allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthAddress {
    pub zone_id: ZoneId,
    pub location: LatLon,
    /// Display gives e.g. "12", "12A".
    pub house_number: HouseNumber,
    /// Display gives e.g. "Ngõ 12", "Hẻm 45/3".
    pub alley: Option<Alley>,
    /// The street's name alone, e.g. "Trần Hưng Đạo", "Huế", "Quốc lộ 1A".
    pub street: &'static str,
    /// Whether the full name is "Đường …", "Phố …" or the name as is.
    pub street_kind: StreetKind,
}

impl SynthAddress {
    pub fn house_number_text(&self) -> String {
        self.house_number.to_string()
    }

    pub fn alley_text(&self) -> Option<String> {
        self.alley.map(|alley| alley.to_string())
    }

    /// The street's full name, e.g. "Đường Trần Hưng Đạo", "Phố Huế", "Quốc lộ 1A".
    pub fn street_text(&self) -> String {
        match self.street_kind.prefix() {
            Some(prefix) => format!("{prefix} {}", self.street),
            None => self.street.to_owned(),
        }
    }

    /// The address as written on an envelope, without ward and province:
    /// "Số 12A, Ngõ 45, Phố Huế".
    pub fn address_line(&self) -> String {
        match self.alley {
            Some(alley) => format!("Số {}, {alley}, {}", self.house_number, self.street_text()),
            None => format!("Số {}, {}", self.house_number, self.street_text()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Planning: how many addresses each zone gets
// ---------------------------------------------------------------------------------------

/// Relative address counts per ward: phường hold the most, xã the fewest.
fn ward_type_weight(ward_type: WardType) -> u64 {
    match ward_type {
        WardType::Urban => 4,
        WardType::Township => 2,
        WardType::Rural => 1,
    }
}

/// The most addresses a ward type holds per square metre of its generation area (about
/// 10 000 per km² in a phường, as in the densest old quarters). Some wards in the zone
/// table have only a placeholder box about 300 m wide; this keeps them from getting a
/// town's worth of addresses stacked into it.
fn max_density_per_m2(ward_type: WardType) -> f64 {
    match ward_type {
        WardType::Urban => 1.0 / 100.0,
        WardType::Township => 1.0 / 200.0,
        WardType::Rural => 1.0 / 500.0,
    }
}

/// How many addresses each zone gets for a total (deterministic; sums exactly to `total`).
///
/// Each zone's share is its ward-type weight (phường 4, thị trấn 2, xã 1) times a per-zone
/// factor between 0.6 and 1.6 drawn from the seed, apportioned by largest remainder, and
/// capped by what the zone's area holds at the densest (10 000 addresses per km² in a
/// phường, 5 000 in a thị trấn, 2 000 in a xã); what a capped zone cannot take goes to the
/// others by the same weights. When the total exceeds every cap together, the caps are
/// ignored. Zones whose bounding box leaves no room for a decodable point get nothing; if
/// no zone has room at all (an empty or broken table) every count is 0.
pub fn plan(zones: &ZoneTable, total: u64, seed: u64) -> Vec<(ZoneId, u64)> {
    let zone_ids = zones.zone_ids(zones.minting_scheme(PostalScheme::Y2025));
    let mut weights = Vec::with_capacity(zone_ids.len());
    let mut caps = Vec::with_capacity(zone_ids.len());
    for zone_id in zone_ids.clone() {
        let ward_type = zones.get(zone_id).ward_type;
        let Some(area) = generation_area(zones, zone_id) else {
            weights.push(0);
            caps.push(0);
            continue;
        };
        let jitter = mix64(seed ^ 0x706c_616e, u64::from(zone_id - zone_ids.start)) % 1000;
        weights.push(ward_type_weight(ward_type) * (600 + jitter));
        let mid_lat = (area.south + area.north) / 2.0;
        let area_m2 = (area.north - area.south)
            * METRES_PER_DEGREE
            * (area.east - area.west)
            * METRES_PER_DEGREE
            * mid_lat.to_radians().cos();
        caps.push((area_m2 * max_density_per_m2(ward_type)).floor().max(1.0) as u64);
    }
    let counts = if caps.iter().map(|&cap| u128::from(cap)).sum::<u128>() < u128::from(total) {
        apportion(total, &weights)
    } else {
        apportion_with_caps(total, &weights, &caps)
    };
    zone_ids.zip(counts).collect()
}

/// Fixes every zone whose share exceeds its cap at the cap and shares the rest among the
/// others again, until no share exceeds its cap. Needs `total <= sum(caps)`.
fn apportion_with_caps(total: u64, weights: &[u64], caps: &[u64]) -> Vec<u64> {
    let mut fixed: Vec<Option<u64>> = vec![None; weights.len()];
    let mut left = total;
    loop {
        let open_weights: Vec<u64> = weights
            .iter()
            .zip(&fixed)
            .map(|(&weight, fixed)| if fixed.is_some() { 0 } else { weight })
            .collect();
        let shares = apportion(left, &open_weights);
        let mut any_over = false;
        for idx in 0..weights.len() {
            if fixed[idx].is_none() && shares[idx] > caps[idx] {
                fixed[idx] = Some(caps[idx]);
                left -= caps[idx];
                any_over = true;
            }
        }
        if !any_over {
            return shares
                .into_iter()
                .zip(fixed)
                .map(|(share, fixed)| fixed.unwrap_or(share))
                .collect();
        }
    }
}

/// `total` split in proportion to `weights` by largest remainder (lower index first among
/// equal remainders), so the parts sum exactly to `total`; all 0 when every weight is 0.
fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let weight_sum: u128 = weights.iter().map(|&weight| u128::from(weight)).sum();
    if weight_sum == 0 {
        return vec![0; weights.len()];
    }
    let mut counts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut assigned: u128 = 0;
    for (idx, &weight) in weights.iter().enumerate() {
        let share = u128::from(total) * u128::from(weight);
        let count = share / weight_sum;
        assigned += count;
        counts.push(count as u64);
        if weight > 0 {
            remainders.push((share % weight_sum, idx));
        }
    }
    // Sorting on (remainder, index) gives a total order, so the result never depends on
    // sort stability.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let leftover = (u128::from(total) - assigned) as usize;
    for &(_, idx) in remainders.iter().take(leftover) {
        counts[idx] += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------
// Generation entry points
// ---------------------------------------------------------------------------------------

/// One zone's addresses, deterministic from (seed, zone_id, count). Empty when the zone's
/// bounding box leaves no room for a decodable point (see [`plan`]).
pub fn generate_zone(
    zones: &ZoneTable,
    zone_id: ZoneId,
    count: u64,
    seed: u64,
) -> Vec<SynthAddress> {
    let Some(mut generator) = ZoneGenerator::new(zones, zone_id, count, seed) else {
        return Vec::new();
    };
    // Capped so that an absurd count fails by running out, not by a capacity overflow.
    let mut out = Vec::with_capacity(count.min(1 << 24) as usize);
    generator.fill(&mut out, usize::MAX);
    out
}

/// All addresses for `total`, as an iterator of chunks (each chunk whole zones, roughly
/// `chunk_size` addresses; a huge zone may be split across chunks), generated in parallel
/// with rayon a batch of chunks at a time, in a deterministic order. Memory stays bounded
/// (never the whole 25 M at once): about two chunks per rayon thread are made ahead.
///
/// The concatenation of the chunks is the same for every `chunk_size` and thread count:
/// the zones of [`plan`] in id order, each as [`generate_zone`] makes it.
pub fn generate(
    zones: &ZoneTable,
    total: u64,
    seed: u64,
    chunk_size: usize,
) -> impl Iterator<Item = Vec<SynthAddress>> + '_ {
    ChunkIter {
        zones,
        seed,
        chunk_size: chunk_size.max(1) as u64,
        plan: plan(zones, total, seed),
        next_zone: 0,
        ready: VecDeque::new(),
        split_zone: None,
    }
}

struct ChunkIter<'a> {
    zones: &'a ZoneTable,
    seed: u64,
    chunk_size: u64,
    plan: Vec<(ZoneId, u64)>,
    next_zone: usize,
    ready: VecDeque<Vec<SynthAddress>>,
    /// A zone bigger than a chunk, generated a few streets at a time and handed out in
    /// chunks of exactly `chunk_size`, with what is left over from the last street.
    split_zone: Option<(ZoneGenerator, Vec<SynthAddress>)>,
}

impl Iterator for ChunkIter<'_> {
    type Item = Vec<SynthAddress>;

    fn next(&mut self) -> Option<Vec<SynthAddress>> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Some(chunk);
            }
            if let Some((generator, carry)) = &mut self.split_zone {
                let chunk_size = self.chunk_size as usize;
                if carry.len() < chunk_size {
                    generator.fill(carry, chunk_size);
                }
                let rest = carry.split_off(chunk_size.min(carry.len()));
                let chunk = std::mem::replace(carry, rest);
                if carry.is_empty() && generator.remaining == 0 {
                    self.split_zone = None;
                }
                if !chunk.is_empty() {
                    return Some(chunk);
                }
                self.split_zone = None;
                continue;
            }
            if self.next_zone >= self.plan.len() {
                return None;
            }
            let batch = self.next_batch();
            if batch.is_empty() {
                // The next zone is bigger than a chunk: it goes out on its own, in pieces.
                let (zone_id, count) = self.plan[self.next_zone];
                self.next_zone += 1;
                self.split_zone = ZoneGenerator::new(self.zones, zone_id, count, self.seed)
                    .map(|generator| (generator, Vec::new()));
                continue;
            }
            let (zones, seed, plan) = (self.zones, self.seed, &self.plan);
            let chunks: Vec<Vec<SynthAddress>> = batch
                .into_par_iter()
                .map(|range| {
                    let parts: Vec<Vec<SynthAddress>> = plan[range]
                        .par_iter()
                        .map(|&(zone_id, count)| generate_zone(zones, zone_id, count, seed))
                        .collect();
                    parts.concat()
                })
                .collect();
            self.ready
                .extend(chunks.into_iter().filter(|chunk| !chunk.is_empty()));
        }
    }
}

impl ChunkIter<'_> {
    /// The next few chunks as ranges of whole zones of the plan; empty when the next zone
    /// alone exceeds a chunk.
    fn next_batch(&mut self) -> Vec<Range<usize>> {
        let max_chunks = rayon::current_num_threads().max(1) * 2;
        let mut batch = Vec::new();
        let mut start = self.next_zone;
        let mut size = 0u64;
        while self.next_zone < self.plan.len() {
            let count = self.plan[self.next_zone].1;
            if count > self.chunk_size {
                break;
            }
            if size + count > self.chunk_size && size > 0 {
                batch.push(start..self.next_zone);
                start = self.next_zone;
                size = 0;
                if batch.len() == max_chunks {
                    return batch;
                }
            }
            size += count;
            self.next_zone += 1;
        }
        if start < self.next_zone {
            batch.push(start..self.next_zone);
        }
        batch
    }
}

// ---------------------------------------------------------------------------------------
// Where a zone's addresses may go
// ---------------------------------------------------------------------------------------

/// A latitude/longitude box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DegreeBox {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
}

/// The zone's bounding box, cut to ±0.3° around its centre and to what decodes through its
/// postal code's reference point; `None` when nothing is left.
fn generation_area(zones: &ZoneTable, zone_id: ZoneId) -> Option<DegreeBox> {
    let zone = zones.get(zone_id);
    let reference = zones.reference_of(zone_id);
    let area = DegreeBox {
        south: zone
            .bbox
            .south
            .max(zone.center.lat - MAX_CENTER_OFFSET_DEG)
            .max(reference.lat - REFERENCE_OFFSET_DEG),
        north: zone
            .bbox
            .north
            .min(zone.center.lat + MAX_CENTER_OFFSET_DEG)
            .min(reference.lat + REFERENCE_OFFSET_DEG),
        west: zone
            .bbox
            .west
            .max(zone.center.lon - MAX_CENTER_OFFSET_DEG)
            .max(reference.lon - REFERENCE_OFFSET_DEG),
        east: zone
            .bbox
            .east
            .min(zone.center.lon + MAX_CENTER_OFFSET_DEG)
            .min(reference.lon + REFERENCE_OFFSET_DEG),
    };
    let valid = area.south <= area.north && area.west <= area.east;
    let finite = [area.south, area.north, area.west, area.east]
        .iter()
        .all(|value| value.is_finite());
    (valid && finite).then_some(area)
}

/// Writes `total` synthetic addresses as an assignable CSV list (`id,lat,lon,house_number,
/// alley,street,ward,district,province`), for demos, benchmarks and tests. Returns the rows
/// written.
pub fn write_csv(
    zones: &ZoneTable,
    total: u64,
    seed: u64,
    output: impl std::io::Write,
) -> Result<u64, csv::Error> {
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record([
        "id",
        "lat",
        "lon",
        "house_number",
        "alley",
        "street",
        "ward",
        "district",
        "province",
    ])?;
    let mut n_rows = 0u64;
    for chunk in generate(zones, total, seed, 100_000) {
        for address in chunk {
            n_rows += 1;
            let zone = zones.get(address.zone_id);
            writer.write_record([
                format!("s{seed}-{n_rows}"),
                address.location.lat.to_string(),
                address.location.lon.to_string(),
                address.house_number_text(),
                address.alley_text().unwrap_or_default(),
                address.street_text(),
                zone.ward.clone(),
                zone.district.clone(),
                zone.province.clone(),
            ])?;
        }
    }
    writer.flush()?;
    Ok(n_rows)
}

#[cfg(test)]
mod tests;
