//! `GET /v1/addresses?bbox`: the addresses of a box as GeoJSON, against a scan of the
//! registry, on SQLite and on PostgreSQL.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::Request;

use vmap::api::{self, AppState, Limits};
use vmap::point::LatLonBox;
use vmap::registry::Registry;

use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, TestDb, TestResponse, assert_problem, get, post_json, send, test_app,
};

const N: u64 = 3_000;

trials! {
    each_backend: [
        boxes_answer_the_nearest_to_their_centre_as_a_scan_does,
        a_box_answer_is_geojson_with_the_registry_fields,
        retired_addresses_leave_the_box,
        bad_boxes_and_limits_answer_422_naming_the_problem,
        reading_a_box_needs_no_token,
        reverse_and_code_lookup_answer_geojson_when_asked,
        batch_reverse_and_code_lookup_answer_geojson_when_asked,
    ],
}

async fn app(backend: &Backend) -> (TestDb, std::sync::Arc<Registry>, axum::Router) {
    test_app(backend, N, Limits::default()).await
}

/// Boxes of every kind: around a city, the whole country, thin, empty, the world.
fn boxes() -> Vec<LatLonBox> {
    let mut boxes = vec![
        LatLonBox::new(105.7, 20.9, 106.0, 21.2).expect("Hanoi"),
        LatLonBox::new(102.1, 8.4, 109.5, 23.4).expect("Vietnam"),
        LatLonBox::new(105.0, 8.0, 106.0, 23.5).expect("a tall strip"),
        LatLonBox::new(100.0, 21.0, 110.0, 21.05).expect("a wide strip"),
        LatLonBox::new(110.0, 12.0, 111.0, 13.0).expect("the sea"),
        LatLonBox::new(-180.0, -90.0, 180.0, 90.0).expect("the world"),
    ];
    boxes.push(LatLonBox::new(106.6, 10.7, 106.8, 10.9).expect("Saigon"));
    boxes
}

async fn boxes_answer_the_nearest_to_their_centre_as_a_scan_does(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let mut n_truncated = 0;
    for bbox in boxes() {
        for limit in [1, 7, 100, 1_000, 5_000] {
            let fast = registry.ids_in_box(bbox, limit);
            let scan = registry.ids_in_box_brute_force(bbox, limit);
            assert_eq!(fast, scan, "{bbox:?} limit {limit}");
            n_truncated += usize::from(fast.1);
            // The router answers the same addresses, in the same order.
            let uri = format!(
                "/v1/addresses?bbox={},{},{},{}&limit={limit}",
                bbox.west, bbox.south, bbox.east, bbox.north
            );
            let response = get(&router, &uri).await;
            assert_eq!(response.status, 200, "{}", response.text());
            let body = response.json();
            assert_eq!(body["truncated"], fast.1, "{uri}");
            assert_eq!(body["limit"], limit);
            let codes: Vec<String> = body["features"]
                .as_array()
                .expect("features")
                .iter()
                .map(|feature| {
                    feature["properties"]["code"]
                        .as_str()
                        .expect("code")
                        .to_owned()
                })
                .collect();
            let rows = registry
                .store()
                .addresses_by_ids(&scan.0)
                .await
                .expect("rows");
            let code_of: HashMap<i64, String> = rows
                .iter()
                .map(|row| (row.id, row.code.canonical()))
                .collect();
            let expected: Vec<String> = scan.0.iter().map(|id| code_of[id].clone()).collect();
            assert_eq!(codes, expected, "{uri}");
        }
    }
    assert!(n_truncated > 0, "some box holds more than its limit");
}

async fn a_box_answer_is_geojson_with_the_registry_fields(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let response = get(&router, "/v1/addresses?bbox=105.7,20.9,106.0,21.2").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/geo+json");
    let body = response.json();
    assert_eq!(body["type"], "FeatureCollection");
    assert_eq!(body["limit"], 1_000);
    let features = body["features"].as_array().expect("features");
    assert!(!features.is_empty());
    for feature in features {
        assert_eq!(feature["type"], "Feature");
        assert_eq!(feature["geometry"]["type"], "Point");
        let properties = &feature["properties"];
        let code = properties["code"].as_str().expect("code");
        let stored = registry
            .address(code.parse().expect("a code"))
            .await
            .expect("lookup")
            .expect("registered");
        let [lon, lat] = [0, 1].map(|idx| {
            feature["geometry"]["coordinates"][idx]
                .as_f64()
                .expect("number")
        });
        assert_eq!((lat, lon), (stored.location.lat, stored.location.lon));
        assert!((105.7..=106.0).contains(&lon) && (20.9..=21.2).contains(&lat));
        assert_eq!(properties["status"], "active");
        assert_eq!(properties["postcode"], &code[..5]);
        assert_eq!(
            properties["house_number"].as_str(),
            stored.parts.house_number.as_deref()
        );
        assert_eq!(
            properties["street"].as_str(),
            stored.parts.street.as_deref()
        );
        assert_eq!(properties["unit"].as_str(), stored.parts.unit.as_deref());
        assert!(
            properties["ward"]
                .as_str()
                .is_some_and(|ward| !ward.is_empty())
        );
    }
}

async fn retired_addresses_leave_the_box(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let uri = "/v1/addresses?bbox=105.7,20.9,106.0,21.2&limit=5000";
    let before = get(&router, uri).await.json();
    let code = before["features"][0]["properties"]["code"]
        .as_str()
        .expect("a code")
        .to_owned();
    let retired = send(
        &router,
        Request::delete(format!("/v1/addresses/{code}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(retired.status, 200, "{}", retired.text());
    let after = get(&router, uri).await.json();
    let codes: Vec<&str> = after["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|feature| feature["properties"]["code"].as_str())
        .collect();
    assert!(!codes.contains(&code.as_str()));
    assert_eq!(
        codes.len() + 1,
        before["features"].as_array().map_or(0, Vec::len)
    );
}

async fn bad_boxes_and_limits_answer_422_naming_the_problem(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let cases = [
        ("/v1/addresses", "bbox", "missing"),
        ("/v1/addresses?bbox=", "bbox", "not_four_numbers"),
        ("/v1/addresses?bbox=1,2,3", "bbox", "not_four_numbers"),
        ("/v1/addresses?bbox=1,2,3,4,5", "bbox", "not_four_numbers"),
        ("/v1/addresses?bbox=a,2,3,4", "bbox", "not_four_numbers"),
        ("/v1/addresses?bbox=105,21,106,91", "bbox", "out_of_range"),
        ("/v1/addresses?bbox=-181,21,106,22", "bbox", "out_of_range"),
        ("/v1/addresses?bbox=106,21,105,22", "bbox", "inverted"),
        ("/v1/addresses?bbox=105,22,106,21", "bbox", "inverted"),
        (
            "/v1/addresses?bbox=105,21,106,22&limit=0",
            "limit",
            "out_of_range",
        ),
        (
            "/v1/addresses?bbox=105,21,106,22&limit=5001",
            "limit",
            "out_of_range",
        ),
        (
            "/v1/addresses?bbox=105,21,106,22&limit=many",
            "limit",
            "not_an_integer",
        ),
    ];
    for (uri, field, code) in cases {
        let problem = assert_problem(&get(&router, uri).await, 422, Some(field));
        let codes: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|error| error["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{uri}: {problem}");
    }
    // The cap is the server's: a lower one refuses what the default allows.
    let (_db, registry, _) = app(backend).await;
    let limits = Limits {
        max_bbox_limit: 10,
        ..Limits::default()
    };
    let router = api::app(AppState::ready(registry, limits));
    assert_problem(
        &get(&router, "/v1/addresses?bbox=105,21,106,22&limit=11").await,
        422,
        Some("limit"),
    );
    let body = get(&router, "/v1/addresses?bbox=102,8,110,24").await.json();
    assert_eq!(body["limit"], 10);
    assert_eq!(body["features"].as_array().map(Vec::len), Some(10));
    assert_eq!(body["truncated"], true);
}

async fn reading_a_box_needs_no_token(backend: &Backend) {
    let (_db, registry, _) = app(backend).await;
    let state = AppState::ready(registry, Limits::default()).with_tokens(vec!["secret".into()]);
    let router = api::app(state);
    let response = get(&router, "/v1/addresses?bbox=105.7,20.9,106.0,21.2&limit=3").await;
    assert_eq!(response.status, 200, "{}", response.text());
    // Registering at the same path still needs one.
    let response =
        crate::helpers::post_json(&router, "/v1/addresses", r#"{"lat":21.03,"lon":105.85}"#).await;
    assert_problem(&response, 401, None);
}

async fn reverse_and_code_lookup_answer_geojson_when_asked(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let uri = "/v1/reverse?lat=21.0285&lon=105.8542&limit=3&radius_m=50000";
    let json = get(&router, uri).await;
    assert_eq!(json.content_type, "application/json");
    let json = json.json();
    let by_param = get(&router, &format!("{uri}&format=geojson")).await;
    let by_accept = send(
        &router,
        Request::get(uri)
            .header("accept", "application/geo+json")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    for response in [by_param, by_accept] {
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.content_type, "application/geo+json");
        let body = response.json();
        assert_eq!(body["type"], "FeatureCollection");
        assert_eq!(body["query"], json["query"]);
        assert_eq!(body["zone"], json["zone"]);
        assert_eq!(body["grid_code"], json["grid_code"]);
        let features = body["features"].as_array().expect("features");
        let addresses = json["addresses"].as_array().expect("addresses");
        assert_eq!(features.len(), 3);
        for (feature, address) in features.iter().zip(addresses) {
            assert_eq!(feature["type"], "Feature");
            assert_eq!(feature["geometry"]["type"], "Point");
            assert_eq!(
                feature["geometry"]["coordinates"],
                serde_json::json!([address["lon"], address["lat"]])
            );
            assert_eq!(&feature["properties"], address);
        }
    }
    // `format=json` wins over the Accept header; an unknown format is refused.
    let explicit = send(
        &router,
        Request::get(format!("{uri}&format=json"))
            .header("accept", "application/geo+json")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(explicit.content_type, "application/json");
    assert_problem(
        &get(&router, &format!("{uri}&format=kml")).await,
        422,
        Some("format"),
    );

    let code = json["addresses"][0]["code"].as_str().expect("a code");
    let plain = get(&router, &format!("/v1/codes/{code}")).await.json();
    let response = get(&router, &format!("/v1/codes/{code}?format=geojson")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/geo+json");
    let feature = response.json();
    assert_eq!(feature["type"], "Feature");
    assert_eq!(
        feature["geometry"]["coordinates"],
        serde_json::json!([plain["location"]["lon"], plain["location"]["lat"]])
    );
    assert_eq!(feature["properties"], plain);
    assert_problem(
        &get(&router, &format!("/v1/codes/{code}?format=kml")).await,
        422,
        Some("format"),
    );
}

/// `POST` `body` to `uri` as JSON, asking GeoJSON by `Accept`.
async fn post_accepting_geojson(router: &axum::Router, uri: &str, body: &str) -> TestResponse {
    send(
        router,
        Request::post(uri)
            .header("content-type", "application/json")
            .header("accept", "application/geo+json")
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
    .await
}

/// The features of a streamed GeoJSON batch answer, checked to be Features in a
/// FeatureCollection served as `application/geo+json`.
fn features_of(response: &TestResponse) -> Vec<serde_json::Value> {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/geo+json");
    let body = response.json();
    assert_eq!(body["type"], "FeatureCollection");
    let features = body["features"].as_array().expect("features").clone();
    for feature in &features {
        assert_eq!(feature["type"], "Feature");
    }
    features
}

async fn batch_reverse_and_code_lookup_answer_geojson_when_asked(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    // Hanoi, Saigon, and the open sea (no address within the radius).
    let request = serde_json::json!({
        "points": [
            {"lat": 21.0285, "lon": 105.8542, "id": "hn"},
            {"lat": 10.7769, "lon": 106.7009, "id": 7},
            {"lat": 12.5, "lon": 110.5},
        ],
        "limit": 2,
        "radius_m": 20000,
    })
    .to_string();
    let json = post_json(&router, "/v1/reverse", request.clone()).await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.content_type, "application/json");
    let json = json.json();
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    let by_param = post_json(&router, "/v1/reverse?format=geojson", request.clone()).await;
    let by_accept = post_accepting_geojson(&router, "/v1/reverse", &request).await;
    for response in [by_param, by_accept] {
        let features = features_of(&response);
        assert_eq!(features.len(), results.len());
        for (feature, result) in features.iter().zip(results) {
            assert_eq!(feature["geometry"]["type"], "Point");
            assert_eq!(
                feature["geometry"]["coordinates"],
                serde_json::json!([result["query"]["lon"], result["query"]["lat"]])
            );
            assert_eq!(&feature["properties"], result);
        }
    }
    let explicit = post_accepting_geojson(&router, "/v1/reverse?format=json", &request).await;
    assert_eq!(explicit.content_type, "application/json");
    assert_eq!(explicit.json(), json);
    assert_problem(
        &post_json(&router, "/v1/reverse?format=kml", request).await,
        422,
        Some("format"),
    );

    // A registered code, an unregistered one, a malformed one, an unknown postal code.
    let registered = results[0]["addresses"][0]["code"].as_str().expect("a code");
    let unregistered = results[2]["grid_code"].as_str().unwrap_or("111162RWXP69");
    let request = serde_json::json!({
        "codes": [registered, unregistered, "1111I2RWXP69", "000002RWXP69"],
    })
    .to_string();
    let json = post_json(&router, "/v1/codes", request.clone()).await;
    assert_eq!(json.status, 200, "{}", json.text());
    let json = json.json();
    let items = json["results"].as_array().expect("results");
    assert_eq!(items.len(), 4);
    assert!(items[2]["error"].is_object(), "{}", items[2]);
    let by_param = post_json(&router, "/v1/codes?format=geojson", request.clone()).await;
    let by_accept = post_accepting_geojson(&router, "/v1/codes", &request).await;
    for response in [by_param, by_accept] {
        let features = features_of(&response);
        assert_eq!(features.len(), items.len());
        for (feature, item) in features.iter().zip(items) {
            assert_eq!(&feature["properties"], item);
            match item.get("result") {
                Some(result) => {
                    assert_eq!(feature["geometry"]["type"], "Point");
                    assert_eq!(
                        feature["geometry"]["coordinates"],
                        serde_json::json!([result["location"]["lon"], result["location"]["lat"]])
                    );
                }
                None => assert!(feature["geometry"].is_null(), "{feature}"),
            }
        }
    }
    let explicit = post_accepting_geojson(&router, "/v1/codes?format=json", &request).await;
    assert_eq!(explicit.content_type, "application/json");
    assert_problem(
        &post_json(&router, "/v1/codes?format=kml", request).await,
        422,
        Some("format"),
    );
}
