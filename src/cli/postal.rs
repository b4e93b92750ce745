//! The postal maps: `migrate-postcodes` (switch a registry to minting 2025 codes) and
//! `data compile-boundaries` (the embedded 2025 boundary file).

use super::args::{CompileBoundariesArgs, MigratePostcodesArgs};
use super::{CliError, load_zones};
use crate::admin::NumberRelation;
use crate::code::PostalScheme;
use crate::store::Store;

/// Counts what the registry holds and, unless a dry run, records the 2025 scheme. Issued
/// codes are not touched: the switch is one `vmap_meta` row.
pub(super) async fn migrate_postcodes(args: MigratePostcodesArgs) -> Result<(), CliError> {
    let store = Store::connect_with(&args.database_url, &args.store.options()).await?;
    let zones = load_zones(&Default::default())?;
    let before = store.postal_scheme().await?;
    let counts = store.counts().await?;
    let mut by_relation = [0u64; 6];
    if let Some(map) = zones.map_2025() {
        let admin = map.admin();
        store
            .for_each_index_row(|row| {
                let slot = match admin.number_relation(row.code.postcode()) {
                    NumberRelation::OnlyLegacy => 0,
                    NumberRelation::Nested => 1,
                    NumberRelation::Neighbour => 2,
                    NumberRelation::FarApart => 3,
                    NumberRelation::Only2025 => 4,
                    NumberRelation::Unknown => 5,
                };
                by_relation[slot] += 1;
                Ok(())
            })
            .await?;
    }
    println!("registry mints {before} codes");
    println!(
        "addresses: {} active, {} retired; every issued code stays as it is",
        counts.active, counts.retired
    );
    println!(
        "issued codes by what their number names: only legacy {}, nested {}, neighbour {}, far apart {}, only 2025 {}, unknown {}",
        by_relation[0],
        by_relation[1],
        by_relation[2],
        by_relation[3],
        by_relation[4],
        by_relation[5]
    );
    if before == PostalScheme::Y2025 {
        println!("nothing to do: new codes already use the 2025 postal codes");
    } else if args.dry_run {
        println!("dry run: would mint new codes with the 2025 postal codes; nothing changed");
    } else {
        store.set_postal_scheme(PostalScheme::Y2025).await?;
        println!(
            "new codes are now minted with the 2025 postal codes (running servers follow within a catch-up)"
        );
    }
    store.close().await;
    Ok(())
}

pub(super) fn compile_boundaries(args: CompileBoundariesArgs) -> Result<(), CliError> {
    let input =
        std::fs::File::open(&args.from).map_err(|error| CliError::file(&args.from, error))?;
    let mut bytes = Vec::new();
    let started = std::time::Instant::now();
    let summary = crate::boundaries::compile(std::io::BufReader::new(input), &mut bytes)?;
    std::fs::write(&args.to, &bytes).map_err(|error| CliError::file(&args.to, error))?;
    println!(
        "{summary:?}: {} bytes written to {} in {:.1?}",
        bytes.len(),
        args.to.display(),
        started.elapsed()
    );
    Ok(())
}
