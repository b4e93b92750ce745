//! A row's 2025 columns (`postcode_2025`, `ward_2025`, `province_2025` and the
//! `zone_mismatch` warning): the ward whose boundary holds the row's point, and whether the
//! row's written units say otherwise. They need the point and the text only, never the
//! decision, so they are worked out apart from it, on every core.

use std::sync::Arc;

use super::format::RowFields;
use super::{RowOutcome, RowWarning};
use crate::point::LatLon;
use crate::registry::Registry;
use crate::zones::WrittenUnits;

/// A row's 2025 columns: the ward whose boundary holds its point, its postcode and
/// province, and whether the row's own ward, district or province text says otherwise.
#[derive(Debug, Clone)]
pub(super) struct Columns2025 {
    postcode: Option<String>,
    ward: String,
    province: String,
    mismatch: bool,
}

/// A row's written ward, district and province, owned: for work on the blocking pool.
pub(super) type Written = [Option<String>; 3];

pub(super) fn written_of(fields: &RowFields) -> Written {
    [
        fields.ward.clone(),
        fields.district.clone(),
        fields.province.clone(),
    ]
}

/// A row's point and written units, for [`columns_2025_of`].
pub(super) type PlacedRow = (LatLon, Written);

pub(super) fn columns_of_written(
    registry: &Registry,
    location: LatLon,
    [ward, district, province]: &Written,
) -> Option<Columns2025> {
    let written = WrittenUnits {
        ward: ward.as_deref(),
        district: district.as_deref(),
        province: province.as_deref(),
    };
    let place = registry.zones().place_2025(location, written)?;
    Some(Columns2025 {
        postcode: place.ward.postcode.map(|postcode| postcode.to_string()),
        ward: place.ward.name.clone(),
        province: place.province.name.clone(),
        mismatch: place.mismatch,
    })
}

pub(super) fn add_columns_2025(outcome: &mut RowOutcome, columns: Option<Columns2025>) {
    let Some(columns) = columns else {
        return;
    };
    outcome.postcode_2025 = columns.postcode;
    outcome.ward_2025 = Some(columns.ward);
    outcome.province_2025 = Some(columns.province);
    outcome.warning = columns.mismatch.then_some(RowWarning::ZoneMismatch);
}

/// The 2025 columns of rows with a point, worked out on every core on the blocking pool.
/// They need the row's point and text only, not its decision, so they are worked out
/// while the registry decides and commits the batch (a commit leaves a core idle).
pub(super) async fn columns_2025_of(
    registry: &Arc<Registry>,
    rows: Vec<Option<PlacedRow>>,
) -> Vec<Option<Columns2025>> {
    use rayon::prelude::*;
    let working = Arc::clone(registry);
    let rows = Arc::new(rows);
    let given = Arc::clone(&rows);
    let worked = tokio::task::spawn_blocking(move || {
        given
            .par_iter()
            .map(|row| {
                let (location, written) = row.as_ref()?;
                columns_of_written(&working, *location, written)
            })
            .collect::<Vec<_>>()
    })
    .await;
    worked.unwrap_or_else(|error| {
        // Never lose a row's columns: work them out here instead, one after the other.
        tracing::error!(%error, "working out a batch's 2025 columns in parallel failed");
        rows.iter()
            .map(|row| {
                let (location, written) = row.as_ref()?;
                columns_of_written(registry, *location, written)
            })
            .collect()
    })
}
