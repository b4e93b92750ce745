//! Address text over HTTP and on the command line: `GET /v1/parse` (DESIGN §9's answer,
//! its limits) and `vmap parse`.

use serde_json::Value;
use vmap::api::Limits;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, assert_problem, get, run_vmap, test_app};

trials! {
    each_backend: [
        parse_answers_both_maps_in_the_design_shape,
        parse_limits_and_bad_text,
    ],
    tokio: [parse_command_prints_the_same_json],
}

/// A few addresses are enough: the parser needs no registered address.
const N: u64 = 50;

fn unit_name(value: &Value) -> &str {
    value["name"].as_str().unwrap_or("")
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
