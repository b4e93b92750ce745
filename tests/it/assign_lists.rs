//! What an assign list may hold: byte limits on every cell and row, columns the answer adds,
//! duplicate columns, UTF-16, formulas (`csv_safe`), fields past the header,
//! through the router and `vmap assign`, on SQLite and on PostgreSQL.

use vmap::api::Limits;
use vmap::boundaries::{BruteForce, Located};
use vmap::point::LatLon;
use vmap::zones::Map2025;

use crate::helpers::harness::trials;
use crate::helpers::vmap_cli::VmapRun;
use crate::helpers::{
    Backend, TestDb, assert_problem, column, parse_csv, post_as, run_vmap, test_app,
};

const SEEDED: u64 = 500;

trials! {
    each_backend: [
        an_over_large_cell_or_row_fails_alone_in_any_column,
        a_column_the_answer_adds_refuses_the_list,
        csv_safe_answers_defuse_formulas,
        duplicate_columns_and_utf16_refuse_the_list_surplus_fields_are_kept,
        rows_carry_their_2025_ward_and_a_warning_when_their_units_disagree,
    ],
}

/// Runs `vmap assign` on `list`, saved as a file, with `options`, into an output file: how it
/// ended, and the output (None when no output file was made).
async fn assign_file(
    db: &TestDb,
    list: impl AsRef<[u8]>,
    options: &[&str],
) -> (VmapRun, Option<String>) {
    let input = db.dir.path().join("list.csv");
    let output = db.dir.path().join("out.csv");
    std::fs::write(&input, list).expect("list");
    let _ = std::fs::remove_file(&output);
    let mut args = vec![
        "assign",
        input.to_str().expect("path"),
        "-o",
        output.to_str().expect("path"),
        "--database-url",
        &db.url,
        "--no-snapshot",
    ];
    args.extend_from_slice(options);
    let run = run_vmap(args).await;
    (run, std::fs::read_to_string(&output).ok())
}

/// Assigns a CSV list through `router`; the answer's header and rows.
async fn assign_csv(router: &axum::Router, csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let response = post_as(router, "/v1/assign", "text/csv", None, csv.to_owned()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    parse_csv(&response.text())
}

async fn an_over_large_cell_or_row_fails_alone_in_any_column(backend: &Backend) {
    let (db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    // A pass-through column, not a known field: 100 KiB is over the 64 KiB cell limit,
    // 2 MiB over the 1 MiB row limit.
    let cell = "c".repeat(100 * 1024);
    let row = "r".repeat(2 * 1024 * 1024);
    let csv = format!(
        "id,lat,lon,note\n\
         a,21.0285,105.8542,ok\n\
         b,21.0286,105.8542,{cell}\n\
         c,21.0287,105.8542,\"{row}\"\n\
         d,21.0288,105.8542,ok\n"
    );
    let (header, rows) = assign_csv(&router, &csv).await;
    let outcome = |row: &Vec<String>| {
        (
            column(&header, row, "id").to_owned(),
            column(&header, row, "status").to_owned(),
            column(&header, row, "error_code").to_owned(),
        )
    };
    let outcomes: Vec<_> = rows.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [
            ("a".into(), "created".into(), String::new()),
            ("b".into(), "error".into(), "cell_too_large".into()),
            (String::new(), "error".into(), "row_too_large".into()),
            ("d".into(), "created".into(), String::new()),
        ]
    );
    assert_eq!(column(&header, &rows[1], "note"), "");

    let ndjson = format!(
        "{{\"id\":\"a\",\"lat\":21.0285,\"lon\":105.8542}}\n\
         {{\"id\":\"b\",\"lat\":21.0286,\"lon\":105.8542,\"note\":\"{cell}\"}}\n\
         {{\"id\":\"c\",\"lat\":21.0287,\"lon\":105.8542,\"note\":\"{row}\"}}\n\
         {{\"id\":\"d\",\"lat\":21.0288,\"lon\":105.8542}}\n"
    );
    let response = post_as(&router, "/v1/assign", "application/x-ndjson", None, ndjson).await;
    assert_eq!(response.status, 200);
    let codes: Vec<serde_json::Value> = response
        .text()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("JSON")["error_code"].clone()
        })
        .collect();
    assert_eq!(
        codes,
        [
            serde_json::Value::Null,
            "cell_too_large".into(),
            "row_too_large".into(),
            serde_json::Value::Null
        ]
    );

    // A header over the row limit refuses the list before anything is answered.
    let csv = format!("id,lat,lon,{}\n1,21,105,x\n", "h".repeat(2 * 1024 * 1024));
    let problem = assert_problem(
        &post_as(&router, "/v1/assign", "text/csv", None, csv).await,
        422,
        Some("header"),
    );
    assert_eq!(problem["errors"][0]["code"], "header_too_large");

    // The CLI refuses such a list before it makes its output file, as it does one without
    // `lat` or `lon`.
    for (csv, saying) in [
        (
            format!("id,lat,lon,{}\n", "h".repeat(64)),
            "the CSV header is larger than 32 bytes",
        ),
        (
            "id,Latitude,note\n1,21,x\n".to_owned(),
            "the CSV header has no lon column",
        ),
    ] {
        let (run, output) = assign_file(&db, csv, &["--max-row-bytes", "32"]).await;
        run.assert_failure_saying(saying);
        assert_eq!(output, None, "no output file for a refused list");
    }
}

async fn a_column_the_answer_adds_refuses_the_list(backend: &Backend) {
    let (db, registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let before = registry.status().n_active;
    // An answered list sent back, and a column that only differs in case and spelling.
    for (csv, column) in [
        ("id,lat,lon,code\na,21.0285,105.8542,OLD\n", "code"),
        (
            "id,lat,lon,Error Code\na,21.0285,105.8542,x\n",
            "Error Code",
        ),
    ] {
        let response = post_as(&router, "/v1/assign", "text/csv", None, csv).await;
        let problem = assert_problem(&response, 422, Some(column));
        assert_eq!(problem["errors"][0]["code"], "reserved_column");
    }
    assert_eq!(registry.status().n_active, before, "nothing registered");

    // JSON has no header: the row with the key fails alone, with its other keys.
    let json = r#"[{"id":"a","lat":21.0285,"lon":105.8542,"status":"mine"},{"id":"b","lat":21.0286,"lon":105.8542}]"#;
    let response = post_as(&router, "/v1/assign", "application/json", None, json).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let rows = response.json();
    assert_eq!(rows[0]["id"], "a");
    assert_eq!(rows[0]["error_code"], "reserved_column");
    assert_eq!(rows[1]["status"], "created");

    // The CLI refuses it too, naming the column.
    let answered = "id,lat,lon,postcode\na,21.0285,105.8542,11007\n";
    let (run, output) = assign_file(&db, answered, &[]).await;
    run.assert_failure_saying("column \"postcode\", which the answer adds");
    assert_eq!(output, None, "no output file for a refused list");
}

async fn csv_safe_answers_defuse_formulas(backend: &Backend) {
    let (db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let csv = "id,lat,lon,note\n=HYPERLINK(\"http://x\"),21.0285,105.8542,@SUM(A1)\n";
    let response = post_as(&router, "/v1/assign?csv_safe=true", "text/csv", None, csv).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(column(&header, &rows[0], "id"), "'=HYPERLINK(\"http://x\")");
    assert_eq!(column(&header, &rows[0], "note"), "'@SUM(A1)");
    assert_eq!(column(&header, &rows[0], "status"), "created");
    // Off by default: every cell comes back as sent.
    let (header, rows) = assign_csv(&router, csv).await;
    assert_eq!(column(&header, &rows[0], "note"), "@SUM(A1)");
    assert_problem(
        &post_as(&router, "/v1/assign?csv_safe=maybe", "text/csv", None, csv).await,
        422,
        Some("csv_safe"),
    );
    let doc = crate::helpers::get(&router, "/openapi.json").await.json();
    let parameters = doc["paths"]["/v1/assign"]["post"]["parameters"].to_string();
    assert!(parameters.contains("\"csv_safe\""), "{parameters}");

    let (run, output) = assign_file(&db, csv, &["--csv-safe", "--dry-run"]).await;
    run.assert_success();
    let (header, rows) = parse_csv(&output.expect("the answered list"));
    assert_eq!(column(&header, &rows[0], "note"), "'@SUM(A1)");
}

async fn duplicate_columns_and_utf16_refuse_the_list_surplus_fields_are_kept(backend: &Backend) {
    let (db, registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let before = registry.status().n_active;
    let csv = "id,lat,lon,Latitude\na,21.0285,105.8542,10.1\n";
    let problem = assert_problem(
        &post_as(&router, "/v1/assign", "text/csv", None, csv).await,
        422,
        Some("Latitude"),
    );
    assert_eq!(problem["errors"][0]["code"], "duplicate_column");
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "id,lat,lon\na,21.0285,105.8542\n".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    for content_type in ["text/csv", "application/json", "application/x-ndjson"] {
        let problem = assert_problem(
            &post_as(&router, "/v1/assign", content_type, None, utf16.clone()).await,
            422,
            Some("body"),
        );
        assert_eq!(problem["errors"][0]["code"], "encoding", "{content_type}");
    }
    assert_eq!(registry.status().n_active, before, "nothing registered");

    // A row with fields past the header fails alone and keeps them.
    let csv = "id,lat,lon\na,21.0285,105.8542,\"gate 2, left\",x\nb,21.0286,105.8542\n";
    let (header, rows) = assign_csv(&router, csv).await;
    assert_eq!(column(&header, &rows[0], "error_code"), "column_count");
    assert!(
        column(&header, &rows[0], "error_message")
            .ends_with("the fields past the header: \"gate 2, left\",x"),
        "{rows:?}"
    );
    assert_eq!(column(&header, &rows[1], "status"), "created");

    // The CLI refuses both too, before it makes its output file.
    for (list, saying) in [
        (
            b"ID,lat,lon,id\n".to_vec(),
            "the columns \"ID\" and \"id\" both name \"id\"",
        ),
        (utf16, "UTF-16 little-endian"),
    ] {
        let (run, output) = assign_file(&db, list, &[]).await;
        run.assert_failure_saying(saying);
        assert_eq!(output, None, "no output file for a refused list");
    }
}

/// The 2025 columns come from the ward boundaries (checked against the brute-force oracle),
/// and `warning` says `zone_mismatch` only when the written units name real units none of
/// which holds the point.
async fn rows_carry_their_2025_ward_and_a_warning_when_their_units_disagree(backend: &Backend) {
    let (_db, _registry, router) = test_app(backend, SEEDED, Limits::default()).await;
    let map = Map2025::embedded().expect("2025 map");
    let admin = map.admin();
    let oracle = BruteForce::new(map.index().boundaries());
    // Hoàn Kiếm (Hà Nội) and Quận 1 (Hồ Chí Minh).
    let hanoi = LatLon::new(21.0285, 105.8542).expect("point");
    let saigon = LatLon::new(10.7769, 106.7009).expect("point");
    let ward_at = |point: LatLon| match oracle.locate(point) {
        Located::Inside(ward) | Located::NearestBoundary { ward, .. } => {
            admin.ward(map.admin_ward(ward))
        }
        Located::OutsideCoverage => panic!("{point:?} is on the 2025 map"),
    };
    let (hanoi_ward, saigon_ward) = (ward_at(hanoi), ward_at(saigon));
    let hanoi_province = admin.province(hanoi_ward.province);
    let legacy_ward = admin.legacy_ward(hanoi_ward.sources[0]);
    let legacy_district = admin.legacy_district(legacy_ward.district);
    let legacy_province = admin.legacy_province(legacy_ward.province);
    // As people type them: no marks, lower case, province by its short alias.
    let plain = |name: &str| vmap::parse::strip_marks(name).to_lowercase();
    let saigon_legacy = admin.legacy_ward(saigon_ward.sources[0]);
    let csv = format!(
        "id,lat,lon,ward,district,province\n\
         new-names,{lat},{lon},{w},,{p}\n\
         old-names,{lat},{lon},{lw},{ld},{lp}\n\
         short-upper,{lat},{lon},{w_short_upper},,\n\
         unknown-text,{lat},{lon},Khu tập thể X,Quận Không Có,Tỉnh Không Có\n\
         wrong-ward,{lat},{lon},{sw},,\n\
         wrong-province,{lat},{lon},,,{sp}\n\
         old-no-marks,{lat},{lon},{lw_plain},{ld_plain},HN\n\
         wrong-no-marks,{lat},{lon},{sw_plain},{sd_plain},tphcm\n",
        lat = hanoi.lat,
        lon = hanoi.lon,
        w = hanoi_ward.name,
        p = hanoi_province.name,
        lw = legacy_ward.name,
        ld = legacy_district.name,
        lp = legacy_province.short_name,
        w_short_upper = hanoi_ward.short_name.to_uppercase(),
        sw = saigon_ward.name,
        sp = admin.province(saigon_ward.province).name,
        lw_plain = plain(&legacy_ward.name),
        ld_plain = plain(&legacy_district.name),
        sw_plain = plain(&saigon_legacy.name),
        sd_plain = plain(&admin.legacy_district(saigon_legacy.district).name),
    );
    let (header, rows) = assign_csv(&router, &csv).await;
    assert_eq!(rows.len(), 8);
    for row in &rows {
        // One point: the first row registers it, the others are the same place.
        assert_ne!(column(&header, row, "status"), "error", "{row:?}");
        assert_eq!(
            column(&header, row, "postcode_2025"),
            hanoi_ward.postcode.expect("postcode").to_string()
        );
        assert_eq!(column(&header, row, "ward_2025"), hanoi_ward.name);
        assert_eq!(column(&header, row, "province_2025"), hanoi_province.name);
    }
    let warnings: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (column(&header, row, "id"), column(&header, row, "warning")))
        .collect();
    assert_eq!(
        warnings,
        [
            ("new-names", ""),
            ("old-names", ""),
            ("short-upper", ""),
            ("unknown-text", ""),
            ("wrong-ward", "zone_mismatch"),
            ("wrong-province", "zone_mismatch"),
            ("old-no-marks", ""),
            ("wrong-no-marks", "zone_mismatch"),
        ]
    );
    assert_ne!(hanoi_ward.province, saigon_ward.province);
}
