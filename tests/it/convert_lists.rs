//! `vmap convert LIST`: address lists converted between the maps, row for row, in the three
//! list formats; bad rows fail alone; refused lists are refused before anything is written.

use vmap::admin::LegacyWardId;
use vmap::assign::format::{Format, FormatError, ListError};
use vmap::convert::list::{self, ConvertSettings, ConvertSummary};
use vmap::parse::strip_marks;
use vmap::zones::Map2025;

use crate::helpers::harness::trials;
use crate::helpers::lists::{column, parse_csv};
use crate::helpers::vmap_cli::run_vmap;

trials! {
    plain: [
        a_legacy_list_gets_its_2025_wards_in_every_format,
        a_point_decides_a_split_ward_and_a_far_point_is_flagged,
        a_bad_row_fails_alone,
        a_list_without_text_or_with_an_answer_column_is_refused,
    ],
    tokio: [vmap_convert_answers_a_list_file],
}

fn map() -> std::sync::Arc<Map2025> {
    Map2025::embedded().expect("2025 map")
}

fn convert(format: Format, input: &str) -> Result<(ConvertSummary, String), FormatError> {
    let map = map();
    let (summary, output) = list::run(
        &map,
        format,
        input.as_bytes(),
        Vec::new(),
        ConvertSettings::default(),
    )?;
    Ok((summary, String::from_utf8(output).expect("utf-8 answer")))
}

/// Every 61st legacy ward, as `(ward, district, province)` columns, some without marks.
fn legacy_sample() -> Vec<(LegacyWardId, [String; 3])> {
    let map = map();
    let admin = map.admin();
    admin
        .legacy_ward_ids()
        .step_by(61)
        .enumerate()
        .map(|(n, id)| {
            let ward = admin.legacy_ward(id);
            let district = admin.legacy_district(ward.district);
            let province = admin.legacy_province(ward.province);
            let names = [&ward.name, &district.name, &province.name];
            let written = names.map(|name| match n % 2 {
                0 => name.clone(),
                _ => strip_marks(name).to_lowercase(),
            });
            (id, written)
        })
        .collect()
}

fn a_legacy_list_gets_its_2025_wards_in_every_format() {
    let map = map();
    let admin = map.admin();
    let sample = legacy_sample();
    let mut csv = String::from("id,ward,district,province\n");
    let mut ndjson = String::new();
    for (n, (_, [ward, district, province])) in sample.iter().enumerate() {
        csv.push_str(&format!("{n},\"{ward}\",\"{district}\",\"{province}\"\n"));
        let row =
            serde_json::json!({"id": n, "ward": ward, "district": district, "province": province});
        ndjson.push_str(&format!("{row}\n"));
    }
    let json = format!("[{}]", ndjson.lines().collect::<Vec<_>>().join(",\n"));
    let (summary, answer) = convert(Format::Csv, &csv).expect("converted");
    assert_eq!(summary.rows, sample.len() as u64);
    assert_eq!(summary.errors, 0);
    let (header, rows) = parse_csv(&answer);
    let mut right = 0;
    for ((id, _), row) in sample.iter().zip(&rows) {
        let legacy = admin.legacy_ward(*id);
        let ward_2025 = column(&header, row, "ward_2025_code");
        // A legacy ward of the same name in the same district is the same place; the
        // answer must be one of this ward's 2025 targets, given with its own postcode.
        if column(&header, row, "legacy_ward") == legacy.name
            && legacy
                .targets
                .iter()
                .any(|&target| admin.ward(target).code == ward_2025)
        {
            right += 1;
            let target = admin.ward_by_code(ward_2025).expect("2025 ward");
            let postcode = admin.ward(target).postcode.map(|p| p.to_string());
            assert_eq!(
                Some(column(&header, row, "postcode_2025")),
                postcode.as_deref()
            );
            let candidates = column(&header, row, "candidates_2025");
            assert_eq!(
                candidates.split("; ").count(),
                legacy.targets.len(),
                "{row:?}"
            );
        }
    }
    // The parser's accuracy is held by the corpus test; here the list path must carry it.
    assert!(
        right * 100 >= rows.len() * 99,
        "{right} of {} rows converted to their own ward's targets",
        rows.len()
    );
    for (format, input) in [(Format::Json, &json), (Format::Ndjson, &ndjson)] {
        let (same, answer) = convert(format, input).expect("converted");
        assert_eq!(
            (same.rows, same.converted),
            (summary.rows, summary.converted)
        );
        let objects: Vec<serde_json::Value> = match format {
            Format::Json => serde_json::from_str(&answer).expect("a JSON array"),
            _ => answer
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON line"))
                .collect(),
        };
        for (object, row) in objects.iter().zip(&rows) {
            for name in ["status", "ward_2025_code", "legacy_ward", "candidates_2025"] {
                let value = object[name].as_str().unwrap_or_default();
                assert_eq!(value, column(&header, row, name), "{format} {name}");
            }
            assert!(object["confidence"].is_number(), "{object}");
        }
    }
}

fn a_point_decides_a_split_ward_and_a_far_point_is_flagged() {
    let map = map();
    let admin = map.admin();
    let split = admin
        .legacy_ward_ids()
        .map(|id| admin.legacy_ward(id))
        .find(|ward| ward.targets.len() >= 2)
        .expect("a split legacy ward");
    let district = admin.legacy_district(split.district);
    let province = admin.legacy_province(split.province);
    let other = admin.ward(split.targets[1]);
    let inside_other = map
        .index()
        .boundaries()
        .wards()
        .iter()
        .find(|ward| ward.ward_code == other.code)
        .expect("boundary of the target")
        .reference;
    let far = admin
        .ward_ids()
        .map(|id| admin.ward(id))
        .find(|ward| ward.province != other.province)
        .expect("a ward elsewhere");
    let far_point = map
        .index()
        .boundaries()
        .wards()
        .iter()
        .find(|ward| ward.ward_code == far.code)
        .expect("boundary")
        .reference;
    let address = format!("{}, {}, {}", split.name, district.name, province.name);
    let csv = format!(
        "address,lat,lon\n\
         \"{address}\",,\n\
         \"{address}\",{},{}\n\
         \"{address}\",{},{}\n",
        inside_other.lat, inside_other.lon, far_point.lat, far_point.lon
    );
    let (_, answer) = convert(Format::Csv, &csv).expect("converted");
    let (header, rows) = parse_csv(&answer);
    let cells = |row: &Vec<String>, name: &str| column(&header, row, name).to_owned();
    assert_eq!(cells(&rows[0], "method"), "default", "{rows:?}");
    assert_eq!(cells(&rows[0], "warning"), "");
    assert_eq!(cells(&rows[1], "method"), "point");
    assert_eq!(cells(&rows[1], "ward_2025_code"), other.code);
    assert!(cells(&rows[1], "candidates_2025").starts_with(&other.name));
    // A point in none of the targets does not overrule the text; it is flagged.
    assert_eq!(cells(&rows[2], "method"), "default");
    assert_eq!(
        cells(&rows[2], "ward_2025_code"),
        cells(&rows[0], "ward_2025_code")
    );
    assert_eq!(cells(&rows[2], "warning"), "zone_mismatch");
}

fn a_bad_row_fails_alone() {
    let long = "x".repeat(600);
    let csv = format!(
        "id,address,lat,lon\n\
         ok,\"Phường Sài Gòn, TP.HCM\",,\n\
         half,\"Phường Sài Gòn, TP.HCM\",10.77,\n\
         nan,\"Phường Sài Gòn, TP.HCM\",abc,106.7\n\
         long,\"{long}\",,\n\
         short,a,b\n\
         nothing,\"!!! 🙂\",,\n\
         after,\"Phường Sài Gòn, TP.HCM\",,\n"
    );
    let (summary, answer) = convert(Format::Csv, &csv).expect("converted");
    let (header, rows) = parse_csv(&answer);
    let outcome: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|row| {
            (
                column(&header, row, "id"),
                column(&header, row, "status"),
                column(&header, row, "error_code"),
            )
        })
        .collect();
    assert_eq!(
        outcome,
        [
            ("ok", "converted", ""),
            ("half", "error", "missing_coordinate"),
            ("nan", "error", "invalid_coordinate"),
            ("long", "error", "field_too_long"),
            ("short", "error", "column_count"),
            ("nothing", "unresolved", ""),
            ("after", "converted", ""),
        ]
    );
    assert_eq!(
        (summary.converted, summary.unresolved, summary.errors),
        (2, 1, 4)
    );
    let json = r#"[{"address": "Phường Sài Gòn"}, 7, {"address": ["x"]}, {"status": "mine"}]"#;
    let (summary, answer) = convert(Format::Json, json).expect("converted");
    let objects: Vec<serde_json::Value> = serde_json::from_str(&answer).expect("array");
    let codes: Vec<&str> = objects
        .iter()
        .map(|object| object["error_code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        ["", "not_an_object", "invalid_field", "reserved_column"]
    );
    assert_eq!(summary.errors, 3);
}

fn a_list_without_text_or_with_an_answer_column_is_refused() {
    let refusal = |input: &str| match convert(Format::Csv, input) {
        Err(FormatError::List(refusal)) => refusal,
        other => panic!("{input:?} was not refused: {other:?}"),
    };
    assert!(matches!(
        refusal("id,lat,lon\n1,10,106\n"),
        ListError::MissingColumn { columns } if columns == ["address"]
    ));
    assert!(matches!(refusal(""), ListError::NoHeader { .. }));
    assert!(matches!(
        refusal("address,ward_2025\nx,y\n"),
        ListError::ReservedColumn { column, .. } if column == "ward_2025"
    ));
    // Unit columns alone are text enough; coordinates are not needed.
    let (summary, _) = convert(Format::Csv, "province\nHà Nội\n").expect("converted");
    assert_eq!((summary.rows, summary.unresolved), (1, 1));
}

async fn vmap_convert_answers_a_list_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("orders.csv");
    let output = dir.path().join("orders-2025.csv");
    std::fs::write(
        &input,
        "id,address\n1,\"12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM\"\n2,\"???\"\n",
    )
    .expect("list written");
    let run = run_vmap([
        "convert".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        output.as_os_str(),
    ])
    .await
    .assert_success();
    assert!(
        run.stderr
            .contains("2 rows: 1 converted, 0 ambiguous, 1 unresolved, 0 errors"),
        "{}",
        run.stderr
    );
    let answer = std::fs::read_to_string(&output).expect("answer written");
    let (header, rows) = parse_csv(&answer);
    assert_eq!(rows.len(), 2);
    // The legacy ward, its 2025 ward and the address kept below the ward.
    assert_eq!(column(&header, &rows[0], "legacy_ward"), "Phường 13");
    assert_eq!(
        column(&header, &rows[0], "address_2025"),
        "12/3 Hẻm 45 Lê Văn Sỹ, Phường Phú Nhuận, Thành phố Hồ Chí Minh"
    );
    let refused = dir.path().join("points.csv");
    std::fs::write(&refused, "id,lat,lon\n1,10.7,106.7\n").expect("list written");
    let never = dir.path().join("never.csv");
    run_vmap([
        "convert".as_ref(),
        refused.as_os_str(),
        "-o".as_ref(),
        never.as_os_str(),
    ])
    .await
    .assert_failure_saying("no address column");
    assert!(!never.exists(), "a refused list makes no output file");
}
