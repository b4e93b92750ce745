//! Rows without coordinates: their address text is searched in the registry
//! ([`Registry::search`]) instead of their point being coded.
//!
//! Decisions:
//! - A row is found from its text when it has neither `lat` nor `lon` and has address text:
//!   `address`, else the parts (`house_number`, `alley`, `street`) joined; the `ward`,
//!   `district` and `province` columns are added after it unless the `address` text
//!   already holds them (a full line in `address` beside its own unit columns is common).
//!   A row with only one of `lat`/`lon` is still a `missing_coordinate` error: half a point
//!   is a mistake to show, not a reason to guess from text.
//! - Found means the best result is a registered address and the best two can be told
//!   apart: the row is `existing` with that address's code, as a row with coordinates at
//!   that place would be. Anything else is `unmatched`, never `created`: a code is minted
//!   only from a coordinate. An `unmatched` row says how far its text got (`match_level`,
//!   `confidence`, `matched_label`, and the postal code and 2025 ward when the best result
//!   names one) and why it is not `existing`: `address_ambiguous` when several registered
//!   addresses match equally, `address_not_found` otherwise.
//! - A list's text rows are searched together on a blocking thread, in parallel (rayon):
//!   searching is CPU work, and the runtime's threads must stay free for other requests.

use std::sync::Arc;

use rayon::prelude::*;

use super::columns::{Written, add_columns_2025, columns_of_written};
use super::{RowErrorCode, RowOutcome, RowStatus};
use crate::assign::format::RowFields;
use crate::registry::{MatchLevel, Registry, SearchAnswer};

/// Results asked of the search: the best, and the one it must be told apart from.
const RESULTS: usize = 2;

/// The text a row without coordinates is found by; `None` when it has none.
pub(super) fn row_text(fields: &RowFields) -> Option<String> {
    let units = [&fields.ward, &fields.district, &fields.province];
    let line = match &fields.address {
        Some(address) => {
            let folded = address.to_lowercase();
            let missing_units = units
                .into_iter()
                .flatten()
                .filter(|unit| !folded.contains(&unit.to_lowercase()));
            std::iter::once(address.as_str())
                .chain(missing_units.map(String::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        }
        None => {
            crate::geocode::parts_line([&fields.house_number, &fields.alley, &fields.street], units)
        }
    };
    (!line.trim().is_empty()).then_some(line)
}

/// Searches every text and decides each row's outcome, in order. A row found somewhere
/// gets the 2025 columns of that place, with a warning when its written units (`written`)
/// say otherwise; an unmatched row keeps what its best result named.
pub(super) async fn find_rows(
    registry: &Arc<Registry>,
    texts: Vec<(String, Written)>,
) -> Vec<RowOutcome> {
    if texts.is_empty() {
        return Vec::new();
    }
    let searching = registry.clone();
    let count = texts.len();
    let decided = tokio::task::spawn_blocking(move || {
        texts
            .par_iter()
            .map(|(text, written)| {
                let mut found = outcome(&searching, &searching.search(text, RESULTS, None));
                if let Some(location) = found.location {
                    add_columns_2025(
                        &mut found,
                        columns_of_written(&searching, location, written),
                    );
                }
                found
            })
            .collect::<Vec<_>>()
    })
    .await;
    decided.unwrap_or_else(|error| {
        tracing::error!(%error, "searching a list's text rows failed");
        let failed = RowOutcome::failed(RowErrorCode::Internal, "the row could not be searched");
        vec![failed; count]
    })
}

/// A row's outcome from its search answer.
fn outcome(registry: &Registry, answer: &SearchAnswer) -> RowOutcome {
    let Some(best) = answer.results.first() else {
        return RowOutcome {
            status: RowStatus::Unmatched,
            error_code: Some(RowErrorCode::AddressNotFound),
            error_message: Some(
                "the text names no registered address, street or administrative unit".to_owned(),
            ),
            ..RowOutcome::default()
        };
    };
    let zones = registry.zones();
    // Above the ward (a district, a province) the result's ward is only where it is shown.
    let ward_known = best.level <= MatchLevel::Ward;
    let ward = zones
        .map_2025()
        .zip(best.ward_2025.filter(|_| ward_known))
        .map(|(map, id)| (map.admin(), map.admin().ward(id)));
    let mut outcome = RowOutcome {
        postcode: best
            .zone
            .filter(|_| ward_known)
            .map(|zone| zones.get(zone).postcode.to_string()),
        postcode_2025: ward
            .and_then(|(_, ward)| ward.postcode)
            .map(|postcode| postcode.to_string()),
        ward_2025: ward.map(|(_, ward)| ward.name.clone()),
        province_2025: ward.map(|(maps, ward)| maps.province(ward.province).name.clone()),
        match_level: Some(best.level.as_str()),
        confidence: Some(best.confidence),
        matched_label: Some(best.label.clone()),
        ..RowOutcome::default()
    };
    match (best.level, best.code, answer.ambiguous) {
        (MatchLevel::Address, Some(code), false) => {
            outcome.status = RowStatus::Existing;
            outcome.code = Some(code.canonical());
            outcome.postcode = Some(code.postcode().to_string());
            outcome.location = Some(best.location);
        }
        (MatchLevel::Address, _, true) => {
            let others: Vec<&str> = answer
                .results
                .iter()
                .skip(1)
                .map(|result| result.label.as_str())
                .collect();
            outcome.status = RowStatus::Unmatched;
            outcome.error_code = Some(RowErrorCode::AddressAmbiguous);
            outcome.error_message = Some(format!(
                "several registered addresses match the text equally: {} and {}; give a \
                 coordinate or more of the address",
                best.label,
                others.join(", ")
            ));
        }
        (level, ..) => {
            outcome.status = RowStatus::Unmatched;
            outcome.error_code = Some(RowErrorCode::AddressNotFound);
            outcome.error_message = Some(format!(
                "no registered address matches the text; it reaches the {}: {}",
                level.as_str(),
                best.label
            ));
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(address: Option<&str>, parts: [Option<&str>; 6]) -> RowFields {
        let text = |part: Option<&str>| part.map(str::to_owned);
        RowFields {
            address: text(address),
            house_number: text(parts[0]),
            alley: text(parts[1]),
            street: text(parts[2]),
            ward: text(parts[3]),
            district: text(parts[4]),
            province: text(parts[5]),
            ..RowFields::default()
        }
    }

    #[test]
    fn a_rows_text_is_its_address_or_its_parts_with_the_units_it_lacks() {
        let line = row_text(&fields(
            Some("12 Lê Văn Sỹ, Phường 13"),
            [
                None,
                None,
                None,
                Some("phường 13"),
                Some("Phú Nhuận"),
                Some("TP.HCM"),
            ],
        ));
        assert_eq!(
            line.as_deref(),
            Some("12 Lê Văn Sỹ, Phường 13, Phú Nhuận, TP.HCM")
        );
        let line = row_text(&fields(
            None,
            [
                Some("9"),
                Some("ngõ 30"),
                Some("Bùi Thị Xuân"),
                None,
                Some("Hai Bà Trưng"),
                Some("Hà Nội"),
            ],
        ));
        assert_eq!(
            line.as_deref(),
            Some("9 ngõ 30 Bùi Thị Xuân, Hai Bà Trưng, Hà Nội")
        );
        assert_eq!(row_text(&fields(None, [None; 6])), None);
        assert_eq!(row_text(&fields(Some("  "), [None; 6])), None);
    }
}
