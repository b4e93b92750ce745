//! The generator of one zone's town: streets from the centre outwards, houses numbered along
//! them, alleys branching off.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::layout::{Frame, Line, WardParams, fit_layout, place_on_axis};
use super::names::{HANOI_STREET_NAMES, Naming, STREET_NAMES, StreetLabel};
use super::{
    Alley, HOUSE_LETTERS, HouseNumber, METRES_PER_DEGREE, Region, SynthAddress, generation_area,
};
use std::sync::Arc;

use crate::boundaries;
use crate::point::LatLon;
use crate::zones::{Map2025, WardType, ZoneId, ZoneTable};

// ---------------------------------------------------------------------------------------
// The generator of one zone
// ---------------------------------------------------------------------------------------

/// How far from the layout's origin alleys may reach: below and above it across the rows,
/// and along them towards +u (branches only run that way).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) v_low: f64,
    pub(super) v_high: f64,
    pub(super) u_high: f64,
}

#[derive(Debug)]
pub(super) struct ZoneGenerator {
    pub(super) zone_id: ZoneId,
    pub(super) params: &'static WardParams,
    pub(super) region: Region,
    pub(super) naming: Naming,
    pub(super) frame: Frame,
    /// Every length of `params` is multiplied by this (below 1 in wards too small for
    /// their addresses).
    pub(super) scale: f64,
    /// Flats per house spot; 1 unless the ward is too small even when squeezed.
    pub(super) units_per_lot: u32,
    pub(super) radius_u: f64,
    pub(super) radius_v: f64,
    pub(super) limits: Limits,
    pub(super) falloff: f64,
    pub(super) rows: Vec<Line>,
    pub(super) columns: Vec<Line>,
    /// Streets in the order they are filled: from the centre outwards.
    pub(super) order: Vec<(bool, usize)>,
    pub(super) labels: Vec<StreetLabel>,
    pub(super) rng: ChaCha8Rng,
    pub(super) remaining: u64,
    pub(super) remaining_at_pass_start: u64,
    pub(super) next_street: usize,
    /// 0 on the first run through the streets; higher only when the layout ran out of room
    /// and the streets are walked again handing out lettered flats.
    pub(super) pass: u32,
    pub(super) unused_names: Vec<u16>,
    pub(super) unused_hanoi_names: Vec<u16>,
    pub(super) next_numbered_street: usize,
    /// A 2025 zone's ward: a house is only placed where the ward's polygon holds it.
    pub(super) inside: Option<(Arc<Map2025>, boundaries::WardId)>,
    /// Set when a whole pass found no lot inside the polygon: from then on a house outside
    /// is pulled in (see [`pulled_inside`]) rather than skipped, so the count is always met.
    pub(super) pull_inside: bool,
}

/// Which side of a street or alley a house is on: odd numbers left, even right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
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
pub(super) struct AlleySpot {
    pub(super) alley: Alley,
    /// Where on the street the alley starts, and which way (+1/-1 in v) it runs.
    pub(super) base_u: f64,
    pub(super) base_v: f64,
    pub(super) direction: f64,
    /// Room in +u before the next alley or cross street, for branches.
    pub(super) room_m: f64,
}

impl ZoneGenerator {
    pub(super) fn new(
        zones: &ZoneTable,
        zone_id: ZoneId,
        count: u64,
        seed: u64,
    ) -> Option<ZoneGenerator> {
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

        // A 2025 ward fills only part of its box and houses go only where its polygon is:
        // lay the town out for as many more as the box is larger than the ward.
        let inside = zones.boundary_ward_of_zone(zone_id);
        let box_share = inside.as_ref().map_or(1.0, |(map, ward)| {
            let area_m2 = map.index().ward(*ward).area_m2;
            (width_m * height_m / area_m2.max(1.0)).clamp(1.0, 8.0)
        });
        let layout = fit_layout(
            params,
            (count as f64 * box_share).ceil() as u64,
            width_m,
            height_m,
        );
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
            inside,
            pull_inside: false,
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
    pub(super) fn fill(&mut self, out: &mut Vec<SynthAddress>, target: usize) {
        while self.remaining > 0 && out.len() < target {
            if self.order.is_empty() {
                return;
            }
            if self.next_street == self.order.len() {
                if self.remaining == self.remaining_at_pass_start {
                    if self.inside.is_some() && !self.pull_inside {
                        self.pull_inside = true;
                    } else {
                        // A whole pass placed nothing (a degenerate layout): stop rather
                        // than spin.
                        self.remaining = 0;
                        return;
                    }
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
        let mut location = self.frame.lat_lon_at(u, v);
        if let Some((map, ward)) = &self.inside
            && map.index().ward_at(location) != Some(*ward)
        {
            if !self.pull_inside {
                return;
            }
            location = pulled_inside(map, *ward, location);
        }
        self.remaining -= 1;
        out.push(SynthAddress {
            zone_id: self.zone_id,
            location,
            house_number,
            alley,
            street: label.name,
            street_kind: label.kind,
        });
    }
}

/// `point` when the ward's polygon holds it (and no lower-coded neighbour overlapping it
/// does); else the point nearest it on the segment from the ward's reference point (which is
/// inside) that is still inside, by bisection to well under a metre.
fn pulled_inside(map: &Map2025, ward: boundaries::WardId, point: LatLon) -> LatLon {
    let index = map.index();
    let reference = index.ward(ward).reference;
    let at = |t: f64| LatLon {
        lat: reference.lat + (point.lat - reference.lat) * t,
        lon: reference.lon + (point.lon - reference.lon) * t,
    };
    let (mut inside, mut outside) = (0.0f64, 1.0f64);
    for _ in 0..24 {
        let middle = (inside + outside) / 2.0;
        if index.ward_at(at(middle)) == Some(ward) {
            inside = middle;
        } else {
            outside = middle;
        }
    }
    at(inside)
}

/// SplitMix64 of a pair: independent-looking streams for nearby seeds and zone ids.
pub(super) fn mix64(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
