//! One-off lookups from the command line: `reverse`, `geocode` (one text, or a list through
//! the assignment engine, registering nothing), `decode`.

use std::path::{Path, PathBuf};

use super::args::{AssignArgs, DecodeArgs, GeocodeArgs, MatchRadiusArg, ReverseArgs};
use super::{CliError, load_zones, open_registry};
use crate::assign::format::Format;
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{MatchRadius, RegistryError};

pub(super) async fn reverse(args: ReverseArgs) -> Result<(), CliError> {
    let point =
        LatLon::new(args.lat, args.lon).map_err(|error| CliError::Usage(error.to_string()))?;
    let query = args.reverse_query().map_err(CliError::query)?;
    let registry = open_registry(&args.data).await?;
    let answer = registry.reverse(point, query);
    match answer.zone {
        Some(resolved) => {
            let zone = registry.zones().get(resolved.zone_id);
            println!(
                "zone:      {} {}, {}, {} ({:?})",
                zone.postcode, zone.ward, zone.district, zone.province, resolved.method
            );
        }
        None => println!("zone:      outside coverage"),
    }
    if let Some(code) = answer.grid_code {
        println!("grid code: {} ({})", code, code.pretty());
    }
    if answer.addresses.is_empty() {
        println!("no active address within {} m", args.radius_m);
    }
    for address in &answer.addresses {
        println!(
            "{:>10.1} m  {:<16} {:.7}, {:.7}",
            address.distance_m,
            address.code.pretty(),
            address.lat,
            address.lon
        );
    }
    registry.close().await;
    Ok(())
}

pub(super) async fn geocode(args: GeocodeArgs) -> Result<(), CliError> {
    if is_list(&args) {
        // A list is an assignment that registers nothing: rows without coordinates are
        // found from their text, rows with coordinates get the code they would have.
        return super::assign::assign(AssignArgs {
            data: args.data,
            input: PathBuf::from(args.text),
            output: args.output,
            format: args.format,
            dry_run: true,
            match_radius_m: MatchRadiusArg(MatchRadius::default()),
            batch_rows: crate::assign::DEFAULT_BATCH_ROWS,
            list: args.list,
            csv_safe: args.csv_safe,
            geojson: args.geojson,
        })
        .await;
    }
    if !(1..=20).contains(&args.limit) {
        return Err(CliError::Usage(
            "--limit must be between 1 and 20".to_owned(),
        ));
    }
    if !args.text.chars().any(char::is_alphanumeric) {
        return Err(CliError::Usage(
            "the text holds no letter or digit".to_owned(),
        ));
    }
    let registry = open_registry(&args.data).await?;
    let answer = registry.search(&args.text, args.limit, None);
    if answer.results.is_empty() {
        println!("nothing found");
    }
    for result in &answer.results {
        let code = result
            .code
            .map_or_else(|| "-".to_owned(), |code| code.pretty());
        println!(
            "{:<8} {:<16} {:.2}  {:.7}, {:.7}  {}",
            format!("{:?}", result.level).to_lowercase(),
            code,
            result.confidence,
            result.location.lat,
            result.location.lon,
            result.label
        );
    }
    if answer.ambiguous {
        println!("ambiguous: the best two cannot be told apart");
    }
    registry.close().await;
    Ok(())
}

/// Whether `vmap geocode`'s argument is a list rather than one address's text: `-o` is
/// given, or it is `-`, or it names an existing file with a list's extension.
fn is_list(args: &GeocodeArgs) -> bool {
    let path = Path::new(&args.text);
    args.output.is_some()
        || args.text == "-"
        || (Format::from_path(path).is_some() && path.is_file())
}

pub(super) fn decode(args: DecodeArgs) -> Result<(), CliError> {
    let code = VmapCode::parse(&args.code)
        .map_err(|error| CliError::Usage(format!("malformed code: {error}")))?;
    let zones = load_zones(&args.zones)?;
    let zone_id = zones
        .by_postcode(code.postcode())
        .ok_or(RegistryError::UnknownPostcode(code.postcode()))?;
    let zone = zones.get(zone_id);
    let reference = zones.reference_of(zone_id);
    let cell = code.cell(reference);
    let center = cell.center();
    println!("code:      {} ({})", code, code.pretty());
    println!(
        "zone:      {} {}, {}, {}",
        zone.postcode, zone.ward, zone.district, zone.province
    );
    println!("plus code: {}", code.full_olc(reference));
    println!("centre:    {:.7}, {:.7}", center.lat, center.lon);
    println!(
        "cell:      south {:.7} west {:.7} north {:.7} east {:.7}",
        cell.south, cell.west, cell.north, cell.east
    );
    Ok(())
}
