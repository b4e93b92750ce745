//! Seeded registries, the router driven in process (`oneshot`), and the answers both the
//! router and a real socket give ([`TestResponse`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use vmap::api::{self, AppState, Limits};
use vmap::progress::Progress;
use vmap::registry::Registry;
use vmap::store::Store;
use vmap::zones::ZoneTable;

use super::database::{Backend, TestDb};

/// The seed every seeded test registry is made with.
pub const REGISTRY_SEED: u64 = 42;

pub fn zones() -> Arc<ZoneTable> {
    Arc::new(ZoneTable::load_default().expect("default zones load"))
}

/// A fresh database of `backend` seeded with `n` synthetic addresses.
pub async fn seeded_db(backend: &Backend, n: u64) -> TestDb {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    seed(&store, n).await;
    store.close().await;
    db
}

/// A fresh database of `backend` seeded with `n` synthetic addresses, loaded into a registry.
pub async fn seeded_registry(backend: &Backend, n: u64) -> (TestDb, Arc<Registry>) {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url).await.expect("connect");
    seed(&store, n).await;
    let registry = Registry::load(store, zones()).await.expect("load");
    (db, Arc::new(registry))
}

async fn seed(store: &Store, n: u64) {
    let progress = Progress::quiet("seeding", n);
    vmap::synth::seed(store, zones(), n, REGISTRY_SEED, &progress)
        .await
        .expect("seed");
}

/// The router over a fresh seeded database of `backend`.
pub async fn test_app(
    backend: &Backend,
    n: u64,
    limits: Limits,
) -> (TestDb, Arc<Registry>, Router) {
    let (db, registry) = seeded_registry(backend, n).await;
    let router = api::app(AppState::ready(registry.clone(), limits));
    (db, registry, router)
}

/// An answer, read to the end.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
    /// The trailer fields that followed the body, if any came.
    pub trailers: Option<axum::http::HeaderMap>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text; `None` when absent or not text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A trailer field's value as text; `None` when absent or not text.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name))
            .and_then(|value| value.to_str().ok())
    }
}

/// Sends `request` through the router and reads the whole answer.
pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = content_type(response.headers());
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes().to_vec();
    TestResponse {
        status,
        content_type,
        headers,
        body,
        trailers,
    }
}

/// The `Content-Type` of an answer, empty when it has none.
pub fn content_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub async fn get(router: &Router, uri: &str) -> TestResponse {
    send(
        router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

pub async fn post_json(router: &Router, uri: &str, body: impl Into<Body>) -> TestResponse {
    post_as(router, uri, "application/json", None, body).await
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

/// Asserts a problem+json answer with this status that names `field` (when given).
#[track_caller]
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

/// `text` percent-encoded for a query string (every byte but unreserved ASCII).
pub fn encode(text: &str) -> String {
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
