//! Synthetic Vietnamese delivery addresses, deterministic from a seed (DESIGN §7).
//!
//! No real address points exist offline, so `vmap serve --demo`, the benches and the tests
//! fill the registry from here. Each ward gets a small town: a grid of streets around its
//! centre (gently bent, rotated, thinning out towards the edge), houses numbered odd on one
//! side and even on the other, and in towns alleys (ngõ/ngách in the north, kiệt in the old
//! central provinces, hẻm in the south) branching off the streets. Every point lies in the
//! ward's bounding box and close enough to its reference point for its code to decode.
//!
//! How many addresses each ward gets is weighted by ward type (phường > thị trấn > xã) and
//! capped by the room in its box. Addresses are small values pointing into static name
//! tables, so millions of them cost no per-address heap allocation; text is formatted only
//! on request.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::point::LatLon;
use crate::zones::{MAX_REFERENCE_OFFSET_DEG, WardType, ZoneId, ZoneTable};

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
    let mut weights = Vec::with_capacity(zones.len());
    let mut caps = Vec::with_capacity(zones.len());
    for zone_id in 0..zones.len() as ZoneId {
        let ward_type = zones.get(zone_id).ward_type;
        let Some(area) = generation_area(zones, zone_id) else {
            weights.push(0);
            caps.push(0);
            continue;
        };
        let jitter = mix64(seed ^ 0x706c_616e, u64::from(zone_id)) % 1000;
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
    counts
        .into_iter()
        .enumerate()
        .map(|(idx, count)| (idx as ZoneId, count))
        .collect()
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

// ---------------------------------------------------------------------------------------
// Ward layout parameters
// ---------------------------------------------------------------------------------------

/// The shape of a ward's streets, in metres, before any squeezing into a small ward.
#[derive(Debug)]
struct WardParams {
    /// Width of a house lot along a street (drawn per street from this range).
    frontage_m: (f64, f64),
    /// Width of a house lot along an alley.
    alley_frontage_m: f64,
    /// Distance between parallel streets (rows).
    row_spacing_m: f64,
    /// Distance between cross streets (columns).
    column_spacing_m: f64,
    /// From the street's centre line to a house's front.
    setback_m: f64,
    /// From an alley's centre line to a house's front.
    alley_setback_m: f64,
    /// Street lots between two alleys on one side; `None` for no alleys.
    alley_gap_lots: Option<(u32, u32)>,
    /// How deep into the block an alley reaches, as a share of the row spacing (below 0.45
    /// so that alleys from two facing streets never meet).
    alley_length_share: (f64, f64),
    /// Chance that a lot along an alley starts a branch alley.
    branch_chance: f64,
    /// Chance that a lot is split into a front house and one behind it ("12A").
    split_lot_chance: f64,
    /// Lots grow this much wider from the ward's centre to its edge (1.0 = twice as wide).
    falloff: f64,
    /// Amplitude of a street's bends as a share of the row spacing.
    bend_share: f64,
    /// Rural roads number houses 1, 2, 3… alternating sides instead of odd/even.
    sequential_numbers: bool,
}

const URBAN: WardParams = WardParams {
    frontage_m: (4.0, 6.0),
    alley_frontage_m: 4.2,
    row_spacing_m: 110.0,
    column_spacing_m: 240.0,
    setback_m: 6.0,
    alley_setback_m: 2.2,
    alley_gap_lots: Some((4, 10)),
    alley_length_share: (0.22, 0.44),
    branch_chance: 0.1,
    split_lot_chance: 0.03,
    falloff: 0.6,
    bend_share: 0.03,
    sequential_numbers: false,
};

const TOWNSHIP: WardParams = WardParams {
    frontage_m: (7.0, 11.0),
    alley_frontage_m: 5.5,
    row_spacing_m: 180.0,
    column_spacing_m: 380.0,
    setback_m: 7.0,
    alley_setback_m: 2.5,
    alley_gap_lots: Some((10, 26)),
    alley_length_share: (0.12, 0.3),
    branch_chance: 0.03,
    split_lot_chance: 0.015,
    falloff: 1.0,
    bend_share: 0.04,
    sequential_numbers: false,
};

const RURAL: WardParams = WardParams {
    frontage_m: (14.0, 30.0),
    alley_frontage_m: 8.0,
    row_spacing_m: 420.0,
    column_spacing_m: 900.0,
    setback_m: 8.0,
    alley_setback_m: 3.0,
    alley_gap_lots: None,
    alley_length_share: (0.1, 0.2),
    branch_chance: 0.0,
    split_lot_chance: 0.005,
    falloff: 1.5,
    bend_share: 0.05,
    sequential_numbers: true,
};

impl WardParams {
    fn of(ward_type: WardType) -> &'static WardParams {
        match ward_type {
            WardType::Urban => &URBAN,
            WardType::Township => &TOWNSHIP,
            WardType::Rural => &RURAL,
        }
    }

    fn mean_frontage_m(&self) -> f64 {
        (self.frontage_m.0 + self.frontage_m.1) / 2.0
    }

    /// How far houses reach beyond the ellipse the streets fill: the house behind a house
    /// on the outermost street, with its jitter.
    fn edge_margin_m(&self) -> f64 {
        self.setback_m + self.split_lot_depth_m() + 5.0
    }

    /// The same with full-length alleys off the outermost street. Where the area is too
    /// tight for that, alleys are cut short at its edge instead.
    fn full_margin_m(&self) -> f64 {
        let alley = if self.alley_gap_lots.is_some() {
            self.alley_length_share.1 * self.row_spacing_m + 3.0
        } else {
            0.0
        };
        alley.max(self.edge_margin_m())
    }

    /// Expected addresses per square metre of a fully built grid, at full scale and before
    /// the thinning towards the edge: the first guess at a ward's size, which
    /// [`expected_capacity`] then corrects.
    fn density_per_m2(&self) -> f64 {
        let frontage = self.mean_frontage_m();
        let mut per_street_m = 2.0 / frontage;
        if let Some((gap_min, gap_max)) = self.alley_gap_lots {
            let gap_m = f64::from(gap_min + gap_max) / 2.0 * frontage;
            let mean_reach =
                (self.alley_length_share.0 + self.alley_length_share.1) / 2.0 * self.row_spacing_m;
            let usable = (mean_reach - self.alley_start_m()).max(0.0);
            let per_alley = 2.0 * usable / self.alley_frontage_m;
            per_street_m += 2.0 * per_alley / gap_m;
        }
        let rows = per_street_m / self.row_spacing_m;
        let columns = 2.0 / frontage / self.column_spacing_m;
        0.85 * (rows + columns)
    }

    /// Alleys start behind the houses on the street, so their first houses are not
    /// squeezed against the corner ones.
    fn alley_start_m(&self) -> f64 {
        self.setback_m + 8.0
    }

    /// How much further back than the front house the house behind it ("12A") stands.
    fn split_lot_depth_m(&self) -> f64 {
        7.0
    }

    /// The mean of `1 / (1 + falloff * r)` over a uniform disc of radius 1: how much the
    /// widening lots thin out the whole ward.
    fn falloff_factor(&self) -> f64 {
        let a = self.falloff;
        if a <= 0.0 {
            1.0
        } else {
            2.0 * (a - (1.0 + a).ln()) / (a * a)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The generator of one zone
// ---------------------------------------------------------------------------------------

/// Local frame of a ward: metres along the rows (u) and across them (v), rotated about
/// the layout's origin, mapped to degrees and clamped into the generation area.
#[derive(Debug, Clone, Copy)]
struct Frame {
    origin_x_m: f64,
    origin_y_m: f64,
    cos: f64,
    sin: f64,
    metres_per_degree_lon: f64,
    area: DegreeBox,
}

impl Frame {
    fn lat_lon_at(&self, u: f64, v: f64) -> LatLon {
        let x = self.origin_x_m + u * self.cos - v * self.sin;
        let y = self.origin_y_m + u * self.sin + v * self.cos;
        let lat = (self.area.south + y / METRES_PER_DEGREE).clamp(self.area.south, self.area.north);
        let lon =
            (self.area.west + x / self.metres_per_degree_lon).clamp(self.area.west, self.area.east);
        LatLon { lat, lon }
    }
}

/// A straight street (a column) or a gently bent one (a row).
#[derive(Debug, Clone, Copy)]
struct Line {
    is_row: bool,
    /// v of a row, u of a column.
    offset: f64,
    /// The street runs from -half_length to +half_length along its axis.
    half_length: f64,
    bend_amplitude: f64,
    bend_wavenumber: f64,
    bend_phase: f64,
}

impl Line {
    /// v of a row at u (rows bend; columns are straight).
    fn row_v(&self, u: f64) -> f64 {
        self.offset + self.bend_amplitude * (u * self.bend_wavenumber + self.bend_phase).sin()
    }
}

/// How the ward's streets are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// Inner Hà Nội: old-quarter "Phố Hàng …" names and mostly "Phố".
    HaNoiUrban,
    /// Other northern towns: sometimes "Phố".
    NorthUrban,
    /// Hồ Chí Minh City: some numbered streets ("Đường Số 7").
    HoChiMinhUrban,
    /// Townships and rural communes: a highway often runs through the centre.
    Countryside,
    Plain,
}

#[derive(Debug, Clone, Copy)]
struct StreetLabel {
    name: &'static str,
    kind: StreetKind,
}

/// How far from the layout's origin alleys may reach: below and above it across the rows,
/// and along them towards +u (branches only run that way).
#[derive(Debug, Clone, Copy)]
struct Limits {
    v_low: f64,
    v_high: f64,
    u_high: f64,
}

#[derive(Debug)]
struct ZoneGenerator {
    zone_id: ZoneId,
    params: &'static WardParams,
    region: Region,
    naming: Naming,
    frame: Frame,
    /// Every length of `params` is multiplied by this (below 1 in wards too small for
    /// their addresses).
    scale: f64,
    /// Flats per house spot; 1 unless the ward is too small even when squeezed.
    units_per_lot: u32,
    radius_u: f64,
    radius_v: f64,
    limits: Limits,
    falloff: f64,
    rows: Vec<Line>,
    columns: Vec<Line>,
    /// Streets in the order they are filled: from the centre outwards.
    order: Vec<(bool, usize)>,
    labels: Vec<StreetLabel>,
    rng: ChaCha8Rng,
    remaining: u64,
    remaining_at_pass_start: u64,
    next_street: usize,
    /// 0 on the first run through the streets; higher only when the layout ran out of room
    /// and the streets are walked again handing out lettered flats.
    pass: u32,
    unused_names: Vec<u16>,
    unused_hanoi_names: Vec<u16>,
    next_numbered_street: usize,
}

/// Which side of a street or alley a house is on: odd numbers left, even right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

impl Side {
    fn sign(self) -> f64 {
        match self {
            Side::Left => 1.0,
            Side::Right => -1.0,
        }
    }
}

/// The alley a run of houses is on, with what the branch alleys off it need to know.
#[derive(Debug, Clone, Copy)]
struct AlleySpot {
    alley: Alley,
    /// Where on the street the alley starts, and which way (+1/-1 in v) it runs.
    base_u: f64,
    base_v: f64,
    direction: f64,
    /// Room in +u before the next alley or cross street, for branches.
    room_m: f64,
}

impl ZoneGenerator {
    fn new(zones: &ZoneTable, zone_id: ZoneId, count: u64, seed: u64) -> Option<ZoneGenerator> {
        let area = generation_area(zones, zone_id)?;
        let zone = zones.get(zone_id);
        let params = WardParams::of(zone.ward_type);
        let region = Region::of_province_code(&zone.province_code);
        let urban = zone.ward_type == WardType::Urban;
        let naming = match zone.province_code.trim() {
            "01" if urban => Naming::HaNoiUrban,
            "79" if urban => Naming::HoChiMinhUrban,
            _ if urban && region == Region::North => Naming::NorthUrban,
            _ if !urban => Naming::Countryside,
            _ => Naming::Plain,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed, u64::from(zone_id)));

        let mid_lat = (area.south + area.north) / 2.0;
        let metres_per_degree_lon = (METRES_PER_DEGREE * mid_lat.to_radians().cos()).max(1.0);
        let width_m = (area.east - area.west) * metres_per_degree_lon;
        let height_m = (area.north - area.south) * METRES_PER_DEGREE;
        // The town's centre lies near the centroid, shifted by up to a tenth of the area
        // per seed, so that lists made with different seeds are different places.
        let shift_x = rng.random_range(-0.1..0.1f64) * width_m;
        let shift_y = rng.random_range(-0.1..0.1f64) * height_m;
        let anchor_x = (zone.center.lon.clamp(area.west, area.east) - area.west)
            * metres_per_degree_lon
            + shift_x;
        let anchor_y = (zone.center.lat.clamp(area.south, area.north) - area.south)
            * METRES_PER_DEGREE
            + shift_y;

        let layout = fit_layout(params, count, width_m, height_m);
        let angle = if layout.may_rotate {
            rng.random_range(-0.6..0.6f64)
        } else {
            0.0
        };
        let (sin, cos) = angle.sin_cos();
        // Put the layout's centre on the ward's centroid unless that pushes it out of the
        // area; then shift it just enough.
        let margin = if layout.may_rotate {
            layout.full_margin_m
        } else {
            layout.edge_margin_m
        };
        let origin_x_m = place_on_axis(anchor_x, layout.radius_u + margin, width_m);
        let origin_y_m = place_on_axis(anchor_y, layout.radius_v + margin, height_m);
        // Unrotated, u and v are x and y: alleys and branches stop short of the area's edge.
        let edge_gap = 3.0 * layout.scale;
        let limits = if layout.may_rotate {
            Limits {
                v_low: f64::INFINITY,
                v_high: f64::INFINITY,
                u_high: f64::INFINITY,
            }
        } else {
            Limits {
                v_low: origin_y_m - edge_gap,
                v_high: height_m - origin_y_m - edge_gap,
                u_high: width_m - origin_x_m - edge_gap,
            }
        };

        let mut generator = ZoneGenerator {
            zone_id,
            params,
            region,
            naming,
            frame: Frame {
                origin_x_m,
                origin_y_m,
                cos,
                sin,
                metres_per_degree_lon,
                area,
            },
            scale: layout.scale,
            units_per_lot: layout.units_per_lot,
            radius_u: layout.radius_u,
            radius_v: layout.radius_v,
            limits,
            falloff: layout.falloff,
            rows: layout.rows,
            columns: layout.columns,
            order: Vec::new(),
            labels: Vec::new(),
            rng,
            remaining: count,
            remaining_at_pass_start: count,
            next_street: 0,
            pass: 0,
            unused_names: (0..STREET_NAMES.len() as u16).collect(),
            unused_hanoi_names: (0..HANOI_STREET_NAMES.len() as u16).collect(),
            next_numbered_street: 0,
        };
        generator.lay_out_streets();
        Some(generator)
    }

    /// Bends the rows and orders the streets from the centre outwards.
    fn lay_out_streets(&mut self) {
        let (radius_u, radius_v) = (self.radius_u, self.radius_v);
        let row_spacing = self.params.row_spacing_m * self.scale;
        for row in &mut self.rows {
            let wavelength = self.rng.random_range(2.0..6.0) * row_spacing;
            row.bend_amplitude = self.rng.random_range(0.0..=self.params.bend_share) * row_spacing;
            row.bend_wavenumber = std::f64::consts::TAU / wavelength;
            row.bend_phase = self.rng.random_range(0.0..std::f64::consts::TAU);
        }
        let mut order: Vec<(f64, bool, usize)> =
            Vec::with_capacity(self.rows.len() + self.columns.len());
        order.extend(
            self.rows
                .iter()
                .enumerate()
                .map(|(idx, line)| (line.offset / radius_v.max(1.0), true, idx)),
        );
        order.extend(
            self.columns
                .iter()
                .enumerate()
                .map(|(idx, line)| (line.offset / radius_u.max(1.0), false, idx)),
        );
        // Nearest the centre first; rows before columns and the negative side first among
        // equals, so the order is total.
        order.sort_by(|a, b| {
            a.0.abs()
                .total_cmp(&b.0.abs())
                .then(b.1.cmp(&a.1))
                .then(a.0.total_cmp(&b.0))
        });
        self.order = order
            .into_iter()
            .map(|(_, is_row, idx)| (is_row, idx))
            .collect();
    }

    /// Appends whole streets until `out` holds at least `target` addresses or the zone is
    /// done. The last street is cut short when the zone's count runs out.
    fn fill(&mut self, out: &mut Vec<SynthAddress>, target: usize) {
        while self.remaining > 0 && out.len() < target {
            if self.order.is_empty() {
                return;
            }
            if self.next_street == self.order.len() {
                if self.remaining == self.remaining_at_pass_start {
                    // A whole pass placed nothing (a degenerate layout): stop rather than spin.
                    self.remaining = 0;
                    return;
                }
                self.remaining_at_pass_start = self.remaining;
                self.next_street = 0;
                self.pass += 1;
            }
            let street_idx = self.next_street;
            self.next_street += 1;
            let label = self.label_for(street_idx);
            let (is_row, line_idx) = self.order[street_idx];
            if is_row {
                let line = self.rows[line_idx];
                self.walk_street(out, &line, label);
            } else {
                let line = self.columns[line_idx];
                self.walk_street(out, &line, label);
            }
        }
    }

    /// The street's name, chosen the first time it is walked.
    fn label_for(&mut self, street_idx: usize) -> StreetLabel {
        if let Some(label) = self.labels.get(street_idx) {
            return *label;
        }
        let label = self.pick_label(street_idx);
        self.labels.push(label);
        label
    }

    fn pick_label(&mut self, street_idx: usize) -> StreetLabel {
        match self.naming {
            // The main road through a commune's centre is often a national or provincial road.
            Naming::Countryside if street_idx == 0 && self.rng.random_bool(0.4) => {
                let idx = self.rng.random_range(0..HIGHWAY_NAMES.len());
                return StreetLabel {
                    name: HIGHWAY_NAMES[idx],
                    kind: StreetKind::Highway,
                };
            }
            Naming::HaNoiUrban
                if !self.unused_hanoi_names.is_empty() && self.rng.random_bool(0.3) =>
            {
                let name = take_random(
                    &mut self.rng,
                    &mut self.unused_hanoi_names,
                    HANOI_STREET_NAMES,
                );
                return StreetLabel {
                    name,
                    kind: StreetKind::Pho,
                };
            }
            Naming::HoChiMinhUrban if self.rng.random_bool(0.15) => {
                if let Some(name) = NUMBERED_STREET_NAMES.get(self.next_numbered_street) {
                    self.next_numbered_street += 1;
                    return StreetLabel {
                        name,
                        kind: StreetKind::Duong,
                    };
                }
            }
            _ => {}
        }
        let pho_chance = match self.naming {
            Naming::HaNoiUrban => 0.6,
            Naming::NorthUrban => 0.3,
            _ => 0.0,
        };
        let kind = if pho_chance > 0.0 && self.rng.random_bool(pho_chance) {
            StreetKind::Pho
        } else {
            StreetKind::Duong
        };
        if self.unused_names.is_empty() {
            // A ward with more streets than names (only for huge counts): numbered streets,
            // then names again.
            if let Some(name) = NUMBERED_STREET_NAMES.get(self.next_numbered_street) {
                self.next_numbered_street += 1;
                return StreetLabel {
                    name,
                    kind: StreetKind::Duong,
                };
            }
            self.unused_names = (0..STREET_NAMES.len() as u16).collect();
        }
        let name = take_random(&mut self.rng, &mut self.unused_names, STREET_NAMES);
        StreetLabel { name, kind }
    }

    /// Lot width at a point: wider away from the centre, so houses thin out to the edge.
    fn frontage_at(&self, base: f64, u: f64, v: f64) -> f64 {
        let r =
            ((u / self.radius_u.max(1.0)).powi(2) + (v / self.radius_v.max(1.0)).powi(2)).sqrt();
        base * (1.0 + self.falloff * r.min(1.5))
    }

    /// Walks one street from its start, handing out houses on both sides and, on rows,
    /// the alleys behind them.
    fn walk_street(&mut self, out: &mut Vec<SynthAddress>, line: &Line, label: StreetLabel) {
        let params = self.params;
        let scale = self.scale;
        let setback = params.setback_m * scale;
        // Houses keep off the road of a crossing street, and alleys keep further off it.
        let crossing_clearance = setback + 5.0 * scale;
        let alley_clearance = crossing_clearance + (params.alley_setback_m + 4.0) * scale;
        let crossings: Vec<f64> = {
            let others = if line.is_row {
                &self.columns
            } else {
                &self.rows
            };
            let mut crossings: Vec<f64> = others
                .iter()
                .filter(|other| line.offset.abs() < other.half_length)
                .map(|other| {
                    if line.is_row {
                        other.offset
                    } else {
                        other.row_v(line.offset)
                    }
                })
                .filter(|&position| position.abs() <= line.half_length + crossing_clearance)
                .collect();
            crossings.sort_by(f64::total_cmp);
            crossings
        };
        let base_frontage = self
            .rng
            .random_range(params.frontage_m.0..params.frontage_m.1)
            * scale;
        let alleys_here = line.is_row && self.pass == 0;
        let split_lots_here = self.pass == 0 && self.units_per_lot == 1;
        let mut next_alley = [self.draw_alley_gap(), self.draw_alley_gap()];
        let mut last_alley = [i64::MIN / 2; 2];
        let mut next_crossing = 0usize;
        let mut sequential_number = 0u32;

        let mut t = -line.half_length + base_frontage * 0.5;
        let mut lot: i64 = 0;
        while t < line.half_length && self.remaining > 0 {
            let (u_here, v_here) = if line.is_row {
                (t, line.row_v(t))
            } else {
                (line.offset, t)
            };
            let step = self.frontage_at(base_frontage, u_here, v_here);
            while next_crossing < crossings.len() && crossings[next_crossing] < t - alley_clearance
            {
                next_crossing += 1;
            }
            let distance_to_crossing = crossings[next_crossing..]
                .iter()
                .take(2)
                .map(|&position| (position - t).abs())
                .fold(f64::INFINITY, f64::min);
            if distance_to_crossing >= crossing_clearance {
                for (side_idx, side) in [Side::Left, Side::Right].into_iter().enumerate() {
                    if self.remaining == 0 {
                        break;
                    }
                    let number = if params.sequential_numbers {
                        sequential_number += 1;
                        sequential_number
                    } else {
                        let odd = 2 * lot as u32 + 1;
                        if side == Side::Left { odd } else { odd + 1 }
                    };
                    let along = t + self.rng.random_range(-0.1..0.1) * step;
                    let depth = setback + self.rng.random_range(0.0..2.0) * scale;
                    let (u, v) = self.street_point(line, along, side.sign() * depth);
                    let alley_due = alleys_here
                        && lot >= next_alley[side_idx]
                        && distance_to_crossing >= alley_clearance;
                    let near_alley =
                        (lot - last_alley[side_idx]).abs() <= 2 || next_alley[side_idx] - lot <= 2;
                    self.push_lot(out, u, v, number, None, label);
                    let may_split =
                        split_lots_here && !alley_due && !near_alley && self.remaining > 0;
                    if may_split && self.rng.random_bool(params.split_lot_chance) {
                        // A lot split front and back: "12A" stands behind "12".
                        let behind = depth + params.split_lot_depth_m() * scale;
                        let (u, v) = self.street_point(line, along, side.sign() * behind);
                        self.push(
                            out,
                            u,
                            v,
                            HouseNumber {
                                number,
                                letter: Some('A'),
                            },
                            None,
                            label,
                        );
                    }
                    if alley_due {
                        let gap = self.draw_alley_gap();
                        next_alley[side_idx] = lot + gap;
                        last_alley[side_idx] = lot;
                        let room_to_crossing = crossings[next_crossing..]
                            .iter()
                            .find(|&&position| position > t)
                            .map_or(f64::INFINITY, |&position| position - t - alley_clearance);
                        let room_m = (gap as f64 * step).min(room_to_crossing);
                        let alley = Alley {
                            kind: self.region.alley_kind(false),
                            number,
                            branch: None,
                        };
                        let base_v = line.row_v(t);
                        let spot = AlleySpot {
                            alley,
                            base_u: t,
                            base_v,
                            direction: side.sign(),
                            room_m,
                        };
                        self.walk_alley(out, spot, label);
                    }
                }
            }
            t += step;
            lot += 1;
        }
    }

    /// A point `offset` metres to the left of a street at `along`.
    fn street_point(&self, line: &Line, along: f64, offset: f64) -> (f64, f64) {
        if line.is_row {
            (along, line.row_v(along) + offset)
        } else {
            (line.offset - offset, along)
        }
    }

    fn draw_alley_gap(&mut self) -> i64 {
        match self.params.alley_gap_lots {
            Some((min, max)) => i64::from(self.rng.random_range(min..=max)),
            None => i64::MAX / 2,
        }
    }

    /// An alley running from a row into the block beside it, houses on both sides, with
    /// the occasional branch alley towards +u.
    fn walk_alley(&mut self, out: &mut Vec<SynthAddress>, spot: AlleySpot, label: StreetLabel) {
        let params = self.params;
        let scale = self.scale;
        let (share_min, share_max) = params.alley_length_share;
        let drawn_reach =
            self.rng.random_range(share_min..share_max) * params.row_spacing_m * scale;
        let to_edge = if spot.direction > 0.0 {
            self.limits.v_high - spot.base_v
        } else {
            self.limits.v_low + spot.base_v
        };
        let reach = drawn_reach.min(to_edge);
        let start = params.alley_start_m() * scale;
        if reach <= start {
            return;
        }
        let side_offset = params.alley_setback_m * scale;
        let step = self.frontage_at(params.alley_frontage_m * scale, spot.base_u, spot.base_v);
        let branch_room = (spot.room_m * 0.45)
            .min(40.0 * scale)
            .min(self.limits.u_high - spot.base_u);
        // Not at the mouth, where the branch would run into the houses on the street.
        let mut next_branch_lot = 2i64;
        let mut depth = start;
        let mut lot: i64 = 0;
        while depth < reach && self.remaining > 0 {
            for side in [Side::Left, Side::Right] {
                if self.remaining == 0 {
                    break;
                }
                let odd = 2 * lot as u32 + 1;
                let number = if side == Side::Left { odd } else { odd + 1 };
                let u = spot.base_u
                    - side.sign() * (side_offset + self.rng.random_range(0.0..1.0) * scale);
                let v = spot.base_v
                    + spot.direction * (depth + self.rng.random_range(-0.1..0.1) * step);
                self.push_lot(out, u, v, number, Some(spot.alley), label);
                let may_branch = side == Side::Right
                    && spot.alley.branch.is_none()
                    && lot >= next_branch_lot
                    && branch_room > 15.0 * scale;
                if may_branch && self.rng.random_bool(params.branch_chance) {
                    next_branch_lot = lot + 4;
                    let branch = Alley {
                        kind: self.region.alley_kind(true),
                        number: spot.alley.number,
                        branch: Some(number),
                    };
                    self.walk_branch(out, spot, branch, depth, branch_room, label);
                }
            }
            depth += step;
            lot += 1;
        }
    }

    /// A branch alley running along +u from an alley, at `depth` into the block.
    fn walk_branch(
        &mut self,
        out: &mut Vec<SynthAddress>,
        spot: AlleySpot,
        branch: Alley,
        depth: f64,
        room: f64,
        label: StreetLabel,
    ) {
        let scale = self.scale;
        let step = self.frontage_at(
            self.params.alley_frontage_m * scale,
            spot.base_u,
            spot.base_v,
        );
        let side_offset = 2.0 * scale;
        let mut along = (self.params.alley_setback_m + 5.0) * scale;
        let mut lot: u32 = 0;
        while along < room && self.remaining > 0 {
            for side in [Side::Left, Side::Right] {
                if self.remaining == 0 {
                    break;
                }
                let number = 2 * lot + if side == Side::Left { 1 } else { 2 };
                let u = spot.base_u + along + self.rng.random_range(-0.1..0.1) * step;
                let v = spot.base_v + spot.direction * (depth + side.sign() * side_offset);
                self.push_lot(out, u, v, number, Some(branch), label);
            }
            along += step;
            lot += 1;
        }
    }

    /// The house at one lot, plus its flats when the ward holds several per lot, and
    /// on later passes the lettered flats only.
    fn push_lot(
        &mut self,
        out: &mut Vec<SynthAddress>,
        u: f64,
        v: f64,
        number: u32,
        alley: Option<Alley>,
        label: StreetLabel,
    ) {
        let units = self.units_per_lot;
        for unit in 0..units {
            if self.remaining == 0 {
                return;
            }
            let letter_idx = self.pass * units + unit;
            let letter = match letter_idx {
                0 => None,
                idx => Some(char::from(
                    HOUSE_LETTERS[(idx as usize - 1) % HOUSE_LETTERS.len()],
                )),
            };
            self.push(out, u, v, HouseNumber { number, letter }, alley, label);
        }
    }

    fn push(
        &mut self,
        out: &mut Vec<SynthAddress>,
        u: f64,
        v: f64,
        house_number: HouseNumber,
        alley: Option<Alley>,
        label: StreetLabel,
    ) {
        self.remaining -= 1;
        out.push(SynthAddress {
            zone_id: self.zone_id,
            location: self.frame.lat_lon_at(u, v),
            house_number,
            alley,
            street: label.name,
            street_kind: label.kind,
        });
    }
}

/// The streets of a ward, sized for its count.
#[derive(Debug, Clone)]
struct Layout {
    scale: f64,
    radius_u: f64,
    radius_v: f64,
    /// How far beyond the ellipse houses reach, at this scale: without alleys, and with
    /// full-length alleys.
    edge_margin_m: f64,
    full_margin_m: f64,
    units_per_lot: u32,
    may_rotate: bool,
    /// `WardParams::falloff`, or 0 in a ward too cramped to thin out towards its edge.
    falloff: f64,
    rows: Vec<Line>,
    columns: Vec<Line>,
}

/// Sizes the ellipse of streets for `count` addresses: a circle when the area allows,
/// else an ellipse as round as the area allows, else squeezed (narrower lots and blocks),
/// and when even that is not enough, several flats per lot. The first guess comes from the
/// mean density; it is then corrected until the actual streets are expected to hold the
/// count (few streets round badly: a small ward may have a single one).
fn fit_layout(params: &WardParams, count: u64, width_m: f64, height_m: f64) -> Layout {
    let mut needed = (count.max(1) as f64) * CAPACITY_SLACK;
    let density = params.density_per_m2() * params.falloff_factor();
    let radius = (needed / density / std::f64::consts::PI).sqrt();
    let edge_margin = params.edge_margin_m();
    let half_width = width_m / 2.0;
    let half_height = height_m / 2.0;
    let room = |scale: f64| {
        (
            (half_width - scale * edge_margin).max(1.0),
            (half_height - scale * edge_margin).max(1.0),
        )
    };
    let fits = |scale: f64| {
        let (a, b) = room(scale);
        a * b >= (scale * radius).powi(2)
    };
    let min_scale = (MIN_FRONTAGE_M / params.frontage_m.0).min(1.0);
    let mut scale = if fits(1.0) {
        1.0
    } else if fits(min_scale) {
        // Room shrinks and need grows with the scale: bisect for the largest that fits.
        let (mut low, mut high) = (min_scale, 1.0);
        for _ in 0..40 {
            let mid = (low + high) / 2.0;
            if fits(mid) { low = mid } else { high = mid }
        }
        low
    } else {
        min_scale
    };
    let target = scale * radius;
    let (room_u, room_v) = room(scale);
    let (mut radius_u, mut radius_v) = if room_u >= target && room_v >= target {
        (target, target)
    } else if room_u < room_v {
        (room_u, (target * target / room_u).min(room_v))
    } else {
        ((target * target / room_v).min(room_u), room_v)
    };
    let mut units_per_lot = 1;
    let mut falloff = params.falloff;
    let (mut rows, mut columns);
    let mut attempts = 0;
    loop {
        (rows, columns) = street_lines(params, scale, radius_u, radius_v, falloff > 0.0);
        let alley_limit = radius_v + scale * edge_margin;
        let capacity = expected_capacity(
            params,
            scale,
            falloff,
            (radius_u, radius_v),
            alley_limit,
            &rows,
            &columns,
        )
        .max(1.0);
        if capacity >= needed {
            break;
        }
        attempts += 1;
        let shortfall = needed / capacity;
        let grow = shortfall.sqrt().clamp(1.05, 4.0);
        let (room_u, room_v) = room(scale);
        let (next_u, next_v) = ((radius_u * grow).min(room_u), (radius_v * grow).min(room_v));
        let can_grow = next_u > radius_u * 1.001 || next_v > radius_v * 1.001;
        if attempts <= 40 && can_grow {
            (radius_u, radius_v) = (next_u, next_v);
        } else if attempts <= 40 && scale > min_scale {
            // The ellipse fills the area: make the blocks and lots smaller instead.
            scale = (scale / shortfall.sqrt().clamp(1.05, 2.0)).max(min_scale);
            let (room_u, room_v) = room(scale);
            (radius_u, radius_v) = (radius_u.min(room_u), radius_v.min(room_v));
        } else if attempts <= 40 && falloff > 0.0 {
            // Still short: build as densely at the edge as in the centre, over the whole
            // rectangle, and fill every street.
            falloff = 0.0;
            needed = (count.max(1) as f64) * 1.02;
        } else {
            units_per_lot = shortfall.ceil().min(1000.0) as u32;
            break;
        }
    }
    let full_margin = scale * params.full_margin_m();
    let may_rotate = radius_u == radius_v && radius_u + full_margin <= half_width.min(half_height);
    Layout {
        scale,
        radius_u,
        radius_v,
        edge_margin_m: scale * edge_margin,
        full_margin_m: full_margin,
        units_per_lot,
        may_rotate,
        falloff,
        rows,
        columns,
    }
}

/// Rows every `row_spacing` across the ellipse, columns every `column_spacing` along it,
/// each as long as the ellipse is wide there (or the rectangle around it, when not
/// `elliptic`); not yet bent.
fn street_lines(
    params: &WardParams,
    scale: f64,
    radius_u: f64,
    radius_v: f64,
    elliptic: bool,
) -> (Vec<Line>, Vec<Line>) {
    let row_spacing = params.row_spacing_m * scale;
    let column_spacing = params.column_spacing_m * scale;
    let min_length = 2.0 * params.frontage_m.1 * scale;
    let straight = |is_row: bool, offset: f64, half_length: f64| Line {
        is_row,
        offset,
        half_length,
        bend_amplitude: 0.0,
        bend_wavenumber: 0.0,
        bend_phase: 0.0,
    };
    let mut rows = Vec::new();
    let row_count = (radius_v / row_spacing).floor() as i64;
    for k in -row_count..=row_count {
        let offset = k as f64 * row_spacing;
        let half_length = if elliptic {
            radius_u * (1.0 - (offset / radius_v).powi(2)).max(0.0).sqrt()
        } else {
            radius_u
        };
        // The centre row always exists, so even a cramped ward has somewhere to put houses.
        if half_length >= min_length || k == 0 {
            rows.push(straight(true, offset, half_length.max(min_length)));
        }
    }
    let mut columns = Vec::new();
    let column_count = (radius_u / column_spacing).floor() as i64;
    for j in -column_count..=column_count {
        let offset = (j as f64 + 0.5) * column_spacing;
        let half_length = if elliptic {
            radius_v * (1.0 - (offset / radius_u).powi(2)).max(0.0).sqrt()
        } else {
            radius_v
        };
        if offset.abs() < radius_u && half_length >= min_length {
            columns.push(straight(false, offset, half_length));
        }
    }
    (rows, columns)
}

/// Roughly how many addresses these streets hold (a little low, on purpose). Alleys of
/// the outer rows are cut short `alley_limit` metres from the centre line.
fn expected_capacity(
    params: &WardParams,
    scale: f64,
    falloff: f64,
    (radius_u, radius_v): (f64, f64),
    alley_limit: f64,
    rows: &[Line],
    columns: &[Line],
) -> f64 {
    const SAMPLES: usize = 16;
    let frontage = params.mean_frontage_m() * scale;
    let mut total = 0.0;
    for line in rows.iter().chain(columns) {
        // Alley houses per street lot (one lot holds a house on each side).
        let alley_houses = match params.alley_gap_lots {
            Some((gap_min, gap_max)) if line.is_row => {
                let mean_reach = (params.alley_length_share.0 + params.alley_length_share.1) / 2.0
                    * params.row_spacing_m
                    * scale;
                let start = params.alley_start_m() * scale;
                let usable = |toward_edge: f64| (mean_reach.min(toward_edge) - start).max(0.0);
                let both_sides =
                    usable(alley_limit - line.offset) + usable(alley_limit + line.offset);
                let alleys_per_lot_and_side = 2.0 / f64::from(gap_min + gap_max);
                alleys_per_lot_and_side * 2.0 * both_sides / (params.alley_frontage_m * scale)
            }
            _ => 0.0,
        };
        let piece = 2.0 * line.half_length / SAMPLES as f64;
        for sample in 0..SAMPLES {
            let along = -line.half_length + (sample as f64 + 0.5) * piece;
            let (u, v) = if line.is_row {
                (along, line.offset)
            } else {
                (line.offset, along)
            };
            let r = ((u / radius_u.max(1.0)).powi(2) + (v / radius_v.max(1.0)).powi(2))
                .sqrt()
                .min(1.5);
            let widening = 1.0 + falloff * r;
            let lots = piece / (frontage * widening);
            // Alley lots widen away from the centre just like street lots.
            total += lots * (2.0 + alley_houses / widening);
        }
    }
    0.85 * total
}

/// Where on one axis (0..extent metres) to put a layout reaching `reach` either side:
/// at the anchor when it fits, else shifted inwards, else in the middle.
fn place_on_axis(anchor: f64, reach: f64, extent: f64) -> f64 {
    if 2.0 * reach >= extent {
        extent / 2.0
    } else {
        anchor.clamp(reach, extent - reach)
    }
}

/// Removes and returns a random entry of `unused`, an index into `names`.
fn take_random(
    rng: &mut ChaCha8Rng,
    unused: &mut Vec<u16>,
    names: &'static [&'static str],
) -> &'static str {
    let idx = rng.random_range(0..unused.len());
    let name_idx = unused.swap_remove(idx);
    names[usize::from(name_idx)]
}

/// SplitMix64 of a pair: independent-looking streams for nearby seeds and zone ids.
fn mix64(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------
// Name tables
// ---------------------------------------------------------------------------------------

/// Street names found all over Vietnam: national heroes, dynasties, writers, scholars,
/// revolutionaries, dates and events.
const STREET_NAMES: &[&str] = &[
    "Trần Hưng Đạo",
    "Lê Lợi",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Nguyễn Huệ",
    "Lê Duẩn",
    "Hùng Vương",
    "Ngô Quyền",
    "Đinh Tiên Hoàng",
    "Lý Thái Tổ",
    "Trần Phú",
    "Lê Hồng Phong",
    "Phan Đình Phùng",
    "Phan Bội Châu",
    "Phan Chu Trinh",
    "Nguyễn Du",
    "Nguyễn Thị Minh Khai",
    "Võ Thị Sáu",
    "Nguyễn Văn Cừ",
    "Trường Chinh",
    "Lê Thánh Tông",
    "Hoàng Diệu",
    "Hoàng Văn Thụ",
    "Nguyễn Chí Thanh",
    "Võ Văn Tần",
    "Nguyễn Đình Chiểu",
    "Pasteur",
    "Hàm Nghi",
    "Bà Triệu",
    "Trần Quốc Toản",
    "Trần Nhân Tông",
    "Trần Khánh Dư",
    "Trần Quang Khải",
    "Trần Bình Trọng",
    "Trần Cao Vân",
    "Trần Quý Cáp",
    "Trần Nhật Duật",
    "Yết Kiêu",
    "Phạm Ngũ Lão",
    "Phạm Hồng Thái",
    "Phạm Văn Đồng",
    "Lê Văn Lương",
    "Lê Trọng Tấn",
    "Lê Lai",
    "Lê Văn Hưu",
    "Lê Quý Đôn",
    "Lê Đại Hành",
    "Lê Ngọc Hân",
    "Lê Văn Duyệt",
    "Lê Văn Sỹ",
    "Lê Thị Riêng",
    "Nguyễn Biểu",
    "Nguyễn Công Trứ",
    "Nguyễn Khuyến",
    "Nguyễn Lương Bằng",
    "Nguyễn Tất Thành",
    "Nguyễn Thái Học",
    "Nguyễn Thị Định",
    "Nguyễn Thượng Hiền",
    "Nguyễn Tri Phương",
    "Nguyễn Trung Trực",
    "Nguyễn Văn Linh",
    "Nguyễn Văn Trỗi",
    "Nguyễn Xí",
    "Nguyễn Hữu Cảnh",
    "Nguyễn Hữu Thọ",
    "Nguyễn An Ninh",
    "Nguyễn Bỉnh Khiêm",
    "Nguyễn Gia Thiều",
    "Nguyễn Sơn",
    "Nguyễn Văn Tố",
    "Nguyễn Thiện Thuật",
    "Nguyễn Trường Tộ",
    "Nguyễn Công Hoan",
    "Nguyễn Thị Thập",
    "Nguyễn Duy Trinh",
    "Nguyễn Văn Nghi",
    "Hồ Tùng Mậu",
    "Hồ Xuân Hương",
    "Hồ Đắc Di",
    "Hồ Biểu Chánh",
    "Huỳnh Thúc Kháng",
    "Huỳnh Tấn Phát",
    "Hoàng Hoa Thám",
    "Hoàng Quốc Việt",
    "Hoàng Văn Thái",
    "Tôn Đức Thắng",
    "Tôn Thất Thuyết",
    "Tôn Thất Tùng",
    "Võ Nguyên Giáp",
    "Võ Chí Công",
    "Võ Văn Kiệt",
    "Phan Huy Chú",
    "Phan Kế Bính",
    "Phan Văn Trị",
    "Phan Đăng Lưu",
    "Phan Xích Long",
    "Phan Đình Giót",
    "Phùng Hưng",
    "Phùng Khắc Khoan",
    "Chu Văn An",
    "Cao Bá Quát",
    "Cao Thắng",
    "Cù Chính Lan",
    "Đào Duy Anh",
    "Đào Duy Từ",
    "Đào Tấn",
    "Đặng Dung",
    "Đặng Tất",
    "Đặng Thai Mai",
    "Đặng Văn Ngữ",
    "Đinh Công Tráng",
    "Đinh Lễ",
    "Đinh Bộ Lĩnh",
    "Đoàn Thị Điểm",
    "Hàn Thuyên",
    "Kim Đồng",
    "Lạc Long Quân",
    "Âu Cơ",
    "An Dương Vương",
    "Mai Hắc Đế",
    "Lý Nam Đế",
    "Lý Tự Trọng",
    "Lý Chính Thắng",
    "Lý Thái Tông",
    "Lương Thế Vinh",
    "Lương Văn Can",
    "Lương Định Của",
    "Mạc Đĩnh Chi",
    "Mạc Thị Bưởi",
    "Ngô Gia Tự",
    "Ngô Sĩ Liên",
    "Ngô Thì Nhậm",
    "Ngô Tất Tố",
    "Nơ Trang Long",
    "Phó Đức Chính",
    "Tản Đà",
    "Thái Phiên",
    "Thành Thái",
    "Thi Sách",
    "Tô Hiến Thành",
    "Tô Hiệu",
    "Tô Vĩnh Diện",
    "Trịnh Hoài Đức",
    "Triệu Quang Phục",
    "Triệu Việt Vương",
    "Tuệ Tĩnh",
    "Văn Cao",
    "Vạn Hạnh",
    "Xuân Diệu",
    "Xuân Thủy",
    "Bùi Thị Xuân",
    "Bùi Viện",
    "Bùi Hữu Nghĩa",
    "Cô Giang",
    "Cô Bắc",
    "Ký Con",
    "Calmette",
    "Yersin",
    "Alexandre de Rhodes",
    "Trần Văn Ơn",
    "Trần Xuân Soạn",
    "Trần Đại Nghĩa",
    "Tạ Quang Bửu",
    "Mai Chí Thọ",
    "Lê Văn Việt",
    "Đỗ Xuân Hợp",
    "Phạm Thế Hiển",
    "Phạm Văn Chiêu",
    "Quách Văn Tuấn",
    "Đinh Núp",
    "Lê Quang Đạo",
    "Lê Đức Thọ",
    "Nguyễn Khánh Toàn",
    "Nguyễn Phong Sắc",
    "Nguyễn Văn Huyên",
    "Nguyễn Tuân",
    "Nguyễn Đình Thi",
    "Hoàng Sa",
    "Trường Sa",
    "Điện Biên Phủ",
    "Cách Mạng Tháng Tám",
    "Ba Tháng Hai",
    "30 Tháng 4",
    "Nam Kỳ Khởi Nghĩa",
    "Xô Viết Nghệ Tĩnh",
    "Độc Lập",
    "Thống Nhất",
    "Hòa Bình",
    "Giải Phóng",
    "Bạch Đằng",
    "Chi Lăng",
    "Đống Đa",
    "Đồng Khởi",
    "Cộng Hòa",
];

/// Streets of old Hà Nội, always written "Phố …".
const HANOI_STREET_NAMES: &[&str] = &[
    "Hàng Bạc",
    "Hàng Bè",
    "Hàng Bông",
    "Hàng Buồm",
    "Hàng Bút",
    "Hàng Cá",
    "Hàng Cân",
    "Hàng Chiếu",
    "Hàng Chĩnh",
    "Hàng Da",
    "Hàng Đào",
    "Hàng Đậu",
    "Hàng Điếu",
    "Hàng Đồng",
    "Hàng Gai",
    "Hàng Giấy",
    "Hàng Hòm",
    "Hàng Khay",
    "Hàng Lược",
    "Hàng Mã",
    "Hàng Mắm",
    "Hàng Muối",
    "Hàng Ngang",
    "Hàng Nón",
    "Hàng Quạt",
    "Hàng Thiếc",
    "Hàng Thùng",
    "Hàng Tre",
    "Hàng Trống",
    "Hàng Vải",
    "Hàng Bài",
    "Huế",
    "Tràng Tiền",
    "Tràng Thi",
    "Lò Đúc",
    "Lò Sũ",
    "Kim Mã",
    "Láng Hạ",
    "Thái Hà",
    "Tây Sơn",
    "Xã Đàn",
    "Thụy Khuê",
    "Cửa Bắc",
    "Cửa Nam",
    "Bát Đàn",
    "Bát Sứ",
    "Mã Mây",
    "Ô Quan Chưởng",
    "Đồng Xuân",
    "Đội Cấn",
    "Giảng Võ",
    "La Thành",
    "Quán Thánh",
    "Hoàng Cầu",
];

/// National and provincial roads for the main road of a commune.
const HIGHWAY_NAMES: &[&str] = &[
    "Quốc lộ 1A",
    "Quốc lộ 2",
    "Quốc lộ 3",
    "Quốc lộ 5",
    "Quốc lộ 6",
    "Quốc lộ 7",
    "Quốc lộ 9",
    "Quốc lộ 10",
    "Quốc lộ 13",
    "Quốc lộ 14",
    "Quốc lộ 18",
    "Quốc lộ 19",
    "Quốc lộ 20",
    "Quốc lộ 21",
    "Quốc lộ 22",
    "Quốc lộ 27",
    "Quốc lộ 32",
    "Quốc lộ 37",
    "Quốc lộ 45",
    "Quốc lộ 49",
    "Quốc lộ 51",
    "Quốc lộ 53",
    "Quốc lộ 57",
    "Quốc lộ 61",
    "Quốc lộ 62",
    "Quốc lộ 80",
    "Quốc lộ 91",
    "Tỉnh lộ 2",
    "Tỉnh lộ 8",
    "Tỉnh lộ 10",
    "Tỉnh lộ 15",
    "Tỉnh lộ 43",
];

/// Numbered streets of new districts ("Đường Số 7").
const NUMBERED_STREET_NAMES: &[&str] = &[
    "Số 1", "Số 2", "Số 3", "Số 4", "Số 5", "Số 6", "Số 7", "Số 8", "Số 9", "Số 10", "Số 11",
    "Số 12", "Số 13", "Số 14", "Số 15", "Số 16", "Số 17", "Số 18", "Số 19", "Số 20", "Số 21",
    "Số 22", "Số 23", "Số 24", "Số 25", "Số 26", "Số 27", "Số 28", "Số 29", "Số 30", "Số 31",
    "Số 32", "Số 33", "Số 34", "Số 35", "Số 36", "Số 37", "Số 38", "Số 39", "Số 40",
];

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

    use super::*;
    use crate::point::haversine_m;

    fn zones() -> &'static ZoneTable {
        static ZONES: OnceLock<ZoneTable> = OnceLock::new();
        ZONES.get_or_init(|| ZoneTable::load_default().expect("default zone table loads"))
    }

    fn all(total: u64, seed: u64, chunk_size: usize) -> Vec<SynthAddress> {
        generate(zones(), total, seed, chunk_size)
            .flatten()
            .collect()
    }

    fn zone_of(province_code: &str, ward_type: WardType) -> ZoneId {
        let zones = zones();
        (0..zones.len() as ZoneId)
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
            assert_eq!(plan.len(), zones.len());
            assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
            assert!(
                plan.iter()
                    .enumerate()
                    .all(|(idx, &(zone_id, _))| zone_id as usize == idx)
            );
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
        assert!(mean("urban") > 1.5 * mean("township"), "{sums:?}");
        assert!(mean("township") > 1.5 * mean("rural"), "{sums:?}");
        assert_eq!(plan, super::plan(zones, 1_000_000, 5));
    }

    #[test]
    fn every_point_is_in_its_ward_box_and_decodes_through_its_zone() {
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
        }
        let zones_used: HashSet<ZoneId> = addresses.iter().map(|address| address.zone_id).collect();
        assert!(zones_used.len() > 9_000, "{}", zones_used.len());
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
        for zone_id in (0..zones.len() as ZoneId).step_by(37) {
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
        for zone_id in (0..zones.len() as ZoneId).step_by(53) {
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
            let zone_id = (zone_idx % zones.len()) as ZoneId;
            let addresses = generate_zone(zones, zone_id, count, seed);
            prop_assert_eq!(addresses.len() as u64, count);
            let zone = zones.get(zone_id);
            for address in &addresses {
                prop_assert_eq!(address.zone_id, zone_id);
                prop_assert!(zone.bbox.contains(address.location));
                prop_assert!(zones.can_own(zone_id, address.location));
            }
        }

        #[test]
        fn plan_always_sums_to_the_total(total in 0u64..50_000_000_000, seed in any::<u64>()) {
            let plan = plan(zones(), total, seed);
            prop_assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
        }
    }
}
