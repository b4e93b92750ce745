use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::names::{HANOI_STREET_NAMES, HIGHWAY_NAMES, NUMBERED_STREET_NAMES, STREET_NAMES};
use super::*;
use crate::point::haversine_m;

fn zones() -> &'static ZoneTable {
    static ZONES: OnceLock<ZoneTable> = OnceLock::new();
    ZONES.get_or_init(|| ZoneTable::load_default().expect("default zone table loads"))
}

/// The zones seeding builds towns in: the 2025 wards.
fn ids() -> Range<ZoneId> {
    zones().zone_ids(PostalScheme::Y2025)
}

fn all(total: u64, seed: u64, chunk_size: usize) -> Vec<SynthAddress> {
    generate(zones(), total, seed, chunk_size)
        .flatten()
        .collect()
}

fn zone_of(province_code: &str, ward_type: WardType) -> ZoneId {
    let zones = zones();
    ids()
        .find(|&zone_id| {
            let zone = zones.get(zone_id);
            zone.province_code == province_code && zone.ward_type == ward_type
        })
        .expect("the table has such a ward")
}

/// About the 3 m cell of an 11-digit plus code (1/40 000° of latitude by 1/32 000° of
/// longitude), which is what makes two addresses share a code.
fn cell(location: LatLon) -> (i64, i64) {
    (
        (location.lat * 40_000.0).floor() as i64,
        (location.lon * 32_000.0).floor() as i64,
    )
}

#[test]
fn same_seed_gives_same_addresses_and_another_seed_differs() {
    let first = all(60_000, 7, 10_000);
    let second = all(60_000, 7, 10_000);
    assert_eq!(first.len(), 60_000);
    assert!(first == second);
    let other = all(60_000, 8, 10_000);
    assert_eq!(other.len(), 60_000);
    assert!(first != other);
    let same_zone = generate_zone(zones(), 42, 500, 1);
    assert!(same_zone == generate_zone(zones(), 42, 500, 1));
    assert!(same_zone != generate_zone(zones(), 42, 500, 2));
}

#[test]
fn thread_count_does_not_change_the_sequence() {
    let expected = all(40_000, 11, 3_000);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let single = pool.install(|| all(40_000, 11, 3_000));
    assert!(expected == single);
}

#[test]
fn plan_sums_to_total_and_favours_towns() {
    let zones = zones();
    for total in [0, 1, 9_999, 1_000_000, 25_000_000] {
        let plan = plan(zones, total, 5);
        assert_eq!(plan.len(), ids().len());
        assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
        assert!(plan.iter().map(|&(zone_id, _)| zone_id).eq(ids()));
    }
    let plan = plan(zones, 1_000_000, 5);
    let mut sums: HashMap<&str, (u64, u64)> = HashMap::new();
    for &(zone_id, count) in &plan {
        let key = match zones.get(zone_id).ward_type {
            WardType::Urban => "urban",
            WardType::Township => "township",
            WardType::Rural => "rural",
        };
        let entry = sums.entry(key).or_default();
        entry.0 += count;
        entry.1 += 1;
    }
    let mean = |key: &str| sums[key].0 as f64 / sums[key].1 as f64;
    // The 2025 map has no thị trấn.
    assert!(!sums.contains_key("township"), "{sums:?}");
    assert!(mean("urban") > 2.0 * mean("rural"), "{sums:?}");
    assert_eq!(plan, super::plan(zones, 1_000_000, 5));
}

#[test]
fn every_point_is_in_its_ward_polygon_and_decodes_through_its_zone() {
    let zones = zones();
    let addresses = all(300_000, 3, 50_000);
    assert_eq!(addresses.len(), 300_000);
    for address in &addresses {
        let zone = zones.get(address.zone_id);
        assert!(
            zone.bbox.contains(address.location),
            "{address:?} outside {:?}",
            zone.bbox
        );
        assert!(
            zones.can_own(address.zone_id, address.location),
            "{address:?}"
        );
        let (map, ward) = zones
            .boundary_ward_of_zone(address.zone_id)
            .expect("a 2025 zone");
        assert_eq!(
            map.index().ward_at(address.location),
            Some(ward),
            "{address:?}"
        );
    }
    let zones_used: HashSet<ZoneId> = addresses.iter().map(|address| address.zone_id).collect();
    assert!(zones_used.len() > 3_300, "{}", zones_used.len());
}

#[test]
fn zones_come_out_in_plan_order_with_their_planned_counts() {
    let zones = zones();
    let addresses = all(120_000, 9, 20_000);
    let mut counts: Vec<(ZoneId, u64)> = Vec::new();
    for address in &addresses {
        match counts.last_mut() {
            Some((zone_id, count)) if *zone_id == address.zone_id => *count += 1,
            _ => counts.push((address.zone_id, 1)),
        }
    }
    let planned: Vec<(ZoneId, u64)> = plan(zones, 120_000, 9)
        .into_iter()
        .filter(|&(_, count)| count > 0)
        .collect();
    assert_eq!(counts, planned);
}

#[test]
fn house_numbers_increase_along_every_street_and_alley() {
    let zones = zones();
    let mut checked = 0;
    for zone_id in ids().step_by(37) {
        let count = match zones.get(zone_id).ward_type {
            WardType::Urban => 6_000,
            WardType::Township => 3_000,
            WardType::Rural => 1_500,
        };
        let addresses = generate_zone(zones, zone_id, count, 21);
        assert_eq!(addresses.len(), count as usize);
        let mut last: HashMap<(&str, StreetKind, Option<Alley>), HouseNumber> = HashMap::new();
        for address in &addresses {
            let key = (address.street, address.street_kind, address.alley);
            if let Some(previous) = last.insert(key, address.house_number) {
                assert!(
                    previous < address.house_number,
                    "zone {zone_id}: {} after {previous} on {:?}",
                    address.house_number,
                    key
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100_000);
}

#[test]
fn odd_and_even_sides_in_towns_sequential_in_the_countryside() {
    let zones = zones();
    let urban = generate_zone(zones, zone_of("79", WardType::Urban), 3_000, 4);
    let on_first_street: Vec<u32> = urban
        .iter()
        .take_while(|address| address.street == urban[0].street)
        .filter(|address| address.alley.is_none() && address.house_number.letter.is_none())
        .map(|address| address.house_number.number)
        .take(6)
        .collect();
    assert!(
        on_first_street.len() == 6 && on_first_street[0] <= 2,
        "{on_first_street:?}"
    );
    let rural = generate_zone(zones, zone_of("40", WardType::Rural), 800, 4);
    let numbers: Vec<u32> = rural
        .iter()
        .filter(|address| {
            address.street == rural[0].street && address.house_number.letter.is_none()
        })
        .map(|address| address.house_number.number)
        .take(20)
        .collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<u32>>());
    assert!(rural.iter().all(|address| address.alley.is_none()));
}

#[test]
fn alleys_appear_in_urban_wards_with_the_regional_word() {
    let zones = zones();
    let cases = [
        ("01", vec![AlleyKind::Ngo, AlleyKind::Ngach]),
        ("48", vec![AlleyKind::Kiet]),
        ("79", vec![AlleyKind::Hem]),
    ];
    for (province_code, expected_kinds) in cases {
        let zone_id = zone_of(province_code, WardType::Urban);
        let addresses = generate_zone(zones, zone_id, 8_000, 2);
        let in_alleys = addresses
            .iter()
            .filter(|address| address.alley.is_some())
            .count();
        assert!(
            in_alleys > addresses.len() / 5,
            "{province_code}: {in_alleys} of {}",
            addresses.len()
        );
        let kinds: HashSet<AlleyKind> = addresses
            .iter()
            .filter_map(|address| address.alley)
            .map(|alley| alley.kind)
            .collect();
        assert_eq!(
            kinds,
            expected_kinds.into_iter().collect::<HashSet<_>>(),
            "{province_code}"
        );
        let branches = addresses
            .iter()
            .filter(|address| address.alley.is_some_and(|alley| alley.branch.is_some()));
        assert!(branches.count() > 0, "{province_code}: no branch alleys");
    }
}

/// At the full 25 M scale, where the densest wards are packed as tightly as the plan
/// allows.
#[test]
fn few_addresses_share_a_three_metre_cell() {
    let zones = zones();
    let mut total = 0;
    let mut shared = 0;
    for &(zone_id, count) in plan(zones, 25_000_000, 13).iter().step_by(40) {
        let addresses = generate_zone(zones, zone_id, count, 13);
        let mut seen: HashSet<(i64, i64)> = HashSet::with_capacity(addresses.len());
        total += addresses.len();
        shared += addresses
            .iter()
            .filter(|address| !seen.insert(cell(address.location)))
            .count();
    }
    assert!(total > 400_000, "{total}");
    let share = shared as f64 / total as f64;
    assert!(share < 0.005, "{shared} of {total} share a cell");
}

/// Compared with points spread evenly over the generation area, the addresses of most
/// wards lie much closer to the centre; in cramped wards they fill the area.
#[test]
fn addresses_crowd_around_the_ward_centre() {
    let zones = zones();
    let median = |mut distances: Vec<f64>| {
        distances.sort_by(f64::total_cmp);
        distances[distances.len() / 2]
    };
    let mut ratios = Vec::new();
    for zone_id in ids().step_by(53) {
        let zone = zones.get(zone_id);
        let Some(area) = generation_area(zones, zone_id) else {
            continue;
        };
        let addresses = generate_zone(zones, zone_id, 2_000, 17);
        let ours = median(
            addresses
                .iter()
                .map(|address| haversine_m(address.location, zone.center))
                .collect(),
        );
        let even = median(
            (0..40 * 40)
                .map(|idx| {
                    let lat =
                        area.south + (area.north - area.south) * ((idx / 40) as f64 + 0.5) / 40.0;
                    let lon =
                        area.west + (area.east - area.west) * ((idx % 40) as f64 + 0.5) / 40.0;
                    haversine_m(LatLon { lat, lon }, zone.center)
                })
                .collect(),
        );
        ratios.push(ours / even.max(1.0));
    }
    ratios.sort_by(f64::total_cmp);
    let median_ratio = ratios[ratios.len() / 2];
    assert!(median_ratio < 0.5, "median ratio {median_ratio}");
    assert!(ratios[ratios.len() * 9 / 10] < 1.0, "{ratios:?}");
    assert!(ratios[ratios.len() - 1] < 1.3, "{ratios:?}");
}

#[test]
fn chunk_size_does_not_change_the_sequence() {
    let whole = all(200_000, 5, 1_000_000);
    for chunk_size in [1, 37, 20_000] {
        let mut sizes = Vec::new();
        let mut joined = Vec::with_capacity(whole.len());
        for chunk in generate(zones(), 200_000, 5, chunk_size) {
            sizes.push(chunk.len());
            joined.extend(chunk);
        }
        assert!(joined == whole, "chunk size {chunk_size}");
        assert!(sizes.iter().all(|&size| size > 0));
        if chunk_size == 20_000 {
            assert!(sizes.iter().all(|&size| size <= 20_000), "{sizes:?}");
            assert!(sizes.len() >= 10);
        }
    }
}

#[test]
fn a_zone_bigger_than_a_chunk_is_split() {
    let chunks: Vec<Vec<SynthAddress>> = generate(zones(), 50_000, 1, 3).collect();
    assert!(chunks.iter().any(|chunk| {
        chunk
            .iter()
            .all(|address| address.zone_id == chunk[0].zone_id)
    }));
    let split = chunks
        .windows(2)
        .any(|pair| pair[0][pair[0].len() - 1].zone_id == pair[1][0].zone_id);
    assert!(split);
}

#[test]
fn cramped_and_degenerate_wards_still_get_every_address() {
    let csv = "province_code,province,district_code,district,ward_code,ward,ward_type,postcode,lat,lon,south,west,north,east\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00001,Phường Nhỏ,Phường,11116,21.0468,105.8481,21.0466,105.8479,21.0470,105.8483\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00004,Phường Điểm,Phường,11117,21.0444,105.8431,,,,\n\
            79,Thành phố Hồ Chí Minh,760,Quận 1,26734,Phường Dài,Phường,71006,10.7760,106.7010,10.7700,106.6000,10.7820,106.8000\n";
    let zones = ZoneTable::from_reader(csv.as_bytes()).expect("table");
    for zone_id in 0..zones.len() as ZoneId {
        let addresses = generate_zone(&zones, zone_id, 20_000, 3);
        assert_eq!(addresses.len(), 20_000, "zone {zone_id}");
        let zone = zones.get(zone_id);
        assert!(
            addresses
                .iter()
                .all(|address| zone.bbox.contains(address.location))
        );
        assert!(
            addresses
                .iter()
                .all(|address| zones.can_own(zone_id, address.location))
        );
    }
    let plan = plan(&zones, 1_000, 1);
    assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), 1_000);
}

#[test]
fn texts_are_written_the_vietnamese_way() {
    let house = HouseNumber {
        number: 12,
        letter: Some('A'),
    };
    assert_eq!(house.to_string(), "12A");
    assert_eq!(
        HouseNumber {
            number: 7,
            letter: None
        }
        .to_string(),
        "7"
    );
    assert_eq!(
        Alley {
            kind: AlleyKind::Ngo,
            number: 12,
            branch: None
        }
        .to_string(),
        "Ngõ 12"
    );
    assert_eq!(
        Alley {
            kind: AlleyKind::Ngach,
            number: 12,
            branch: Some(5)
        }
        .to_string(),
        "Ngách 12/5"
    );
    assert_eq!(
        Alley {
            kind: AlleyKind::Hem,
            number: 45,
            branch: Some(3)
        }
        .to_string(),
        "Hẻm 45/3"
    );
    assert_eq!(
        Alley {
            kind: AlleyKind::Kiet,
            number: 7,
            branch: None
        }
        .to_string(),
        "Kiệt 7"
    );
    let address = SynthAddress {
        zone_id: 0,
        location: LatLon {
            lat: 21.0,
            lon: 105.8,
        },
        house_number: house,
        alley: Some(Alley {
            kind: AlleyKind::Ngo,
            number: 45,
            branch: None,
        }),
        street: "Huế",
        street_kind: StreetKind::Pho,
    };
    assert_eq!(address.house_number_text(), "12A");
    assert_eq!(address.alley_text().as_deref(), Some("Ngõ 45"));
    assert_eq!(address.street_text(), "Phố Huế");
    assert_eq!(address.address_line(), "Số 12A, Ngõ 45, Phố Huế");
    let highway = SynthAddress {
        street: "Quốc lộ 1A",
        street_kind: StreetKind::Highway,
        alley: None,
        ..address
    };
    assert_eq!(highway.street_text(), "Quốc lộ 1A");
    assert_eq!(highway.address_line(), "Số 12A, Quốc lộ 1A");
    let road = SynthAddress {
        street: "Trần Hưng Đạo",
        street_kind: StreetKind::Duong,
        ..highway
    };
    assert_eq!(road.street_text(), "Đường Trần Hưng Đạo");
}

#[test]
fn regions_follow_the_province() {
    assert_eq!(Region::of_province_code("01"), Region::North);
    assert_eq!(Region::of_province_code("42"), Region::North);
    assert_eq!(Region::of_province_code("46"), Region::Central);
    assert_eq!(Region::of_province_code("48"), Region::Central);
    assert_eq!(Region::of_province_code("51"), Region::South);
    assert_eq!(Region::of_province_code("79"), Region::South);
    assert_eq!(Region::of_province_code("?"), Region::South);
}

#[test]
fn name_tables_are_large_unique_and_well_formed() {
    assert!(STREET_NAMES.len() >= 150, "{}", STREET_NAMES.len());
    let mut seen = HashSet::new();
    for name in STREET_NAMES
        .iter()
        .chain(HANOI_STREET_NAMES)
        .chain(HIGHWAY_NAMES)
        .chain(NUMBERED_STREET_NAMES)
    {
        assert!(seen.insert(*name), "{name} twice");
        assert_eq!(name.trim(), *name);
        assert!(!name.is_empty());
    }
    assert!(STREET_NAMES.len() + HANOI_STREET_NAMES.len() <= usize::from(u16::MAX));
}

#[test]
fn hanoi_uses_pho_and_the_old_quarter_names() {
    let addresses = generate_zone(zones(), zone_of("01", WardType::Urban), 20_000, 6);
    let streets: HashSet<(&str, StreetKind)> = addresses
        .iter()
        .map(|address| (address.street, address.street_kind))
        .collect();
    assert!(
        streets.iter().any(|&(_, kind)| kind == StreetKind::Pho),
        "{streets:?}"
    );
    assert!(
        streets
            .iter()
            .any(|&(name, _)| HANOI_STREET_NAMES.contains(&name)),
        "{streets:?}"
    );
}

/// Run with `cargo test --release --lib synth -- --ignored --nocapture`.
#[test]
#[ignore = "timing run; needs a release build"]
fn generates_25_million_addresses_quickly() {
    let zones = zones();
    let started = std::time::Instant::now();
    let mut total = 0usize;
    let mut checksum = 0.0;
    for chunk in generate(zones, 25_000_000, 1, 1_000_000) {
        total += chunk.len();
        checksum += chunk
            .iter()
            .map(|address| address.location.lat)
            .sum::<f64>();
    }
    let elapsed = started.elapsed();
    println!(
        "25 M addresses in {:.2} s on {} threads (checksum {checksum:.3})",
        elapsed.as_secs_f64(),
        rayon::current_num_threads()
    );
    assert_eq!(total, 25_000_000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_zone_any_count_gives_exactly_that_many_valid_points(
        zone_idx in 0usize..100_000,
        count in 0u64..4_000,
        seed in any::<u64>(),
    ) {
        let zones = zones();
        let zone_id = ids().start + (zone_idx % ids().len()) as ZoneId;
        let addresses = generate_zone(zones, zone_id, count, seed);
        prop_assert_eq!(addresses.len() as u64, count);
        let zone = zones.get(zone_id);
        let (map, ward) = zones.boundary_ward_of_zone(zone_id).expect("a 2025 zone");
        for address in &addresses {
            prop_assert_eq!(address.zone_id, zone_id);
            prop_assert!(zone.bbox.contains(address.location));
            prop_assert!(zones.can_own(zone_id, address.location));
            prop_assert_eq!(map.index().ward_at(address.location), Some(ward));
        }
    }

    #[test]
    fn plan_always_sums_to_the_total(total in 0u64..50_000_000_000, seed in any::<u64>()) {
        let plan = plan(zones(), total, seed);
        prop_assert_eq!(plan.iter().map(|&(_, count)| count).sum::<u64>(), total);
    }
}
