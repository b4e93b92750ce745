//! Bulk assignment and single-address writes through the router, on SQLite and on
//! PostgreSQL.

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::http::Request;

use vmap::api::{self, AppState, Limits};

use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, TestResponse, assert_problem, column, get, parse_csv, post_as, post_json, send,
    synth_csv, test_app,
};

const SEEDED: u64 = 2_000;

trials! {
    plain: [open_writes_only_on_loopback],
    each_backend: [
        a_nearer_address_registered_later_does_not_change_answers,
        a_list_gets_codes_and_the_same_list_again_gets_the_same_codes,
        every_error_code_answers_alone,
        json_and_ndjson_answer_in_kind_and_carry_unknown_fields,
        excel_csv_with_bom_and_semicolons,
        flats_in_one_building_get_suffixes_and_house_numbers_separate_places,
        dry_run_decides_without_registering,
        register_move_and_retire_are_seen_by_reverse_at_once,
        writes_need_a_token_once_tokens_are_configured,
        limits_answer_413_415_429_and_row_limit,
    ],
}

async fn assign_csv(
    router: &axum::Router,
    csv: &str,
    query: &str,
) -> (Vec<String>, Vec<Vec<String>>) {
    let response = post_as(
        router,
        &format!("/v1/assign{query}"),
        "text/csv",
        None,
        csv.to_owned(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "text/csv; charset=utf-8");
    parse_csv(&response.text())
}

fn statuses(header: &[String], rows: &[Vec<String>]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for row in rows {
        *counts
            .entry(column(header, row, "status").to_owned())
            .or_default() += 1;
    }
    counts
}

async fn a_list_gets_codes_and_the_same_list_again_gets_the_same_codes(backend: &Backend) {
    let (_db, registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let csv = synth_csv(1_500, 77);
    let (header, first) = assign_csv(&router, &csv, "").await;
    assert_eq!(first.len(), 1_500);
    assert_eq!(&header[..3], ["id", "lat", "lon"]);
    assert_eq!(
        &header[header.len() - 13..],
        [
            "code",
            "status",
            "postcode",
            "distance_m",
            "error_code",
            "error_message",
            "postcode_2025",
            "ward_2025",
            "province_2025",
            "warning",
            "match_level",
            "confidence",
            "matched_label"
        ]
    );
    let counts = statuses(&header, &first);
    assert_eq!(counts.get("error"), None, "{first:?}");
    let created = counts.get("created").copied().unwrap_or(0);
    assert!(created > 1_400, "{counts:?}");
    // Rows come back in input order, each code decodes to a cell holding the row's point.
    for (idx, row) in first.iter().enumerate() {
        assert_eq!(column(&header, row, "id"), format!("s77-{}", idx + 1));
        let code: vmap::code::VmapCode = column(&header, row, "code").parse().expect("code");
        assert_eq!(
            column(&header, row, "postcode"),
            code.postcode().to_string()
        );
    }
    let codes: Vec<&str> = first
        .iter()
        .map(|row| column(&header, row, "code"))
        .collect();
    let distinct: HashSet<&&str> = codes.iter().collect();
    assert_eq!(distinct.len(), created, "each created row has its own code");
    assert_eq!(registry.status().n_active, SEEDED + created as u64);

    let (header, second) = assign_csv(&router, &csv, "").await;
    assert_eq!(statuses(&header, &second).get("existing"), Some(&1_500));
    let again: Vec<&str> = second
        .iter()
        .map(|row| column(&header, row, "code"))
        .collect();
    assert_eq!(again, codes);
    assert!(
        second
            .iter()
            .all(|row| column(&header, row, "distance_m") == "0")
    );
    assert_eq!(
        registry.status().n_active,
        SEEDED + created as u64,
        "nothing registered twice"
    );
}

/// Same-place matching is not transitive: a later row may register an address nearer to an
/// earlier row than the one that row matched. Running the list again must still answer
/// what it answered the first time.
async fn a_nearer_address_registered_later_does_not_change_answers(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    // 1 m of longitude at 12° N is about 0.0000092°.
    let metre = 0.0000092;
    let (lat, lon) = (12.2388, 109.1967); // Nha Trang
    let first = format!("id,lat,lon,house_number\nold,{lat},{lon},9\n");
    let (header, rows) = assign_csv(&router, &first, "").await;
    let old_code = column(&header, &rows[0], "code").to_owned();
    let list = format!(
        "id,lat,lon,house_number\nnear-old,{lat},{},9\nbeyond,{lat},{},9\n",
        lon + 2.7 * metre,
        lon + 4.3 * metre
    );
    let (header, once) = assign_csv(&router, &list, "").await;
    assert_eq!(column(&header, &once[0], "code"), old_code);
    assert_eq!(column(&header, &once[1], "status"), "created");
    let (header, twice) = assign_csv(&router, &list, "").await;
    let codes = |rows: &[Vec<String>]| {
        rows.iter()
            .map(|row| column(&header, row, "code").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(&twice),
        codes(&once),
        "the second run answers as the first"
    );
    assert!(
        twice
            .iter()
            .all(|row| column(&header, row, "status") == "existing")
    );
}

async fn every_error_code_answers_alone(backend: &Backend) {
    let (_db, _registry, router) = test_app(
        backend,
        SEEDED,
        Limits {
            max_field_chars: 20,
            ..Limits::default()
        },
    )
    .await;
    let csv = "id,lat,lon,house_number,street\n\
               ok,21.0285,105.8542,1,Phố Huế\n\
               no-lat,,105.8542,1,x\n\
               words,north,105.8542,1,x\n\
               range,95,105.8542,1,x\n\
               far,-45.0,170.0,1,x\n\
               long,21.0285,105.8542,1,a street name far longer than twenty characters\n\
               short-row,21.0285\n\
               comma,\"21,0290\",\"105,8542\",2,x\n";
    let (header, rows) = assign_csv(&router, csv, "").await;
    let by_id: HashMap<&str, &Vec<String>> = rows
        .iter()
        .map(|row| (column(&header, row, "id"), row))
        .collect();
    let error_of = |id: &str| column(&header, by_id[id], "error_code").to_owned();
    assert_eq!(column(&header, by_id["ok"], "status"), "created");
    assert_eq!(error_of("no-lat"), "missing_coordinate");
    assert_eq!(error_of("words"), "invalid_coordinate");
    assert_eq!(error_of("range"), "coordinate_out_of_range");
    assert_eq!(error_of("far"), "outside_coverage");
    assert_eq!(error_of("long"), "field_too_long");
    assert_eq!(error_of("short-row"), "column_count");
    assert_eq!(
        column(&header, by_id["comma"], "status"),
        "created",
        "decimal comma is read"
    );
    for id in ["no-lat", "words", "range", "far", "long", "short-row"] {
        assert_eq!(column(&header, by_id[id], "status"), "error");
        assert!(!column(&header, by_id[id], "error_message").is_empty());
        assert!(column(&header, by_id[id], "code").is_empty());
    }

    // A row that is not UTF-8 fails alone; the rows around it are assigned.
    let mut bytes = b"id,lat,lon,street\nbefore,21.0300,105.8500,x\nbad,21.0301,105.8501,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    bytes.extend_from_slice(b"after,21.0302,105.8502,y\n");
    let response = post_as(&router, "/v1/assign", "text/csv", None, bytes).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(rows.len(), 3);
    assert_eq!(column(&header, &rows[0], "status"), "created");
    assert_eq!(column(&header, &rows[1], "error_code"), "invalid_utf8");
    assert_eq!(column(&header, &rows[2], "status"), "created");

    // A JSON field of the wrong kind fails alone too.
    let json = r#"[{"id": "ok", "lat": 21.0303, "lon": 105.8503}, {"id": "bool", "lat": true, "lon": 105.85}]"#;
    let rows = post_as(&router, "/v1/assign", "application/json", None, json)
        .await
        .json();
    assert_eq!(rows[0]["status"], "created");
    assert_eq!(rows[1]["error_code"], "invalid_field");
}

async fn json_and_ndjson_answer_in_kind_and_carry_unknown_fields(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let json = r#"[{"id": 1, "lat": 10.7769, "lon": 106.7009, "crm": {"tier": "gold"}},
                   {"id": 2, "lat": "10.7770", "lon": "106.7010"},
                   [1, 2],
                   {"id": 4, "lat": 10.7769, "lon": 106.7009, "crm": {"tier": "gold"}}]"#;
    let response = post_as(&router, "/v1/assign", "application/json", None, json).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/json");
    let rows = response.json();
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["crm"]["tier"], "gold");
    assert_eq!(rows[0]["status"], "created");
    assert_eq!(rows[1]["status"], "created");
    assert_eq!(rows[2]["status"], "error");
    assert_eq!(rows[2]["error_code"], "not_an_object");
    // The same place twice in one list: one code.
    assert_eq!(rows[3]["status"], "existing");
    assert_eq!(rows[3]["code"], rows[0]["code"]);

    let ndjson = "{\"id\":\"a\",\"lat\":16.0544,\"lon\":108.2022,\"note\":\"x\"}\n\nnot json\n{\"id\":\"b\",\"lat\":16.0545,\"lon\":108.2023}\n";
    let response = post_as(&router, "/v1/assign", "application/x-ndjson", None, ndjson).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = response
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["note"], "x");
    assert_eq!(lines[0]["status"], "created");
    assert_eq!(lines[1]["error_code"], "invalid_json");
    assert_eq!(lines[2]["status"], "created");
}

async fn excel_csv_with_bom_and_semicolons(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let csv = "\u{feff}ID;Latitude;Longitude;Street;Ghi chú\r\nk1;21,0285;105,8542;Phố Hàng Bạc;\"giao; chiều\"\r\n";
    let response = post_as(&router, "/v1/assign", "text/csv", None, csv).await;
    assert_eq!(response.status, 200);
    let text = response.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "ID;Latitude;Longitude;Street;Ghi chú;code;status;postcode;distance_m;error_code;error_message;postcode_2025;ward_2025;province_2025;warning;match_level;confidence;matched_label"
        )
    );
    let row = lines.next().expect("row");
    assert!(
        row.starts_with("k1;21,0285;105,8542;Phố Hàng Bạc;\"giao; chiều\";"),
        "{row}"
    );
    assert!(row.contains(";created;"), "{row}");
}

async fn flats_in_one_building_get_suffixes_and_house_numbers_separate_places(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let csv = "id,lat,lon,house_number,unit\n\
               a,20.8449,106.6881,5,101\n\
               b,20.8449,106.6881,5,102\n\
               c,20.8449,106.6881,5,101\n\
               d,20.8449,106.6881,7,\n";
    let (header, rows) = assign_csv(&router, csv, "").await;
    let codes: Vec<&str> = rows
        .iter()
        .map(|row| column(&header, row, "code"))
        .collect();
    let base = codes[0];
    assert_eq!(base.len(), 12);
    assert_eq!(codes[1], format!("{base}-2"));
    assert_eq!(codes[2], base, "same house number and unit: the same place");
    assert_eq!(column(&header, &rows[2], "status"), "existing");
    assert_eq!(codes[3], format!("{base}-3"));
}

async fn dry_run_decides_without_registering(backend: &Backend) {
    let (_db, registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let csv = synth_csv(300, 5);
    let (header, dry) = assign_csv(&router, &csv, "?dry_run=true").await;
    assert_eq!(statuses(&header, &dry).get("error"), None);
    assert_eq!(
        registry.status().n_active,
        SEEDED,
        "a dry run registers nothing"
    );
    let (header, real) = assign_csv(&router, &csv, "").await;
    let dry_codes: Vec<&str> = dry.iter().map(|row| column(&header, row, "code")).collect();
    let real_codes: Vec<&str> = real
        .iter()
        .map(|row| column(&header, row, "code"))
        .collect();
    assert_eq!(dry_codes, real_codes, "a dry run predicts the real codes");
    assert!(registry.status().n_active > SEEDED);
    assert_problem(
        &post_as(
            &router,
            "/v1/assign?dry_run=maybe",
            "text/csv",
            None,
            csv.clone(),
        )
        .await,
        422,
        Some("dry_run"),
    );
    assert_problem(
        &post_as(
            &router,
            "/v1/assign?match_radius_m=500",
            "text/csv",
            None,
            csv,
        )
        .await,
        422,
        Some("match_radius_m"),
    );
}

async fn register_move_and_retire_are_seen_by_reverse_at_once(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let spot = (11.9404, 108.4583); // Đà Lạt
    let body = serde_json::json!({"lat": spot.0, "lon": spot.1, "house_number": "9", "street": "Đường Trần Phú"});
    let response = post_json(&router, "/v1/addresses", body.to_string()).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let created = response.json();
    let code = created["code"].as_str().expect("code").to_owned();
    assert_eq!(created["outcome"], "created");
    // Registering the same place again answers the same code.
    let again = post_json(&router, "/v1/addresses", body.to_string()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["code"], code.as_str());
    assert_eq!(
        nearest_code(&router, spot).await.as_deref(),
        Some(code.as_str())
    );

    // Move 200 m north: the code stays, reverse finds it at the new place only.
    let moved = (spot.0 + 0.0018, spot.1);
    let patch = serde_json::json!({"lat": moved.0, "lon": moved.1, "street": null});
    let response = patch_address(&router, &code, patch.to_string()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["code"], code.as_str());
    assert!(response.json()["address"]["street"].is_null());
    assert_eq!(
        nearest_code(&router, moved).await.as_deref(),
        Some(code.as_str())
    );
    assert_ne!(
        nearest_code(&router, spot).await.as_deref(),
        Some(code.as_str())
    );

    // Retire: gone from reverse, the code still resolves, and is never issued again.
    let response = retire_address(&router, &code).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["status"], "retired");
    assert_ne!(
        nearest_code(&router, moved).await.as_deref(),
        Some(code.as_str())
    );
    let lookup = get(&router, &format!("/v1/codes/{code}")).await.json();
    assert_eq!(lookup["registered"], true);
    assert_eq!(lookup["status"], "retired");
    let same_place = serde_json::json!({"lat": moved.0, "lon": moved.1});
    let fresh = post_json(&router, "/v1/addresses", same_place.to_string()).await;
    assert_eq!(fresh.status, 201);
    assert_ne!(
        fresh.json()["code"],
        code.as_str(),
        "a retired code is never reissued"
    );
    // A retired address cannot be edited; unknown codes are 404.
    let edit = patch_address(&router, &code, "{\"unit\": \"2\"}").await;
    assert_problem(&edit, 409, None);
    assert_problem(&retire_address(&router, "111162RWXP69-9").await, 404, None);
}

/// The code of the nearest address within 50 m of `(lat, lon)`, if any.
async fn nearest_code(router: &axum::Router, (lat, lon): (f64, f64)) -> Option<String> {
    let uri = format!("/v1/reverse?lat={lat}&lon={lon}&radius_m=50");
    let body = get(router, &uri).await.json();
    body["addresses"][0]["code"].as_str().map(str::to_owned)
}

async fn patch_address(router: &axum::Router, code: &str, patch: impl Into<Body>) -> TestResponse {
    let request = Request::patch(format!("/v1/addresses/{code}"))
        .header("content-type", "application/json")
        .body(patch.into())
        .expect("request");
    send(router, request).await
}

async fn retire_address(router: &axum::Router, code: &str) -> TestResponse {
    let request = Request::delete(format!("/v1/addresses/{code}"))
        .body(Body::empty())
        .expect("request");
    send(router, request).await
}

async fn writes_need_a_token_once_tokens_are_configured(backend: &Backend) {
    let (_db, registry, _router) = test_app(backend, SEEDED, Limits::default()).await;
    let router = api::app(
        AppState::ready(registry, Limits::default())
            .with_tokens(vec!["s3cret".to_owned(), "other".to_owned()]),
    );
    let csv = "id,lat,lon\nx,21.0285,105.8542\n";
    let missing = post_as(&router, "/v1/assign", "text/csv", None, csv).await;
    assert_problem(&missing, 401, None);
    assert_problem(
        &post_as(&router, "/v1/assign", "text/csv", Some("wrong"), csv).await,
        401,
        None,
    );
    assert_problem(
        &post_as(
            &router,
            "/v1/addresses",
            "application/json",
            None,
            "{\"lat\":21,\"lon\":105}",
        )
        .await,
        401,
        None,
    );
    assert_eq!(
        post_as(&router, "/v1/assign", "text/csv", Some("other"), csv)
            .await
            .status,
        200
    );
    // Reads stay open.
    assert_eq!(
        get(&router, "/v1/reverse?lat=21.0285&lon=105.8542")
            .await
            .status,
        200
    );
}

async fn limits_answer_413_415_429_and_row_limit(backend: &Backend) {
    let (_db, registry, _router) = test_app(backend, SEEDED, Limits::default()).await;
    let limits = Limits {
        max_assign_bytes: 100,
        max_assign_rows: 2,
        ..Limits::default()
    };
    let router = api::app(AppState::ready(registry.clone(), limits));
    let big = format!("id,lat,lon\n{}", "x,21.0285,105.8542\n".repeat(10));
    // A declared length over the limit is refused before anything is read…
    let request = axum::http::Request::post("/v1/assign")
        .header("content-type", "text/csv")
        .header("content-length", big.len())
        .body(axum::body::Body::from(big.clone()))
        .expect("request");
    assert_problem(&send(&router, request).await, 413, None);
    // …and so is a body without one whose first part passes the limit: it is read before the
    // answer begins. (A body that passes it later: `assign_stream`.)
    let request = axum::http::Request::post("/v1/assign")
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(big))
        .expect("request");
    assert_problem(&send(&router, request).await, 413, None);
    assert_problem(
        &post_as(&router, "/v1/assign", "text/plain", None, "id,lat,lon\n").await,
        415,
        None,
    );
    let three = "id,lat,lon\na,21.0285,105.8542\nb,21.0286,105.8542\nc,21.0287,105.8542\n";
    let (header, rows) = assign_csv(&router, three, "").await;
    assert_eq!(column(&header, &rows[2], "error_code"), "row_limit");
    assert_ne!(column(&header, &rows[1], "status"), "error");

    let busy = api::app(AppState::ready(
        registry,
        Limits {
            max_concurrent_assign: 0,
            ..Limits::default()
        },
    ));
    let response = post_as(&busy, "/v1/assign", "text/csv", None, three).await;
    assert_problem(&response, 429, None);
}

fn open_writes_only_on_loopback() {
    use vmap::cli::check_write_safety;
    let public: std::net::SocketAddr = "0.0.0.0:8080".parse().expect("address");
    let loopback: std::net::SocketAddr = "127.0.0.1:8080".parse().expect("address");
    assert!(check_write_safety(public, &[], false).is_err());
    assert!(check_write_safety(public, &[String::new()], false).is_err());
    assert!(check_write_safety(public, &["t".to_owned()], false).is_ok());
    assert!(check_write_safety(public, &[], true).is_ok());
    assert!(check_write_safety(loopback, &[], false).is_ok());
}
