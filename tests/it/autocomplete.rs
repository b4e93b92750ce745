//! Autocomplete (`Registry::autocomplete`, `GET /v1/autocomplete`) on SQLite and
//! PostgreSQL: prefixes of registered streets in several spellings, house numbers on a
//! street, units of both maps, narrowing by the text before, `near`, writes (insert, edit,
//! move, retire) and other writers, bad queries; a proptest over prefixes of registered
//! street names.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vmap::address::{AddressChange, AddressParts, IndexRow};
use vmap::api::Limits;
use vmap::code::VmapCode;
use vmap::parse::{fold_words, strip_marks};
use vmap::point::{LatLon, haversine_m};
use vmap::registry::{AssignOptions, AssignOutcome, AssignRow, MatchLevel, Registry, Suggestion};
use vmap::store::Store;

use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, assert_problem, encode, get, seeded_db, seeded_registry, test_app, zones,
};

trials! {
    each_backend: [
        street_prefixes_complete_in_every_spelling,
        house_numbers_complete_on_a_street,
        autocomplete_follows_writes_and_other_writers,
    ],
    tokio: [
        units_of_both_maps_complete_and_narrow,
        near_ranks_equal_matches_nearest_first,
        autocomplete_answers_and_refuses_over_http,
    ],
}

/// A registered address with a street and no alley, and what its zone names.
#[derive(Debug, Clone)]
struct Row {
    code: VmapCode,
    location: LatLon,
    house: String,
    /// As registered: "Đường Lê Văn Sỹ".
    street: String,
    ward: String,
    province: String,
}

impl Row {
    /// The street's name without its generic marker ("Lê Văn Sỹ").
    fn name(&self) -> &str {
        match self.street.split_once(' ') {
            Some((first, rest)) if ["duong", "pho"].contains(&fold_words(first).as_str()) => rest,
            _ => &self.street,
        }
    }

    /// The text before the part typed, naming the row's ward and province.
    fn scope(&self) -> String {
        format!("{}, {}, ", self.ward, self.province)
    }
}

async fn rows(store: &Store) -> Vec<Row> {
    let zones = zones();
    let mut all: Vec<IndexRow> = Vec::new();
    store
        .for_each_index_row(|row| {
            all.push(row);
            Ok(())
        })
        .await
        .expect("read");
    all.sort_by_key(|row| row.id);
    all.into_iter()
        .filter(|row| row.alley.is_none())
        .filter_map(|row| {
            let zone = zones.get(zones.by_postcode(row.code.postcode())?);
            Some(Row {
                code: row.code,
                location: row.location,
                house: row.house_number.clone()?,
                street: row.street.clone()?,
                ward: zone.ward.clone(),
                province: zone.province.clone(),
            })
        })
        .collect()
}

/// Whether a suggestion is the row's street (or an address on it) in the row's zone.
fn is_street_of(suggestion: &Suggestion, row: &Row, registry: &Registry) -> bool {
    let zone = suggestion.zone.map(|id| registry.zones().get(id).postcode);
    matches!(suggestion.kind, MatchLevel::Street | MatchLevel::Address)
        && zone == Some(row.code.postcode())
        && suggestion.label.contains(&format!("{},", row.street))
}

fn labels(suggestions: &[Suggestion]) -> Vec<&str> {
    suggestions.iter().map(|s| s.label.as_str()).collect()
}

/// The first `n` letters or digits of `text` and what lies between them.
fn first_letters(text: &str, n: usize) -> String {
    let mut seen = 0;
    let mut out = String::new();
    for c in text.chars() {
        if seen == n {
            break;
        }
        if c.is_alphanumeric() {
            seen += 1;
        }
        out.push(c);
    }
    out
}

async fn street_prefixes_complete_in_every_spelling(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 2_000).await;
    let rows = rows(registry.store()).await;
    assert!(rows.len() > 100, "{} rows", rows.len());
    for row in rows.iter().step_by(97).take(12) {
        let name = row.name();
        let n_letters = name.chars().filter(|c| c.is_alphanumeric()).count();
        let partial = first_letters(name, n_letters.saturating_sub(1).max(3));
        for typed in [
            partial.clone(),
            strip_marks(&partial).to_lowercase(),
            partial.to_uppercase(),
            // With its marker ("Đường Lê V"); the name again when it has none.
            format!(
                "{} {partial}",
                row.street[..row.street.len() - name.len()].trim()
            )
            .trim()
            .to_owned(),
            row.street.clone(),
        ] {
            // "Số 7" alone reads as a house number: numbered streets need their marker.
            if fold_words(&typed).starts_with("so ") {
                continue;
            }
            let text = format!("{}{typed}", row.scope());
            let found = registry.autocomplete(&text, 20, None);
            assert!(
                found.iter().any(|s| is_street_of(s, row, &registry)),
                "{text:?} → {:?}",
                labels(&found)
            );
            assert!(
                found
                    .iter()
                    .all(|s| s.code.is_none() || s.kind == MatchLevel::Address)
            );
        }
    }

    // Marks typed exactly rank above a folded match.
    let here = LatLon::new(21.0245, 105.8412).expect("point");
    let mut codes = Vec::new();
    for (street, house) in [("Phố Lê Văn Sỹ Zê", "5"), ("Phố Lê Vân Sơn Zê", "7")] {
        codes.push(assign(&registry, here, street, house).await);
    }
    assert_ne!(codes[0], codes[1]);
    for (typed, first) in [
        ("Lê Văn Sỹ Z", "Phố Lê Văn Sỹ Zê"),
        ("Lê Vân S", "Phố Lê Vân Sơn Zê"),
    ] {
        let found = registry.autocomplete(typed, 5, Some(here));
        assert!(
            found
                .first()
                .is_some_and(|s| s.label.starts_with(first) && s.kind == MatchLevel::Street),
            "{typed} → {:?}",
            labels(&found)
        );
        // The completion puts the street and its units in the box.
        assert_eq!(found[0].completion, found[0].label);
    }
    let folded = registry.autocomplete("le van s", 20, Some(here));
    for street in ["Phố Lê Văn Sỹ Zê", "Phố Lê Vân Sơn Zê"] {
        assert!(
            folded.iter().any(|s| s.label.starts_with(street)),
            "{:?}",
            labels(&folded)
        );
    }
    drop(db);
}

async fn assign(registry: &Registry, at: LatLon, street: &str, house: &str) -> VmapCode {
    let outcomes = registry
        .assign_batch(
            &[AssignRow {
                location: at,
                parts: AddressParts {
                    house_number: Some(house.to_owned()),
                    street: Some(street.to_owned()),
                    ..AddressParts::default()
                },
            }],
            AssignOptions::default(),
        )
        .await
        .expect("assign");
    match outcomes.first() {
        Some(AssignOutcome::Created { code }) => *code,
        other => panic!("not created: {other:?}"),
    }
}

async fn house_numbers_complete_on_a_street(backend: &Backend) {
    let (db, registry) = seeded_registry(backend, 2_000).await;
    let rows = rows(registry.store()).await;
    for row in rows.iter().step_by(101).take(10) {
        if fold_words(row.name()).starts_with("so ") {
            continue;
        }
        let partial = first_letters(row.name(), 4);
        // The house typed whole: that house first.
        let text = format!("{}{} {partial}", row.scope(), row.house);
        let found = registry.autocomplete(&text, 10, None);
        let first = found.first().expect("a suggestion");
        assert_eq!(
            first.kind,
            MatchLevel::Address,
            "{text} → {:?}",
            labels(&found)
        );
        assert_eq!(first.code, Some(row.code), "{text} → {:?}", labels(&found));
        assert_eq!(first.completion, first.label);
        // Its first digit: houses on such streets whose number starts with it.
        let digit = &row.house[..1];
        let text = format!("{}{digit} {partial}", row.scope());
        let found = registry.autocomplete(&text, 20, None);
        assert!(!found.is_empty(), "{text}");
        for suggestion in &found {
            match suggestion.kind {
                MatchLevel::Address => assert!(suggestion.label.starts_with(digit)),
                // A street without such a house keeps the number typed; one whose name
                // starts with the number ("Đường 30 Tháng 4") is completed as it is.
                MatchLevel::Street => assert!(
                    suggestion.completion.starts_with(&format!("{digit} "))
                        || suggestion.completion == suggestion.label,
                    "{text} → {}",
                    suggestion.completion
                ),
                other => panic!("{text} → {other:?} {}", suggestion.label),
            }
        }
    }
    drop(db);
}

async fn units_of_both_maps_complete_and_narrow() {
    let (db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let unit_labels = |text: &str, limit: usize| -> Vec<(MatchLevel, String)> {
        registry
            .autocomplete(text, limit, None)
            .into_iter()
            .filter(|s| s.unit.is_some())
            .map(|s| (s.kind, s.label))
            .collect()
    };
    for text in [
        "Phường Bến Ng",
        "phuong ben ng",
        "P. Bến Ng",
        "PHƯỜNG BẾN NG",
        "Hồ Chí Minh, Quận 1, Phường Bến Ng",
    ] {
        let found = unit_labels(text, 5);
        assert_eq!(
            found.first(),
            Some(&(
                MatchLevel::Ward,
                "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh".to_owned()
            )),
            "{text}"
        );
    }
    // A province written before keeps units within it.
    assert!(unit_labels("Hà Nội, Phường Bến Ng", 20).is_empty());
    let found = unit_labels("Hà Nội, Hoàn K", 20);
    assert!(
        found
            .iter()
            .any(|(kind, label)| *kind == MatchLevel::District
                && label == "Quận Hoàn Kiếm, Thành phố Hà Nội"),
        "{found:?}"
    );
    assert!(
        found.iter().all(|(_, label)| label.contains("Hà Nội")),
        "{found:?}"
    );
    // The 2025 map: "Phường Sài Gòn" (a 2025 ward), and provinces of both maps.
    let found = unit_labels("Phường Sài G", 5);
    assert!(
        found
            .iter()
            .any(|(_, label)| label == "Phường Sài Gòn, Thành phố Hồ Chí Minh"),
        "{found:?}"
    );
    let found = unit_labels("ha no", 10);
    assert!(
        found
            .iter()
            .any(|(kind, label)| *kind == MatchLevel::Province && label == "Thành phố Hà Nội"),
        "{found:?}"
    );
    // After a street, a unit completes the address.
    let found = registry.autocomplete("12 Lê Văn Sỹ, Phường Bến Ng", 3, None);
    assert_eq!(
        found.first().map(|s| s.completion.as_str()),
        Some("12 Lê Văn Sỹ, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"),
        "{:?}",
        labels(&found)
    );
    let found = registry.autocomplete("12 Lê Văn Sỹ P. Bến Ng", 3, None);
    assert_eq!(
        found.first().map(|s| s.completion.as_str()),
        Some("12 Lê Văn Sỹ, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"),
        "{:?}",
        labels(&found)
    );

    // Streets narrowed by the province written before them.
    let rows = rows(registry.store()).await;
    let row = rows.first().expect("a row");
    let partial = first_letters(row.name(), 3);
    let text = format!("{}, {partial}", row.province);
    let found = registry.autocomplete(&text, 20, None);
    assert!(!found.is_empty(), "{text}");
    for suggestion in found.iter().filter(|s| s.kind == MatchLevel::Street) {
        assert!(
            suggestion.label.ends_with(&row.province),
            "{text} → {}",
            suggestion.label
        );
    }
    drop(db);
}

async fn near_ranks_equal_matches_nearest_first() {
    let (db, registry) = seeded_registry(&Backend::Sqlite, 3_000).await;
    let rows = rows(registry.store()).await;
    // A street name registered in several zones.
    let row = rows
        .iter()
        .find(|row| {
            let zones: std::collections::HashSet<_> = rows
                .iter()
                .filter(|other| other.street == row.street)
                .map(|other| other.code.postcode())
                .collect();
            zones.len() >= 3
        })
        .expect("a street in three zones");
    for near in [row.location, LatLon::new(10.77, 106.70).expect("point")] {
        let found = registry.autocomplete(&row.street, 20, Some(near));
        let same: Vec<f64> = found
            .iter()
            .filter(|s| {
                s.kind == MatchLevel::Street && s.label.starts_with(&format!("{},", row.street))
            })
            .filter_map(|s| s.location.map(|at| haversine_m(near, at)))
            .collect();
        assert!(same.len() >= 3, "{:?}", labels(&found));
        assert!(
            same.windows(2).all(|pair| pair[0] <= pair[1]),
            "not nearest first: {same:?}"
        );
    }
    let found = registry.autocomplete(&row.street, 20, Some(row.location));
    assert!(found.iter().any(|s| is_street_of(s, row, &registry)));
    drop(db);
}

async fn autocomplete_follows_writes_and_other_writers(backend: &Backend) {
    let db = seeded_db(backend, 300).await;
    let open = || async {
        let store = Store::connect(&db.url).await.expect("connect");
        Registry::load(store, zones()).await.expect("load")
    };
    let (writer, reader) = (open().await, open().await);
    let here = LatLon::new(21.0245, 105.8412).expect("point");
    let code = assign(&writer, here, "Phố Zê Rô Tự Động", "77B").await;
    let finds = |registry: &Registry, text: &str| {
        registry
            .autocomplete(text, 5, None)
            .into_iter()
            .find(|s| s.code == Some(code) || s.label.starts_with("Phố Zê Rô Tự Động,"))
    };
    assert!(finds(&writer, "Zê Rô T").is_some());
    assert_eq!(
        finds(&writer, "77 ze ro").and_then(|s| s.code),
        Some(code),
        "the house completes"
    );
    assert!(finds(&reader, "Zê Rô T").is_none(), "not caught up yet");
    reader.catch_up().await.expect("catch up");
    assert!(finds(&reader, "Zê Rô T").is_some());

    // An edit renames the street; a move changes where it is answered.
    let there = LatLon::new(21.0250, 105.8420).expect("point");
    writer
        .update(
            code,
            AddressChange {
                street: Some(Some("Phố Zê Rô Đổi Tên".to_owned())),
                location: Some(there),
                ..AddressChange::default()
            },
        )
        .await
        .expect("edit");
    reader.catch_up().await.expect("catch up");
    for registry in [&writer, &reader] {
        assert!(finds(registry, "Zê Rô T").is_none());
        let renamed = registry.autocomplete("77 Zê Rô Đ", 5, None);
        let first = renamed.first().expect("found");
        assert_eq!(first.code, Some(code));
        assert_eq!(first.location, Some(there));
    }

    writer.retire(code, None, false).await.expect("retire");
    reader.catch_up().await.expect("catch up");
    for registry in [&writer, &reader] {
        let found = registry.autocomplete("Zê Rô Đ", 5, None);
        assert!(
            found
                .iter()
                .all(|s| s.code != Some(code) && !s.label.contains("Zê Rô")),
            "{:?}",
            labels(&found)
        );
    }
}

async fn autocomplete_answers_and_refuses_over_http() {
    let (db, registry, app) = test_app(&Backend::Sqlite, 500, Limits::default()).await;
    let rows = rows(registry.store()).await;
    let row = rows
        .iter()
        .find(|r| !fold_words(r.name()).starts_with("so "))
        .expect("a row");
    let text = format!(
        "{}{} {}",
        row.scope(),
        row.house,
        first_letters(row.name(), 3)
    );
    let response = get(
        &app,
        &format!("/v1/autocomplete?q={}&limit=3", encode(&text)),
    )
    .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text());
    let body = response.json();
    eprintln!("GET /v1/autocomplete?q={text}&limit=3\n{body}");
    let results = body["results"].as_array().expect("results");
    assert!(!results.is_empty() && results.len() <= 3, "{body}");
    let best = &results[0];
    assert_eq!(best["kind"], "address", "{body}");
    assert_eq!(best["code"], row.code.to_string());
    assert!(
        best["label"]
            .as_str()
            .is_some_and(|l| l.contains(&row.street))
    );
    assert!(best["completion"].is_string());
    assert!(best["zone"]["postcode"].is_string());
    assert!(best["location"]["lat"].is_number());

    let body = get(
        &app,
        &format!("/v1/autocomplete?q={}", encode("Phường Bến Ng")),
    )
    .await
    .json();
    let ward = &body["results"][0];
    assert_eq!(ward["kind"], "ward", "{body}");
    assert_eq!(ward["unit"]["name"], "Phường Bến Nghé");
    assert_eq!(ward["unit"]["type"], "phuong");
    assert_eq!(ward["map"], "legacy");
    assert!(ward.get("code").is_none());
    eprintln!("GET /v1/autocomplete?q=Phường Bến Ng\n{body}");

    for (query, field, code) in [
        ("/v1/autocomplete", "q", "missing"),
        ("/v1/autocomplete?q=", "q", "blank"),
        ("/v1/autocomplete?q=%20%2C%2C%3B%20", "q", "blank"),
        ("/v1/autocomplete?q=Hu&limit=0", "limit", "out_of_range"),
        ("/v1/autocomplete?q=Hu&limit=21", "limit", "out_of_range"),
        ("/v1/autocomplete?q=Hu&limit=x", "limit", "not_an_integer"),
        (
            "/v1/autocomplete?q=Hu&near=91,200",
            "near",
            "invalid_coordinate",
        ),
        (
            "/v1/autocomplete?q=Hu&near=abc",
            "near",
            "invalid_coordinate",
        ),
    ] {
        let body = assert_problem(&get(&app, query).await, 422, Some(field));
        assert!(
            body["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["code"] == code)),
            "{query}: {body}"
        );
    }
    let long = "a".repeat(5_000);
    let body = assert_problem(
        &get(&app, &format!("/v1/autocomplete?q={long}")).await,
        422,
        Some("q"),
    );
    assert_eq!(body["errors"][0]["code"], "too_long");

    // Any prefix (3+ letters) of a registered street's name, in any spelling, after its
    // ward and province, finds that street.
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let n_rows = rows.len();
    runner
        .run(
            &(0..n_rows, 3usize..40, 0..4usize, any::<bool>()),
            |(at, n, spelling, marker)| {
                let row = &rows[at];
                let name = if fold_words(row.name()).starts_with("so ") || marker {
                    row.street.as_str()
                } else {
                    row.name()
                };
                let partial = first_letters(name, n);
                let typed = match spelling {
                    0 => partial,
                    1 => strip_marks(&partial).to_lowercase(),
                    2 => partial.to_uppercase(),
                    _ => strip_marks(&partial),
                };
                let text = format!("{}{typed}", row.scope());
                let found = registry.autocomplete(&text, 20, Some(row.location));
                prop_assert!(
                    found.iter().any(|s| is_street_of(s, row, &registry)),
                    "{text:?} → {:?}",
                    labels(&found)
                );
                Ok(())
            },
        )
        .expect("every prefix finds its street");
    drop(db);
}
