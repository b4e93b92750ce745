//! Ward boundaries of the 2025 map: which ward holds a point, and per ward its bounding box,
//! geodesic area and reference point (the point its codes are decoded through).
//!
//! The boundaries ship in `data/vn_wards_34_boundaries.bin`, embedded in the binary
//! ([`EMBEDDED_BOUNDARIES`]); [`compile`] makes that file from the GeoJSON sequence of the
//! shared data. [`BoundaryIndex`] answers point → ward ([`BoundaryIndex::locate`]). Pure: no
//! I/O but the bytes and streams it is handed.
//!
//! Decisions:
//! - **File format**: a binary of our own (see `format.rs`): 1e-5° fixed-point integers (the
//!   source's own precision, so the round trip is vertex-exact), delta + zigzag varints,
//!   uncompressed, behind a versioned header and a CRC-32. Measured on the 2025 file: 6.50 MB
//!   (6.35 MB of vertices), decoded in 135 ms on the 2-core development machine under load
//!   (criterion). zstd -19 or gzip -9 of the vertices saves only 12 % (5.61 / 5.62 MB; xz
//!   5.27 MB): the deltas are near-random once Douglas–Peucker has thinned the lines,
//!   so a compressor would add a dependency and decode time for little. The GeoJSON gzipped
//!   is 14.4 MB and takes a JSON parse to load; FlatGeobuf stores f64 pairs (44 MB before
//!   any compression). Derived values that are slow to compute (geodesic area, the reference
//!   point by polylabel) are stored with each ward, so loading does no geometry beyond the
//!   index build.
//! - **Vertex rules**: a ring is stored without its closing vertex (it repeats the first) and
//!   without consecutive repeated vertices (the 2025 file has none). So the GeoJSON count of
//!   2 745 073 vertices (closing ones included) is 2 739 699 stored + 5 374 rings.
//! - **Lookup**: a grid of 1/64° cells, each a quadtree (`cells.rs`) down to cells that are
//!   wholly inside one ward (or none) or list at most a few edges, with a reference point per
//!   cell whose inside/outside state is known; a query counts the crossings of the listed
//!   edges with the segment from the reference point to itself. Hand-written because no
//!   crate does exact point-in-polygon on many polygons at this rate: an `rstar` tree of
//!   part boxes with `geo::Contains` on the candidates answers 0.32 M lookups/s on synthetic
//!   delivery points, this index 5.7 M (the `boundaries` bench keeps both rows).
//! - **Which ward**: polygons are closed (a point on an edge is in the polygon); where
//!   polygons overlap or share an edge, the lowest ward code wins. A point in no polygon goes
//!   to the ward with the nearest boundary edge within [`MAX_BOUNDARY_DISTANCE_M`] (2 km,
//!   great-circle, [`edge_distance_m`]), else it is outside coverage. [`BruteForce`] is the
//!   oracle: `geo`'s `Intersects` (`Contains` plus the boundary) and a scan of every edge.
//! - **Reference point**: the pole of inaccessibility (`polylabel`) of the ward's largest
//!   part, when it lies within the decode limit of every vertex of the ward; otherwise that
//!   of the largest piece of the ward inside the region that is (`reference.rs`). Wards
//!   wider than the limit allows (Hoàng Sa, Trường Sa) get the point whose reach holds the
//!   most polygon area; [`Ward::reach`] says how much that is, and
//!   [`Ward::reference_reaches`] which points a code of the ward can be made for.

mod cells;
mod compile;
mod format;
mod geometry;
mod oracle;
mod reference;

use std::ops::Range;

use geo::{GeodesicArea, Orient, orient::Direction};

use crate::point::LatLon;
use crate::zones::{BoundingBox, reference_reaches};

pub use compile::{CompileSummary, compile};
pub use format::FORMAT_VERSION;
pub use geometry::edge_distance_m;
pub use oracle::BruteForce;

/// The 2025 ward boundaries shipped with vmap (built by [`compile`]).
pub const EMBEDDED_BOUNDARIES: &[u8] = include_bytes!("../../data/vn_wards_34_boundaries.bin");

/// A point in no polygon belongs to the ward with the nearest boundary this close.
pub const MAX_BOUNDARY_DISTANCE_M: f64 = 2_000.0;

/// Index of a ward in [`Boundaries::wards`]; wards are in ascending code order, so the lower
/// id is the lower code.
pub type WardId = u32;

/// Why boundaries could not be read or compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoundaryError {
    #[error("not a vmap boundary file (its first bytes are not the boundary file header)")]
    NotABoundaryFile,
    #[error("boundary file version {found} is not supported (this vmap reads version {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("boundary file is truncated: the header announces {expected} bytes, {found} follow")]
    Truncated { expected: u64, found: u64 },
    #[error("boundary file is damaged: checksum {found:08x}, the header says {expected:08x}")]
    ChecksumMismatch { expected: u32, found: u32 },
    #[error("boundary file is malformed: {0}")]
    Malformed(String),
    #[error("cannot read line {line} of the boundary GeoJSON: {source}")]
    Read { line: usize, source: std::io::Error },
    #[error("line {line} of the boundary GeoJSON: {reason}")]
    Input { line: usize, reason: String },
    #[error("cannot write the boundary file: {0}")]
    Write(std::io::Error),
    #[error("ward {ward_code} has no usable reference point: {reason}")]
    Reference { ward_code: String, reason: String },
    #[error("cannot index the boundaries: {0}")]
    Index(String),
}

/// One 2025 ward.
#[derive(Debug, Clone)]
pub struct Ward {
    /// 5-digit ward code of the 2025 map (key into `vn_wards_34.csv`).
    pub ward_code: String,
    /// 2-digit province code.
    pub province_code: String,
    pub name: String,
    pub bbox: BoundingBox,
    /// Geodesic area on the WGS84 ellipsoid (`geo::GeodesicArea`), in m².
    pub area_m2: f64,
    /// The point codes of this ward are decoded through: inside the ward, and within the
    /// decode limit of every vertex of it unless [`Ward::reach`] says otherwise.
    pub reference: LatLon,
    pub reach: ReferenceReach,
    parts: Range<u32>,
}

/// How much of a ward its reference point can decode codes for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceReach {
    pub n_parts: usize,
    /// Parts every point of which is within the decode limit of the reference point.
    pub n_parts_reached: usize,
    /// Geodesic area of those parts, in m².
    pub area_reached_m2: f64,
}

impl ReferenceReach {
    /// Whether every point of the ward can get a code in it.
    pub fn is_whole(&self) -> bool {
        self.n_parts_reached == self.n_parts
    }
}

impl Ward {
    /// Whether a code made for `point` in this ward decodes back to it: the offset from the
    /// reference point is under [`crate::zones::MAX_REFERENCE_OFFSET_DEG`] in latitude and in longitude,
    /// the one rule of [`crate::zones::reference_reaches`].
    pub fn reference_reaches(&self, point: LatLon) -> bool {
        reference_reaches(self.reference, point)
    }

    /// Number of polygon parts (islands, exclaves).
    pub fn n_parts(&self) -> usize {
        self.parts.len()
    }
}

/// A ward as read from the source or the file: codes as numbers, rings of 1e-5° integers
/// `[lon, lat]` without the closing vertex, exterior ring first in each part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawWard {
    pub ward_code: u32,
    pub province_code: u32,
    pub name: String,
    pub parts: Vec<Vec<Vec<[i32; 2]>>>,
}

/// What the compiler derives for a ward and the file stores with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WardSummary {
    pub area_m2: f64,
    pub reference_lon: f64,
    pub reference_lat: f64,
}

#[derive(Debug, Clone)]
struct Part {
    ward: WardId,
    /// Indices into `Boundaries::rings`, the exterior first.
    rings: Range<u32>,
}

/// All wards and their polygons, as decoded from a boundary file.
#[derive(Debug)]
pub struct Boundaries {
    wards: Vec<Ward>,
    parts: Vec<Part>,
    /// Vertex ranges into `vertices`, the closing vertex included (edge `i` of the file runs
    /// from vertex `i` to `i + 1` for every `i` but the last of its ring).
    rings: Vec<Range<u32>>,
    /// `[lon, lat]` in degrees: exactly the `f64` the source's decimal text parses to.
    vertices: Vec<[f64; 2]>,
}

impl Boundaries {
    /// Reads a boundary file, refusing a damaged or foreign one.
    pub fn decode(bytes: &[u8]) -> Result<Boundaries, BoundaryError> {
        let decoded = format::decode(bytes)?;
        Boundaries::from_raw(decoded.wards, decoded.n_rings, decoded.n_vertices)
    }

    /// The boundaries embedded in the binary.
    pub fn embedded() -> Result<Boundaries, BoundaryError> {
        Boundaries::decode(EMBEDDED_BOUNDARIES)
    }

    fn from_raw(
        wards: Vec<(RawWard, WardSummary)>,
        n_rings: usize,
        n_stored_vertices: usize,
    ) -> Result<Boundaries, BoundaryError> {
        let mut boundaries = Boundaries {
            wards: Vec::with_capacity(wards.len()),
            parts: Vec::new(),
            rings: Vec::with_capacity(n_rings),
            vertices: Vec::with_capacity(n_stored_vertices + n_rings),
        };
        let mut previous_code = None;
        for (raw, summary) in wards {
            if previous_code.is_some_and(|previous| previous >= raw.ward_code) {
                return Err(BoundaryError::Malformed(format!(
                    "ward {:05} is out of order or repeated",
                    raw.ward_code
                )));
            }
            previous_code = Some(raw.ward_code);
            let ward_id = boundaries.wards.len() as WardId;
            let first_part = boundaries.parts.len() as u32;
            let mut bbox = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for part in &raw.parts {
                let first_ring = boundaries.rings.len() as u32;
                for ring in part {
                    let start = boundaries.vertices.len() as u32;
                    for &vertex in ring.iter().chain(ring.first()) {
                        let xy = to_degrees(vertex);
                        bbox = [
                            bbox[0].min(xy[0]),
                            bbox[1].min(xy[1]),
                            bbox[2].max(xy[0]),
                            bbox[3].max(xy[1]),
                        ];
                        boundaries.vertices.push(xy);
                    }
                    boundaries
                        .rings
                        .push(start..boundaries.vertices.len() as u32);
                }
                boundaries.parts.push(Part {
                    ward: ward_id,
                    rings: first_ring..boundaries.rings.len() as u32,
                });
            }
            let reference =
                LatLon::new(summary.reference_lat, summary.reference_lon).map_err(|error| {
                    BoundaryError::Malformed(format!(
                        "ward {:05}: reference point: {error}",
                        raw.ward_code
                    ))
                })?;
            boundaries.wards.push(Ward {
                ward_code: format!("{:05}", raw.ward_code),
                province_code: format!("{:02}", raw.province_code),
                name: raw.name,
                bbox: BoundingBox {
                    south: bbox[1],
                    west: bbox[0],
                    north: bbox[3],
                    east: bbox[2],
                },
                area_m2: summary.area_m2,
                reference,
                reach: ReferenceReach {
                    n_parts: 0,
                    n_parts_reached: 0,
                    area_reached_m2: 0.0,
                },
                parts: first_part..boundaries.parts.len() as u32,
            });
        }
        for ward_id in 0..boundaries.wards.len() {
            let reach = boundaries.compute_reach(ward_id as WardId);
            boundaries.wards[ward_id].reach = reach;
        }
        Ok(boundaries)
    }

    fn compute_reach(&self, ward_id: WardId) -> ReferenceReach {
        let ward = &self.wards[ward_id as usize];
        let parts = &self.parts[ward.parts.start as usize..ward.parts.end as usize];
        let bbox = ward.bbox;
        let corners = [(bbox.south, bbox.west), (bbox.north, bbox.east)];
        if corners
            .iter()
            .all(|&(lat, lon)| reference_reaches(ward.reference, LatLon { lat, lon }))
        {
            // Every vertex lies between these corners.
            return ReferenceReach {
                n_parts: parts.len(),
                n_parts_reached: parts.len(),
                area_reached_m2: ward.area_m2,
            };
        }
        let reached: Vec<usize> = (0..parts.len())
            .filter(|&part_idx| {
                let exterior = &self.rings[parts[part_idx].rings.start as usize];
                self.vertices[exterior.start as usize..exterior.end as usize]
                    .iter()
                    .all(|&[lon, lat]| reference_reaches(ward.reference, LatLon { lat, lon }))
            })
            .collect();
        let area_reached_m2 = if reached.len() == parts.len() {
            ward.area_m2
        } else {
            reached
                .iter()
                .map(|&part_idx| {
                    self.part_polygon(&parts[part_idx])
                        .orient(Direction::Default)
                        .geodesic_area_unsigned()
                })
                .sum()
        };
        ReferenceReach {
            n_parts: parts.len(),
            n_parts_reached: reached.len(),
            area_reached_m2,
        }
    }

    /// All wards, in ascending code order (index = [`WardId`]).
    pub fn wards(&self) -> &[Ward] {
        &self.wards
    }

    pub fn ward(&self, ward_id: WardId) -> &Ward {
        &self.wards[ward_id as usize]
    }

    /// The ward with this 5-digit code.
    pub fn by_code(&self, ward_code: &str) -> Option<WardId> {
        self.wards
            .binary_search_by(|ward| ward.ward_code.as_str().cmp(ward_code))
            .ok()
            .map(|idx| idx as WardId)
    }

    /// Vertices as GeoJSON counts them: every ring's closing vertex included.
    pub fn vertex_count(&self) -> usize {
        self.vertices.len()
    }

    pub fn ring_count(&self) -> usize {
        self.rings.len()
    }

    pub fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// The ward's polygons as `geo` holds them (rings closed, as stored: no orientation
    /// imposed).
    pub fn multi_polygon(&self, ward_id: WardId) -> geo::MultiPolygon<f64> {
        let ward = self.ward(ward_id);
        geo::MultiPolygon::new(
            self.parts[ward.parts.start as usize..ward.parts.end as usize]
                .iter()
                .map(|part| self.part_polygon(part))
                .collect(),
        )
    }

    fn part_polygon(&self, part: &Part) -> geo::Polygon<f64> {
        let ring = |ring_idx: u32| {
            let range = &self.rings[ring_idx as usize];
            geo::LineString::from(
                self.vertices[range.start as usize..range.end as usize]
                    .iter()
                    .map(|&[x, y]| geo::coord! { x: x, y: y })
                    .collect::<Vec<_>>(),
            )
        };
        geo::Polygon::new(
            ring(part.rings.start),
            (part.rings.start + 1..part.rings.end).map(ring).collect(),
        )
    }

    /// The 1e-5° integer rings of a ward, without closing vertices: what the file stores.
    pub fn ward_rings_fixed_point(&self, ward_id: WardId) -> Vec<Vec<Vec<[i32; 2]>>> {
        let ward = self.ward(ward_id);
        self.parts[ward.parts.start as usize..ward.parts.end as usize]
            .iter()
            .map(|part| {
                (part.rings.start..part.rings.end)
                    .map(|ring_idx| {
                        let range = &self.rings[ring_idx as usize];
                        self.vertices[range.start as usize..range.end as usize - 1]
                            .iter()
                            .map(|&[x, y]| {
                                [
                                    (x * format::UNITS_PER_DEGREE).round() as i32,
                                    (y * format::UNITS_PER_DEGREE).round() as i32,
                                ]
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// Bytes held on the heap (the vertices dominate).
    pub fn heap_bytes(&self) -> usize {
        self.vertices.capacity() * std::mem::size_of::<[f64; 2]>()
            + self.rings.capacity() * std::mem::size_of::<Range<u32>>()
            + self.parts.capacity() * std::mem::size_of::<Part>()
            + self.wards.capacity() * std::mem::size_of::<Ward>()
            + self
                .wards
                .iter()
                .map(|ward| ward.name.capacity() + 7)
                .sum::<usize>()
    }
}

/// A 1e-5° integer vertex as the `f64` the decimal text parses to: the division is correctly
/// rounded, like the parse, so both give the nearest `f64` to the same decimal.
fn to_degrees(vertex: [i32; 2]) -> [f64; 2] {
    [
        f64::from(vertex[0]) / format::UNITS_PER_DEGREE,
        f64::from(vertex[1]) / format::UNITS_PER_DEGREE,
    ]
}

/// Where a point was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Located {
    /// In the ward's polygon or on its boundary (of several, the lowest ward code).
    Inside(WardId),
    /// In no polygon (sea, a gap between simplified edges), and this ward's boundary is the
    /// nearest, within [`MAX_BOUNDARY_DISTANCE_M`].
    NearestBoundary { ward: WardId, distance_m: f64 },
    /// Farther than [`MAX_BOUNDARY_DISTANCE_M`] from every ward.
    OutsideCoverage,
}

impl Located {
    pub fn ward(self) -> Option<WardId> {
        match self {
            Located::Inside(ward) | Located::NearestBoundary { ward, .. } => Some(ward),
            Located::OutsideCoverage => None,
        }
    }
}

/// Point → 2025 ward, exact, in well under a microsecond.
#[derive(Debug)]
pub struct BoundaryIndex {
    boundaries: Boundaries,
    cells: cells::CellIndex,
}

impl BoundaryIndex {
    /// Decodes the embedded boundaries and builds the index.
    pub fn embedded() -> Result<BoundaryIndex, BoundaryError> {
        BoundaryIndex::new(Boundaries::embedded()?)
    }

    pub fn new(boundaries: Boundaries) -> Result<BoundaryIndex, BoundaryError> {
        let cells = cells::CellIndex::build(&boundaries)?;
        Ok(BoundaryIndex { boundaries, cells })
    }

    pub fn boundaries(&self) -> &Boundaries {
        &self.boundaries
    }

    pub fn ward(&self, ward_id: WardId) -> &Ward {
        self.boundaries.ward(ward_id)
    }

    /// The ward whose polygon holds the point (the lowest code where several do), if any.
    pub fn ward_at(&self, point: LatLon) -> Option<WardId> {
        self.cells
            .ward_at(&self.boundaries.vertices, [point.lon, point.lat])
    }

    /// The ward of a point: the polygon that holds it, else the nearest boundary within
    /// [`MAX_BOUNDARY_DISTANCE_M`], else outside coverage.
    pub fn locate(&self, point: LatLon) -> Located {
        if let Some(ward) = self.ward_at(point) {
            return Located::Inside(ward);
        }
        match self.nearest_boundary(point, MAX_BOUNDARY_DISTANCE_M) {
            Some((ward, distance_m)) => Located::NearestBoundary { ward, distance_m },
            None => Located::OutsideCoverage,
        }
    }

    /// The ward with the nearest boundary edge within `max_distance_m` and that distance
    /// ([`edge_distance_m`]; ties go to the lower code).
    pub fn nearest_boundary(&self, point: LatLon, max_distance_m: f64) -> Option<(WardId, f64)> {
        self.cells
            .nearest_edge(&self.boundaries.vertices, point, max_distance_m)
    }

    /// Bytes held on the heap by the boundaries and the index.
    pub fn heap_bytes(&self) -> usize {
        self.boundaries.heap_bytes() + self.cells.heap_bytes()
    }
}

#[cfg(test)]
mod tests;
