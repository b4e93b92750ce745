//! The operator's side: `/metrics`, request ids, compression, CORS and the per-client rate
//! limit (the drain on SIGTERM is in `drain`).

use std::io::Read;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};

use vmap::api::{self, AppState, Limits, RateLimit};

use crate::helpers::harness::trials;
use crate::helpers::metrics::{metrics_text, sample};
use crate::helpers::{
    Backend, TestResponse, assert_problem, column, get, parse_csv, post_as, send, test_app,
};

trials! {
    each_backend: [
        metrics_count_requests_by_route_and_status_and_assigned_rows,
        compressed_answers_keep_their_stream_and_trailer,
    ],
    tokio: [
        compressed_conversions_are_whole,
        request_ids_are_echoed_or_made,
        cors_is_off_by_default_and_allows_the_configured_origins,
        the_rate_limit_answers_429_per_client_with_retry_after,
    ],
}

const LIST: &str = "id,lat,lon\na,21.0285,105.8542\nb,10.7769,106.7009\nc,91,0\n";

/// A few requests and an assignment move the counters under their route templates and
/// statuses; the registry's figures are this router's.
async fn metrics_count_requests_by_route_and_status_and_assigned_rows(backend: &Backend) {
    let (_db, registry, router) = test_app(backend, 200, Limits::default()).await;
    let requests = |text: &str, route: &str, status: &str| {
        sample(
            text,
            "vmap_http_requests_total",
            &[("method", "GET"), ("route", route), ("status", status)],
        )
    };
    let rows =
        |text: &str, status: &str| sample(text, "vmap_assign_rows_total", &[("status", status)]);
    // Counters are the process's, shared with tests running alongside: compare growth.
    let before = metrics_text(&router).await;

    assert_eq!(
        get(&router, "/v1/zones?lat=21.0285&lon=105.8542")
            .await
            .status,
        200
    );
    assert_eq!(
        get(&router, "/v1/zones?lat=21.0285&lon=105.8542")
            .await
            .status,
        200
    );
    assert_eq!(
        get(&router, "/v1/zones?lat=95&lon=105.8542").await.status,
        422
    );
    let code_before = sample(
        &before,
        "vmap_http_requests_total",
        &[("route", "/v1/codes/{code}")],
    );
    get(&router, "/v1/codes/110072VJ3CR5").await;
    assert_eq!(get(&router, "/no/such/path/zzqx").await.status, 404);
    let made_up = Request::builder()
        .method(Method::from_bytes(b"ZZQXMETHOD").expect("method"))
        .uri("/healthz")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&router, made_up).await.status, 405);
    let assigned = post_as(&router, "/v1/assign", "text/csv", None, LIST).await;
    assert_eq!(assigned.status, 200, "{}", assigned.text());

    let after = metrics_text(&router).await;
    let grew = |route: &str, status: &str| {
        requests(&after, route, status) - requests(&before, route, status)
    };
    assert!(grew("/v1/zones", "200") >= 2.0, "{after}");
    assert!(grew("/v1/zones", "422") >= 1.0, "{after}");
    // The template, never the raw path: no series names a code or a made-up path.
    let code_after = sample(
        &after,
        "vmap_http_requests_total",
        &[("route", "/v1/codes/{code}")],
    );
    assert!(code_after - code_before >= 1.0, "{after}");
    assert!(grew("unmatched", "404") >= 1.0, "{after}");
    assert!(
        !after.contains("110072VJ3CR5") && !after.contains("zzqx") && !after.contains("ZZQX"),
        "{after}"
    );
    let posted = sample(
        &after,
        "vmap_http_requests_total",
        &[
            ("method", "POST"),
            ("route", "/v1/assign"),
            ("status", "200"),
        ],
    ) - sample(
        &before,
        "vmap_http_requests_total",
        &[
            ("method", "POST"),
            ("route", "/v1/assign"),
            ("status", "200"),
        ],
    );
    assert!(posted >= 1.0, "{after}");
    assert!(
        rows(&after, "created") - rows(&before, "created") >= 2.0,
        "{after}"
    );
    assert!(
        rows(&after, "error") - rows(&before, "error") >= 1.0,
        "{after}"
    );
    let timed = sample(
        &after,
        "vmap_http_request_duration_seconds_count",
        &[("route", "/v1/zones")],
    );
    assert!(timed >= 3.0, "{after}");
    assert!(
        after.contains("vmap_http_request_duration_seconds_bucket{"),
        "a histogram, not a summary: {after}"
    );

    let status = registry.status();
    assert_eq!(
        sample(&after, "vmap_index_addresses", &[]),
        status.n_indexed as f64
    );
    assert_eq!(
        sample(&after, "vmap_data_version", &[]),
        status.data_version as f64
    );
    assert_eq!(sample(&after, "vmap_ready", &[]), 1.0);
    assert_eq!(sample(&after, "vmap_draining", &[]), 0.0);
    assert_eq!(sample(&after, "vmap_database_available", &[]), 1.0);
    assert!(
        after.contains("vmap_index_load_seconds{source=\"database\"}"),
        "{after}"
    );
    assert!(after.contains("vmap_followed_change_seq "), "{after}");

    // Documented with the probes, apart from the /v1 resources, and open to all.
    let document = get(&router, "/openapi.json").await.json();
    let operation = &document["paths"]["/metrics"]["get"];
    assert_eq!(operation["tags"], serde_json::json!(["ops"]), "{operation}");
    assert!(operation.get("security").is_none(), "{operation}");
}

/// gzip and brotli as asked; a streamed assignment compressed still ends as a whole list,
/// with its `vmap-status` trailer after the compressed data.
async fn compressed_answers_keep_their_stream_and_trailer(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, 200, Limits::default()).await;
    let openapi = |encoding: &'static str| {
        Request::get("/openapi.json")
            .header("accept-encoding", encoding)
            .body(Body::empty())
            .expect("request")
    };
    let plain = get(&router, "/openapi.json").await;
    assert_eq!(plain.header("content-encoding"), None);
    let brotli = send(&router, openapi("br")).await;
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert!(brotli.body.len() < plain.body.len() / 2);
    let gzip = send(&router, openapi("gzip")).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gzip), plain.text());

    let request = Request::post("/v1/assign?dry_run=true")
        .header("content-type", "text/csv")
        .header("accept-encoding", "gzip")
        .header("te", "trailers")
        .body(Body::from(LIST))
        .expect("request");
    let answer = send(&router, request).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    assert_eq!(answer.trailer("vmap-status"), Some("complete"));
    let (header, rows) = parse_csv(&gunzip(&answer));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(column(&header, &rows[0], "status"), "created");
    assert_eq!(column(&header, &rows[2], "status"), "error");
}

/// `POST /v1/convert`, streamed, in brotli and gzip: the same results as uncompressed.
async fn compressed_conversions_are_whole() {
    let (_db, _registry, router) = test_app(&Backend::Sqlite, 50, Limits::default()).await;
    let body = serde_json::json!({"addresses": [
        "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM",
        "Phường Sài Gòn, TP. Hồ Chí Minh",
    ]})
    .to_string();
    let convert = |encoding: Option<&'static str>| {
        let mut request = Request::post("/v1/convert").header("content-type", "application/json");
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.body(Body::from(body.clone())).expect("request")
    };
    let plain = send(&router, convert(None)).await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    let gzip = send(&router, convert(Some("gzip"))).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    let unzipped: serde_json::Value = serde_json::from_str(&gunzip(&gzip)).expect("JSON");
    assert_eq!(unzipped, plain.json());
    let brotli = send(&router, convert(Some("br"))).await;
    assert_eq!(brotli.header("content-encoding"), Some("br"));
}

fn gunzip(response: &TestResponse) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(response.body.as_slice())
        .read_to_string(&mut text)
        .expect("gzip");
    text
}

/// An `x-request-id` sent is echoed; without one, the answer carries a fresh id.
async fn request_ids_are_echoed_or_made() {
    let router = api::app(AppState::loading(Limits::default()));
    let sent = Request::get("/healthz")
        .header("x-request-id", "trace-me-42")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        send(&router, sent).await.header("x-request-id"),
        Some("trace-me-42")
    );
    let first = get(&router, "/healthz").await;
    let second = get(&router, "/no-such-path").await;
    let made = |response: &TestResponse| response.header("x-request-id").map(str::to_owned);
    let (Some(first), Some(second)) = (made(&first), made(&second)) else {
        panic!("no x-request-id made");
    };
    assert_eq!(first.len(), 36, "a UUID: {first}");
    assert_ne!(first, second);
}

/// Without `--cors-origin` no CORS header is sent; with one, that origin is allowed (a
/// preflight too) and another is not.
async fn cors_is_off_by_default_and_allows_the_configured_origins() {
    let with_origin = |origin: &str| {
        Request::get("/healthz")
            .header("origin", origin)
            .body(Body::empty())
            .expect("request")
    };
    let off = api::app(AppState::loading(Limits::default()));
    let answer = send(&off, with_origin("https://maps.example.org")).await;
    assert_eq!(answer.header("access-control-allow-origin"), None);

    let on = api::app(
        AppState::loading(Limits::default())
            .with_cors_origins(vec!["https://maps.example.org".parse().expect("origin")]),
    );
    let answer = send(&on, with_origin("https://maps.example.org")).await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://maps.example.org")
    );
    assert!(
        answer
            .header("access-control-expose-headers")
            .is_some_and(|exposed| exposed.contains("x-request-id")),
        "{:?}",
        answer.headers
    );
    let other = send(&on, with_origin("https://evil.example.com")).await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/assign")
        .header("origin", "https://maps.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .body(Body::empty())
        .expect("request");
    let answer = send(&on, preflight).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("access-control-allow-methods")
            .is_some_and(|methods| methods.contains("POST")),
        "{:?}",
        answer.headers
    );
}

/// Each client gets its own allowance: by IP, or by bearer token when it presents a known
/// one; over it, 429 `rate_limited` with `Retry-After`. Probes are never limited.
async fn the_rate_limit_answers_429_per_client_with_retry_after() {
    let limit = RateLimit {
        per_second: NonZeroU32::MIN,
        burst: NonZeroU32::new(2).expect("2"),
    };
    let router = api::app(
        AppState::loading(Limits::default())
            .with_tokens(vec!["operator-token".to_owned()])
            .with_rate_limit(Some(limit)),
    );
    // The status of the index (503 while loading) is beside the point: only 429 counts.
    let from = |ip: [u8; 4], path: &str, token: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = request.body(Body::empty()).expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        request
    };
    let a = [10, 0, 0, 1];
    for _ in 0..2 {
        assert_ne!(send(&router, from(a, "/v1/status", None)).await.status, 429);
    }
    let refused = send(&router, from(a, "/v1/status", None)).await;
    let problem = assert_problem(&refused, 429, None);
    assert_eq!(problem["code"], "rate_limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|seconds| seconds.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1, "{retry_after}");
    // A made-up token counts as its IP; a known token has an allowance of its own.
    assert_eq!(
        send(&router, from(a, "/v1/status", Some("guess")))
            .await
            .status,
        429
    );
    assert_ne!(
        send(&router, from(a, "/v1/status", Some("operator-token")))
            .await
            .status,
        429
    );
    assert_ne!(
        send(&router, from([10, 0, 0, 2], "/v1/status", None))
            .await
            .status,
        429
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_ne!(
            send(&router, from(a, path, None)).await.status,
            429,
            "{path}"
        );
    }
}
