//! The writer: byte-for-byte answers, `csv_safe`, the abort record.

use super::super::write::{Target, distance_text};
use super::*;

#[test]
fn csv_safe_defuses_formulas_and_nothing_else() {
    let input = "id,=cmd,lat,lon\n=1+2,+1,-3,-4\n@SUM(A1),\"\tx\",\"\ry\",1\nplain,'q,1=1,2\n";
    let write = |csv_safe: bool| {
        let mut reader = read_rows(Format::Csv, input.as_bytes()).expect("reader");
        let header = reader.csv_header().cloned();
        let options = WriterOptions {
            csv_safe,
            ..WriterOptions::default()
        };
        let mut writer = RowWriter::with_options(Format::Csv, header.as_ref(), Vec::new(), options)
            .expect("writer");
        for row in reader.by_ref() {
            let row = row.expect("row");
            writer
                .write_row(
                    &row,
                    &RowOutcome::failed(RowErrorCode::InvalidCoordinate, "-x"),
                )
                .expect("write");
        }
        String::from_utf8(writer.finish().expect("finish")).expect("UTF-8")
    };
    let tail = ",,error,,,invalid_coordinate";
    assert_eq!(
        write(true),
        format!(
            "id,'=cmd,lat,lon,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n\
             '=1+2,'+1,'-3,'-4{tail},'-x,,,,,,,\n\
             '@SUM(A1),'\tx,\"'\ry\",1{tail},'-x,,,,,,,\n\
             plain,'q,1=1,2{tail},'-x,,,,,,,\n"
        )
    );
    assert_eq!(
        write(false),
        format!(
            "id,=cmd,lat,lon,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n\
             =1+2,+1,-3,-4{tail},-x,,,,,,,\n\
             @SUM(A1),\tx,\"\ry\",1{tail},-x,,,,,,,\n\
             plain,'q,1=1,2{tail},-x,,,,,,,\n"
        )
    );
    // The JSON formats are never changed.
    let mut writer = RowWriter::with_options(
        Format::Ndjson,
        None,
        Vec::new(),
        WriterOptions {
            csv_safe: true,
            ..WriterOptions::default()
        },
    )
    .expect("writer");
    let (_, rows) = read_all(Format::Ndjson, b"{\"n\":\"=1\"}");
    writer
        .write_row(&rows[0], &outcome_for(&rows[0]))
        .expect("write");
    let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
    assert!(output.starts_with("{\"n\":\"=1\""), "{output}");
}

#[test]
fn json_writer_output_byte_for_byte() {
    let input = b"[{\"id\":\"a\",\"lat\":10.5,\"lon\":\"106\"},\n 42 , {\"x\":\"\\u00e9\\n\"}]";
    assert_eq!(
        round_trip(Format::Json, input),
        "[{\"id\":\"a\",\"lat\":10.5,\"lon\":\"106\",\"code\":\"700000000000\",\"status\":\"created\",\"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null,\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null},\n\
         {\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"not_an_object\",\"error_message\":\"row 2 is a number, expected an object\",\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null},\n\
         {\"x\":\"é\\n\",\"code\":\"700000000000\",\"status\":\"created\",\"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null,\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}]\n"
    );
}

#[test]
fn ndjson_writer_output_byte_for_byte() {
    let input = b"{\"lat\":\"1\",\"note\":\"n\"}\nnope\n";
    let (_, rows) = read_all(Format::Ndjson, input);
    let mut writer = RowWriter::new(Format::Ndjson, None, Vec::new()).expect("writer");
    writer
        .write_row(&rows[0], &created("111162RWXP69", 2.005))
        .expect("write");
    writer
        .write_row(&rows[1], &outcome_for(&rows[1]))
        .expect("write");
    let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
    let message = &rows[1].fields.as_ref().expect_err("error").message;
    assert_eq!(
        output,
        format!(
            "{{\"lat\":\"1\",\"note\":\"n\",\"code\":\"111162RWXP69\",\"status\":\"created\",\"postcode\":\"11116\",\"distance_m\":2,\"error_code\":null,\"error_message\":null,\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}}\n\
             {{\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"invalid_json\",\"error_message\":{},\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}}\n",
            serde_json::to_string(message).expect("string")
        )
    );
}

#[test]
fn an_abort_record_ends_each_format_as_a_valid_document() {
    let inputs: [(Format, &[u8]); 3] = [
        (Format::Csv, b"id;lat;lon;note\nk1;21;105;x\n"),
        (Format::Json, b"[{\"id\":\"k1\",\"lat\":21,\"lon\":105}]"),
        (Format::Ndjson, b"{\"id\":\"k1\",\"lat\":21,\"lon\":105}\n"),
    ];
    let message = "the answer stops after 1 rows: \"why\"";
    for (format, input) in inputs {
        let (header, rows) = read_all(format, input);
        let mut writer = RowWriter::new(format, header.as_ref(), Vec::new()).expect("writer");
        writer
            .write_row(&rows[0], &outcome_for(&rows[0]))
            .expect("row");
        writer.write_abort(message).expect("abort record");
        let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
        match format {
            Format::Csv => {
                let mut lines = output.lines();
                assert_eq!(
                    lines.next(),
                    Some(
                        "id;lat;lon;note;code;status;postcode;distance_m;error_code;error_message;postcode_2025;ward_2025;province_2025;warning;match_level;confidence;matched_label"
                    )
                );
                assert!(
                    lines
                        .next()
                        .is_some_and(|row| row.starts_with("k1;21;105;x;700000000000;created;"))
                );
                // Input columns empty.
                assert_eq!(
                    lines.next(),
                    Some(
                        ";;;;;error;;;stream_aborted;\"the answer stops after 1 rows: \"\"why\"\"\";;;;;;;"
                    )
                );
                assert_eq!(lines.next(), None);
            }
            Format::Json => {
                let parsed: Vec<Value> = serde_json::from_str(&output).expect("a JSON array");
                assert_eq!(parsed.len(), 2);
                assert_eq!(parsed[1]["status"], "error");
                assert_eq!(parsed[1]["error_code"], "stream_aborted");
                assert_eq!(parsed[1]["error_message"], message);
                assert_eq!(
                    parsed[1].as_object().map(Map::len),
                    Some(OUTPUT_COLUMNS.len())
                );
            }
            Format::Ndjson => {
                let last: Value =
                    serde_json::from_str(output.lines().last().expect("lines")).expect("JSON");
                assert_eq!(output.lines().count(), 2);
                assert_eq!(last["error_code"], "stream_aborted");
                assert_eq!(last["error_message"], message);
            }
        }
    }
}

#[test]
fn rows_without_original_and_foreign_rows_are_written() {
    let (header, _) = read_all(Format::Csv, b"id;lat;lon\n");
    let header = header.expect("header");
    let mut writer = RowWriter::new(Format::Csv, Some(&header), Vec::new()).expect("writer");
    let row = InputRow::new(1, Ok(RowFields::default()));
    writer
        .write_row(&row, &created("700000000000", 0.0))
        .expect("write");
    let (_, json_rows) = read_all(Format::Json, br#"[{"id":"1"}]"#);
    writer
        .write_row(&json_rows[0], &created("700000000000", 0.0))
        .expect("write");
    let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
    assert_eq!(
        output,
        "id;lat;lon;code;status;postcode;distance_m;error_code;error_message;postcode_2025;ward_2025;province_2025;warning;match_level;confidence;matched_label\n\
         ;;;700000000000;created;70000;0;;;;;;;;;\n\
         ;;;700000000000;created;70000;0;;;;;;;;;\n"
    );
}

#[test]
fn distance_rendering() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (-0.001, "0"),
        (1.374, "1.37"),
        (1.375_1, "1.38"),
        (2.5, "2.5"),
        (10.0, "10"),
        (1234.999, "1235"),
    ];
    for (distance, expected) in cases {
        assert_eq!(
            distance_text(distance).as_deref(),
            Some(expected),
            "{distance}"
        );
    }
    assert_eq!(distance_text(f64::NAN), None);
    assert_eq!(distance_text(f64::INFINITY), None);
}

#[test]
fn writer_flush_pushes_bytes_out() {
    let mut writer = RowWriter::new(Format::Ndjson, None, Vec::new()).expect("writer");
    let row = InputRow::new(1, Ok(RowFields::default()));
    writer
        .write_row(&row, &created("700000000000", 0.0))
        .expect("write");
    writer.flush().expect("flush");
    let Target::Ndjson { output } = &writer.target else {
        panic!("ndjson writer");
    };
    assert!(output.get_ref().ends_with(b"}\n"));
}

#[test]
fn geojson_answers_a_feature_per_row_and_ends_with_the_abort_record() {
    let geojson = WriterOptions {
        geojson: true,
        ..WriterOptions::default()
    };
    let input: &[u8] = b"id;lat;lon;\nk1;21,5;105;x\nk2;;105;\n";
    let (header, rows) = read_all(Format::Csv, input);
    let mut writer =
        RowWriter::with_options(Format::Csv, header.as_ref(), Vec::new(), geojson).expect("writer");
    assert_eq!(writer.content_type(), "application/geo+json");
    for row in &rows {
        writer.write_row(row, &outcome_for(row)).expect("row");
    }
    writer.write_abort("stopped").expect("abort record");
    let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
    let document: serde_json::Value = serde_json::from_str(&output).expect("one JSON document");
    let features = document["features"].as_array().expect("features");
    assert_eq!(features.len(), 3, "{output}");
    // A decimal comma is read as the row's point is.
    assert_eq!(
        features[0]["geometry"],
        serde_json::json!({"type": "Point", "coordinates": [105.0, 21.5]})
    );
    assert_eq!(features[0]["properties"]["id"], "k1");
    assert_eq!(features[0]["properties"]["lat"], "21,5");
    assert_eq!(features[0]["properties"]["column_4"], "x");
    assert_eq!(features[1]["geometry"], serde_json::Value::Null);
    assert_eq!(features[1]["properties"]["id"], "k2");
    assert_eq!(features[2]["geometry"], serde_json::Value::Null);
    assert_eq!(features[2]["properties"]["error_code"], "stream_aborted");
    assert_eq!(features[2]["properties"]["error_message"], "stopped");
    assert!(output.ends_with("\n]}\n"), "{output}");
}
