//! The validated parameters of reads and assignments: once built, always in range, so the
//! API and the command line check them the same way, in one place.

/// Most addresses one reverse query may ask for.
pub const MAX_LIMIT: usize = 100;
/// Largest reverse search radius.
pub const MAX_RADIUS_M: f64 = 50_000.0;
pub const DEFAULT_LIMIT: usize = 1;
pub const DEFAULT_RADIUS_M: f64 = 1_000.0;

/// The default same-place radius of an assignment, metres.
pub const DEFAULT_MATCH_RADIUS_M: f64 = 3.0;
/// The largest same-place radius an assignment may ask for, metres.
pub const MAX_MATCH_RADIUS_M: f64 = 50.0;

/// A parameter out of its range; `field()` names it as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("limit must be between 1 and {MAX_LIMIT}, got {0}")]
    Limit(usize),
    #[error("radius_m must be between 0 and {MAX_RADIUS_M} metres, got {0}")]
    Radius(f64),
    #[error("match_radius_m must be between 0 and {MAX_MATCH_RADIUS_M} metres, got {0}")]
    MatchRadius(f64),
}

impl QueryError {
    pub fn field(&self) -> &'static str {
        match self {
            QueryError::Limit(_) => "limit",
            QueryError::Radius(_) => "radius_m",
            QueryError::MatchRadius(_) => "match_radius_m",
        }
    }
}

/// How many nearest addresses a reverse query wants, how far it looks, and which parts of
/// the answer besides the addresses it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseQuery {
    limit: usize,
    radius_m: f64,
    parts: ReverseParts,
}

/// The parts of a reverse answer besides the nearest addresses. Each costs work per point
/// (the zone a point-in-polygon test or a vote of the nearest addresses, the grid code a
/// look at the cell's codes, the two maps a vote of the legacy wards), so a batch that does
/// not show one does not compute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReverseParts {
    /// The zone of the point (`ReverseAnswer::zone`).
    pub zone: bool,
    /// The zone on both administrative maps (`ReverseAnswer::admin`); needs `zone`.
    pub admin: bool,
    /// The code a new address at the point would get; needs `zone`.
    pub grid_code: bool,
}

impl ReverseParts {
    pub const ALL: ReverseParts = ReverseParts {
        zone: true,
        admin: true,
        grid_code: true,
    };
}

impl ReverseQuery {
    /// `limit` in `1..=100`, `radius_m` finite in `0..=50 000`; each wrong one is reported.
    pub fn new(limit: usize, radius_m: f64) -> Result<ReverseQuery, Vec<QueryError>> {
        let mut errors = Vec::new();
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.push(QueryError::Limit(limit));
        }
        if !(radius_m.is_finite() && (0.0..=MAX_RADIUS_M).contains(&radius_m)) {
            errors.push(QueryError::Radius(radius_m));
        }
        if errors.is_empty() {
            Ok(ReverseQuery {
                limit,
                radius_m,
                parts: ReverseParts::ALL,
            })
        } else {
            Err(errors)
        }
    }

    pub fn limit(self) -> usize {
        self.limit
    }

    pub fn radius_m(self) -> f64 {
        self.radius_m
    }

    /// The same query computing only `parts` (every part by default).
    pub fn with_parts(self, parts: ReverseParts) -> ReverseQuery {
        ReverseQuery { parts, ..self }
    }

    pub fn parts(self) -> ReverseParts {
        self.parts
    }
}

impl Default for ReverseQuery {
    fn default() -> ReverseQuery {
        ReverseQuery {
            limit: DEFAULT_LIMIT,
            radius_m: DEFAULT_RADIUS_M,
            parts: ReverseParts::ALL,
        }
    }
}

/// An address this close (and with the same house number/unit, when given) is the same
/// place: finite, in `0..=50` metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRadius(f64);

impl MatchRadius {
    pub fn new(metres: f64) -> Result<MatchRadius, QueryError> {
        if metres.is_finite() && (0.0..=MAX_MATCH_RADIUS_M).contains(&metres) {
            Ok(MatchRadius(metres))
        } else {
            Err(QueryError::MatchRadius(metres))
        }
    }

    pub fn metres(self) -> f64 {
        self.0
    }
}

impl Default for MatchRadius {
    fn default() -> MatchRadius {
        MatchRadius(DEFAULT_MATCH_RADIUS_M)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_query_reports_every_field_out_of_range() {
        assert!(ReverseQuery::new(1, 0.0).is_ok());
        assert!(ReverseQuery::new(MAX_LIMIT, MAX_RADIUS_M).is_ok());
        assert_eq!(
            ReverseQuery::new(0, f64::NAN)
                .err()
                .map(|errors| errors.iter().map(QueryError::field).collect::<Vec<_>>()),
            Some(vec!["limit", "radius_m"])
        );
        assert_eq!(
            ReverseQuery::new(101, 1.0),
            Err(vec![QueryError::Limit(101)])
        );
        assert_eq!(
            ReverseQuery::new(1, 50_000.5),
            Err(vec![QueryError::Radius(50_000.5)])
        );
    }

    #[test]
    fn match_radius_is_bounded() {
        assert_eq!(MatchRadius::new(3.0).map(MatchRadius::metres), Ok(3.0));
        assert_eq!(MatchRadius::new(-1.0), Err(QueryError::MatchRadius(-1.0)));
        assert!(MatchRadius::new(f64::INFINITY).is_err());
        assert!(MatchRadius::new(50.5).is_err());
    }
}
