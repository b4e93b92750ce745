//! Both administrative maps on the wire: the zone fields of `/v1/reverse`, `/v1/zones`,
//! `/v1/codes`, and `/v1/admin/*`.

use vmap::api::Limits;

use crate::helpers::harness::trials;
use crate::helpers::{Backend, assert_problem, get, test_app};

trials! {
    each_backend: [
        every_zone_answer_carries_both_maps,
        admin_listings_and_ward_boundaries,
    ],
}

async fn every_zone_answer_carries_both_maps(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, 2_000, Limits::default()).await;
    let zone = get(&router, "/v1/zones?lat=21.0285&lon=105.8542")
        .await
        .json();
    assert_eq!(zone["table"], "2025", "{zone}");
    assert_eq!(zone["method"], "polygon");
    assert_eq!(zone["admin_2025"]["province"]["code"], "01", "{zone}");
    assert_eq!(zone["admin_2025"]["postcode"], zone["postcode"]);
    assert_eq!(zone["admin_2025"]["method"], "zone");
    assert_eq!(zone["legacy"]["province"]["code"], "01", "{zone}");
    assert!(zone["legacy"]["district"]["type"].is_string());
    assert!(
        ["addresses", "nearest_centroid"]
            .contains(&zone["legacy"]["method"].as_str().unwrap_or("")),
        "{zone}"
    );
    let reverse = get(&router, "/v1/reverse?lat=21.0285&lon=105.8542")
        .await
        .json();
    assert_eq!(
        reverse["zone"]["admin_2025"]["ward"], zone["admin_2025"]["ward"],
        "{reverse}"
    );

    // A number of both tables: 2025 first, or the legacy zone when asked for.
    let both = get(&router, "/v1/zones/92308").await.json();
    assert_eq!(both["table"], "2025");
    assert_eq!(both["number"], "far_apart");
    let legacy = get(&router, "/v1/zones/92308?table=legacy").await.json();
    assert_eq!(legacy["table"], "legacy");
    assert_eq!(legacy["legacy"]["method"], "zone");
    assert_eq!(legacy["legacy"]["postcode"], "92308");
    let only_legacy = get(&router, "/v1/zones/11007").await.json();
    assert_eq!(only_legacy["table"], "legacy", "{only_legacy}");
    assert_problem(
        &get(&router, "/v1/zones/11007?table=old").await,
        422,
        Some("table"),
    );
}

async fn admin_listings_and_ward_boundaries(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, 100, Limits::default()).await;
    let provinces = get(&router, "/v1/admin/provinces").await.json();
    assert_eq!(provinces.as_array().map(Vec::len), Some(34));
    let legacy = get(&router, "/v1/admin/provinces?structure=legacy")
        .await
        .json();
    assert_eq!(legacy.as_array().map(Vec::len), Some(63));
    let wards = get(&router, "/v1/admin/wards?province=01").await.json();
    let wards = wards.as_array().expect("a list");
    assert_eq!(wards.len(), 126);
    assert!(
        wards
            .iter()
            .all(|ward| ward["bbox"].is_object() && ward["legacy_wards"].is_array())
    );
    let legacy_wards = get(&router, "/v1/admin/wards?province=01&structure=legacy")
        .await
        .json();
    assert!(
        legacy_wards
            .as_array()
            .is_some_and(|wards| wards.len() > 500
                && wards.iter().all(|ward| ward["targets_2025"]
                    .as_array()
                    .is_some_and(|t| !t.is_empty())))
    );
    assert_problem(
        &get(&router, "/v1/admin/wards?province=99").await,
        404,
        None,
    );
    assert_problem(
        &get(&router, "/v1/admin/wards").await,
        422,
        Some("province"),
    );
    let code = wards[0]["code"].as_str().expect("a code").to_owned();
    let feature = get(&router, &format!("/v1/admin/wards/{code}?format=geojson")).await;
    assert_eq!(feature.status, 200);
    assert_eq!(feature.header("content-type"), Some("application/geo+json"));
    let feature = feature.json();
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    assert!(
        feature["geometry"]["coordinates"][0][0]
            .as_array()
            .is_some_and(|ring| ring.len() > 3)
    );
    assert_problem(
        &get(&router, "/v1/admin/wards/1").await,
        400,
        Some("ward_code"),
    );
    assert_problem(&get(&router, "/v1/admin/wards/99999").await, 404, None);
}
