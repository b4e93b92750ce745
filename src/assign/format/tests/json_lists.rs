//! JSON arrays and NDJSON: reading, and a bad element or line failing alone.

use super::*;

#[test]
fn json_numbers_and_strings() {
    let input = r#"[{"id": 7, "lat": 10.762622, "lon": "106.660172", "house_number": 12, "street": "  Lê Lợi  ", "ward": null, "unit": ""},
        {"id": "x7", "lat": -0.5, "lon": 1e2, "alley": 123456789012345678901234567890}]"#;
    let (header, rows) = read_all(Format::Json, input.as_bytes());
    assert_eq!(header, None);
    assert_eq!(
        fields(&rows[0]),
        &RowFields {
            id: text("7"),
            lat: text("10.762622"),
            lon: text("106.660172"),
            house_number: text("12"),
            street: text("Lê Lợi"),
            ..RowFields::default()
        }
    );
    assert_eq!(fields(&rows[1]).id, text("x7"));
    assert_eq!(fields(&rows[1]).lat, text("-0.5"));
    assert_eq!(fields(&rows[1]).lon, text("100.0"));
    assert_eq!(
        fields(&rows[1]).alley.as_deref().map(str::parse::<f64>),
        Some(Ok(1.2345678901234568e29))
    );
    let (_, rows) = read_all(Format::Json, br#"[{"lat": true}, {"street": ["a"]}]"#);
    assert_eq!(error_code(&rows[0]), "invalid_field");
    assert_eq!(error_code(&rows[1]), "invalid_field");
}

#[test]
fn json_non_object_elements_are_error_rows() {
    let input = br#"[1, "x", null, [{"lat":1}], {"lat": 1}, {"a":}, {"lat": 2}]"#;
    let (_, rows) = read_all(Format::Json, input);
    let codes: Vec<Result<&RowFields, &str>> = rows
        .iter()
        .map(|row| row.fields.as_ref().map_err(|error| error.code.as_str()))
        .collect();
    assert_eq!(codes.len(), 7);
    assert_eq!(codes[..4], [Err("not_an_object"); 4]);
    assert_eq!(fields(&rows[4]).lat, text("1"));
    assert_eq!(codes[5], Err("invalid_json"));
    assert_eq!(fields(&rows[6]).lat, text("2"));
    let numbers: Vec<u64> = rows.iter().map(|row| row.row_number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn json_strings_may_hold_brackets_and_escapes() {
    let input = br#"[{"a":"]},{\"[","lat":"1"} ,{"b":"\\","lat":"2"}]"#;
    let (_, rows) = read_all(Format::Json, input);
    assert_eq!(rows.len(), 2);
    assert_eq!(fields(&rows[0]).lat, text("1"));
    assert_eq!(fields(&rows[1]).lat, text("2"));
}

fn final_message(row: &InputRow) -> &str {
    let error = row.fields.as_ref().expect_err("final error row");
    assert_eq!(error.code, RowErrorCode::InvalidJson);
    &error.message
}

#[test]
fn broken_json_array_ends_with_one_error_row() {
    let cases: [(&[u8], usize, &str); 9] = [
        (
            br#"[{"id":"1"},{"id":"2"} x {"id":"3"}]"#,
            2,
            "byte offset 23",
        ),
        (br#"[{"id":"1"},{"id":"2"#, 1, "ends at byte offset 20"),
        (br#"[{"id":"1"}"#, 1, "ends at byte offset 11"),
        (br#"[{"id":"1"},"#, 1, "ends at byte offset 12"),
        (br#"[{"id":"1"},]"#, 1, "trailing comma"),
        (
            br#"[{"id":"1"},,{"id":"2"}]"#,
            1,
            "expected a value, found ','",
        ),
        (br#"[{"id":"1"}] {"#, 1, "after the closing ']'"),
        (
            br#"{"id":"1"}"#,
            0,
            "expected a JSON array ('[') at byte offset 0, found '{'",
        ),
        (b"  \n ", 0, "the input is empty"),
    ];
    for (input, good_rows, expected) in cases {
        let (_, rows) = read_all(Format::Json, input);
        let shown = String::from_utf8_lossy(input);
        assert_eq!(rows.len(), good_rows + 1, "{shown}");
        for row in &rows[..good_rows] {
            assert!(row.fields.is_ok(), "{shown}");
        }
        let last = &rows[good_rows];
        assert_eq!(last.row_number, good_rows as u64 + 1);
        let message = final_message(last);
        assert!(message.contains(expected), "{shown}: {message}");
    }
}

#[test]
fn json_accepts_bom_whitespace_and_empty_array() {
    let (_, rows) = read_all(Format::Json, b"\xEF\xBB\xBF \n[ {\"lat\":1} ]\n");
    assert_eq!(rows.len(), 1);
    let (_, rows) = read_all(Format::Json, b"[ ]");
    assert!(rows.is_empty());
    assert_eq!(round_trip(Format::Json, b"[]"), "[]\n");
    let (_, rows) = read_all(Format::Json, b"\xEF\xBB[]");
    assert!(final_message(&rows[0]).contains("byte 0xEF"));
}

#[test]
fn ndjson_blank_and_bad_lines() {
    let input =
        b"\xEF\xBB\xBF{\"id\":1,\"lat\":\"10\"}\n\n   \r\n{\"id\":2,\r\n[1]\n{\"id\":3}\r\n\"x\"";
    let (header, rows) = read_all(Format::Ndjson, input);
    assert_eq!(header, None);
    assert_eq!(rows.len(), 5);
    assert_eq!(fields(&rows[0]).id, text("1"));
    assert_eq!(error_code(&rows[1]), "invalid_json");
    let message = &rows[1].fields.as_ref().expect_err("error").message;
    assert!(
        message.starts_with("row 2 (line 4) is not valid JSON"),
        "{message}"
    );
    assert_eq!(error_code(&rows[2]), "not_an_object");
    assert_eq!(fields(&rows[3]).id, text("3"));
    assert_eq!(error_code(&rows[4]), "not_an_object");
    let numbers: Vec<u64> = rows.iter().map(|row| row.row_number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}
