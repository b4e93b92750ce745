#![allow(clippy::unwrap_used)] // a test should fail loudly where its own fixtures are wrong
use super::*;
use proptest::prelude::*;

const HANOI: LatLon = LatLon {
    lat: 21.0285,
    lon: 105.8542,
};

fn code(text: &str) -> VmapCode {
    match VmapCode::parse(text) {
        Ok(code) => code,
        Err(err) => panic!("{text:?} should parse: {err}"),
    }
}

fn parse_error(text: &str) -> CodeError {
    match VmapCode::parse(text) {
        Ok(code) => panic!("{text:?} should not parse, got {code}"),
        Err(err) => err,
    }
}

#[test]
fn grid_is_olc_characters_5_to_11() {
    let full = olc::encode(HANOI.lat, HANOI.lon, 11).unwrap();
    let reference = LatLon {
        lat: 21.1,
        lon: 105.9,
    };
    let vmap = VmapCode::encode(Postcode::new(11116).unwrap(), reference, HANOI).unwrap();
    assert_eq!(vmap.grid(), format!("{}{}", &full[4..8], &full[9..12]));
    assert_eq!(vmap.full_olc(reference), full);
    assert_eq!(vmap.suffix(), None);
}

#[test]
fn example_from_the_brief() {
    // 7P3WQGQQ+XV4 lies in the 1° cell 7P3W; any reference nearby recovers it.
    let area = olc::decode("7P3WQGQQ+XV4").unwrap();
    let reference = LatLon {
        lat: area.center().lat + 0.3,
        lon: area.center().lon - 0.2,
    };
    let vmap = VmapCode::encode(Postcode::new(10000).unwrap(), reference, area.center()).unwrap();
    assert_eq!(vmap.grid(), "QGQQXV4");
    assert_eq!(vmap.full_olc(reference), "7P3WQGQQ+XV4");
    assert_eq!(vmap.cell(reference), area);
}

#[test]
fn canonical_and_pretty_forms() {
    let base = code("111162RWXP69");
    assert_eq!(base.canonical(), "111162RWXP69");
    assert_eq!(base.pretty(), "11116 2RWX P69");
    let second = base.with_suffix(2).unwrap();
    assert_eq!(second.canonical(), "111162RWXP69-2");
    assert_eq!(second.to_string(), "111162RWXP69-2");
    assert_eq!(second.pretty(), "11116 2RWX P69-2");
    assert_eq!(second.base(), base);
    assert_eq!(base.with_suffix(1).unwrap(), base);
    assert_eq!(second.suffix(), Some(2));
    assert_eq!(base.postcode().value(), 11116);
}

#[test]
fn parse_accepts_what_people_type() {
    let expected = code("111162RWXP69");
    for text in [
        "11116 2RWX P69",
        "11116-2rwx-p69",
        "  11116\t2RWX+P69 ",
        "111162RWX+P69",
        "11116+2RWXP69",
        "1\u{a0}1116 2RWX\u{3000}P69",
        "1-1-1-1-6-2-R-W-X-P-6-9",
    ] {
        assert_eq!(code(text), expected, "{text:?}");
    }
    let second = expected.with_suffix(2).unwrap();
    for text in [
        "111162RWXP69-2",
        "11116 2RWX P69 - 2",
        "11116 2rwx p69 -2  ",
    ] {
        assert_eq!(code(text), second, "{text:?}");
    }
    assert_eq!(code("00001 2222 222-99999").suffix(), Some(99_999));
    assert_eq!(
        "111162RWXP69-3".parse::<VmapCode>().unwrap().suffix(),
        Some(3)
    );
}

#[test]
fn parse_errors_say_which_character_and_why() {
    let cases = [
        (
            "11116 2RWI P69",
            "character 'I' at position 10 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
        ),
        (
            // Positions count characters: the ideographic space is 3 bytes.
            "11116\u{3000}2RI P69",
            "character 'I' at position 9 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
        ),
        (
            "11A16 2RWX P69",
            "character 'A' at position 3: the first 5 characters are the postal code and must be digits",
        ),
        (
            "11116 2RWX P6",
            "too short: 11 of the 12 characters of a code",
        ),
        ("11116 2RW", "too short: 8 of the 12 characters of a code"),
        (
            "11116 2RWX P69X",
            "unexpected 'X' at position 15 after the 12 characters of a code: only a suffix like -2 may follow",
        ),
        (
            "111162RWXP69-1",
            "suffix -1 is not allowed: the first address in a cell has no suffix",
        ),
        (
            "111162RWXP69-0",
            "suffix -0 is not allowed: suffixes start at -2",
        ),
        (
            "111162RWXP69-02",
            "suffix -02 is not allowed: write it without leading zeros",
        ),
        (
            "111162RWXP69-100000",
            "suffix -100000 is too large: the largest is -99999",
        ),
        (
            "111162RWXP69-",
            "'-' at position 13 must be followed by a suffix number like -2",
        ),
        (
            "111162RWXP69-2a",
            "character 'a' at position 15: a suffix is a decimal number like -2 and nothing may follow it",
        ),
        (
            "111162RWXP69-2 3",
            "character '3' at position 16: a suffix is a decimal number like -2 and nothing may follow it",
        ),
        (
            "11116 2RW0 P69",
            "character '0' at position 10: '0' is plus-code padding, which a vmap code never has; the 7 grid characters are from 23456789CFGHJMPQRVWX",
        ),
        (
            "11116 2R+W+X P69",
            "character '+' at position 11: a code may have only one '+'",
        ),
        (
            "111+16 2RWX P69",
            "character '+' at position 4: '+' may only come after the 5-digit postal code",
        ),
        (
            "-11116 2RWX P69",
            "character '-' at position 1: a code cannot start with '-'",
        ),
        (
            "11116 ĐRWX P69",
            "character 'Đ' at position 7 is not in the plus-code alphabet 23456789CFGHJMPQRVWX",
        ),
        (
            "Đ1116 2RWX P69",
            "character 'Đ' at position 1: the first 5 characters are the postal code and must be digits",
        ),
        (
            "",
            "empty input: a code has 12 characters, like 11116 2RWX P69",
        ),
        (
            " \t ",
            "empty input: a code has 12 characters, like 11116 2RWX P69",
        ),
    ];
    for (input, message) in cases {
        let err = parse_error(input);
        assert_eq!(err.to_string(), message, "{input:?}");
        assert!(!err.to_string().ends_with('.'));
    }
}

#[test]
fn errors_carry_position_character_and_kind() {
    let err = parse_error("ĐĐ11116");
    assert_eq!(err.kind(), "invalid_character");
    assert_eq!(err.position(), Some(1));
    assert_eq!(err.character(), Some('Đ'));
    let err = parse_error("11116 2RWX P69X");
    assert_eq!(
        (err.kind(), err.position(), err.character()),
        ("too_long", Some(15), Some('X'))
    );
    let err = parse_error("111162RWXP69-1");
    assert_eq!(
        (err.kind(), err.position(), err.character()),
        ("invalid_suffix", Some(14), None)
    );
    assert_eq!(parse_error("1111").kind(), "too_short");
    assert_eq!(parse_error("").kind(), "empty");
    assert_eq!(
        Postcode::parse("1234").unwrap_err().kind(),
        "invalid_postcode"
    );
    let far = VmapCode::encode(
        Postcode::new(1).unwrap(),
        HANOI,
        LatLon {
            lat: 21.5,
            lon: 105.8542,
        },
    );
    assert_eq!(far.unwrap_err().kind(), "too_far_from_reference");
    let nan = VmapCode::encode(
        Postcode::new(1).unwrap(),
        HANOI,
        LatLon {
            lat: f64::NAN,
            lon: 0.0,
        },
    );
    assert_eq!(nan.unwrap_err().kind(), "invalid_coordinate");
    assert_eq!(
        code("111162RWXP69").with_suffix(0).unwrap_err().kind(),
        "invalid_suffix"
    );
    assert!(code("111162RWXP69").with_suffix(MAX_SUFFIX + 1).is_err());
}

#[test]
fn huge_suffix_errors_stay_small() {
    let input = format!("111162RWXP69-{}", "9".repeat(10_000));
    let err = parse_error(&input);
    assert!(err.to_string().len() < 120, "{err}");
}

#[test]
fn postcode_parse_and_display() {
    assert_eq!(Postcode::parse(" 01234 ").unwrap().value(), 1234);
    assert_eq!(Postcode::parse("01234").unwrap().to_string(), "01234");
    for bad in ["1234", "123456", "12a45", "", "１２３４５", "12 45"] {
        assert!(Postcode::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Postcode::new(99_999).map(Postcode::value), Some(99_999));
    assert_eq!(Postcode::new(100_000), None);
    assert_eq!(
        Postcode::parse("1234").unwrap_err().to_string(),
        "postal code \"1234\" is not 5 digits"
    );
}

#[test]
fn pack_extremes_round_trip() {
    let smallest = code("000002222222");
    let largest = code("99999XXXXXXX").with_suffix(MAX_SUFFIX).unwrap();
    assert_eq!(smallest.pack(), 0);
    assert_eq!(VmapCode::unpack(largest.pack()), Some(largest));
    assert_eq!(VmapCode::unpack(largest.pack() + 1), None);
    assert_eq!(VmapCode::unpack(u64::MAX), None);
}

#[test]
fn codes_at_the_antimeridian_and_poles() {
    let postcode = Postcode::new(1).unwrap();
    for (reference, point) in [
        (
            LatLon {
                lat: 0.0,
                lon: 179.8,
            },
            LatLon {
                lat: 0.1,
                lon: -179.9,
            },
        ),
        (
            LatLon {
                lat: 0.0,
                lon: -179.8,
            },
            LatLon {
                lat: 0.1,
                lon: 179.9,
            },
        ),
        (
            LatLon {
                lat: 89.8,
                lon: 0.0,
            },
            LatLon {
                lat: 90.0,
                lon: 0.0,
            },
        ),
        (
            LatLon {
                lat: -89.8,
                lon: 0.0,
            },
            LatLon {
                lat: -90.0,
                lon: 0.0,
            },
        ),
    ] {
        let vmap = VmapCode::encode(postcode, reference, point).unwrap();
        assert_eq!(
            vmap.full_olc(reference),
            olc::encode(point.lat, point.lon, 11).unwrap()
        );
        let cell = vmap.cell(reference);
        assert!(
            cell.south <= point.lat && point.lat <= cell.north,
            "{cell:?} {point:?}"
        );
        assert!(
            cell.west <= point.lon && point.lon <= cell.east,
            "{cell:?} {point:?}"
        );
    }
}

/// The integer columns of the reference encoding vectors.
#[test]
fn location_to_integers_matches_the_vectors() {
    let vectors = include_str!("../../tests/data/olc/encoding.csv");
    let mut n_checked = 0;
    for line in vectors
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let fields: Vec<&str> = line.split(',').collect();
        let degrees = |idx: usize| fields[idx].parse::<f64>().unwrap();
        let steps = |idx: usize| fields[idx].parse::<i64>().unwrap();
        let got = olc::location_to_integers(degrees(0), degrees(1));
        assert_eq!(got, (steps(2), steps(3)), "{line}");
        n_checked += 1;
    }
    assert!(n_checked > 300);
}

fn arbitrary_code() -> impl Strategy<Value = VmapCode> {
    let suffix = prop_oneof![Just(1u32), 2u32..20, 2u32..=MAX_SUFFIX];
    (0u32..=99_999, proptest::array::uniform7(0usize..20), suffix).prop_map(
        |(postcode, grid_values, suffix)| {
            let grid = grid_values.map(|value| OLC_ALPHABET[value]);
            VmapCode {
                postcode: Postcode(postcode),
                grid,
                suffix,
            }
        },
    )
}

fn wrap_longitude(lon: f64) -> f64 {
    (lon + 540.0).rem_euclid(360.0) - 180.0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoded_cell_contains_the_point(
        ref_lat in -85.0f64..85.0,
        ref_lon in -180.0f64..180.0,
        lat_offset in -0.44f64..0.44,
        lon_offset in -0.44f64..0.44,
    ) {
        let reference = LatLon { lat: ref_lat, lon: ref_lon };
        let point = LatLon { lat: ref_lat + lat_offset, lon: wrap_longitude(ref_lon + lon_offset) };
        let vmap = VmapCode::encode(Postcode(12345), reference, point).unwrap();
        let cell = vmap.cell(reference);
        // Encoding may round a point up by 2e-14° onto a cell edge (see `olc::encode`).
        let slack = 1e-12;
        prop_assert!(cell.south - slack <= point.lat && point.lat < cell.north, "{:?} {:?}", cell, point);
        prop_assert!(cell.west - slack <= point.lon && point.lon < cell.east, "{:?} {:?}", cell, point);
        prop_assert!(cell.north - cell.south < 3e-5 && cell.east - cell.west < 4e-5);
        prop_assert_eq!(vmap.full_olc(reference), olc::encode(point.lat, point.lon, 11).unwrap());
        let center = cell.center();
        prop_assert!(cell.south < center.lat && center.lat < cell.north);
    }

    #[test]
    fn recovery_from_a_nearby_reference_gives_the_full_code(
        lat in -89.0f64..89.0,
        lon in -180.0f64..180.0,
        lat_offset in -0.4f64..0.4,
        lon_offset in -0.4f64..0.4,
    ) {
        let full = olc::encode(lat, lon, 11).unwrap();
        let short = &full[4..];
        let ref_lat = lat + lat_offset;
        let ref_lon = wrap_longitude(lon + lon_offset);
        prop_assert_eq!(olc::recover_nearest(short, ref_lat, ref_lon).unwrap(), full.clone());
        let shortened = olc::shorten(&full, ref_lat, ref_lon).unwrap();
        prop_assert_eq!(olc::recover_nearest(&shortened, ref_lat, ref_lon).unwrap(), full);
    }

    #[test]
    fn canonical_and_pretty_parse_back(vmap in arbitrary_code()) {
        prop_assert_eq!(VmapCode::parse(&vmap.canonical()).unwrap(), vmap);
        prop_assert_eq!(VmapCode::parse(&vmap.pretty()).unwrap(), vmap);
        prop_assert_eq!(VmapCode::parse(&vmap.pretty().to_lowercase()).unwrap(), vmap);
        prop_assert_eq!(vmap.canonical().len(), if vmap.suffix().is_some() { 13 + vmap.suffix.to_string().len() } else { 12 });
        let mut pushed = String::from("x");
        vmap.push_canonical(&mut pushed);
        prop_assert_eq!(&pushed[1..], vmap.canonical());
    }

    #[test]
    fn pack_round_trips_and_keeps_order(first in arbitrary_code(), second in arbitrary_code()) {
        prop_assert_eq!(VmapCode::unpack(first.pack()), Some(first));
        prop_assert_eq!(first.pack().cmp(&second.pack()), first.cmp(&second));
        let same_cell = first.base().with_suffix(second.suffix.max(1)).unwrap();
        prop_assert_eq!(same_cell.pack().cmp(&first.pack()), same_cell.suffix.cmp(&first.suffix));
    }

    #[test]
    fn unpack_never_panics(key in any::<u64>()) {
        if let Some(vmap) = VmapCode::unpack(key) {
            prop_assert_eq!(vmap.pack(), key);
        }
    }

    #[test]
    fn parse_never_panics(input in ".*") {
        let _ = VmapCode::parse(&input);
    }

    #[test]
    fn parse_never_panics_on_code_like_input(input in "[0-9A-Za-zĐđ +\\-\t]{0,24}") {
        match VmapCode::parse(&input) {
            Ok(vmap) => prop_assert_eq!(VmapCode::parse(&vmap.canonical()).unwrap(), vmap),
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!message.ends_with('.'));
                if let Some(position) = err.position() {
                    prop_assert!(position >= 1 && position <= input.chars().count());
                }
                if let (Some(position), Some(character)) = (err.position(), err.character()) {
                    prop_assert_eq!(input.chars().nth(position - 1), Some(character));
                }
            }
        }
    }

    #[test]
    fn olc_functions_never_panic(input in ".{0,20}", lat in any::<f64>(), lon in any::<f64>()) {
        let _ = olc::is_valid(&input);
        let _ = olc::decode(&input);
        let _ = olc::shorten(&input, lat, lon);
        let _ = olc::recover_nearest(&input, lat, lon);
        let _ = olc::encode(lat, lon, 11);
    }
}
