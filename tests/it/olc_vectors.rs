//! The Open Location Code reference test vectors against `vmap::code::olc`.
//!
//! The CSV files in `tests/data/olc/` are from google/open-location-code, `test_data/`,
//! licensed Apache-2.0 (see `tests/data/olc/README.md`). Every data row is checked; each test
//! counts the rows it checked against the rows in its file so that none slips by.

use std::path::PathBuf;

use vmap::code::olc;

use crate::helpers::harness::trials;

trials! {
    plain: [
        encoding,
        decoding,
        short_codes,
        validity,
    ],
}

/// The fields of each data row of a vector file (comment lines start with '#').
fn data_rows(file_name: &str) -> Vec<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/olc")
        .join(file_name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let n_data_lines = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .count();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|record| match record {
            Ok(record) => record.iter().map(str::to_owned).collect(),
            Err(err) => panic!("{file_name}: {err}"),
        })
        .collect();
    assert_eq!(
        rows.len(),
        n_data_lines,
        "{file_name}: the CSV reader lost rows"
    );
    assert!(!rows.is_empty(), "{file_name} has no data rows");
    rows
}

fn number<T: std::str::FromStr>(row: &[String], idx: usize) -> T {
    match row.get(idx).map(|field| field.parse::<T>()) {
        Some(Ok(value)) => value,
        _ => panic!("field {idx} of {row:?} is not a number"),
    }
}

fn boolean(row: &[String], idx: usize) -> bool {
    match row.get(idx).map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => panic!("field {idx} of {row:?} is not true/false"),
    }
}

fn encoding() {
    let rows = data_rows("encoding.csv");
    let mut n_checked = 0;
    for row in &rows {
        let (lat, lon) = (number::<f64>(row, 0), number::<f64>(row, 1));
        let code_length: usize = number(row, 4);
        let got = olc::encode(lat, lon, code_length);
        match row[5].as_str() {
            "" => assert!(got.is_err(), "{row:?}: expected an error, got {got:?}"),
            expected => assert_eq!(got.as_deref(), Ok(expected), "{row:?}"),
        }
        n_checked += 1;
    }
    assert_eq!(n_checked, rows.len());
}

fn decoding() {
    let rows = data_rows("decoding.csv");
    let mut n_checked = 0;
    for row in &rows {
        let area = olc::decode(&row[0]).unwrap_or_else(|err| panic!("{row:?}: {err}"));
        assert_eq!(area.code_length, number::<usize>(row, 1), "{row:?}");
        // The reference tests accept 1e-10 degrees.
        let close = |got: f64, idx: usize| (got - number::<f64>(row, idx)).abs() < 1e-10;
        assert!(close(area.south, 2), "{row:?}: south {}", area.south);
        assert!(close(area.west, 3), "{row:?}: west {}", area.west);
        assert!(close(area.north, 4), "{row:?}: north {}", area.north);
        assert!(close(area.east, 5), "{row:?}: east {}", area.east);
        n_checked += 1;
    }
    assert_eq!(n_checked, rows.len());
}

fn short_codes() {
    let rows = data_rows("shortCodeTests.csv");
    let mut n_checked = 0;
    for row in &rows {
        let (full, short) = (&row[0], &row[3]);
        let (ref_lat, ref_lon) = (number::<f64>(row, 1), number::<f64>(row, 2));
        let test_type = row[4].as_str();
        assert!(
            matches!(test_type, "S" | "R" | "B"),
            "{row:?}: unknown test type"
        );
        if matches!(test_type, "S" | "B") {
            assert_eq!(
                olc::shorten(full, ref_lat, ref_lon).as_ref(),
                Ok(short),
                "shorten {row:?}"
            );
        }
        if matches!(test_type, "R" | "B") {
            assert_eq!(
                olc::recover_nearest(short, ref_lat, ref_lon).as_ref(),
                Ok(full),
                "recover {row:?}"
            );
        }
        n_checked += 1;
    }
    assert_eq!(n_checked, rows.len());
}

fn validity() {
    let rows = data_rows("validityTests.csv");
    let mut n_checked = 0;
    for row in &rows {
        let code = &row[0];
        assert_eq!(olc::is_valid(code), boolean(row, 1), "is_valid {row:?}");
        assert_eq!(olc::is_short(code), boolean(row, 2), "is_short {row:?}");
        assert_eq!(olc::is_full(code), boolean(row, 3), "is_full {row:?}");
        n_checked += 1;
    }
    assert_eq!(n_checked, rows.len());
}
