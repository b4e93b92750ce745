//! Address lists: synthetic CSV lists to assign, and CSV answers taken apart.

use super::app::zones;

/// A synthetic CSV list of `n` addresses (not registered).
pub fn synth_csv(n: u64, seed: u64) -> String {
    let mut bytes = Vec::new();
    vmap::synth::write_csv(&zones(), n, seed, &mut bytes).expect("write csv");
    String::from_utf8(bytes).expect("utf-8")
}

/// Parses a CSV answer into its header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The value of `column` in `row`.
#[track_caller]
pub fn column<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let position = header
        .iter()
        .position(|name| name == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    row[position].as_str()
}
