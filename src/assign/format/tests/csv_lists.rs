//! CSV lists: reading, carrying through, refusing, and the cell and row limits.

use super::super::read_csv::detect_separator;
use super::*;

#[test]
fn csv_round_trip_byte_for_byte() {
    let input = "id,lat,lon,street,note\n\
                 a1,10.762622,106.660172,Nguyễn Trãi,\"x, y\"\n\
                 a2, 21.0285 ,105.8542,,\n";
    let (header, rows) = read_all(Format::Csv, input.as_bytes());
    let header = header.expect("header");
    assert_eq!(header.columns(), ["id", "lat", "lon", "street", "note"]);
    assert_eq!(header.separator(), b',');
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].row_number, 1);
    assert_eq!(
        fields(&rows[0]),
        &RowFields {
            id: text("a1"),
            lat: text("10.762622"),
            lon: text("106.660172"),
            street: text("Nguyễn Trãi"),
            ..RowFields::default()
        }
    );
    assert_eq!(fields(&rows[1]).lat, text("21.0285"));
    assert_eq!(fields(&rows[1]).street, None);

    let mut writer = RowWriter::new(Format::Csv, Some(&header), Vec::new()).expect("writer");
    writer
        .write_row(&rows[0], &created("700000000001", 1.374))
        .expect("write");
    let error = RowOutcome {
        status: RowStatus::Error,
        error_code: Some(RowErrorCode::OutsideCoverage),
        error_message: text("no zone within 50 km; \"far\""),
        ..RowOutcome::default()
    };
    writer.write_row(&rows[1], &error).expect("write");
    let output = String::from_utf8(writer.finish().expect("finish")).expect("UTF-8");
    assert_eq!(
        output,
        "id,lat,lon,street,note,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n\
         a1,10.762622,106.660172,Nguyễn Trãi,\"x, y\",700000000001,created,70000,1.37,,,,,,,,,\n\
         a2, 21.0285 ,105.8542,,,,error,,,outside_coverage,\"no zone within 50 km; \"\"far\"\"\",,,,,,,\n"
    );
}

#[test]
fn csv_excel_style_bom_semicolon_vietnamese() {
    let input = "\u{FEFF}ID;Latitude;LNG;Street;Ghi chú\r\n\
                 1;10,7626;106,6601;\"Nguyễn Trãi; Quận 5\r\nlầu 2\";\"ghi \"\"chú\"\"\"\r\n\
                 \r\n\
                 2;21,03;105,85;Phố Huế;\r\n";
    let (header, rows) = read_all(Format::Csv, input.as_bytes());
    let header = header.expect("header");
    assert_eq!(header.separator(), b';');
    assert_eq!(
        header.columns(),
        ["ID", "Latitude", "LNG", "Street", "Ghi chú"]
    );
    assert_eq!(rows.len(), 2, "the blank line is skipped");
    assert_eq!(
        fields(&rows[0]),
        &RowFields {
            id: text("1"),
            lat: text("10,7626"),
            lon: text("106,6601"),
            street: text("Nguyễn Trãi; Quận 5\r\nlầu 2"),
            ..RowFields::default()
        }
    );
    assert_eq!(rows[1].row_number, 2);
    assert_eq!(fields(&rows[1]).street, text("Phố Huế"));

    let output = round_trip(Format::Csv, input.as_bytes());
    assert_eq!(
        output,
        "ID;Latitude;LNG;Street;Ghi chú;code;status;postcode;distance_m;error_code;error_message;postcode_2025;ward_2025;province_2025;warning;match_level;confidence;matched_label\n\
         1;10,7626;106,6601;\"Nguyễn Trãi; Quận 5\r\nlầu 2\";\"ghi \"\"chú\"\"\";700000000000;created;70000;0;;;;;;;;;\n\
         2;21,03;105,85;Phố Huế;;700000000000;created;70000;0;;;;;;;;;\n"
    );
}

#[test]
fn csv_separator_detection() {
    assert_eq!(detect_separator(b"a;b;c"), b';');
    assert_eq!(detect_separator(b"a,b;c"), b',');
    assert_eq!(detect_separator(b"\"a;b;c\",d"), b',');
    assert_eq!(detect_separator(b"abc"), b',');
    let (header, _) = read_all(Format::Csv, b"\n\r\n lat ; lon \n1;2\n");
    let header = header.expect("header after blank lines");
    assert_eq!(header.separator(), b';');
    assert_eq!(header.columns(), [" lat ", " lon "]);
}

#[test]
fn header_aliases_case_and_spaces() {
    let input = " LATITUDE ,Longitude,House Number,ALLEY,Unit,ward,District,PROVINCE,Address,Id\n\
                 10.1,106.2,12A,ngõ 5,P.301,Phường 1,Quận 3,TP HCM,\"12A ngõ 5\",x\n";
    let (_, rows) = read_all(Format::Csv, input.as_bytes());
    assert_eq!(
        fields(&rows[0]),
        &RowFields {
            id: text("x"),
            lat: text("10.1"),
            lon: text("106.2"),
            house_number: text("12A"),
            alley: text("ngõ 5"),
            street: None,
            unit: text("P.301"),
            ward: text("Phường 1"),
            district: text("Quận 3"),
            province: text("TP HCM"),
            address: text("12A ngõ 5"),
        }
    );
    for (column, value) in [
        ("lng", "1"),
        ("long", "2"),
        ("longitude", "3"),
        ("LON", "4"),
    ] {
        let input = format!("lat,{column}\n9,{value}\n");
        let (_, rows) = read_all(Format::Csv, input.as_bytes());
        assert_eq!(fields(&rows[0]).lon, text(value), "{column}");
    }
    let (_, rows) = read_all(
        Format::Json,
        br#"[{"Latitude": 10.5, " LNG ": "106.5", "house-number": 7}]"#,
    );
    assert_eq!(fields(&rows[0]).lat, text("10.5"));
    assert_eq!(fields(&rows[0]).lon, text("106.5"));
    assert_eq!(fields(&rows[0]).house_number, text("7"));
}

#[test]
fn two_columns_naming_one_field_refuse_the_list() {
    for (header, later, meaning) in [
        ("lat,latitude,lon", "latitude", "lat"),
        ("id,note,lat,Note", "Note", "note"),
        ("lat,lon,Long", "Long", "lon"),
    ] {
        let input = format!("{header}\n1,2,3\n");
        let refused = read_rows(Format::Csv, input.as_bytes()).map(|_| ());
        let Err(FormatError::List(ListError::DuplicateColumn {
            column,
            meaning: what,
            ..
        })) = refused
        else {
            panic!("{header}: {refused:?}");
        };
        assert_eq!(
            (column.as_str(), what.as_str()),
            (later, meaning),
            "{header}"
        );
    }
    // Columns without a name, as Excel leaves at the end, may repeat.
    let (header, rows) = read_all(Format::Csv, b"lat,lon,,\n1,2,,\n");
    assert_eq!(header.expect("header").columns().len(), 4);
    assert_eq!(fields(&rows[0]).lon, text("2"));
    let (_, rows) = read_all(Format::Json, br#"[{"lat":null,"latitude":2},{"lat":1}]"#);
    assert_eq!(error_code(&rows[0]), "invalid_field");
    assert_eq!(fields(&rows[1]).lat, text("1"));
}

#[test]
fn unknown_columns_carried_through_in_position_and_order() {
    let input = "x,lat,Ý kiến,lon,z\n\" a \",1,\"b\nc\",2,\n";
    let output = round_trip(Format::Csv, input.as_bytes());
    assert_eq!(
        output,
        "x,lat,Ý kiến,lon,z,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n\
         \x20a ,1,\"b\nc\",2,,700000000000,created,70000,0,,,,,,,,,\n"
    );
    let input =
        r#"[{"zeta":[1,{"b":null}],"lat":"1","alpha":"x","lon":2,"nested":{"y":true,"x":1.5}}]"#;
    let output = round_trip(Format::Json, input.as_bytes());
    assert_eq!(
        output,
        "[{\"zeta\":[1,{\"b\":null}],\"lat\":\"1\",\"alpha\":\"x\",\"lon\":2,\
         \"nested\":{\"y\":true,\"x\":1.5},\"code\":\"700000000000\",\"status\":\"created\",\
         \"postcode\":\"70000\",\"distance_m\":0,\"error_code\":null,\"error_message\":null,\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}]\n"
    );
}

#[test]
fn column_count_error_rows_keep_the_output_rectangular() {
    let input = "id,lat,lon\n1,2\n2,10,106\n3,10,106,extra\n";
    let (_, rows) = read_all(Format::Csv, input.as_bytes());
    assert_eq!(rows.len(), 3);
    assert_eq!(error_code(&rows[0]), "column_count");
    let message = &rows[0].fields.as_ref().expect_err("error").message;
    assert!(
        message.contains("row 1 (line 2) has 2 fields, the header has 3"),
        "{message}"
    );
    assert_eq!(fields(&rows[1]).id, text("2"));
    assert_eq!(error_code(&rows[2]), "column_count");
    assert_eq!(rows[2].row_number, 3);
    let output = round_trip(Format::Csv, input.as_bytes());
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines[1],
        "1,2,,,error,,,column_count,\"row 1 (line 2) has 2 fields, the header has 3\",,,,,,,"
    );
    assert_eq!(lines[2], "2,10,106,700000000000,created,70000,0,,,,,,,,,");
    // The fields past the header are kept, in the message.
    assert_eq!(
        lines[3],
        "3,10,106,,error,,,column_count,\"row 3 (line 4) has 4 fields, the header has 3; \
         the fields past the header: extra\",,,,,,,"
    );
    let output = round_trip(Format::Csv, b"lat;lon\n1;2;\"x;y\";z\n");
    assert!(
        output.ends_with("fields past the header: \"\"x;y\"\";z\";;;;;;;\n"),
        "{output}"
    );
}

#[test]
fn invalid_utf8_row_is_an_error_row() {
    let input = b"id,lat,lon,street\n1,10,2,Ph\xE1\n2,10,2,ok\n";
    let (_, rows) = read_all(Format::Csv, input);
    assert_eq!(rows.len(), 2);
    assert_eq!(error_code(&rows[0]), "invalid_utf8");
    assert_eq!(fields(&rows[1]).street, text("ok"));
    let output = round_trip(Format::Csv, input);
    assert!(
        output.contains("1,10,2,Ph\u{FFFD},,error,,,invalid_utf8,"),
        "{output}"
    );
}

#[test]
fn every_column_is_held_to_the_cell_and_row_limits() {
    let limits = ReadLimits {
        max_cell_bytes: 8,
        max_row_bytes: 40,
    };
    let long_note = "n".repeat(9);
    let huge_note = "h".repeat(100);
    let csv = format!(
        "id,lat,lon,note\na,1,2,ok\nb,1,2,{long_note}\nc,1,2,\"{huge_note}\"\nd,1,2,fine\n"
    );
    let rows = read_limited(Format::Csv, csv.as_bytes(), limits);
    let expected = [
        Ok("a"),
        Err("cell_too_large"),
        Err("row_too_large"),
        Ok("d"),
    ];
    assert_eq!(ids_or_error_codes(&rows), expected);
    let message = &rows[1].fields.as_ref().expect_err("error").message;
    assert!(
        message.contains("column \"note\": 9 bytes, at most 8"),
        "{message}"
    );
    let output = write_back(Format::Csv, csv.as_bytes(), limits);
    let lines: Vec<&str> = output.lines().collect();
    // The over-large cell is emptied, the rest of its row carried through; a row over
    // the row limit is answered without its input columns.
    assert!(lines[2].starts_with("b,1,2,,,error,"), "{}", lines[2]);
    assert!(lines[3].starts_with(",,,,,error,"), "{}", lines[3]);
    assert!(
        lines[4].starts_with("d,1,2,fine,700000000000,"),
        "{}",
        lines[4]
    );

    for format in [Format::Json, Format::Ndjson] {
        let objects = [
            r#"{"id":"a","lat":1}"#.to_owned(),
            format!(r#"{{"id":"b","note":"{long_note}"}}"#),
            format!(r#"{{"id":"c","note":["{huge_note}"]}}"#),
            r#"{"id":"d","lat":1}"#.to_owned(),
        ];
        let input = match format {
            Format::Json => format!("[{}]", objects.join(",")),
            _ => objects.join("\n"),
        };
        let rows = read_limited(format, input.as_bytes(), limits);
        assert_eq!(ids_or_error_codes(&rows), expected, "{format}");
        let output = write_back(format, input.as_bytes(), limits);
        assert!(
            output.contains(r#"{"id":"b","note":null,"code":null,"status":"error""#),
            "{format}: {output}"
        );
    }
}

#[test]
fn output_columns_in_the_input_are_refused() {
    for header in ["Code,lat,lon", "lat,lon, Error-Code ", "lat;lon;distance_m"] {
        let input = format!("{header}\n1,2,3\n");
        let refused = read_rows(Format::Csv, input.as_bytes()).map(|_| ());
        let Err(FormatError::List(ListError::ReservedColumn { column, .. })) = refused else {
            panic!("{header}: {refused:?}");
        };
        assert!(header.contains(&column), "{header}: {column}");
    }
    let input = r#"[{"code":"OLD","id":"a","Status":"kept","error_message":"old"},{"id":"b"}]"#;
    let (_, rows) = read_all(Format::Json, input.as_bytes());
    assert_eq!(error_code(&rows[0]), "reserved_column");
    let message = &rows[0].fields.as_ref().expect_err("error").message;
    assert!(message.contains("\"code\", \"error_message\""), "{message}");
    assert_eq!(fields(&rows[1]).id, text("b"));
    let output = round_trip(Format::Json, input.as_bytes());
    assert!(
        output
            .starts_with("[{\"id\":\"a\",\"Status\":\"kept\",\"code\":null,\"status\":\"error\","),
        "{output}"
    );
}

#[test]
fn empty_and_header_only_csv() {
    for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n"] {
        let refused = read_rows(Format::Csv, empty).map(|_| ());
        assert!(
            matches!(refused, Err(FormatError::List(ListError::NoHeader { .. }))),
            "{empty:?}: {refused:?}"
        );
    }
    // A writer given no header (a list that failed before its header was read) writes
    // the output columns.
    let writer = RowWriter::new(Format::Csv, None, Vec::new()).expect("writer");
    assert_eq!(
        writer.finish().expect("finish"),
        b"code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n"
    );
    assert_eq!(
        round_trip(Format::Csv, b"id;lat;lon\r\n"),
        "id;lat;lon;code;status;postcode;distance_m;error_code;error_message;postcode_2025;ward_2025;province_2025;warning;match_level;confidence;matched_label\n"
    );
    assert_eq!(round_trip(Format::Ndjson, b""), "");
}
