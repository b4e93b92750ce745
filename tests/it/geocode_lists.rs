//! Lists without coordinates: `POST /v1/assign` and `vmap geocode LIST -o OUT` find each
//! row's registered address from its text (`existing` with its code) or say how far the
//! text got (`unmatched`); nothing is minted from text. On SQLite and PostgreSQL.

use std::sync::Arc;

use serde_json::{Value, json};
use vmap::api::Limits;
use vmap::parse::render::{Renderer, Style};
use vmap::registry::MatchLevel;

use crate::geocode::{cases, maps};
use crate::helpers::harness::trials;
use crate::helpers::{Backend, column, parse_csv, post_as, run_vmap, test_app};

trials! {
    each_backend: [
        a_text_only_list_gets_the_registered_codes,
    ],
}

/// Registered addresses rendered as text rows.
const ROWS: usize = 60;

async fn a_text_only_list_gets_the_registered_codes(backend: &Backend) {
    let (db, registry, router) = test_app(backend, 1_500, Limits::default()).await;
    let maps = maps();
    let renderer = Renderer::new(Arc::clone(&maps));
    let cases = cases(registry.store(), &maps).await;
    assert!(cases.len() >= ROWS, "only {} cases", cases.len());
    let rendered: Vec<(String, String)> = cases
        .iter()
        .take(ROWS)
        .enumerate()
        .map(|(n, case)| {
            let style = Style::ALL[n % Style::ALL.len()];
            let text = renderer
                .render(case.ward, Some(&case.line), style, n as u64)
                .text;
            (text, case.code.clone())
        })
        .collect();
    let mut csv = String::from("id,address,lat,lon\n");
    for (n, (text, _)) in rendered.iter().enumerate() {
        let quoted = text.replace('"', "\"\"");
        csv.push_str(&format!("r{n},\"{quoted}\",,\n"));
    }
    // Text no registered address has; half a point; nothing at all; a point as before.
    csv.push_str("nowhere,\"999 Đường Không Có Thật, Hà Nội\",,\n");
    csv.push_str("half,\"12 Phố Huế, Hà Nội\",21.0285,\n");
    csv.push_str("empty,,,\n");
    csv.push_str("point,,21.0285,105.8542\n");

    let answered = post_as(&router, "/v1/assign", "text/csv", None, csv.clone()).await;
    assert_eq!(answered.status, 200, "{}", answered.text());
    let (header, rows) = parse_csv(&answered.text());
    assert_eq!(rows.len(), ROWS + 4);
    let mut found = 0;
    for (row, (text, code)) in rows.iter().zip(&rendered) {
        let cell = |name: &str| column(&header, row, name);
        // The list answers what a search answers, row for row.
        let answer = registry.search(text, 2, None);
        let best = answer
            .results
            .first()
            .expect("a result for a registered address");
        if best.level == MatchLevel::Address && !answer.ambiguous {
            assert_eq!(cell("status"), "existing", "{text}: {row:?}");
            let best_code = best.code.expect("a code at level address").to_string();
            assert_eq!(cell("code"), best_code, "{text}");
            assert_eq!(cell("postcode"), &best_code[..5]);
            assert_eq!(cell("match_level"), "address");
            assert_eq!(cell("matched_label"), best.label);
            assert!(!cell("ward_2025").is_empty(), "{row:?}");
            found += usize::from(best_code == *code);
        } else {
            assert_eq!(cell("status"), "unmatched", "{text}: {row:?}");
            assert_eq!(cell("code"), "");
            let error = cell("error_code");
            assert!(
                matches!(error, "address_not_found" | "address_ambiguous"),
                "{error}"
            );
        }
        let confidence: f64 = cell("confidence").parse().expect("a confidence");
        assert!((0.0..=1.0).contains(&confidence));
    }
    eprintln!("text-only list: {found}/{ROWS} rows found with their own code");
    // The bar is 99 % at 25 M; this small list must not fall below 95 %.
    assert!(
        found * 100 >= ROWS * 95,
        "{found}/{ROWS} found with their own code"
    );
    let tail = |at: usize, name: &str| column(&header, &rows[ROWS + at], name).to_owned();
    assert_eq!(tail(0, "status"), "unmatched");
    assert_eq!(tail(0, "error_code"), "address_not_found");
    assert!(
        !tail(0, "match_level").is_empty(),
        "Hà Nội is found: {:?}",
        rows[ROWS]
    );
    // Above the ward a result's ward is only where it is shown: not the row's.
    assert_eq!(tail(0, "match_level"), "province", "{:?}", rows[ROWS]);
    assert_eq!(tail(0, "ward_2025"), "", "{:?}", rows[ROWS]);
    assert_eq!(tail(0, "postcode"), "", "{:?}", rows[ROWS]);
    assert_eq!(tail(1, "error_code"), "missing_coordinate");
    assert_eq!(tail(2, "error_code"), "missing_coordinate");
    assert_eq!(tail(3, "status"), "created");
    assert_eq!(tail(3, "match_level"), "");
    let point_code = tail(3, "code");

    // Nothing was minted from text: sent again, the list answers the same (the point row
    // now `existing`).
    let again = post_as(&router, "/v1/assign", "text/csv", None, csv.clone()).await;
    let (_, rows_again) = parse_csv(&again.text());
    for (first, second) in rows.iter().zip(&rows_again).take(ROWS + 3) {
        assert_eq!(first, second);
    }
    assert_eq!(column(&header, &rows_again[ROWS + 3], "code"), point_code);

    // JSON rows in parts; the answer's numbers are numbers. GeoJSON places a found row at
    // its registered address.
    let (first_text, first_code) = &rendered[0];
    let case = &cases[0];
    let parts = json!([{
        "id": "parts",
        "house_number": case.line.house_number,
        "alley": case.line.alley,
        "street": case.line.street,
        "address": null,
        "province": crate::geocode::case_province(&maps, case),
    }]);
    let response = post_as(
        &router,
        "/v1/assign?format=geojson",
        "application/json",
        None,
        parts.to_string(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    let feature = &document["features"][0];
    let properties = &feature["properties"];
    assert!(properties["confidence"].is_number(), "{feature}");
    if properties["status"] == "existing" {
        let code: vmap::code::VmapCode = properties["code"]
            .as_str()
            .expect("code")
            .parse()
            .expect("a code");
        let address = registry
            .address(code)
            .await
            .expect("read")
            .expect("registered");
        assert_eq!(
            feature["geometry"]["coordinates"],
            json!([address.location.lon, address.location.lat])
        );
    } else {
        assert_eq!(feature["geometry"], Value::Null, "{feature}");
    }

    // `vmap geocode LIST -o OUT` answers the same way, registering nothing.
    let input = db.dir.path().join("texts.csv");
    let output = db.dir.path().join("texts-coded.csv");
    std::fs::write(
        &input,
        format!("id,address\nr0,\"{}\"\n", first_text.replace('"', "\"\"")),
    )
    .expect("list");
    let run = run_vmap([
        "geocode",
        input.to_str().expect("path"),
        "-o",
        output.to_str().expect("path"),
        "--database-url",
        &db.url,
        "--no-snapshot",
    ])
    .await
    .assert_success();
    assert!(run.stderr.contains("dry run"), "{}", run.stderr);
    let (header_cli, rows_cli) = parse_csv(&std::fs::read_to_string(&output).expect("output"));
    for name in ["status", "code", "match_level", "matched_label"] {
        assert_eq!(
            column(&header_cli, &rows_cli[0], name),
            column(&header, &rows[0], name),
            "{name} of {first_text} (registered as {first_code})"
        );
    }
}
