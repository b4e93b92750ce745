//! The map page at `/`: what the server sends (content types, caching, the basemap setting,
//! the reference places), and, in headless Chromium, what the page shows when one clicks the
//! map, types a code, types address text (`GET /v1/search`) and drops a list, on a desktop
//! window and a phone-sized one.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use fantoccini::Locator;
use vmap::api::{self, AppState, Limits, PageConfig};

use crate::helpers::browser::Browser;
use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, DirectPool, Server, encode, get, parse_csv, seeded_db, seeded_registry, send,
};

trials! {
    tokio: [
        the_page_and_its_files_are_served_with_types_and_caching,
        the_basemap_setting_reaches_the_page_as_data,
        reference_places_are_provinces_and_wards,
    ],
    browser: [
        clicking_searching_and_dropping_a_list_in_chromium,
        a_configured_basemap_is_drawn_with_its_attribution_as_text,
    ],
}

/// Where screenshots go: `target/`, not committed.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

async fn the_page_and_its_files_are_served_with_types_and_caching() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 10).await;
    let router = api::app(AppState::ready(registry, Limits::default()));
    let page = get(&router, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(
        page.text().contains("/map/assets/map.js"),
        "{}",
        page.text()
    );
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert_eq!(page.header("cache-control"), Some("no-cache"));

    // Unchanged: 304 with no body.
    let etag = page.header("etag").expect("an ETag").to_owned();
    let again = send(
        &router,
        Request::get("/")
            .header("if-none-match", &etag)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let script = get(&router, "/map/assets/map.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type, "text/javascript; charset=utf-8");
    assert_eq!(script.header("cache-control"), Some("no-cache"));
    let leaflet = get(&router, "/map/assets/vendor/leaflet-1.9.4/leaflet.js").await;
    assert_eq!(leaflet.status, 200);
    assert!(leaflet.text().contains("Leaflet 1.9.4"));
    assert_eq!(
        leaflet.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let licence = get(&router, "/map/assets/vendor/leaflet-1.9.4/LICENSE").await;
    assert!(
        licence.text().contains("BSD 2-Clause"),
        "{}",
        licence.text()
    );
    let icon = get(
        &router,
        "/map/assets/vendor/leaflet-1.9.4/images/marker-icon.png",
    )
    .await;
    assert_eq!(icon.content_type, "image/png");
    assert!(icon.body.starts_with(b"\x89PNG"));

    for missing in [
        "/map/assets/nope.js",
        "/map/assets/../Cargo.toml",
        "/map/assets/vendor/",
    ] {
        let answer = get(&router, missing).await;
        assert_eq!(answer.status, 404, "{missing}");
        assert_eq!(answer.content_type, "application/problem+json", "{missing}");
    }
}

async fn the_basemap_setting_reaches_the_page_as_data() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 10).await;
    let plain = api::app(AppState::ready(registry.clone(), Limits::default()));
    let config = get(&plain, "/map/config.json").await;
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json(),
        serde_json::json!({"tile_url": null, "tile_attribution": null})
    );

    // Markup in the attribution stays data: JSON-escaped, never in the HTML.
    let attribution = "<b>© Tiles</b> & \"co\"";
    let url = "https://{s}.tile.example.org/{z}/{x}/{y}.png";
    let with_tiles = api::app(
        AppState::ready(registry, Limits::default()).with_page(PageConfig {
            tile_url: Some(url.to_owned()),
            tile_attribution: Some(attribution.to_owned()),
        }),
    );
    let config = get(&with_tiles, "/map/config.json").await;
    assert_eq!(config.json()["tile_url"], url);
    assert_eq!(config.json()["tile_attribution"], attribution);
    assert!(
        !get(&with_tiles, "/")
            .await
            .text()
            .contains("tile.example.org")
    );
}

async fn reference_places_are_provinces_and_wards() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 10).await;
    let router = api::app(AppState::ready(registry, Limits::default()));
    let places = get(&router, "/map/places.geojson").await;
    assert_eq!(places.status, 200);
    assert_eq!(places.content_type, "application/geo+json");
    let body = places.json();
    assert_eq!(body["type"], "FeatureCollection");
    let features = body["features"].as_array().expect("features");
    let of_kind = |kind: &str| {
        features
            .iter()
            .filter(|feature| feature["properties"]["kind"] == kind)
            .collect::<Vec<_>>()
    };
    // The 2025 map: 34 provinces, 3 321 wards (those with a postal code are zones).
    assert_eq!(of_kind("province").len(), 34);
    let wards = of_kind("ward");
    assert!(wards.len() > 3_000, "{} wards", wards.len());
    for feature in features {
        let [lon, lat] = [0, 1].map(|i| {
            feature["geometry"]["coordinates"][i]
                .as_f64()
                .expect("number")
        });
        assert!(
            (8.0..24.0).contains(&lat) && (102.0..118.0).contains(&lon),
            "{feature}"
        );
    }
    let hanoi = of_kind("province")
        .into_iter()
        .find(|feature| feature["properties"]["name"] == "Thành phố Hà Nội")
        .expect("Hà Nội");
    let [lon, lat] = [0, 1].map(|i| {
        hanoi["geometry"]["coordinates"][i]
            .as_f64()
            .expect("number")
    });
    assert!(
        (20.5..21.5).contains(&lat) && (105.3..106.1).contains(&lon),
        "{hanoi}"
    );
    // A ward says its postal code; the zone of that code is where the point is.
    let ward = wards[0];
    let postcode = ward["properties"]["postcode"].as_str().expect("postcode");
    let zone = get(&router, &format!("/v1/zones/{postcode}")).await.json();
    assert_eq!(zone["reference"]["lat"], ward["geometry"]["coordinates"][1]);
    assert_eq!(zone["reference"]["lon"], ward["geometry"]["coordinates"][0]);
}

/// The line the page writes for a registered address: its parts, comma-separated.
fn address_line(address: &serde_json::Value) -> String {
    ["house_number", "alley", "street", "unit", "address"]
        .iter()
        .filter_map(|part| address[part].as_str())
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn clicking_searching_and_dropping_a_list_in_chromium(browser: Browser) {
    let db = seeded_db(&Backend::Sqlite, 2_000).await;
    let pool = DirectPool::open(&db.url).await;
    let code: String = pool
        .fetch_scalar("SELECT code FROM addresses ORDER BY id LIMIT 1")
        .await;
    pool.close().await;
    let server = Server::start_vmap("map-page", &db.url, db.dir.path()).await;
    let registered = server.get(&format!("/v1/codes/{code}")).await.json();
    let lat = registered["location"]["lat"].as_f64().expect("lat");
    let lon = registered["location"]["lon"].as_f64().expect("lon");
    let n_active = server.get("/v1/status").await.json()["active_addresses"].clone();

    // The offline background: the whole country with its provinces named.
    let client = &browser.client;
    client
        .goto(&format!("{}/", server.url()))
        .await
        .expect("open the page");
    browser.wait_for(".place-label.province").await;
    // All 34 drawn; labels that would overlap another are left out.
    assert_eq!(browser.count(".leaflet-overlay-pane path").await, 34);
    let n_labels = browser.count(".place-label.province").await;
    assert!((15..=34).contains(&n_labels), "{n_labels} province labels");
    browser
        .screenshot(&target_dir().join("map-page-overview.png"))
        .await;

    // Zoom 15, centred 100 m from the address; no address dots at this zoom, so a click on
    // the map's centre lands on the map.
    browser
        .eval(&format!(
            "window.vmapMap.setView([{}, {lon}], 15, {{animate: false}}); return 0;",
            lat + 0.0009
        ))
        .await;
    client
        .find(Locator::Id("map"))
        .await
        .expect("map")
        .click()
        .await
        .expect("click the map");
    browser
        .wait_for("#result[data-kind=point] #result-code")
        .await;
    let clicked_lat = browser
        .attr_of("#result-point", "data-lat")
        .await
        .expect("data-lat");
    let clicked_lon = browser
        .attr_of("#result-point", "data-lon")
        .await
        .expect("data-lon");
    let reverse = server
        .get(&format!(
            "/v1/reverse?lat={clicked_lat}&lon={clicked_lon}&limit=5&radius_m=1000"
        ))
        .await
        .json();
    let grid_code = reverse["grid_code"].as_str().expect("a grid code there");
    assert_eq!(
        browser
            .attr_of("#result-code", "data-code")
            .await
            .as_deref(),
        Some(grid_code)
    );
    let shown = browser.text_of("#result").await;
    let pretty = format!(
        "{} {} {}",
        &grid_code[..5],
        &grid_code[5..9],
        &grid_code[9..]
    );
    assert!(shown.contains(&pretty), "{shown}");
    let ward_2025 = reverse["zone"]["admin_2025"]["ward"]["name"]
        .as_str()
        .expect("2025 ward");
    assert!(shown.contains(ward_2025), "{ward_2025} not in {shown}");
    assert_eq!(
        browser.count("path.cell-rect").await,
        1,
        "the cell's rectangle"
    );
    let nearest = reverse["addresses"].as_array().expect("addresses");
    assert!(!nearest.is_empty(), "an address within 1 km: {reverse}");
    assert_eq!(browser.count("#nearest li").await, nearest.len());
    assert_eq!(
        browser
            .attr_of("#nearest li a", "data-code")
            .await
            .as_deref(),
        nearest[0]["code"].as_str()
    );

    // A code typed in a loose form: lower case, spaced.
    let typed = format!("{} {} {}", &code[..5], &code[5..9], &code[9..]).to_lowercase();
    let input = client
        .find(Locator::Id("code-input"))
        .await
        .expect("search box");
    input.send_keys(&typed).await.expect("type the code");
    client
        .find(Locator::Id("search-button"))
        .await
        .expect("search button")
        .click()
        .await
        .expect("search");
    browser.wait_for("#result[data-kind=code]").await;
    assert_eq!(
        browser
            .attr_of("#result-code", "data-code")
            .await
            .as_deref(),
        Some(code.as_str())
    );
    assert_eq!(
        browser
            .attr_of("#result-status", "data-status")
            .await
            .as_deref(),
        Some("registered")
    );
    let line = address_line(&registered["address"]);
    assert!(!line.is_empty(), "a seeded address has parts: {registered}");
    assert!(browser.text_of("#result-address").await.contains(&line));
    assert_eq!(browser.count("path.cell-rect").await, 1);
    assert_eq!(browser.count(".leaflet-marker-icon").await, 1, "the pin");

    // Zoomed in on the code: the registered addresses in view, as GET /v1/addresses answers
    // for the map's box (the page asks again after each move; wait for its last answer).
    let mut last_seen = (0, 0);
    for _ in 0..150 {
        let bbox = browser
            .eval(
                "const b = window.vmapMap.getBounds();
                 return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
                   .map((x) => x.toFixed(6)).join(',');",
            )
            .await;
        let bbox = bbox.as_str().expect("bbox text");
        let in_view = server
            .get(&format!("/v1/addresses?bbox={bbox}&limit=1000"))
            .await
            .json();
        let n_in_view = in_view["features"].as_array().expect("features").len();
        last_seen = (browser.count("path.address-dot").await, n_in_view);
        if last_seen.0 == n_in_view && n_in_view > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        last_seen.0 == last_seen.1 && last_seen.1 > 0,
        "address dots on the page, addresses in the box: {last_seen:?}"
    );

    // A list: two rows by the address, one with no valid point; a dry run by default.
    let list = format!(
        "id,lat,lon,street\na,{lat},{lon},Phố Thử\nb,{:.6},{lon},Phố Thử\nc,999,{lon},x\n",
        lat + 0.0003
    );
    let list_path = db.dir.path().join("list.csv");
    std::fs::write(&list_path, &list).expect("write the list");
    let file_input = client
        .find(Locator::Id("list-file"))
        .await
        .expect("file input");
    file_input
        .send_keys(&list_path.display().to_string())
        .await
        .expect("choose the file");
    browser.wait_for("#list[data-state=done]").await;
    assert_eq!(
        browser.attr_of("#list", "data-rows").await.as_deref(),
        Some("3")
    );
    assert_eq!(browser.count("#list-preview tbody tr").await, 3);
    assert_eq!(
        browser.count("path.list-dot").await,
        2,
        "rows with a valid point"
    );
    let counts = browser.text_of("#list-counts").await;
    assert!(counts.contains("error: 1"), "{counts}");
    assert_eq!(
        browser
            .attr_of("#list-download", "download")
            .await
            .as_deref(),
        Some("list.codes.csv")
    );
    let downloaded = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.getElementById('list-download').href)
               .then((r) => r.text()).then(done, (e) => done('failed: ' + e));",
            Vec::new(),
        )
        .await
        .expect("read the download");
    let expected = server
        .post("/v1/assign?dry_run=true", "text/csv", list.clone())
        .await
        .text();
    assert_eq!(downloaded.as_str(), Some(expected.as_str()));
    let (header, rows) = parse_csv(&expected);
    assert_eq!(rows.len(), 3);
    let status = header
        .iter()
        .position(|column| column == "status")
        .expect("status");
    assert_eq!(rows[2][status], "error");
    assert_eq!(
        server.get("/v1/status").await.json()["active_addresses"],
        n_active,
        "a dry run writes nothing"
    );

    // The same page takes a list dropped on it: a JSON array this time, dropped as a browser
    // does (a `drop` event whose DataTransfer holds the file).
    let json_list = serde_json::json!([
        {"id": "j1", "lat": lat, "lon": lon},
        {"id": "j2", "lat": lat + 0.0004, "lon": lon},
    ]);
    browser
        .eval(&format!(
            "const file = new File([{text:?}], 'drop.json', {{type: 'application/json'}});
             const transfer = new DataTransfer();
             transfer.items.add(file);
             window.dispatchEvent(new DragEvent('dragenter', {{dataTransfer: transfer, cancelable: true}}));
             window.dispatchEvent(new DragEvent('drop', {{dataTransfer: transfer, cancelable: true}}));
             return 0;",
            text = json_list.to_string()
        ))
        .await;
    browser
        .wait_for("#list[data-state=done][data-rows='2']")
        .await;
    assert_eq!(browser.text_of("#list-name").await, "drop.json");
    assert_eq!(
        browser
            .attr_of("#list-download", "download")
            .await
            .as_deref(),
        Some("drop.codes.json")
    );
    assert_eq!(browser.count("path.list-dot").await, 2);
    assert_eq!(
        browser.attr_of("#drop-overlay", "hidden").await.as_deref(),
        Some("true"),
        "the drop overlay is gone after the drop"
    );
    let first_code = browser
        .attr_of("#list-preview tbody tr a", "data-code")
        .await
        .expect("a code in the preview");
    let expected = server
        .post(
            "/v1/assign?dry_run=true",
            "application/json",
            json_list.to_string(),
        )
        .await
        .json();
    assert_eq!(expected[0]["code"].as_str(), Some(first_code.as_str()));

    // Both languages.
    let label = browser.text_of("#search-button").await;
    client
        .find(Locator::Id("lang"))
        .await
        .expect("lang")
        .click()
        .await
        .expect("switch");
    let switched = browser.text_of("#search-button").await;
    assert_ne!(label, switched);
    assert!(
        [label.as_str(), switched.as_str()].contains(&"Tìm")
            && [label.as_str(), switched.as_str()].contains(&"Search"),
        "{label} / {switched}"
    );

    browser.screenshot(&target_dir().join("map-page.png")).await;

    search_address_text(&browser, &server, &registered).await;

    // A phone: the panel goes under the map, and the page still answers a click.
    client.set_window_size(390, 844).await.expect("phone size");
    let layout = browser
        .eval(
            "const m = document.getElementById('map').getBoundingClientRect();
             const p = document.getElementById('panel').getBoundingClientRect();
             return [m.bottom, p.top, p.width, window.innerWidth, document.documentElement.scrollWidth];",
        )
        .await;
    let number = |i: usize| layout[i].as_f64().expect("number");
    assert!(
        number(1) >= number(0) - 1.0,
        "panel under the map: {layout}"
    );
    assert!(number(2) >= number(3) - 1.0, "panel full width: {layout}");
    assert!(number(4) <= number(3), "no sideways scrolling: {layout}");
    browser
        .eval(&format!(
            "window.vmapMap.invalidateSize(); window.vmapMap.setView([{lat}, {lon}], 15); return 0;"
        ))
        .await;
    client
        .find(Locator::Id("map"))
        .await
        .expect("map")
        .click()
        .await
        .expect("click");
    browser.wait_for("#result[data-kind=point]").await;
    browser
        .screenshot(&target_dir().join("map-page-phone.png"))
        .await;
    server.stop().await;
}

/// Types `text` in the box (emptied first) without submitting it; answers the `near` the
/// page sends with what it asks (the map's centre, as the page writes it).
async fn type_only(browser: &Browser, text: &str) -> String {
    let near = browser
        .eval(
            "const c = window.vmapMap.getCenter();
             return c.lat.toFixed(5) + ',' + c.lng.toFixed(5);",
        )
        .await;
    let input = browser
        .client
        .find(Locator::Id("code-input"))
        .await
        .expect("search box");
    input.clear().await.expect("empty the box");
    input.send_keys(text).await.expect("type");
    near.as_str().expect("near").to_owned()
}

/// Types `text` in the box (emptied first) and submits it; answers the `near` the page
/// sends with it.
async fn type_in_the_box(browser: &Browser, text: &str) -> String {
    let near = type_only(browser, text).await;
    browser
        .client
        .find(Locator::Id("search-button"))
        .await
        .expect("search button")
        .click()
        .await
        .expect("search");
    near
}

/// Address text in the box: a registered address written out (house number, street, its
/// zone's ward and province) shows the code `GET /v1/search` answers for it, its cell and a
/// pin; a ward alone says so; text that matches nothing says so.
async fn search_address_text(browser: &Browser, server: &Server, registered: &serde_json::Value) {
    let address = &registered["address"];
    let zone = &registered["zone"];
    let house = ["house_number", "alley", "street"]
        .iter()
        .filter_map(|part| address[part].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let place = ["ward", "district", "province"]
        .iter()
        .filter_map(|part| zone[part].as_str())
        .filter(|name| !name.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!("{house}, {place}");
    let near = type_in_the_box(browser, &text).await;
    browser
        .wait_for("#result[data-kind=search] #result-status")
        .await;
    let expected = server
        .get(&format!(
            "/v1/search?q={}&limit=5&near={near}",
            encode(&text)
        ))
        .await
        .json();
    let results = expected["results"].as_array().expect("results");
    assert_eq!(results[0]["level"], "address", "{text}: {expected}");
    let found = results[0]["code"].as_str().expect("a code");
    assert_eq!(
        browser
            .attr_of("#result-code", "data-code")
            .await
            .as_deref(),
        Some(found),
        "{text}"
    );
    assert_eq!(browser.count("#search-results li").await, results.len());
    assert_eq!(
        browser
            .attr_of("#search-results li.picked", "data-code")
            .await
            .as_deref(),
        Some(found)
    );
    let label = results[0]["label"].as_str().expect("label");
    assert!(
        browser.text_of("#search-results").await.contains(label),
        "{label}"
    );
    assert_eq!(browser.count(".leaflet-marker-icon").await, 1, "the pin");
    assert_eq!(browser.count("path.cell-rect").await, 1, "its cell");
    browser
        .screenshot(&target_dir().join("map-page-search.png"))
        .await;

    // Typing offers the completions GET /v1/autocomplete gives for the text so far.
    let street = address["street"].as_str().expect("a street");
    // All of the street's name but its last two letters: a prefix few streets share.
    let letters = street.chars().count();
    let prefix: String = street
        .chars()
        .take(letters.saturating_sub(2).max(3))
        .collect();
    let typed = format!("{place}, {}", prefix.trim_end());
    let near = type_only(browser, &typed).await;
    let mut waited = std::time::Duration::ZERO;
    while browser
        .eval("return document.getElementById('suggestions').dataset.query || '';")
        .await
        != typed.as_str()
    {
        assert!(
            waited < std::time::Duration::from_secs(10),
            "no suggestions for {typed:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += std::time::Duration::from_millis(100);
    }
    let expected = server
        .get(&format!(
            "/v1/autocomplete?q={}&limit=5&near={near}",
            encode(&typed)
        ))
        .await
        .json();
    let completions: Vec<&str> = expected["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|result| result["completion"].as_str())
        .collect();
    assert!(!completions.is_empty(), "{typed}: {expected}");
    let offered = browser
        .eval("return [...document.querySelectorAll('#suggestions option')].map(o => o.value);")
        .await;
    assert_eq!(offered, serde_json::json!(completions), "{typed}");
    assert!(
        completions
            .iter()
            .any(|completion| completion.contains(street)),
        "{street} among {completions:?}"
    );

    // The ward and province alone: the level is said, a pin, no cell.
    let near = type_in_the_box(browser, &place).await;
    browser
        .wait_for("#result[data-kind=search] #result-level")
        .await;
    let expected = server
        .get(&format!(
            "/v1/search?q={}&limit=5&near={near}",
            encode(&place)
        ))
        .await
        .json();
    let level = expected["results"][0]["level"].as_str().expect("a level");
    assert_ne!(level, "address", "{expected}");
    assert_eq!(
        browser
            .attr_of("#result-level", "data-level")
            .await
            .as_deref(),
        Some(level)
    );
    assert!(!browser.text_of("#result-level").await.is_empty());
    assert_eq!(browser.count(".leaflet-marker-icon").await, 1, "the pin");
    assert_eq!(browser.count("path.cell-rect").await, 0, "no cell");

    // Nothing: said, and the pin is gone.
    let nothing = "Qwxz Jjkq Zzvx";
    let near = type_in_the_box(browser, nothing).await;
    browser.wait_for("#search-none").await;
    let expected = server
        .get(&format!(
            "/v1/search?q={}&limit=5&near={near}",
            encode(nothing)
        ))
        .await
        .json();
    assert_eq!(expected["results"], serde_json::json!([]), "{expected}");
    let said = browser.text_of("#search-none").await;
    assert!(said.contains(nothing), "{said}");
    assert_eq!(browser.count(".leaflet-marker-icon").await, 0);
}

/// With `VMAP_TILE_URL`, the page asks for tiles from that template (a path on this server
/// here, which answers 404: the test needs no tile server) and shows the attribution as
/// text, markup included.
async fn a_configured_basemap_is_drawn_with_its_attribution_as_text(browser: Browser) {
    let db = seeded_db(&Backend::Sqlite, 10).await;
    let attribution = "<b>© Tiles</b> & co";
    let server = Server::start_vmap_with(
        "map-page-tiles",
        &db.url,
        db.dir.path(),
        &[
            ("VMAP_TILE_URL", "/test-tiles/{z}/{x}/{y}.png"),
            ("VMAP_TILE_ATTRIBUTION", attribution),
        ],
    )
    .await;
    let client = &browser.client;
    client
        .goto(&format!("{}/#12/21.0285/105.8542", server.url()))
        .await
        .expect("open the page");
    let tile = browser.wait_for("img.leaflet-tile").await;
    let source = tile.attr("src").await.expect("src").unwrap_or_default();
    assert!(source.starts_with("/test-tiles/12/"), "{source}");
    let shown = browser.text_of(".leaflet-control-attribution").await;
    assert_eq!(shown, attribution);
    assert_eq!(browser.count(".leaflet-control-attribution b").await, 0);
    server.stop().await;
}
