//! PostgreSQL + PostGIS: geometry as PostGIS sees it, rows written by plain SQL, `vmap copy`
//! both ways byte for byte, and two real `vmap serve` replicas on one database.
//!
//! Every test here needs the PostgreSQL server of `VMAP_TEST_DATABASE_URL`; each gets a
//! fresh database of its own on it.

mod copy;
mod geometry;
mod plain_sql;
mod replicas;

use vmap::address::AddressParts;
use vmap::code::VmapCode;
use vmap::point::LatLon;
use vmap::registry::{AssignOutcome, AssignRow, Registry, ReverseQuery};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    [
        geometry::trials(),
        plain_sql::trials(),
        copy::trials(),
        replicas::trials(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn point(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).expect("valid point")
}

fn row_at(location: LatLon, house_number: &str) -> AssignRow {
    AssignRow {
        location,
        parts: AddressParts {
            house_number: Some(house_number.to_owned()),
            street: Some("Đường Thử Nghiệm".to_owned()),
            ..AddressParts::default()
        },
    }
}

#[track_caller]
fn created_code(outcome: &AssignOutcome) -> VmapCode {
    match outcome {
        AssignOutcome::Created { code } => *code,
        other => panic!("expected a new code, got {other:?}"),
    }
}

/// Codes of the addresses `registry` answers within `radius_m` of `at`.
fn reverse_codes(registry: &Registry, at: LatLon, radius_m: f64) -> Vec<VmapCode> {
    registry
        .reverse(at, ReverseQuery::new(10, radius_m).expect("valid query"))
        .addresses
        .iter()
        .map(|address| address.code)
        .collect()
}
