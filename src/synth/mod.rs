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
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::names::{HANOI_STREET_NAMES, HIGHWAY_NAMES, NUMBERED_STREET_NAMES, STREET_NAMES};
    use super::*;
    use crate::point::haversine_m;

    fn zones() -> &'static ZoneTable {
        static ZONES: OnceLock<ZoneTable> = OnceLock::new();
        ZONES.get_or_init(|| ZoneTable::load_default().expect("default zone table loads"))
    }

    /// The zones seeding builds towns in: the 2025 wards.
    fn ids() -> Range<ZoneId> {
        zones().zone_ids(PostalScheme::Y2025)
    }

    fn all(total: u64, seed: u64, chunk_size: usize) -> Vec<SynthAddress> {
        generate(zones(), total, seed, chunk_size)
            .flatten()
            .collect()
    }

    fn zone_of(province_code: &str, ward_type: WardType) -> ZoneId {
        let zones = zones();
        ids()
            .find(|&zone_id| {
                let zone = zones.get(zone_id);
                zone.province_code == province_code && zone.ward_type == ward_type
            })
            .expect("the table has such a ward")
    }

    /// About the 3 m cell of an 11-digit plus code (1/40 000° of latitude by 1/32 000° of
    /// longitude), which is what makes two addresses share a code.
    fn cell(location: LatLon) -> (i64, i64) {
        (
            (location.lat * 40_000.0).floor() as i64,
            (location.lon * 32_000.0).floor() as i64,
        )
    }

    #[test]
    fn same_seed_gives_same_addresses_and_another_seed_differs() {
        let first = all(60_000, 7, 10_000);
        let second = all(60_000, 7, 10_000);
        assert_eq!(first.len(), 60_000);
        assert!(first == second);
        let other = all(60_000, 8, 10_000);
        assert_eq!(other.len(), 60_000);
        assert!(first != other);
        let same_zone = generate_zone(zones(), 42, 500, 1);
        assert!(same_zone == generate_zone(zones(), 42, 500, 1));
        assert!(same_zone != generate_zone(zones(), 42, 500, 2));
    }

    #[test]
    fn thread_count_does_not_change_the_sequence() {
        let expected = all(40_000, 11, 3_000);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let single = pool.install(|| all(40_000, 11, 3_000));
        assert!(expected == single);
    }

    #[test]
    fn plan_sums_to_total_and_favours_towns() {
        let zones = zones();
        for total in [0, 1, 9_999, 1_000_000, 25_000_000] {
            let plan = plan(zones, total, 5);
            assert_eq!(plan.len(), ids().len());
            assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
            assert!(plan.iter().map(|&(zone_id, _)| zone_id).eq(ids()));
        }
        let plan = plan(zones, 1_000_000, 5);
        let mut sums: HashMap<&str, (u64, u64)> = HashMap::new();
        for &(zone_id, count) in &plan {
            let key = match zones.get(zone_id).ward_type {
                WardType::Urban => "urban",
                WardType::Township => "township",
                WardType::Rural => "rural",
            };
            let entry = sums.entry(key).or_default();
            entry.0 += count;
            entry.1 += 1;
        }
        let mean = |key: &str| sums[key].0 as f64 / sums[key].1 as f64;
        // The 2025 map has no thị trấn.
        assert!(!sums.contains_key("township"), "{sums:?}");
        assert!(mean("urban") > 2.0 * mean("rural"), "{sums:?}");
        assert_eq!(plan, super::plan(zones, 1_000_000, 5));
    }

    #[test]
    fn every_point_is_in_its_ward_polygon_and_decodes_through_its_zone() {
        let zones = zones();
        let addresses = all(300_000, 3, 50_000);
        assert_eq!(addresses.len(), 300_000);
        for address in &addresses {
            let zone = zones.get(address.zone_id);
            assert!(
                zone.bbox.contains(address.location),
                "{address:?} outside {:?}",
                zone.bbox
            );
            assert!(
                zones.can_own(address.zone_id, address.location),
                "{address:?}"
            );
            let (map, ward) = zones
                .boundary_ward_of_zone(address.zone_id)
                .expect("a 2025 zone");
            assert_eq!(
                map.index().ward_at(address.location),
                Some(ward),
                "{address:?}"
            );
        }
        let zones_used: HashSet<ZoneId> = addresses.iter().map(|address| address.zone_id).collect();
        assert!(zones_used.len() > 3_300, "{}", zones_used.len());
    }

    #[test]
    fn zones_come_out_in_plan_order_with_their_planned_counts() {
        let zones = zones();
        let addresses = all(120_000, 9, 20_000);
        let mut counts: Vec<(ZoneId, u64)> = Vec::new();
        for address in &addresses {
            match counts.last_mut() {
                Some((zone_id, count)) if *zone_id == address.zone_id => *count += 1,
                _ => counts.push((address.zone_id, 1)),
            }
        }
        let planned: Vec<(ZoneId, u64)> = plan(zones, 120_000, 9)
            .into_iter()
            .filter(|&(_, count)| count > 0)
            .collect();
        assert_eq!(counts, planned);
    }

    #[test]
    fn house_numbers_increase_along_every_street_and_alley() {
        let zones = zones();
        let mut checked = 0;
        for zone_id in ids().step_by(37) {
            let count = match zones.get(zone_id).ward_type {
                WardType::Urban => 6_000,
                WardType::Township => 3_000,
                WardType::Rural => 1_500,
            };
            let addresses = generate_zone(zones, zone_id, count, 21);
            assert_eq!(addresses.len(), count as usize);
            let mut last: HashMap<(&str, StreetKind, Option<Alley>), HouseNumber> = HashMap::new();
            for address in &addresses {
                let key = (address.street, address.street_kind, address.alley);
                if let Some(previous) = last.insert(key, address.house_number) {
                    assert!(
                        previous < address.house_number,
                        "zone {zone_id}: {} after {previous} on {:?}",
                        address.house_number,
                        key
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn odd_and_even_sides_in_towns_sequential_in_the_countryside() {
        let zones = zones();
        let urban = generate_zone(zones, zone_of("79", WardType::Urban), 3_000, 4);
        let on_first_street: Vec<u32> = urban
            .iter()
            .take_while(|address| address.street == urban[0].street)
            .filter(|address| address.alley.is_none() && address.house_number.letter.is_none())
            .map(|address| address.house_number.number)
            .take(6)
            .collect();
        assert!(
            on_first_street.len() == 6 && on_first_street[0] <= 2,
            "{on_first_street:?}"
        );
        let rural = generate_zone(zones, zone_of("40", WardType::Rural), 800, 4);
        let numbers: Vec<u32> = rural
            .iter()
            .filter(|address| {
                address.street == rural[0].street && address.house_number.letter.is_none()
            })
            .map(|address| address.house_number.number)
            .take(20)
            .collect();
        assert_eq!(numbers, (1..=20).collect::<Vec<u32>>());
        assert!(rural.iter().all(|address| address.alley.is_none()));
    }

    #[test]
    fn alleys_appear_in_urban_wards_with_the_regional_word() {
        let zones = zones();
        let cases = [
            ("01", vec![AlleyKind::Ngo, AlleyKind::Ngach]),
            ("48", vec![AlleyKind::Kiet]),
            ("79", vec![AlleyKind::Hem]),
        ];
        for (province_code, expected_kinds) in cases {
            let zone_id = zone_of(province_code, WardType::Urban);
            let addresses = generate_zone(zones, zone_id, 8_000, 2);
            let in_alleys = addresses
                .iter()
                .filter(|address| address.alley.is_some())
                .count();
            assert!(
                in_alleys > addresses.len() / 5,
                "{province_code}: {in_alleys} of {}",
                addresses.len()
            );
            let kinds: HashSet<AlleyKind> = addresses
                .iter()
                .filter_map(|address| address.alley)
                .map(|alley| alley.kind)
                .collect();
            assert_eq!(
                kinds,
                expected_kinds.into_iter().collect::<HashSet<_>>(),
                "{province_code}"
            );
            let branches = addresses
                .iter()
                .filter(|address| address.alley.is_some_and(|alley| alley.branch.is_some()));
            assert!(branches.count() > 0, "{province_code}: no branch alleys");
        }
    }

    /// At the full 25 M scale, where the densest wards are packed as tightly as the plan
    /// allows.
    #[test]
    fn few_addresses_share_a_three_metre_cell() {
        let zones = zones();
        let mut total = 0;
        let mut shared = 0;
        for &(zone_id, count) in plan(zones, 25_000_000, 13).iter().step_by(40) {
            let addresses = generate_zone(zones, zone_id, count, 13);
            let mut seen: HashSet<(i64, i64)> = HashSet::with_capacity(addresses.len());
            total += addresses.len();
            shared += addresses
                .iter()
                .filter(|address| !seen.insert(cell(address.location)))
                .count();
        }
        assert!(total > 400_000, "{total}");
        let share = shared as f64 / total as f64;
        assert!(share < 0.005, "{shared} of {total} share a cell");
    }

    /// Compared with points spread evenly over the generation area, the addresses of most
    /// wards lie much closer to the centre; in cramped wards they fill the area.
    #[test]
    fn addresses_crowd_around_the_ward_centre() {
        let zones = zones();
        let median = |mut distances: Vec<f64>| {
            distances.sort_by(f64::total_cmp);
            distances[distances.len() / 2]
        };
        let mut ratios = Vec::new();
        for zone_id in ids().step_by(53) {
            let zone = zones.get(zone_id);
            let Some(area) = generation_area(zones, zone_id) else {
                continue;
            };
            let addresses = generate_zone(zones, zone_id, 2_000, 17);
            let ours = median(
                addresses
                    .iter()
                    .map(|address| haversine_m(address.location, zone.center))
                    .collect(),
            );
            let even = median(
                (0..40 * 40)
                    .map(|idx| {
                        let lat = area.south
                            + (area.north - area.south) * ((idx / 40) as f64 + 0.5) / 40.0;
                        let lon =
                            area.west + (area.east - area.west) * ((idx % 40) as f64 + 0.5) / 40.0;
                        haversine_m(LatLon { lat, lon }, zone.center)
                    })
                    .collect(),
            );
            ratios.push(ours / even.max(1.0));
        }
        ratios.sort_by(f64::total_cmp);
        let median_ratio = ratios[ratios.len() / 2];
        assert!(median_ratio < 0.5, "median ratio {median_ratio}");
        assert!(ratios[ratios.len() * 9 / 10] < 1.0, "{ratios:?}");
        assert!(ratios[ratios.len() - 1] < 1.3, "{ratios:?}");
    }

    #[test]
    fn chunk_size_does_not_change_the_sequence() {
        let whole = all(200_000, 5, 1_000_000);
        for chunk_size in [1, 37, 20_000] {
            let mut sizes = Vec::new();
            let mut joined = Vec::with_capacity(whole.len());
            for chunk in generate(zones(), 200_000, 5, chunk_size) {
                sizes.push(chunk.len());
                joined.extend(chunk);
            }
            assert!(joined == whole, "chunk size {chunk_size}");
            assert!(sizes.iter().all(|&size| size > 0));
            if chunk_size == 20_000 {
                assert!(sizes.iter().all(|&size| size <= 20_000), "{sizes:?}");
                assert!(sizes.len() >= 10);
            }
        }
    }

    #[test]
    fn a_zone_bigger_than_a_chunk_is_split() {
        let chunks: Vec<Vec<SynthAddress>> = generate(zones(), 50_000, 1, 3).collect();
        assert!(chunks.iter().any(|chunk| {
            chunk
                .iter()
                .all(|address| address.zone_id == chunk[0].zone_id)
        }));
        let split = chunks
            .windows(2)
            .any(|pair| pair[0][pair[0].len() - 1].zone_id == pair[1][0].zone_id);
        assert!(split);
    }

    #[test]
    fn cramped_and_degenerate_wards_still_get_every_address() {
        let csv = "province_code,province,district_code,district,ward_code,ward,ward_type,postcode,lat,lon,south,west,north,east\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00001,Phường Nhỏ,Phường,11116,21.0468,105.8481,21.0466,105.8479,21.0470,105.8483\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00004,Phường Điểm,Phường,11117,21.0444,105.8431,,,,\n\
            79,Thành phố Hồ Chí Minh,760,Quận 1,26734,Phường Dài,Phường,71006,10.7760,106.7010,10.7700,106.6000,10.7820,106.8000\n";
        let zones = ZoneTable::from_reader(csv.as_bytes()).expect("table");
        for zone_id in 0..zones.len() as ZoneId {
            let addresses = generate_zone(&zones, zone_id, 20_000, 3);
            assert_eq!(addresses.len(), 20_000, "zone {zone_id}");
            let zone = zones.get(zone_id);
            assert!(
                addresses
                    .iter()
                    .all(|address| zone.bbox.contains(address.location))
            );
            assert!(
                addresses
                    .iter()
                    .all(|address| zones.can_own(zone_id, address.location))
            );
        }
        let plan = plan(&zones, 1_000, 1);
        assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), 1_000);
    }

    #[test]
    fn texts_are_written_the_vietnamese_way() {
        let house = HouseNumber {
            number: 12,
            letter: Some('A'),
        };
        assert_eq!(house.to_string(), "12A");
        assert_eq!(
            HouseNumber {
                number: 7,
                letter: None
            }
            .to_string(),
            "7"
        );
        assert_eq!(
            Alley {
                kind: AlleyKind::Ngo,
                number: 12,
                branch: None
            }
            .to_string(),
            "Ngõ 12"
        );
        assert_eq!(
            Alley {
                kind: AlleyKind::Ngach,
                number: 12,
                branch: Some(5)
            }
            .to_string(),
            "Ngách 12/5"
        );
        assert_eq!(
            Alley {
                kind: AlleyKind::Hem,
                number: 45,
                branch: Some(3)
            }
            .to_string(),
            "Hẻm 45/3"
        );
        assert_eq!(
            Alley {
                kind: AlleyKind::Kiet,
                number: 7,
                branch: None
            }
            .to_string(),
            "Kiệt 7"
        );
        let address = SynthAddress {
            zone_id: 0,
            location: LatLon {
                lat: 21.0,
                lon: 105.8,
            },
            house_number: house,
            alley: Some(Alley {
                kind: AlleyKind::Ngo,
                number: 45,
                branch: None,
            }),
            street: "Huế",
            street_kind: StreetKind::Pho,
        };
        assert_eq!(address.house_number_text(), "12A");
        assert_eq!(address.alley_text().as_deref(), Some("Ngõ 45"));
        assert_eq!(address.street_text(), "Phố Huế");
        assert_eq!(address.address_line(), "Số 12A, Ngõ 45, Phố Huế");
        let highway = SynthAddress {
            street: "Quốc lộ 1A",
            street_kind: StreetKind::Highway,
            alley: None,
            ..address
        };
        assert_eq!(highway.street_text(), "Quốc lộ 1A");
        assert_eq!(highway.address_line(), "Số 12A, Quốc lộ 1A");
        let road = SynthAddress {
            street: "Trần Hưng Đạo",
            street_kind: StreetKind::Duong,
            ..highway
        };
        assert_eq!(road.street_text(), "Đường Trần Hưng Đạo");
    }

    #[test]
    fn regions_follow_the_province() {
        assert_eq!(Region::of_province_code("01"), Region::North);
        assert_eq!(Region::of_province_code("42"), Region::North);
        assert_eq!(Region::of_province_code("46"), Region::Central);
        assert_eq!(Region::of_province_code("48"), Region::Central);
        assert_eq!(Region::of_province_code("51"), Region::South);
        assert_eq!(Region::of_province_code("79"), Region::South);
        assert_eq!(Region::of_province_code("?"), Region::South);
    }

    #[test]
    fn name_tables_are_large_unique_and_well_formed() {
        assert!(STREET_NAMES.len() >= 150, "{}", STREET_NAMES.len());
        let mut seen = HashSet::new();
        for name in STREET_NAMES
            .iter()
            .chain(HANOI_STREET_NAMES)
            .chain(HIGHWAY_NAMES)
            .chain(NUMBERED_STREET_NAMES)
        {
            assert!(seen.insert(*name), "{name} twice");
            assert_eq!(name.trim(), *name);
            assert!(!name.is_empty());
        }
        assert!(STREET_NAMES.len() + HANOI_STREET_NAMES.len() <= usize::from(u16::MAX));
    }

    #[test]
    fn hanoi_uses_pho_and_the_old_quarter_names() {
        let addresses = generate_zone(zones(), zone_of("01", WardType::Urban), 20_000, 6);
        let streets: HashSet<(&str, StreetKind)> = addresses
            .iter()
            .map(|address| (address.street, address.street_kind))
            .collect();
        assert!(
            streets.iter().any(|&(_, kind)| kind == StreetKind::Pho),
            "{streets:?}"
        );
        assert!(
            streets
                .iter()
                .any(|&(name, _)| HANOI_STREET_NAMES.contains(&name)),
            "{streets:?}"
        );
    }

    /// Run with `cargo test --release --lib synth -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing run; needs a release build"]
    fn generates_25_million_addresses_quickly() {
        let zones = zones();
        let started = std::time::Instant::now();
        let mut total = 0usize;
        let mut checksum = 0.0;
        for chunk in generate(zones, 25_000_000, 1, 1_000_000) {
            total += chunk.len();
            checksum += chunk
                .iter()
                .map(|address| address.location.lat)
                .sum::<f64>();
        }
        let elapsed = started.elapsed();
        println!(
            "25 M addresses in {:.2} s on {} threads (checksum {checksum:.3})",
            elapsed.as_secs_f64(),
            rayon::current_num_threads()
        );
        assert_eq!(total, 25_000_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn any_zone_any_count_gives_exactly_that_many_valid_points(
            zone_idx in 0usize..100_000,
            count in 0u64..4_000,
            seed in any::<u64>(),
        ) {
            let zones = zones();
            let zone_id = ids().start + (zone_idx % ids().len()) as ZoneId;
            let addresses = generate_zone(zones, zone_id, count, seed);
            prop_assert_eq!(addresses.len() as u64, count);
            let zone = zones.get(zone_id);
            let (map, ward) = zones.boundary_ward_of_zone(zone_id).expect("a 2025 zone");
            for address in &addresses {
                prop_assert_eq!(address.zone_id, zone_id);
                prop_assert!(zone.bbox.contains(address.location));
                prop_assert!(zones.can_own(zone_id, address.location));
                prop_assert_eq!(map.index().ward_at(address.location), Some(ward));
            }
        }

        #[test]
        fn plan_always_sums_to_the_total(total in 0u64..50_000_000_000, seed in any::<u64>()) {
            let plan = plan(zones(), total, seed);
            prop_assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
        }
    }
}
