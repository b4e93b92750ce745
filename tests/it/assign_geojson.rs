//! GeoJSON answers of an assignment: `POST /v1/assign?format=geojson` (or
//! `Accept: application/geo+json`) and `vmap assign -o LIST.geojson`, a Feature per row in
//! input order, opened by GDAL's `ogrinfo`.

use serde_json::Value;
use vmap::api::Limits;

use crate::helpers::harness::{OGRINFO, trials};
use crate::helpers::{Backend, assert_problem, post_as, run_vmap, test_app};

trials! {
    each_backend_with_ogrinfo: [
        an_assignment_answers_a_feature_per_row_in_geojson,
    ],
}

/// The features of a GeoJSON answer, checked to be a FeatureCollection.
fn features(text: &str) -> Vec<Value> {
    let document: Value =
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"));
    assert_eq!(document["type"], "FeatureCollection", "{text}");
    document["features"].as_array().expect("features").clone()
}

fn coordinates(feature: &Value) -> (f64, f64) {
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "Point", "{feature}");
    let point = &feature["geometry"]["coordinates"];
    (
        point[0].as_f64().expect("lon"),
        point[1].as_f64().expect("lat"),
    )
}

async fn an_assignment_answers_a_feature_per_row_in_geojson(backend: &Backend) {
    let (db, _registry, router) = test_app(backend, 200, Limits::default()).await;
    // A new place, a bad row, the first place again, and a column with no name.
    let csv = "id,lat,lon,note,\n\
               a,21.0285,105.8542,first,x\n\
               b,north,105.8542,bad,\n\
               c,21.02851,105.85421,again,\n";
    let response = post_as(&router, "/v1/assign?format=geojson", "text/csv", None, csv).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.content_type, "application/geo+json");
    let rows = features(&response.text());
    assert_eq!(rows.len(), 3, "a feature per row");
    assert_eq!(coordinates(&rows[0]), (105.8542, 21.0285));
    let first = &rows[0]["properties"];
    assert_eq!(first["id"], "a");
    assert_eq!(first["note"], "first");
    assert_eq!(
        first["column_5"], "x",
        "a column without a name is numbered"
    );
    assert_eq!(first["status"], "created");
    let code = first["code"].as_str().expect("a code");
    assert_eq!(code.len(), 12);
    assert_eq!(first["postcode"].as_str(), Some(&code[..5]));
    // The bad row is kept, without a point.
    assert_eq!(rows[1]["geometry"], Value::Null);
    assert_eq!(rows[1]["properties"]["id"], "b");
    assert_eq!(rows[1]["properties"]["status"], "error");
    assert_eq!(rows[1]["properties"]["error_code"], "invalid_coordinate");
    // The same place again: its own point, the first row's code, a distance as a number.
    assert_eq!(coordinates(&rows[2]), (105.85421, 21.02851));
    assert_eq!(rows[2]["properties"]["status"], "existing");
    assert_eq!(rows[2]["properties"]["code"], code);
    assert!(
        rows[2]["properties"]["distance_m"].is_number(),
        "{}",
        rows[2]
    );

    // A JSON list, GeoJSON asked by Accept: the row's own keys and values come through.
    let json = r#"[{"id": 7, "lat": 10.7769, "lon": 106.7009, "tags": ["x"]}]"#;
    let request = axum::http::Request::post("/v1/assign?dry_run=true")
        .header("content-type", "application/json")
        .header("accept", "application/geo+json")
        .body(axum::body::Body::from(json))
        .expect("request");
    let response = crate::helpers::send(&router, request).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let rows = features(&response.text());
    assert_eq!(rows.len(), 1);
    assert_eq!(coordinates(&rows[0]), (106.7009, 10.7769));
    assert_eq!(rows[0]["properties"]["id"], 7);
    assert_eq!(rows[0]["properties"]["tags"][0], "x");
    assert_eq!(rows[0]["properties"]["status"], "created");
    // Without either, the list's own format; another format is refused.
    let plain = post_as(
        &router,
        "/v1/assign?dry_run=true",
        "application/json",
        None,
        json,
    )
    .await;
    assert_eq!(plain.content_type, "application/json");
    assert!(plain.json().is_array());
    assert_problem(
        &post_as(&router, "/v1/assign?format=kml", "text/csv", None, csv).await,
        422,
        Some("format"),
    );

    // The CLI writes GeoJSON to a .geojson file; GDAL opens it, a feature per row, in order.
    let input = db.dir.path().join("list.csv");
    let output = db.dir.path().join("answered.geojson");
    std::fs::write(&input, csv).expect("list");
    run_vmap([
        "assign",
        input.to_str().expect("path"),
        "-o",
        output.to_str().expect("path"),
        "--database-url",
        &db.url,
        "--no-snapshot",
        "--dry-run",
    ])
    .await
    .assert_success();
    let written = std::fs::read_to_string(&output).expect("output");
    let rows = features(&written);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["properties"]["status"], "existing",
        "registered above"
    );
    let listed = std::process::Command::new(OGRINFO)
        .args(["-ro", "-al", "-q", output.to_str().expect("path")])
        .output()
        .expect("ogrinfo runs");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.matches("OGRFeature(").count(), 3, "{listed}");
    assert!(listed.contains("POINT (105.8542 21.0285)"), "{listed}");
    assert!(
        listed.contains(&format!("code (String) = {code}")),
        "{listed}"
    );
}
