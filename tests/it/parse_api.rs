//! Address text over HTTP and on the command line: `GET /v1/parse` (DESIGN §9's answer,
//! its limits), `POST /v1/convert` (input order, split wards decided by a coordinate,
//! errors per item, limits) and `vmap parse`.

use serde_json::Value;
use vmap::api::Limits;

use crate::helpers::encode;
use crate::helpers::harness::trials;
use vmap::zones::Map2025;

use crate::helpers::{Backend, assert_problem, get, post_json, run_vmap, test_app};

trials! {
    each_backend: [
        parse_answers_both_maps_in_the_design_shape,
        parse_limits_and_bad_text,
        convert_answers_each_address_in_order,
    ],
    tokio: [parse_command_prints_the_same_json],
}

/// A few addresses are enough: the parser needs no registered address.
const N: u64 = 50;

fn unit_name(value: &Value) -> &str {
    value["name"].as_str().unwrap_or("")
}

async fn parse_answers_both_maps_in_the_design_shape(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, N, Limits::default()).await;

    let text = "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM";
    let response = get(&router, &format!("/v1/parse?q={}", encode(text))).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["query"], text);
    assert_eq!(body["structure"], "legacy");
    assert_eq!(unit_name(&body["legacy"]["ward"]), "Phường 13");
    assert_eq!(unit_name(&body["legacy"]["district"]), "Quận Phú Nhuận");
    assert_eq!(body["legacy"]["ward"]["type"], "phuong");
    assert_eq!(body["legacy"]["district"]["type"], "quan");
    assert!(body["legacy"]["postcode"].is_string(), "{body}");
    assert_eq!(
        unit_name(&body["admin_2025"]["province"]),
        "Thành phố Hồ Chí Minh"
    );
    assert!(body["admin_2025"]["ward"]["code"].is_string(), "{body}");
    assert_eq!(body["house_number"], "12/3");
    assert_eq!(body["street"], "Lê Văn Sỹ");
    assert!(
        body["alley"]
            .as_str()
            .is_some_and(|alley| alley.contains("45"))
    );
    assert_eq!(body["ambiguous"], false);
    let confidence = body["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&confidence));
    for key in ["alternatives", "unused", "conflicts"] {
        assert!(body[key].is_array(), "{key}: {body}");
    }
    for alternative in body["alternatives"].as_array().expect("array") {
        assert!(alternative.get("alternatives").is_none());
        assert!(alternative["legacy"].is_object());
    }

    // The 2025 form: a 2025 ward named without a district.
    let response = get(
        &router,
        &format!("/v1/parse?q={}", encode("Phường Sài Gòn, TP. Hồ Chí Minh")),
    )
    .await;
    let body = response.json();
    assert_eq!(body["structure"], "2025");
    assert_eq!(unit_name(&body["admin_2025"]["ward"]), "Phường Sài Gòn");
    assert!(body["admin_2025"]["postcode"].is_string(), "{body}");

    // New and old names together, contradicting each other: resolved and reported.
    let response = get(
        &router,
        &format!("/v1/parse?q={}", encode("Phường Sài Gòn, Quận 3, TP.HCM")),
    )
    .await;
    let body = response.json();
    assert_eq!(body["ambiguous"], true, "{body}");
    let conflicts = body["conflicts"].as_array().expect("conflicts");
    assert!(
        conflicts
            .iter()
            .any(|c| c["text"] == "Quận 3" && c["map"] == "legacy"),
        "{body}"
    );
}

async fn parse_limits_and_bad_text(backend: &Backend) {
    let limits = Limits {
        max_parse_chars: 40,
        ..Limits::default()
    };
    let (_db, _registry, router) = test_app(backend, N, limits).await;

    assert_problem(&get(&router, "/v1/parse").await, 422, Some("q"));
    let long = "a".repeat(41);
    let problem = assert_problem(
        &get(&router, &format!("/v1/parse?q={long}")).await,
        422,
        Some("q"),
    );
    assert_eq!(problem["errors"][0]["code"], "too_long");
    assert_problem(&get(&router, "/v1/parse?q=a&q=b").await, 400, Some("q"));

    // Text that names nothing is read as nothing, never an error.
    for text in [
        "",
        "!!!,,,",
        "😀🏠",
        "\u{1}\u{7f}",
        "\u{301}\u{301}",
        &"x".repeat(40),
    ] {
        let response = get(&router, &format!("/v1/parse?q={}", encode(text))).await;
        assert_eq!(
            response.status.as_u16(),
            200,
            "{text:?}: {}",
            response.text()
        );
        let body = response.json();
        assert_eq!(body["structure"], "unknown", "{text:?}: {body}");
        assert!(body["legacy"]["ward"].is_null());
        assert!(body["admin_2025"]["ward"].is_null());
    }
}

async fn parse_command_prints_the_same_json() {
    let run = run_vmap([
        "parse",
        "--compact",
        "so 7 ngo 12 pho hue, hai ba trung, ha noi",
    ])
    .await
    .assert_success();
    let body: Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    assert_eq!(unit_name(&body["legacy"]["district"]), "Quận Hai Bà Trưng");
    assert_eq!(unit_name(&body["legacy"]["province"]), "Thành phố Hà Nội");
    assert_eq!(body["house_number"], "7");
    assert_eq!(body["street"], "pho hue");
    assert_eq!(body["alley"], "Ngõ 12");
}

async fn convert_answers_each_address_in_order(backend: &Backend) {
    let limits = Limits {
        max_convert_items: 5,
        max_parse_chars: 200,
        ..Limits::default()
    };
    let (_db, _registry, router) = test_app(backend, N, limits).await;
    let map = Map2025::embedded().expect("the 2025 map");
    let maps = map.admin();
    // A legacy ward split among several 2025 wards, and a point inside its second target.
    let (split, second) = maps
        .legacy_ward_ids()
        .find_map(|id| {
            let ward = maps.legacy_ward(id);
            let second = *ward.targets.get(1)?;
            let boundary = map.boundary_ward(second)?;
            Some((id, (second, map.index().ward(boundary).reference)))
        })
        .expect("a split ward");
    let ward = maps.legacy_ward(split);
    let text = format!(
        "{}, {}, {}",
        ward.name,
        maps.legacy_district(ward.district).name,
        maps.legacy_province(ward.province).name
    );
    let (target, point) = second;
    let body = serde_json::json!({"addresses": [
        "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM",
        text,
        {"text": text, "lat": point.lat, "lon": point.lon},
        {"text": "Phường Sài Gòn, TP. Hồ Chí Minh", "lat": 91.0, "lon": 0.0},
        "Phường Sài Gòn, TP. Hồ Chí Minh",
    ]});
    let response = post_json(&router, "/v1/convert", body.to_string()).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text());
    let answer = response.json();
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 5);

    let first = &results[0];
    assert_eq!(
        first["admin_2025"]["address"],
        "12/3 Hẻm 45 Lê Văn Sỹ, Phường Phú Nhuận, Thành phố Hồ Chí Minh"
    );
    assert!(first["admin_2025"]["postcode"].is_string(), "{first}");
    assert_eq!(unit_name(&first["legacy"][0]["ward"]), "Phường 13");
    assert_eq!(
        unit_name(&first["parse"]["legacy"]["district"]),
        "Quận Phú Nhuận"
    );

    let by_default = &results[1];
    assert_eq!(
        by_default["admin_2025"]["method"], "default",
        "{by_default}"
    );
    let candidates = by_default["admin_2025"]["candidates"]
        .as_array()
        .expect("array");
    assert_eq!(candidates.len(), ward.targets.len());
    assert_eq!(candidates[0]["code"], maps.ward(ward.targets[0]).code);

    let by_point = &results[2];
    assert_eq!(by_point["admin_2025"]["method"], "point", "{by_point}");
    assert_eq!(
        by_point["admin_2025"]["ward"]["code"],
        maps.ward(target).code
    );

    assert_eq!(results[3]["error"]["code"], "invalid_location");
    assert!(results[3].get("parse").is_none());

    let written = &results[4];
    assert_eq!(written["admin_2025"]["method"], "written");
    let legacy = written["legacy"].as_array().expect("legacy wards");
    assert!(legacy.len() >= 2, "{written}");
    assert!(legacy.iter().all(|ward| ward["postcode"].is_string()));

    let too_many = serde_json::json!({"addresses": ["a", "b", "c", "d", "e", "f"]});
    assert_problem(
        &post_json(&router, "/v1/convert", too_many.to_string()).await,
        413,
        None,
    );
    let long = serde_json::json!({"addresses": ["x".repeat(201)]});
    let answer = post_json(&router, "/v1/convert", long.to_string())
        .await
        .json();
    assert_eq!(answer["results"][0]["error"]["code"], "too_long");
    assert_problem(
        &post_json(&router, "/v1/convert", r#"{"addresses": [1]}"#).await,
        422,
        None,
    );
}
