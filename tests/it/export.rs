//! `vmap export`: each format opened with GDAL's `ogrinfo`, its feature count, SRS and
//! coordinates held to the registry; the filters against a scan of the stored rows.

use std::collections::HashMap;
use std::path::Path;

use vmap::address::{Address, AddressStatus};
use vmap::point::LatLonBox;
use vmap::registry::Registry;

use crate::helpers::harness::{OGRINFO, trials};
use crate::helpers::{Backend, TestDb, run_vmap, seeded_registry};

const N: u64 = 1_500;

trials! {
    each_backend_with_ogrinfo: [
        every_format_opens_in_ogrinfo_with_the_registry_points_in_epsg_4326,
        filters_keep_their_part_of_the_registry,
    ],
}

/// A seeded registry with a few retired addresses, and every stored row.
async fn registry_with_retired(
    backend: &Backend,
) -> (TestDb, std::sync::Arc<Registry>, Vec<Address>) {
    let (db, registry) = seeded_registry(backend, N).await;
    let rows = registry
        .store()
        .addresses_after(0, 1_000_000)
        .await
        .expect("rows");
    for row in rows.iter().step_by(97) {
        registry
            .retire(row.code, None, false)
            .await
            .expect("retire");
    }
    let rows = registry
        .store()
        .addresses_after(0, 1_000_000)
        .await
        .expect("rows");
    assert_eq!(rows.len() as u64, N);
    (db, registry, rows)
}

async fn export(db: &TestDb, file: &str, extra: &[&str]) -> std::path::PathBuf {
    let path = db.dir.path().join(file);
    let mut args = vec![
        "export".to_owned(),
        "--database-url".to_owned(),
        db.url.clone(),
        "--to".to_owned(),
        path.display().to_string(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let run = run_vmap(&args).await.assert_success();
    assert!(run.stderr.contains("exported"), "{}", run.stderr);
    assert!(!db.dir.path().join(format!("{file}.partial")).exists());
    path
}

fn ogrinfo(args: &[&str]) -> String {
    let output = std::process::Command::new(OGRINFO)
        .args(args)
        .output()
        .expect("ogrinfo runs");
    assert!(
        output.status.success(),
        "ogrinfo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ogrinfo -al -so`: the feature count, and whether the layer's SRS is EPSG:4326.
fn summary(path: &Path) -> (u64, bool) {
    let text = ogrinfo(&["-ro", "-al", "-so", &path.display().to_string()]);
    let count = text
        .lines()
        .find_map(|line| line.strip_prefix("Feature Count: "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count in {text}"));
    (count, text.contains(r#"ID["EPSG",4326]"#))
}

/// `ogrinfo -al` of the features with these codes: code → (lon, lat) of each POINT.
fn points(path: &Path, codes: &[&str]) -> HashMap<String, (f64, f64)> {
    let quoted: Vec<String> = codes.iter().map(|code| format!("'{code}'")).collect();
    let filter = format!("code IN ({})", quoted.join(","));
    let text = ogrinfo(&[
        "-ro",
        "-al",
        "-q",
        "-where",
        &filter,
        &path.display().to_string(),
    ]);
    let mut found = HashMap::new();
    for feature in text.split("OGRFeature(").skip(1) {
        let code = feature
            .lines()
            .find_map(|line| line.trim().strip_prefix("code (String) = "))
            .expect("a code")
            .to_owned();
        let point = feature
            .lines()
            .find_map(|line| line.trim().strip_prefix("POINT ("))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|xy| xy.split_once(' '))
            .map(|(x, y)| (x.parse().expect("x"), y.parse().expect("y")))
            .expect("a point");
        found.insert(code, point);
    }
    found
}

async fn every_format_opens_in_ogrinfo_with_the_registry_points_in_epsg_4326(backend: &Backend) {
    let (db, _registry, rows) = registry_with_retired(backend).await;
    let sample: Vec<&Address> = rows.iter().step_by(151).collect();
    let codes: Vec<String> = sample.iter().map(|row| row.code.canonical()).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let geojsonseq = export(&db, "all.geojsons", &[]).await;
    let csv = export(&db, "all.csv", &[]).await;
    let flatgeobuf = export(&db, "all.fgb", &[]).await;
    // A CSV states no SRS; the .vrt written beside it does.
    let vrt = csv.with_extension("vrt");
    for path in [&geojsonseq, &vrt, &flatgeobuf] {
        let (count, epsg_4326) = summary(path);
        assert_eq!(count, N, "{}", path.display());
        assert!(epsg_4326, "{} is not in EPSG:4326", path.display());
        let found = points(path, &codes);
        assert_eq!(found.len(), sample.len(), "{}", path.display());
        for row in &sample {
            let (lon, lat) = found[&row.code.canonical()];
            // ogrinfo prints 15 significant digits.
            assert!(
                (lon - row.location.lon).abs() < 1e-9 && (lat - row.location.lat).abs() < 1e-9,
                "{}: {} at ({lon}, {lat}), stored at {:?}",
                path.display(),
                row.code,
                row.location
            );
        }
    }
    // The CSV itself, read as GDAL reads it without the .vrt, has every row too.
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("code,postcode,status,lat,lon,house_number,"));
    assert_eq!(text.lines().count() as u64, N + 1);
}

async fn filters_keep_their_part_of_the_registry(backend: &Backend) {
    let (db, _registry, rows) = registry_with_retired(backend).await;
    let bbox = LatLonBox::new(105.0, 20.0, 107.0, 22.0).expect("box");
    let postcode = rows[0].code.postcode();
    let count =
        |keep: &dyn Fn(&Address) -> bool| rows.iter().filter(|row| keep(row)).count() as u64;
    let cases: Vec<(Vec<String>, u64)> = vec![
        (
            vec!["--bbox".into(), "105,20,107,22".into()],
            count(&|row| bbox.contains(row.location)),
        ),
        (
            vec!["--postcode".into(), postcode.to_string()],
            count(&|row| row.code.postcode() == postcode),
        ),
        (
            vec!["--status".into(), "retired".into()],
            count(&|row| row.status == AddressStatus::Retired),
        ),
        (
            vec![
                "--status".into(),
                "active".into(),
                "--bbox".into(),
                "105,20,107,22".into(),
            ],
            count(&|row| row.status == AddressStatus::Active && bbox.contains(row.location)),
        ),
    ];
    for (idx, (args, expected)) in cases.into_iter().enumerate() {
        assert!(expected > 0 && expected < N, "{args:?} keeps a part");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The filters are the formats' common path: each case in one format, in turn.
        let file = if idx % 2 == 0 {
            format!("part{idx}.fgb")
        } else {
            format!("part{idx}.geojsons")
        };
        let path = export(&db, &file, &args).await;
        assert_eq!(summary(&path).0, expected, "{args:?} {file}");
    }
}
