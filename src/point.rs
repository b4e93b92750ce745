//! WGS84 points and the great-circle distance every other module measures with.
//!
//! The haversine distance on the mean Earth radius is the reference distance of the whole
//! service: the index, its brute-force oracle and the API all call [`haversine_m`], so they
//! can never disagree about which point is nearer.

/// Mean Earth radius in metres (IUGG), the radius `geo::Haversine` uses.
pub const EARTH_MEAN_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 coordinate in degrees. Construct through [`LatLon::new`] when the values come
/// from outside, so that NaN and out-of-range values never get in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// Why a coordinate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointError {
    #[error("lat must be a finite number of degrees between -90 and 90")]
    LatOutOfRange,
    #[error("lon must be a finite number of degrees between -180 and 180")]
    LonOutOfRange,
}

impl PointError {
    /// The name of the offending field, for per-field error reports.
    pub fn field(self) -> &'static str {
        match self {
            PointError::LatOutOfRange => "lat",
            PointError::LonOutOfRange => "lon",
        }
    }
}

impl LatLon {
    /// A validated coordinate: finite, `-90 <= lat <= 90`, `-180 <= lon <= 180`.
    pub fn new(lat: f64, lon: f64) -> Result<LatLon, PointError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(PointError::LatOutOfRange);
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(PointError::LonOutOfRange);
        }
        Ok(LatLon { lat, lon })
    }

    /// The point on the unit sphere. Chord length between two such vectors grows strictly
    /// with the great-circle angle, so nearest-by-chord is nearest-by-great-circle.
    pub fn unit_xyz(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        let (sin_lat, cos_lat) = lat.sin_cos();
        let (sin_lon, cos_lon) = lon.sin_cos();
        [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
    }
}

/// A latitude/longitude box, edges included: `GET /v1/addresses?bbox` and `vmap export
/// --bbox`. Boxes do not cross the antimeridian (Vietnam is far from it), so `west <= east`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLonBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

/// Why a box was refused; [`BoxError::code`] is its machine-readable name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BoxError {
    #[error("a box is four comma-separated numbers min_lon,min_lat,max_lon,max_lat, got {0:?}")]
    NotFourNumbers(String),
    #[error("{0}")]
    OutOfRange(PointError),
    #[error("min_lon must not exceed max_lon and min_lat must not exceed max_lat")]
    Inverted,
}

impl BoxError {
    pub fn code(&self) -> &'static str {
        match self {
            BoxError::NotFourNumbers(_) => "not_four_numbers",
            BoxError::OutOfRange(_) => "out_of_range",
            BoxError::Inverted => "inverted",
        }
    }
}

impl LatLonBox {
    /// A validated box: each corner a valid [`LatLon`], west of east and south of north.
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> Result<LatLonBox, BoxError> {
        LatLon::new(south, west).map_err(BoxError::OutOfRange)?;
        LatLon::new(north, east).map_err(BoxError::OutOfRange)?;
        if west > east || south > north {
            return Err(BoxError::Inverted);
        }
        Ok(LatLonBox {
            west,
            south,
            east,
            north,
        })
    }

    /// Whether `point` lies in the box or on its edge.
    pub fn contains(&self, point: LatLon) -> bool {
        (self.south..=self.north).contains(&point.lat)
            && (self.west..=self.east).contains(&point.lon)
    }

    /// The middle of the box in degrees.
    pub fn center(&self) -> LatLon {
        LatLon {
            lat: (self.south + self.north) / 2.0,
            lon: (self.west + self.east) / 2.0,
        }
    }

    /// A great-circle distance from the centre no point of the box lies beyond: the farthest
    /// corner's, since along each edge the distance from the centre grows towards the corners
    /// while the box spans at most 180° of longitude; half the globe for a wider box.
    pub fn radius_m(&self) -> f64 {
        if self.east - self.west > 180.0 {
            return std::f64::consts::PI * EARTH_MEAN_RADIUS_M;
        }
        let center = self.center();
        [
            (self.south, self.west),
            (self.south, self.east),
            (self.north, self.west),
            (self.north, self.east),
        ]
        .into_iter()
        .map(|(lat, lon)| haversine_m(center, LatLon { lat, lon }))
        .fold(0.0, f64::max)
    }
}

impl std::str::FromStr for LatLonBox {
    type Err = BoxError;

    /// `min_lon,min_lat,max_lon,max_lat`, the order of GeoJSON's `bbox` and of OGC APIs.
    fn from_str(text: &str) -> Result<LatLonBox, BoxError> {
        let numbers: Vec<f64> = text
            .split(',')
            .map(|part| part.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| BoxError::NotFourNumbers(text.to_owned()))?;
        match numbers[..] {
            [west, south, east, north] => LatLonBox::new(west, south, east, north),
            _ => Err(BoxError::NotFourNumbers(text.to_owned())),
        }
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius): the reference metric.
///
/// Written out rather than called through `geo` so that the core does not depend on a
/// geometry crate for one formula; the operations are `geo::Haversine`'s, in the same order,
/// so both give the same bits (a test holds them to it).
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (lat_a, lat_b) = (a.lat.to_radians(), b.lat.to_radians());
    let delta_lat = (b.lat - a.lat).to_radians();
    let delta_lon = (b.lon - a.lon).to_radians();
    let h = (delta_lat / 2.0).sin().powi(2)
        + lat_a.cos() * lat_b.cos() * (delta_lon / 2.0).sin().powi(2);
    EARTH_MEAN_RADIUS_M * (2.0 * h.sqrt().asin())
}

/// The chord length on the unit sphere that corresponds to a great-circle distance.
pub fn chord_for_distance_m(distance_m: f64) -> f64 {
    let angle = (distance_m / EARTH_MEAN_RADIUS_M).min(std::f64::consts::PI);
    2.0 * (angle / 2.0).sin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_four_numbers_in_range_and_in_order() {
        let parsed: LatLonBox = "105.8, 21.0,105.9,21.1".parse().expect("a good box");
        assert_eq!(
            parsed,
            LatLonBox {
                west: 105.8,
                south: 21.0,
                east: 105.9,
                north: 21.1
            }
        );
        assert!(parsed.contains(LatLon {
            lat: 21.0,
            lon: 105.9
        }));
        assert!(!parsed.contains(LatLon {
            lat: 21.2,
            lon: 105.85
        }));
        let code = |text: &str| {
            text.parse::<LatLonBox>()
                .map(|_| ())
                .map_err(|error| error.code())
        };
        assert_eq!(code("1,2,3"), Err("not_four_numbers"));
        assert_eq!(code("1,2,3,x"), Err("not_four_numbers"));
        assert_eq!(code("1,2,3,4,5"), Err("not_four_numbers"));
        assert_eq!(code("1,2,3,NaN"), Err("out_of_range"));
        assert_eq!(code("1,-91,3,4"), Err("out_of_range"));
        assert_eq!(code("3,2,1,4"), Err("inverted"));
        assert_eq!(code("1,4,3,2"), Err("inverted"));
        assert_eq!(code("1,2,1,2"), Ok(()));
    }
    use rand::{Rng, SeedableRng};

    #[test]
    fn haversine_is_geo_haversine_to_the_bit() {
        use geo::{Distance, Haversine};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100_000 {
            let a = LatLon::new(
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..=180.0),
            );
            let b = LatLon::new(
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..=180.0),
            );
            let (a, b) = (a.expect("in range"), b.expect("in range"));
            let geo =
                Haversine.distance(geo::Point::new(a.lon, a.lat), geo::Point::new(b.lon, b.lat));
            assert_eq!(haversine_m(a, b).to_bits(), geo.to_bits(), "{a:?} {b:?}");
        }
    }

    #[test]
    fn rejects_nan_and_out_of_range() {
        assert_eq!(LatLon::new(f64::NAN, 0.0), Err(PointError::LatOutOfRange));
        assert_eq!(
            LatLon::new(0.0, f64::INFINITY),
            Err(PointError::LonOutOfRange)
        );
        assert_eq!(LatLon::new(90.5, 0.0), Err(PointError::LatOutOfRange));
        assert_eq!(LatLon::new(0.0, -180.01), Err(PointError::LonOutOfRange));
        assert!(LatLon::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = haversine_m(
            LatLon {
                lat: 21.0,
                lon: 105.0,
            },
            LatLon {
                lat: 22.0,
                lon: 105.0,
            },
        );
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn chord_matches_xyz_distance() {
        let a = LatLon {
            lat: 21.03,
            lon: 105.85,
        };
        let b = LatLon {
            lat: 10.78,
            lon: 106.70,
        };
        let (pa, pb) = (a.unit_xyz(), b.unit_xyz());
        let chord =
            ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2) + (pa[2] - pb[2]).powi(2)).sqrt();
        let expected = chord_for_distance_m(haversine_m(a, b));
        assert!((chord - expected).abs() < 1e-12, "{chord} vs {expected}");
    }
}
