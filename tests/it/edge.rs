//! The HTTP edge as a hostile client sees it: every error is problem+json (axum's own ones
//! included), the bearer scheme in any case, a read-only server that says so, and the
//! OpenAPI document as this server answers.

use axum::body::Body;
use axum::http::Request;
use vmap::api::{self, AppState, Limits};

use crate::helpers::harness::trials;
use crate::helpers::{Backend, assert_problem, get, post_as, seeded_registry, send};

trials! {
    tokio: [
        errors_axum_answers_itself_are_problem_json,
        the_bearer_scheme_is_matched_in_any_case,
        a_read_only_server_refuses_writes_with_403_and_serves_dry_runs,
        the_document_declares_security_and_availability_as_served,
        requests_mean_one_thing_or_are_refused,
        a_json_list_that_is_not_an_array_is_refused_before_the_answer,
    ],
}

const LIST: &str = "ref,lat,lon,house_number,street\na,21.0285,105.8542,1,Tràng Tiền\n";

async fn router(
    state: impl FnOnce(AppState) -> AppState,
) -> (crate::helpers::TestDb, axum::Router) {
    let (db, registry) = seeded_registry(&Backend::Sqlite, 200).await;
    let router = api::app(state(AppState::ready(registry, Limits::default())));
    (db, router)
}

async fn errors_axum_answers_itself_are_problem_json() {
    let (_db, router) = router(|state| state).await;

    // A method the route does not answer: 405, problem+json, and the Allow header kept.
    let response = send(
        &router,
        Request::delete("/v1/reverse")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let allow = response
        .headers
        .get("allow")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow:?}"
    );
    let problem = assert_problem(&response, 405, None);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("DELETE")),
        "{problem}"
    );

    // A path segment that is not UTF-8 once percent-decoded.
    assert_problem(&get(&router, "/v1/codes/%FF%FE").await, 400, None);
    assert_problem(&get(&router, "/v1/zones/%C3%28").await, 400, None);

    // Unknown endpoints and bodies over the limit were problem+json already; still are.
    assert_problem(&get(&router, "/v2/nothing").await, 404, None);
    let small = api::app(AppState::ready(
        seeded_registry(&Backend::Sqlite, 10).await.1,
        Limits {
            max_body_bytes: 64,
            ..Limits::default()
        },
    ));
    let big = format!(
        "{{\"points\":[{}]}}",
        vec!["{\"lat\":21,\"lon\":105}"; 20].join(",")
    );
    assert_problem(
        &post_as(&small, "/v1/reverse", "application/json", None, big).await,
        413,
        None,
    );
}

async fn the_bearer_scheme_is_matched_in_any_case() {
    let (_db, router) = router(|state| state.with_tokens(vec!["s3cret".to_owned()])).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let request = Request::post("/v1/assign?dry_run=true")
            .header("content-type", "text/csv")
            .header("authorization", format!("{scheme} s3cret"))
            .body(Body::from(LIST))
            .expect("request");
        let response = send(&router, request).await;
        assert_eq!(
            response.status.as_u16(),
            200,
            "{scheme}: {}",
            response.text()
        );
    }
    for header in ["Basic s3cret", "Bearer wrong", "Bearers3cret", "bearer"] {
        let request = Request::post("/v1/assign?dry_run=true")
            .header("content-type", "text/csv")
            .header("authorization", header)
            .body(Body::from(LIST))
            .expect("request");
        assert_problem(&send(&router, request).await, 401, None);
    }
}

async fn a_read_only_server_refuses_writes_with_403_and_serves_dry_runs() {
    let (_db, router) = router(AppState::read_only).await;
    let register = r#"{"lat":21.0285,"lon":105.8542,"house_number":"1"}"#;
    let problem = assert_problem(
        &post_as(&router, "/v1/addresses", "application/json", None, register).await,
        403,
        None,
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("read-only")),
        "{problem}"
    );
    assert_problem(
        &post_as(&router, "/v1/assign", "text/csv", None, LIST).await,
        403,
        None,
    );
    assert_problem(
        &post_as(&router, "/v1/assign?dry_run=false", "text/csv", None, LIST).await,
        403,
        None,
    );
    let dry = post_as(&router, "/v1/assign?dry_run=true", "text/csv", None, LIST).await;
    assert_eq!(dry.status.as_u16(), 200, "{}", dry.text());
    assert!(dry.text().lines().count() == 2, "{}", dry.text());
    let edit = Request::patch("/v1/addresses/10000%20AAAAAAA")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"street":"x"}"#))
        .expect("request");
    assert_problem(&send(&router, edit).await, 403, None);
    // Reads are served.
    assert_eq!(
        get(&router, "/v1/reverse?lat=21.0285&lon=105.8542")
            .await
            .status
            .as_u16(),
        200
    );
}

async fn the_document_declares_security_and_availability_as_served() {
    let write_operations = [
        ("/v1/assign", "post"),
        ("/v1/addresses", "post"),
        ("/v1/addresses/{code}", "patch"),
        ("/v1/addresses/{code}", "delete"),
    ];
    let (_db, open) = router(|state| state).await;
    let document = get(&open, "/openapi.json").await.json();
    for (path, method) in write_operations {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation.get("security").is_none(),
            "{method} {path}: {operation}"
        );
        assert!(operation.get("x-unavailable").is_none(), "{method} {path}");
    }
    assert!(
        document["components"]["securitySchemes"]
            .get("bearer")
            .is_none()
    );

    let (_db, guarded) = router(|state| state.with_tokens(vec!["t".to_owned()])).await;
    let document = get(&guarded, "/openapi.json").await.json();
    for (path, method) in write_operations {
        let operation = &document["paths"][path][method];
        assert!(
            operation["security"].is_array(),
            "{method} {path}: {operation}"
        );
    }
    assert!(
        document["paths"]["/v1/reverse"]["get"]
            .get("security")
            .is_none()
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());

    let (_db, read_only) = router(AppState::read_only).await;
    let document = get(&read_only, "/openapi.json").await.json();
    for (path, method) in write_operations {
        let operation = &document["paths"][path][method];
        assert!(
            operation["x-unavailable"].is_string(),
            "{method} {path}: {operation}"
        );
        assert!(operation["responses"]["403"].is_object(), "{method} {path}");
    }
    assert!(
        document["paths"]["/v1/reverse"]["get"]
            .get("x-unavailable")
            .is_none()
    );
}

async fn requests_mean_one_thing_or_are_refused() {
    let (_db, router) = router(|state| state).await;
    // A parameter given empty, or twice, is refused and named; neither is read as absent.
    let empty = get(&router, "/v1/reverse?lat=21.0285&lon=105.8542&radius_m=").await;
    assert_problem(&empty, 422, Some("radius_m"));
    let twice = get(
        &router,
        "/v1/reverse?lat=21.0285&lon=105.8542&limit=1&limit=100",
    )
    .await;
    assert_problem(&twice, 400, Some("limit"));
    // A whole number written with a zero fraction is the number (JSON Schema's `integer`).
    let nine = get(&router, "/v1/reverse?lat=21.0285&lon=105.8542&limit=9.0").await;
    assert_eq!(nine.status.as_u16(), 200, "{}", nine.text());
    let batch = r#"{"points":[{"lat":21.0285,"lon":105.8542}],"limit":9.0}"#;
    let answer = post_as(&router, "/v1/reverse", "application/json", None, batch).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    let half = r#"{"points":[{"lat":21.0285,"lon":105.8542}],"limit":9.5}"#;
    let refused = post_as(&router, "/v1/reverse", "application/json", None, half).await;
    assert_problem(&refused, 422, Some("limit"));
    // A JSON array in place of the object: serde would read the fields by position.
    for (uri, body) in [
        (
            "/v1/reverse",
            r#"[[{"lat":21.0285,"lon":105.8542}],1,1000]"#,
        ),
        ("/v1/codes", r#"[["111162RWXP69"]]"#),
    ] {
        let response = post_as(&router, uri, "application/json", None, body).await;
        assert_problem(&response, 422, Some("body"));
    }
}

async fn a_json_list_that_is_not_an_array_is_refused_before_the_answer() {
    let (_db, router) = router(|state| state).await;
    for body in ["\u{0}", "{}", "\"text\"", "  {\"lat\":21,\"lon\":105}"] {
        let response = post_as(
            &router,
            "/v1/assign?dry_run=true",
            "application/json",
            None,
            body,
        )
        .await;
        assert_problem(&response, 422, Some("body"));
    }
    let fine = r#" [{"lat":21.0285,"lon":105.8542}]"#;
    let response = post_as(
        &router,
        "/v1/assign?dry_run=true",
        "application/json",
        None,
        fine,
    )
    .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text());
}
