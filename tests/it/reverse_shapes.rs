//! `POST /v1/reverse` in every shape: `zones=by_postcode`, `fields`, NDJSON and CSV, each
//! held to the default inline JSON answer for the same points.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use vmap::api::Limits;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, TestResponse, assert_problem, post_json, send, test_app};

trials! {
    each_backend: [
        by_postcode_lists_each_zone_once_and_answers_the_same_points,
        fields_show_only_the_members_named,
        ndjson_and_csv_carry_the_same_answers,
        bad_shapes_answer_422_naming_the_parameter,
    ],
}

async fn app(
    backend: &Backend,
) -> (
    TestDb,
    std::sync::Arc<vmap::registry::Registry>,
    axum::Router,
) {
    test_app(backend, 2_000, Limits::default()).await
}

/// Points near registered addresses, one at sea (no zone, no address), ids on most.
fn request_body(registry: &vmap::registry::Registry) -> Value {
    let mut points: Vec<Value> = registry
        .sample_locations(60, 11)
        .iter()
        .enumerate()
        .map(|(idx, point)| json!({"lat": point.lat + 1e-4, "lon": point.lon, "id": format!("p{idx}")}))
        .collect();
    points.push(json!({"lat": 12.5, "lon": 112.0, "id": 99}));
    points.push(json!({"lat": 21.0285, "lon": 105.8542}));
    json!({"points": points, "limit": 2, "radius_m": 300})
}

async fn post_accepting(
    router: &axum::Router,
    uri: &str,
    accept: &str,
    body: &Value,
) -> TestResponse {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(Body::from(body.to_string()))
        .expect("request");
    send(router, request).await
}

fn results(answer: &Value) -> &Vec<Value> {
    answer["results"].as_array().expect("results")
}

/// The zone members that belong to the zone rather than to the point.
const ZONE_OWN: [&str; 9] = [
    "postcode",
    "ward_code",
    "ward",
    "ward_type",
    "district",
    "province",
    "reference",
    "bbox",
    "table",
];

async fn by_postcode_lists_each_zone_once_and_answers_the_same_points(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let mut body = request_body(&registry);
    let inline = post_json(&router, "/v1/reverse", body.to_string()).await;
    assert_eq!(inline.status, 200, "{}", inline.text());
    let inline = inline.json();
    body["zones"] = json!("by_postcode");
    let by_postcode = post_json(&router, "/v1/reverse", body.to_string()).await;
    assert_eq!(by_postcode.status, 200, "{}", by_postcode.text());
    assert_eq!(by_postcode.content_type, "application/json");
    let by_postcode = by_postcode.json();
    let zones = by_postcode["zones"].as_object().expect("a zones map");
    let (whole, short) = (results(&inline), results(&by_postcode));
    assert_eq!(whole.len(), short.len());
    let mut used = BTreeSet::new();
    for (whole, short) in whole.iter().zip(short) {
        assert_eq!(whole["id"], short["id"]);
        assert_eq!(whole["query"], short["query"]);
        assert_eq!(whole["addresses"], short["addresses"]);
        assert_eq!(whole["grid_code"], short["grid_code"]);
        if whole["zone"].is_null() {
            assert!(short["zone"].is_null(), "{short}");
            continue;
        }
        let postcode = short["zone"].as_str().expect("the zone's postcode");
        assert_eq!(whole["zone"]["postcode"], json!(postcode));
        let listed = &zones[postcode];
        for member in ZONE_OWN {
            assert_eq!(
                listed[member], whole["zone"][member],
                "{member} of {postcode}"
            );
        }
        // A 2025 zone's own ward is the point's 2025 ward; the point's legacy ward is only
        // inline.
        if whole["zone"]["table"] == "2025" {
            assert_eq!(
                listed["admin_2025"]["ward"],
                whole["zone"]["admin_2025"]["ward"]
            );
            assert_eq!(listed["admin_2025"]["method"], "zone");
            assert!(listed["legacy"].is_null(), "{listed}");
        }
        assert!(listed.get("method").is_none(), "{listed}");
        used.insert(postcode.to_owned());
    }
    assert!(
        results(&by_postcode)
            .iter()
            .any(|result| result["zone"].is_null())
    );
    assert!(used.len() > 3, "{used:?}");
    assert_eq!(zones.keys().cloned().collect::<BTreeSet<_>>(), used);

    // GeoJSON takes the same list as a foreign member.
    let geojson = post_json(&router, "/v1/reverse?format=geojson", body.to_string()).await;
    assert_eq!(geojson.status, 200, "{}", geojson.text());
    let geojson = geojson.json();
    assert_eq!(geojson["zones"], by_postcode["zones"]);
    let features = geojson["features"].as_array().expect("features");
    assert_eq!(features.len(), short.len());
    for (feature, result) in features.iter().zip(short) {
        assert_eq!(&feature["properties"], result);
        assert_eq!(
            feature["geometry"]["coordinates"][1],
            result["query"]["lat"]
        );
    }
}

async fn fields_show_only_the_members_named(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let mut body = request_body(&registry);
    let inline = post_json(&router, "/v1/reverse", body.to_string())
        .await
        .json();
    let lean = post_json(
        &router,
        "/v1/reverse?fields=code,distance_m",
        body.to_string(),
    )
    .await;
    assert_eq!(lean.status, 200, "{}", lean.text());
    let lean = lean.json();
    for (whole, lean) in results(&inline).iter().zip(results(&lean)) {
        let members: BTreeSet<&str> = lean
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let expected: BTreeSet<&str> = if whole.get("id").is_some() {
            ["id", "addresses"].into()
        } else {
            ["addresses"].into()
        };
        assert_eq!(members, expected, "{lean}");
        let addresses = whole["addresses"].as_array().expect("addresses");
        let lean_addresses = lean["addresses"].as_array().expect("addresses");
        assert_eq!(addresses.len(), lean_addresses.len());
        for (address, lean_address) in addresses.iter().zip(lean_addresses) {
            assert_eq!(
                lean_address,
                &json!({"code": address["code"], "distance_m": address["distance_m"]})
            );
        }
    }
    // In the body too; a zone without addresses, by postcode.
    body["fields"] = json!(["zone", "grid_code"]);
    body["zones"] = json!("by_postcode");
    let zones_only = post_json(&router, "/v1/reverse", body.to_string())
        .await
        .json();
    for (whole, short) in results(&inline).iter().zip(results(&zones_only)) {
        assert!(
            short.get("addresses").is_none() && short.get("query").is_none(),
            "{short}"
        );
        assert_eq!(short["grid_code"], whole["grid_code"]);
        assert_eq!(short["zone"], whole["zone"]["postcode"]);
    }
    assert!(
        zones_only["zones"]
            .as_object()
            .is_some_and(|zones| !zones.is_empty())
    );
}

async fn ndjson_and_csv_carry_the_same_answers(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let mut body = request_body(&registry);
    body["points"][0]["id"] = json!("=1+1");
    let inline = post_json(&router, "/v1/reverse", body.to_string())
        .await
        .json();
    let mut by_postcode_body = body.clone();
    by_postcode_body["zones"] = json!("by_postcode");
    let by_postcode = post_json(&router, "/v1/reverse", by_postcode_body.to_string())
        .await
        .json();

    // NDJSON, by postcode: a zones line before the first result that uses each zone.
    let ndjson = post_accepting(
        &router,
        "/v1/reverse",
        "application/x-ndjson",
        &by_postcode_body,
    )
    .await;
    assert_eq!(ndjson.status, 200, "{}", ndjson.text());
    assert_eq!(ndjson.content_type, "application/x-ndjson");
    let mut known = serde_json::Map::new();
    let mut lines = Vec::new();
    for line in ndjson.text().lines() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        if let Some(zones) = value.get("zones").and_then(Value::as_object) {
            for (postcode, zone) in zones {
                assert!(
                    known.insert(postcode.clone(), zone.clone()).is_none(),
                    "{postcode} twice"
                );
            }
            continue;
        }
        if let Some(postcode) = value["zone"].as_str() {
            assert!(
                known.contains_key(postcode),
                "{postcode} used before its line"
            );
        }
        lines.push(value);
    }
    assert_eq!(&lines, results(&by_postcode));
    assert_eq!(Value::Object(known), by_postcode["zones"]);

    // CSV, inline: a row per address, one for a point with none; by `?format`.
    let csv = post_json(
        &router,
        "/v1/reverse?format=csv&csv_safe=true",
        body.to_string(),
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(csv.body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|column| column == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    let mut at = 0;
    for (idx, result) in results(&inline).iter().enumerate() {
        let addresses = result["addresses"].as_array().expect("addresses");
        let expected_id = match &result["id"] {
            Value::Null => String::new(),
            Value::String(_) if idx == 0 => "'=1+1".to_owned(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        for rank in 0..addresses.len().max(1) {
            let row = &rows[at];
            at += 1;
            assert_eq!(&row[column("id")], expected_id);
            let address = addresses.get(rank);
            assert_eq!(
                &row[column("code")],
                address
                    .and_then(|address| address["code"].as_str())
                    .unwrap_or("")
            );
            assert_eq!(
                row[column("distance_m")].parse::<f64>().ok(),
                address.and_then(|address| address["distance_m"].as_f64())
            );
            assert_eq!(
                &row[column("zone_postcode")],
                result["zone"]["postcode"].as_str().unwrap_or("")
            );
            assert_eq!(
                &row[column("ward_2025")],
                result["zone"]["admin_2025"]["ward"]["name"]
                    .as_str()
                    .unwrap_or("")
            );
            assert_eq!(
                &row[column("legacy_ward")],
                result["zone"]["legacy"]["ward"]["name"]
                    .as_str()
                    .unwrap_or("")
            );
            assert_eq!(
                &row[column("grid_code")],
                result["grid_code"].as_str().unwrap_or("")
            );
        }
    }
    assert_eq!(at, rows.len(), "rows beyond the answers");
}

async fn bad_shapes_answer_422_naming_the_parameter(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let mut body = request_body(&registry);
    for (uri, field) in [
        ("/v1/reverse?zones=all", "zones"),
        ("/v1/reverse?fields=code,ward", "fields"),
        ("/v1/reverse?fields=", "fields"),
        ("/v1/reverse?format=xml", "format"),
        ("/v1/reverse?format=csv&csv_safe=maybe", "csv_safe"),
    ] {
        assert_problem(
            &post_json(&router, uri, body.to_string()).await,
            422,
            Some(field),
        );
    }
    // The query wins over the body.
    body["zones"] = json!("by_postcode");
    let answer = post_json(&router, "/v1/reverse?zones=inline", body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.json().get("zones").is_none());
    // An empty list in the body is refused even when the query would override it.
    let mut empty_fields = body.clone();
    empty_fields["fields"] = json!([]);
    assert_problem(
        &post_json(&router, "/v1/reverse?fields=code", empty_fields.to_string()).await,
        422,
        Some("fields"),
    );
    body["zones"] = json!("everything");
    assert_eq!(
        post_json(&router, "/v1/reverse", body.to_string())
            .await
            .status,
        422
    );
}
