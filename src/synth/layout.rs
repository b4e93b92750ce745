//! Ward layout: a town's parameters by ward type, its local frame and street lines, and how
//! many streets and houses fit its box.

use super::{CAPACITY_SLACK, DegreeBox, METRES_PER_DEGREE, MIN_FRONTAGE_M};
use crate::point::LatLon;
use crate::zones::WardType;

// ---------------------------------------------------------------------------------------
// Ward layout parameters
// ---------------------------------------------------------------------------------------

/// The shape of a ward's streets, in metres, before any squeezing into a small ward.
#[derive(Debug)]
pub(super) struct WardParams {
    /// Width of a house lot along a street (drawn per street from this range).
    pub(super) frontage_m: (f64, f64),
    /// Width of a house lot along an alley.
    pub(super) alley_frontage_m: f64,
    /// Distance between parallel streets (rows).
    pub(super) row_spacing_m: f64,
    /// Distance between cross streets (columns).
    pub(super) column_spacing_m: f64,
    /// From the street's centre line to a house's front.
    pub(super) setback_m: f64,
    /// From an alley's centre line to a house's front.
    pub(super) alley_setback_m: f64,
    /// Street lots between two alleys on one side; `None` for no alleys.
    pub(super) alley_gap_lots: Option<(u32, u32)>,
    /// How deep into the block an alley reaches, as a share of the row spacing (below 0.45
    /// so that alleys from two facing streets never meet).
    pub(super) alley_length_share: (f64, f64),
    /// Chance that a lot along an alley starts a branch alley.
    pub(super) branch_chance: f64,
    /// Chance that a lot is split into a front house and one behind it ("12A").
    pub(super) split_lot_chance: f64,
    /// Lots grow this much wider from the ward's centre to its edge (1.0 = twice as wide).
    pub(super) falloff: f64,
    /// Amplitude of a street's bends as a share of the row spacing.
    pub(super) bend_share: f64,
    /// Rural roads number houses 1, 2, 3… alternating sides instead of odd/even.
    pub(super) sequential_numbers: bool,
}

pub(super) const URBAN: WardParams = WardParams {
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

pub(super) const TOWNSHIP: WardParams = WardParams {
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

pub(super) const RURAL: WardParams = WardParams {
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
    pub(super) fn of(ward_type: WardType) -> &'static WardParams {
        match ward_type {
            WardType::Urban => &URBAN,
            WardType::Township => &TOWNSHIP,
            WardType::Rural => &RURAL,
        }
    }

    pub(super) fn mean_frontage_m(&self) -> f64 {
        (self.frontage_m.0 + self.frontage_m.1) / 2.0
    }

    /// How far houses reach beyond the ellipse the streets fill: the house behind a house
    /// on the outermost street, with its jitter.
    pub(super) fn edge_margin_m(&self) -> f64 {
        self.setback_m + self.split_lot_depth_m() + 5.0
    }

    /// The same with full-length alleys off the outermost street. Where the area is too
    /// tight for that, alleys are cut short at its edge instead.
    pub(super) fn full_margin_m(&self) -> f64 {
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
    pub(super) fn density_per_m2(&self) -> f64 {
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
    pub(super) fn alley_start_m(&self) -> f64 {
        self.setback_m + 8.0
    }

    /// How much further back than the front house the house behind it ("12A") stands.
    pub(super) fn split_lot_depth_m(&self) -> f64 {
        7.0
    }

    /// The mean of `1 / (1 + falloff * r)` over a uniform disc of radius 1: how much the
    /// widening lots thin out the whole ward.
    pub(super) fn falloff_factor(&self) -> f64 {
        let a = self.falloff;
        if a <= 0.0 {
            1.0
        } else {
            2.0 * (a - (1.0 + a).ln()) / (a * a)
        }
    }
}

/// Local frame of a ward: metres along the rows (u) and across them (v), rotated about
/// the layout's origin, mapped to degrees and clamped into the generation area.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub(super) origin_x_m: f64,
    pub(super) origin_y_m: f64,
    pub(super) cos: f64,
    pub(super) sin: f64,
    pub(super) metres_per_degree_lon: f64,
    pub(super) area: DegreeBox,
}

impl Frame {
    pub(super) fn lat_lon_at(&self, u: f64, v: f64) -> LatLon {
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
pub(super) struct Line {
    pub(super) is_row: bool,
    /// v of a row, u of a column.
    pub(super) offset: f64,
    /// The street runs from -half_length to +half_length along its axis.
    pub(super) half_length: f64,
    pub(super) bend_amplitude: f64,
    pub(super) bend_wavenumber: f64,
    pub(super) bend_phase: f64,
}

impl Line {
    /// v of a row at u (rows bend; columns are straight).
    pub(super) fn row_v(&self, u: f64) -> f64 {
        self.offset + self.bend_amplitude * (u * self.bend_wavenumber + self.bend_phase).sin()
    }
}

/// The streets of a ward, sized for its count.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) scale: f64,
    pub(super) radius_u: f64,
    pub(super) radius_v: f64,
    /// How far beyond the ellipse houses reach, at this scale: without alleys, and with
    /// full-length alleys.
    pub(super) edge_margin_m: f64,
    pub(super) full_margin_m: f64,
    pub(super) units_per_lot: u32,
    pub(super) may_rotate: bool,
    /// `WardParams::falloff`, or 0 in a ward too cramped to thin out towards its edge.
    pub(super) falloff: f64,
    pub(super) rows: Vec<Line>,
    pub(super) columns: Vec<Line>,
}

/// Sizes the ellipse of streets for `count` addresses: a circle when the area allows,
/// else an ellipse as round as the area allows, else squeezed (narrower lots and blocks),
/// and when even that is not enough, several flats per lot. The first guess comes from the
/// mean density; it is then corrected until the actual streets are expected to hold the
/// count (few streets round badly: a small ward may have a single one).
pub(super) fn fit_layout(params: &WardParams, count: u64, width_m: f64, height_m: f64) -> Layout {
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
pub(super) fn street_lines(
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
pub(super) fn expected_capacity(
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
pub(super) fn place_on_axis(anchor: f64, reach: f64, extent: f64) -> f64 {
    if 2.0 * reach >= extent {
        extent / 2.0
    } else {
        anchor.clamp(reach, extent - reach)
    }
}
