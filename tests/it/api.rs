//! The HTTP API through the router (`oneshot`), on SQLite and on PostgreSQL.

use axum::body::Body;
use axum::http::Request;

use vmap::api::{self, AppState, Limits};
use vmap::point::{LatLon, haversine_m};
use vmap::registry::{NearbyAddress, Registry, ReverseQuery};

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestDb, assert_problem, get, post_json, send, test_app};

const N: u64 = 3_000;

trials! {
    each_backend: [
        reverse_finds_the_address_at_its_own_point,
        reverse_defaults_to_one_address_within_1000_m,
        reverse_rejects_bad_parameters_naming_the_field,
        batch_reverse_answers_in_input_order,
        batch_reverse_rejects_bad_bodies,
        batch_answers_are_streamed_byte_for_byte,
        batch_requests_are_bounded_in_size_and_number,
        body_size_limit_answers_413,
        code_lookup_registered_unregistered_malformed_unknown,
        bulk_code_lookup_answers_each_code_alone,
        zones_by_postcode_and_by_point,
        ops_endpoints,
        openapi_documents_every_route_with_examples,
    ],
}

async fn app(backend: &Backend) -> (TestDb, std::sync::Arc<Registry>, axum::Router) {
    test_app(backend, N, Limits::default()).await
}

/// A registered address to aim at: the first one the index returns near Hanoi.
fn some_address(registry: &Registry) -> NearbyAddress {
    let answer = registry.reverse(
        LatLon {
            lat: 21.0285,
            lon: 105.8542,
        },
        ReverseQuery::new(1, 50_000.0).expect("valid query"),
    );
    answer
        .addresses
        .into_iter()
        .next()
        .expect("an address near Hanoi")
}

async fn reverse_finds_the_address_at_its_own_point(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let target = some_address(&registry);
    let response = get(
        &router,
        &format!("/v1/reverse?lat={}&lon={}&limit=3", target.lat, target.lon),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/json");
    let body = response.json();
    let addresses = body["addresses"].as_array().expect("addresses");
    assert!(!addresses.is_empty() && addresses.len() <= 3);
    assert_eq!(addresses[0]["distance_m"], 0.0);
    // Same place as the target (a flat in the same building may share the spot).
    let first = LatLon {
        lat: addresses[0]["lat"].as_f64().expect("lat"),
        lon: addresses[0]["lon"].as_f64().expect("lon"),
    };
    assert_eq!(
        haversine_m(
            first,
            LatLon {
                lat: target.lat,
                lon: target.lon
            }
        ),
        0.0
    );
    let distances: Vec<f64> = addresses
        .iter()
        .map(|a| a["distance_m"].as_f64().expect("distance"))
        .collect();
    assert!(
        distances.windows(2).all(|pair| pair[0] <= pair[1]),
        "{distances:?}"
    );
    assert!(
        body["zone"]["postcode"]
            .as_str()
            .is_some_and(|p| p.len() == 5)
    );
    // The cell is taken, so a new address here would get a suffix.
    let grid_code = body["grid_code"].as_str().expect("grid code");
    assert!(grid_code.contains('-'), "{grid_code}");
    assert!(grid_code.starts_with(body["zone"]["postcode"].as_str().expect("postcode")));
}

async fn reverse_defaults_to_one_address_within_1000_m(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let target = some_address(&registry);
    let body = get(
        &router,
        &format!("/v1/reverse?lat={}&lon={}", target.lat + 0.0001, target.lon),
    )
    .await
    .json();
    assert_eq!(body["addresses"].as_array().map(Vec::len), Some(1));
    // Far from everything: no address, but a zone (nearest reference within 50 km) or none.
    let body = get(&router, "/v1/reverse?lat=0&lon=0").await.json();
    assert_eq!(body["addresses"].as_array().map(Vec::len), Some(0));
    assert!(body["zone"].is_null());
    assert!(body["grid_code"].is_null());
}

async fn reverse_rejects_bad_parameters_naming_the_field(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let cases = [
        ("/v1/reverse?lon=105.8", "lat"),
        ("/v1/reverse?lat=21.0", "lon"),
        ("/v1/reverse?lat=abc&lon=105.8", "lat"),
        ("/v1/reverse?lat=NaN&lon=105.8", "lat"),
        ("/v1/reverse?lat=21&lon=inf", "lon"),
        ("/v1/reverse?lat=91&lon=105.8", "lat"),
        ("/v1/reverse?lat=21&lon=-180.5", "lon"),
        ("/v1/reverse?lat=21&lon=105&limit=0", "limit"),
        ("/v1/reverse?lat=21&lon=105&limit=101", "limit"),
        ("/v1/reverse?lat=21&lon=105&limit=-1", "limit"),
        ("/v1/reverse?lat=21&lon=105&limit=2.5", "limit"),
        ("/v1/reverse?lat=21&lon=105&radius_m=-1", "radius_m"),
        ("/v1/reverse?lat=21&lon=105&radius_m=50001", "radius_m"),
        ("/v1/reverse?lat=21&lon=105&radius_m=wide", "radius_m"),
    ];
    for (uri, field) in cases {
        let response = get(&router, uri).await;
        assert_problem(&response, 422, Some(field));
    }
    // Several problems at once are all reported.
    let problem = assert_problem(&get(&router, "/v1/reverse?limit=0").await, 422, Some("lat"));
    assert_eq!(
        problem["errors"].as_array().map(Vec::len),
        Some(3),
        "{problem}"
    );
}

async fn batch_reverse_answers_in_input_order(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let target = some_address(&registry);
    let body = serde_json::json!({
        "points": [
            {"lat": 10.7769, "lon": 106.7009, "id": "saigon"},
            {"lat": target.lat, "lon": target.lon, "id": 2},
            {"lat": -45.0, "lon": 170.0},
        ],
        "limit": 2,
        "radius_m": 5000
    });
    let response = post_json(&router, "/v1/reverse", body.to_string()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let results = response.json()["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["id"], "saigon");
    assert_eq!(results[1]["id"], 2);
    assert!(results[2].get("id").is_none());
    assert_eq!(results[1]["addresses"][0]["distance_m"], 0.0);
    assert_eq!(
        results[1]["addresses"][0]["code"],
        serde_json::json!(target.code.canonical())
    );
    // Each batch answer equals the single-point answer.
    let single = get(
        &router,
        &format!(
            "/v1/reverse?lat={}&lon={}&limit=2&radius_m=5000",
            target.lat, target.lon
        ),
    )
    .await
    .json();
    assert_eq!(results[1]["addresses"], single["addresses"]);
    assert_eq!(results[1]["grid_code"], single["grid_code"]);
}

async fn batch_reverse_rejects_bad_bodies(backend: &Backend) {
    let (_db, _registry, router) = test_app(
        backend,
        N,
        Limits {
            max_batch_items: 3,
            ..Limits::default()
        },
    )
    .await;
    assert_problem(
        &post_json(&router, "/v1/reverse", "{\"points\": [").await,
        400,
        Some("body"),
    );
    assert_problem(&post_json(&router, "/v1/reverse", "{}").await, 422, None);
    assert_problem(
        &post_json(
            &router,
            "/v1/reverse",
            r#"{"points": [{"lat": "x", "lon": 1}]}"#,
        )
        .await,
        422,
        Some("points[0].lat"),
    );
    assert_problem(
        &post_json(
            &router,
            "/v1/reverse",
            r#"{"points": [{"lat": 1, "lon": 1}, {"lat": 95, "lon": 1}]}"#,
        )
        .await,
        422,
        Some("points[1].lat"),
    );
    assert_problem(
        &post_json(&router, "/v1/reverse", r#"{"points": [], "limit": 500}"#).await,
        422,
        Some("limit"),
    );
    let four =
        r#"{"points": [{"lat":1,"lon":1},{"lat":1,"lon":1},{"lat":1,"lon":1},{"lat":1,"lon":1}]}"#;
    assert_problem(&post_json(&router, "/v1/reverse", four).await, 413, None);
    let wrong_type = Request::post("/v1/reverse")
        .header("content-type", "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    assert_problem(&send(&router, wrong_type).await, 415, None);
}

/// The answer as the frames it was sent in.
async fn frames(router: &axum::Router, uri: &str, body: String) -> Vec<Vec<u8>> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let mut body = response.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            frames.push(data.to_vec());
        }
    }
    frames
}

/// `{"results":[a,b,…]}` from the JSON of each result.
fn whole_answer(items: &[String]) -> Vec<u8> {
    format!("{{\"results\":[{}]}}", items.join(",")).into_bytes()
}

async fn batch_answers_are_streamed_byte_for_byte(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    // Enough points for several chunks; each answer is the single-point answer, byte for
    // byte (a point without an id answers exactly as GET does).
    let points = registry.sample_locations(2_100, 7);
    let body = serde_json::json!({
        "points": points.iter().map(|p| serde_json::json!({"lat": p.lat, "lon": p.lon})).collect::<Vec<_>>(),
        "limit": 3,
    });
    let streamed = frames(&router, "/v1/reverse", body.to_string()).await;
    assert!(streamed.len() > 2, "{} frames", streamed.len());
    let mut singles = Vec::new();
    for point in &points {
        let uri = format!("/v1/reverse?lat={}&lon={}&limit=3", point.lat, point.lon);
        singles.push(get(&router, &uri).await.text());
    }
    let streamed = streamed.concat();
    assert!(
        streamed == whole_answer(&singles),
        "the streamed answer differs from the built one"
    );

    // Codes: registered ones and free cells, each item the GET answer wrapped.
    let answer: serde_json::Value = serde_json::from_slice(&streamed).expect("JSON");
    let mut codes = Vec::new();
    for result in answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .take(300)
    {
        let code = result["addresses"][0]["code"].as_str().expect("code");
        let parsed: vmap::code::VmapCode = code.parse().expect("a code");
        codes.push(code.to_owned());
        codes.push(parsed.base().with_suffix(99).expect("suffix").canonical());
    }
    let streamed = frames(
        &router,
        "/v1/codes",
        serde_json::json!({ "codes": codes }).to_string(),
    )
    .await;
    assert!(streamed.len() > 2, "{} frames", streamed.len());
    let mut items = Vec::new();
    for code in &codes {
        let single = get(&router, &format!("/v1/codes/{code}")).await;
        assert_eq!(single.status, 200, "{code}: {}", single.text());
        let input = serde_json::to_string(code).expect("string");
        items.push(format!(
            "{{\"input\":{input},\"well_formed\":true,\"result\":{}}}",
            single.text()
        ));
    }
    assert!(
        streamed.concat() == whole_answer(&items),
        "the streamed code answer differs from the built one"
    );
}

async fn batch_requests_are_bounded_in_size_and_number(backend: &Backend) {
    let limits = Limits {
        max_batch_answers: 10,
        max_concurrent_batches: 1,
        ..Limits::default()
    };
    let (_db, registry, router) = test_app(backend, N, limits).await;
    let points = |n: usize| {
        let points = vec![serde_json::json!({"lat": 21.0285, "lon": 105.8542}); n];
        serde_json::json!({"points": points, "limit": 3}).to_string()
    };
    // 4 points × 3 addresses is over 10: refused before any work, naming both fields.
    let problem = assert_problem(
        &post_json(&router, "/v1/reverse", points(4)).await,
        413,
        Some("points"),
    );
    assert_eq!(problem["code"], "too_large");
    assert!(problem.to_string().contains("\"limit\""), "{problem}");
    // 3 × 3 is within it, and the slot is given back once the answer is sent.
    for _ in 0..2 {
        let response = post_json(&router, "/v1/reverse", points(3)).await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json()["results"].as_array().map(Vec::len), Some(3));
    }
    // Every slot taken: 429 with Retry-After, for both batch endpoints.
    let busy = api::app(AppState::ready(
        registry,
        Limits {
            max_concurrent_batches: 0,
            ..Limits::default()
        },
    ));
    for (uri, body) in [
        ("/v1/reverse", points(1)),
        ("/v1/codes", r#"{"codes": ["111162RWXP69"]}"#.to_owned()),
    ] {
        let response = post_json(&busy, uri, body).await;
        let problem = assert_problem(&response, 429, None);
        assert_eq!(problem["code"], "too_busy");
        assert!(response.header("retry-after").is_some(), "{uri}");
    }
    // Single reads are not batches.
    assert_eq!(get(&busy, "/v1/reverse?lat=21&lon=105").await.status, 200);
}

async fn body_size_limit_answers_413(backend: &Backend) {
    let (_db, _registry, router) = test_app(
        backend,
        N,
        Limits {
            max_body_bytes: 1_000,
            ..Limits::default()
        },
    )
    .await;
    let big = format!(
        r#"{{"points": [{}]}}"#,
        vec![r#"{"lat":1,"lon":1}"#; 200].join(",")
    );
    assert_problem(&post_json(&router, "/v1/reverse", big).await, 413, None);
}

async fn code_lookup_registered_unregistered_malformed_unknown(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let target = some_address(&registry);
    let pretty = target.code.pretty().replace(' ', "%20");
    let body = get(&router, &format!("/v1/codes/{pretty}")).await.json();
    assert_eq!(body["registered"], true);
    assert_eq!(body["code"], serde_json::json!(target.code.canonical()));
    assert_eq!(body["status"], "active");
    assert_eq!(body["location"]["lat"].as_f64(), Some(target.lat));
    assert!(
        body["address"]["street"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let (south, north) = (
        body["cell"]["south"].as_f64().expect("s"),
        body["cell"]["north"].as_f64().expect("n"),
    );
    let (west, east) = (
        body["cell"]["west"].as_f64().expect("w"),
        body["cell"]["east"].as_f64().expect("e"),
    );
    assert!(south <= target.lat && target.lat <= north && west <= target.lon && target.lon <= east);

    // The same cell with a suffix nobody holds: unregistered, decoded through the zone.
    let unused = target.code.base().with_suffix(99).expect("suffix");
    let body = get(&router, &format!("/v1/codes/{}", unused.canonical()))
        .await
        .json();
    assert_eq!(body["registered"], false);
    assert!(body["status"].is_null());
    assert_eq!(
        body["zone"]["postcode"],
        serde_json::json!(target.postcode.to_string())
    );

    let problem = assert_problem(
        &get(&router, "/v1/codes/1111I2RWXP69").await,
        400,
        Some("code"),
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("'I'")),
        "{problem}"
    );
    assert_problem(&get(&router, "/v1/codes/11116").await, 400, Some("code"));
    assert_problem(&get(&router, "/v1/codes/000002RWXP69").await, 404, None);
}

async fn bulk_code_lookup_answers_each_code_alone(backend: &Backend) {
    let (_db, registry, router) = app(backend).await;
    let target = some_address(&registry);
    let body = serde_json::json!({"codes": [target.code.pretty(), "1111I2RWXP69", "000002RWXP69", target.code.base().with_suffix(77).expect("s").canonical()]});
    let response = post_json(&router, "/v1/codes", body.to_string()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let results = response.json()["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["result"]["registered"], true);
    assert_eq!(results[1]["well_formed"], false);
    assert_eq!(results[1]["error"]["code"], "invalid_character");
    assert_eq!(results[2]["error"]["code"], "unknown_postcode");
    assert_eq!(results[3]["result"]["registered"], false);
    let (_db2, _r2, small) = test_app(
        backend,
        10,
        Limits {
            max_batch_items: 2,
            ..Limits::default()
        },
    )
    .await;
    assert_problem(
        &post_json(&small, "/v1/codes", r#"{"codes": ["a", "b", "c"]}"#).await,
        413,
        None,
    );
    assert_problem(
        &post_json(&small, "/v1/codes", r#"{"codes": "111162RWXP69"}"#).await,
        422,
        Some("codes"),
    );
}

async fn zones_by_postcode_and_by_point(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let body = get(&router, "/v1/zones/11116").await.json();
    assert_eq!(body["ward"], "Phường Phúc Xá");
    assert_eq!(body["province"], "Thành phố Hà Nội");
    assert_eq!(body["ward_type"], "urban");
    assert_problem(&get(&router, "/v1/zones/1111").await, 400, Some("postcode"));
    assert_problem(
        &get(&router, "/v1/zones/abcde").await,
        400,
        Some("postcode"),
    );
    assert_problem(&get(&router, "/v1/zones/00000").await, 404, None);

    let body = get(&router, "/v1/zones?lat=21.046798&lon=105.848112")
        .await
        .json();
    assert_eq!(body["postcode"].as_str().map(str::len), Some(5));
    assert!(body["method"].is_string());
    assert_problem(&get(&router, "/v1/zones?lat=-45&lon=170").await, 404, None);
    assert_problem(&get(&router, "/v1/zones?lat=21").await, 422, Some("lon"));
}

async fn ops_endpoints(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    assert_eq!(get(&router, "/healthz").await.text(), "ok");
    assert_eq!(get(&router, "/readyz").await.status, 200);
    let status = get(&router, "/v1/status").await.json();
    assert_eq!(status["active_addresses"], N);
    assert_eq!(status["index_size"], N);
    assert!(
        status["data_version"]
            .as_i64()
            .is_some_and(|v| v >= N as i64)
    );
    assert_problem(&get(&router, "/v2/nothing").await, 404, None);

    // While the index loads: alive, not ready, and queries say so.
    let loading = api::app(AppState::loading(Limits::default()));
    assert_eq!(get(&loading, "/healthz").await.status, 200);
    assert_problem(&get(&loading, "/readyz").await, 503, None);
    assert_problem(
        &get(&loading, "/v1/reverse?lat=21&lon=105").await,
        503,
        None,
    );
}

async fn openapi_documents_every_route_with_examples(backend: &Backend) {
    let (_db, _registry, router) = app(backend).await;
    let doc = get(&router, "/openapi.json").await.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/reverse", "get"),
        ("/v1/reverse", "post"),
        ("/v1/codes/{code}", "get"),
        ("/v1/codes", "post"),
        ("/v1/zones/{postcode}", "get"),
        ("/v1/zones", "get"),
        ("/v1/status", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "ReverseBody",
        "CodeBody",
        "ZoneBody",
        "Problem",
        "BatchReverseRequest",
        "StatusBody",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    let text = doc.to_string();
    assert!(text.contains("\"example\""), "no examples in the document");
}
