//! Single-address writes at their edges: moves a code cannot follow, re-retiring with
//! another successor; through the router, on SQLite and on PostgreSQL.

use axum::body::Body;
use axum::http::Request;

use vmap::api::Limits;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, TestResponse, assert_problem, get, post_json, send, test_app};

const SEEDED: u64 = 500;

trials! {
    each_backend: [
        a_move_beyond_what_the_code_can_reach_is_refused,
        another_successor_replaces_the_recorded_one_only_when_asked,
    ],
}

/// Registers an address at `(lat, lon)`; its code.
async fn register(router: &axum::Router, (lat, lon): (f64, f64)) -> String {
    let body = serde_json::json!({"lat": lat, "lon": lon});
    let response = post_json(router, "/v1/addresses", body.to_string()).await;
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()["code"].as_str().expect("code").to_owned()
}

async fn patch_address(router: &axum::Router, code: &str, patch: String) -> TestResponse {
    let request = Request::patch(format!("/v1/addresses/{code}"))
        .header("content-type", "application/json")
        .body(Body::from(patch))
        .expect("request");
    send(router, request).await
}

async fn a_move_beyond_what_the_code_can_reach_is_refused(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let spot = (21.0285, 105.8542); // Hoàn Kiếm, zone 11007, reference 21.030958 105.854717
    let code = register(&router, spot).await;
    // Half a degree north is still covered (another zone owns it), but a code of zone 11007
    // cannot reach it: refused, naming lat and lon, and the address stays where it was.
    let far = serde_json::json!({"lat": spot.0 + 0.5, "lon": spot.1}).to_string();
    let problem = assert_problem(&patch_address(&router, &code, far).await, 422, Some("lat"));
    assert!(problem.to_string().contains("\"lon\""), "{problem}");
    assert_eq!(problem["errors"][0]["code"], "too_far_from_reference");
    let lookup = get(&router, &format!("/v1/codes/{code}")).await.json();
    assert_eq!(lookup["location"]["lat"], spot.0);
    // A correction within reach is a move, as before.
    let near = serde_json::json!({"lat": spot.0 + 0.01, "lon": spot.1}).to_string();
    let response = patch_address(&router, &code, near).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["location"]["lat"], spot.0 + 0.01);
}

async fn retire(router: &axum::Router, code: &str, query: &str) -> TestResponse {
    let request = Request::delete(format!("/v1/addresses/{code}{query}"))
        .body(Body::empty())
        .expect("request");
    send(router, request).await
}

async fn another_successor_replaces_the_recorded_one_only_when_asked(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let old = register(&router, (16.0544, 108.2022)).await;
    let first = register(&router, (16.0554, 108.2022)).await;
    let second = register(&router, (16.0564, 108.2022)).await;
    let successor = |response: TestResponse| response.json()["successor"].clone();
    let retired = retire(&router, &old, &format!("?successor={first}")).await;
    assert_eq!(successor(retired), first.as_str());
    // The same again, or without a successor: harmless, the successor stays.
    let again = retire(&router, &old, &format!("?successor={first}")).await;
    assert_eq!(successor(again), first.as_str());
    assert_eq!(successor(retire(&router, &old, "").await), first.as_str());
    // Another one: refused, and the recorded successor stays…
    let problem = assert_problem(
        &retire(&router, &old, &format!("?successor={second}")).await,
        409,
        None,
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("replace_successor=true")),
        "{problem}"
    );
    let lookup = get(&router, &format!("/v1/codes/{old}")).await.json();
    assert_eq!(lookup["successor"], first.as_str());
    // …unless asked for.
    let replaced = retire(
        &router,
        &old,
        &format!("?successor={second}&replace_successor=true"),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(successor(replaced), second.as_str());
    assert_problem(
        &retire(&router, &old, "?replace_successor=perhaps").await,
        422,
        Some("replace_successor"),
    );
}
