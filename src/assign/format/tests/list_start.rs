//! A list's start: the peeker's verdicts, part by part.

use super::*;

#[test]
fn a_utf16_list_is_refused() {
    for format in [Format::Csv, Format::Json, Format::Ndjson] {
        for bom in [&b"\xFF\xFE"[..], b"\xFE\xFF"] {
            let mut input = bom.to_vec();
            input.extend_from_slice(b"l\0a\0t\0\n\0");
            let refused = read_rows(format, input.as_slice()).map(|_| ());
            assert!(
                matches!(refused, Err(FormatError::List(ListError::Encoding { .. }))),
                "{format}: {refused:?}"
            );
        }
    }
}

/// What the peeker says of a CSV `input` pushed in parts (cut at these offsets).
pub(super) fn peek(input: &[u8], cuts: &[usize], limits: ReadLimits) -> ListStart {
    let mut peeker = ListPeeker::new(Format::Csv, limits);
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(from, input.len());
        if let Some(verdict) = peeker.push(&input[from..cut]) {
            return verdict;
        }
        from = cut;
    }
    peeker.finish()
}

fn header_of(input: &[u8], cuts: &[usize]) -> CsvHeader {
    match peek(input, cuts, ReadLimits::DEFAULT) {
        Ok(Some(header)) => header,
        other => panic!("{:?}: no header: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn refusal_of(input: &[u8], cuts: &[usize], limits: ReadLimits) -> ListError {
    match peek(input, cuts, limits) {
        Err(refusal) => refusal,
        other => panic!("{:?}: accepted: {other:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn the_header_is_known_once_its_record_has_come() {
    let mut peeker = ListPeeker::new(Format::Csv, ReadLimits::DEFAULT);
    let parts = [
        &b"\xEF"[..],
        b"\xBB\xBF",
        b"\r\n",
        b"id;La",
        b"titude;\"a\nb\"",
    ];
    for part in parts {
        assert_eq!(peeker.push(part), None, "{part:?}");
    }
    let Some(Ok(Some(header))) = peeker.push(b";lng\r\n1;2") else {
        panic!("the line has ended");
    };
    assert_eq!(header.columns(), ["id", "Latitude", "a\nb", "lng"]);
    assert_eq!(header.separator(), b';');

    assert_eq!(
        header_of(b"id,lat,lon", &[]).columns(),
        ["id", "lat", "lon"]
    );
    // Two bytes of a BOM and no more: content, not a BOM.
    assert_eq!(
        header_of(b"\xEF\xBBx,lat,lon\n", &[2]).columns(),
        ["\u{FFFD}x", "lat", "lon"]
    );
    assert_eq!(
        header_of(b"Longitude,LAT\n", &[]).columns(),
        ["Longitude", "LAT"]
    );
    // A quoted field the line end does not close: the header waits for its end.
    let open_quote = b"a\"b,\"c\nd\",lat,lon\n";
    let mut peeker = ListPeeker::new(Format::Csv, ReadLimits::DEFAULT);
    assert_eq!(peeker.push(&open_quote[..7]), None);
    let Some(Ok(Some(header))) = peeker.push(&open_quote[7..]) else {
        panic!("the record has ended");
    };
    assert_eq!(header.columns(), ["a\"b", "c\nd", "lat", "lon"]);
    // The JSON formats have no header.
    let mut peeker = ListPeeker::new(Format::Json, ReadLimits::DEFAULT);
    assert_eq!(peeker.push(b"["), Some(Ok(None)));
}

#[test]
fn a_header_without_lat_and_lon_or_over_the_row_limit_refuses_the_list() {
    let limits = ReadLimits::DEFAULT;
    for (input, missing) in [
        (&b"id,lat,note\n"[..], &["lon"][..]),
        (b"id,house_number\n", &["lat", "lon"]),
        (b"\xEF\xBB\xBFid;Latitude;Note\r\n", &["lon"]),
    ] {
        assert_eq!(
            refusal_of(input, &[], limits),
            ListError::MissingColumn {
                columns: missing.to_vec()
            }
        );
    }
    for empty in [&b""[..], b"\xEF\xBB\xBF\n\n", b"\r\n"] {
        assert_eq!(
            refusal_of(empty, &[1], limits),
            ListError::NoHeader {
                kind: ListKind::Assign
            }
        );
    }
    // A column of address text is enough: rows without coordinates are found by it.
    for text_column in ["address", "Street", "ward", "district", "province"] {
        let header = format!("id,{text_column}\n");
        assert!(
            matches!(peek(header.as_bytes(), &[], limits), Ok(Some(_))),
            "{header}"
        );
    }
    let refusal = refusal_of(b"id,note\n", &[], limits);
    assert_eq!(refusal.code(), "missing_column");
    let fields: Vec<String> = refusal
        .fields()
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["lat", "lon"]);
    // A header over the row limit is refused as soon as it passes the limit, line end or
    // not.
    let small = ReadLimits {
        max_row_bytes: 16,
        ..limits
    };
    let long = format!("id,lat,lon,{}", "x".repeat(64));
    let mut peeker = ListPeeker::new(Format::Csv, small);
    assert_eq!(
        peeker.push(long.as_bytes()),
        Some(Err(ListError::HeaderTooLarge { limit: 16 }))
    );
    assert_eq!(
        refusal_of(format!("\"{long}\n\"\n").as_bytes(), &[3, 40], small),
        ListError::HeaderTooLarge { limit: 16 }
    );
}
