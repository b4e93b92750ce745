//! Helpers shared by the integration tests: a fresh SQLite file per test.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use vmap::api::{self, AppState, Limits};
use vmap::progress::Progress;
use vmap::registry::{self, Registry};
use vmap::store::Store;
use vmap::zones::ZoneTable;

pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("vmap.db").display());
        TestDb { dir, url }
    }
}

pub fn zones() -> Arc<ZoneTable> {
    Arc::new(ZoneTable::load_default().expect("default zones load"))
}

/// A real SQLite file seeded with `n` synthetic addresses, loaded into a registry.
pub async fn seeded_registry(n: u64) -> (TestDb, Arc<Registry>) {
    let db = TestDb::new();
    let zones = zones();
    let store = Store::connect(&db.url).await.expect("connect");
    registry::seed(&store, zones.clone(), n, 42, &Progress::quiet("seeding", n))
        .await
        .expect("seed");
    let registry = Registry::load(store, zones).await.expect("load");
    (db, Arc::new(registry))
}

pub async fn test_app(n: u64, limits: Limits) -> (TestDb, Arc<Registry>, Router) {
    let (db, registry) = seeded_registry(n).await;
    let router = api::app(AppState::ready(registry.clone(), limits));
    (db, registry, router)
}

pub struct TestResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    TestResponse {
        status,
        content_type,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> TestResponse {
    send(
        router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub async fn post_json(router: &Router, uri: &str, body: impl Into<Body>) -> TestResponse {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request");
    send(router, request).await
}

/// Asserts a problem+json answer with this status that names `field` (when given).
pub fn assert_problem(
    response: &TestResponse,
    status: u16,
    field: Option<&str>,
) -> serde_json::Value {
    assert_eq!(
        response.status.as_u16(),
        status,
        "body: {}",
        response.text()
    );
    assert_eq!(
        response.content_type,
        "application/problem+json",
        "body: {}",
        response.text()
    );
    let problem = response.json();
    assert_eq!(problem["status"], status);
    assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["detail"].as_str().is_some_and(|t| !t.is_empty()));
    if let Some(field) = field {
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["field"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            fields.contains(&field),
            "expected field {field} in {problem}"
        );
    }
    problem
}

/// A synthetic CSV list of `n` addresses (not registered).
pub fn synth_csv(n: u64, seed: u64) -> String {
    let mut bytes = Vec::new();
    vmap::synth::write_csv(&zones(), n, seed, &mut bytes).expect("write csv");
    String::from_utf8(bytes).expect("utf-8")
}

/// POSTs `body` with a content type (and optional bearer token).
pub async fn post_as(
    router: &Router,
    uri: &str,
    content_type: &str,
    token: Option<&str>,
    body: impl Into<Body>,
) -> TestResponse {
    let mut request = Request::post(uri).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(router, request.body(body.into()).expect("request")).await
}

/// Parses a CSV answer into its header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The value of `column` in `row`.
pub fn column<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let position = header
        .iter()
        .position(|name| name == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    row[position].as_str()
}
