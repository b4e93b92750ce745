//! The integration tests, one binary with a module per feature; `helpers` has what they
//! share. Run on libtest-mimic rather than libtest, for the reason given in `helpers`.

mod helpers;

mod address_writes;
mod admin_api;
mod api;
mod assign;
mod assign_geojson;
mod assign_lists;
mod assign_safety;
mod assign_stream;
mod autocomplete;
mod bench_cmd;
mod boundaries;
mod connections;
mod convert_lists;
mod drain;
mod e2e;
mod edge;
mod export;
mod geo_api;
mod geocode;
mod geocode_lists;
mod index_oracle;
mod map_page;
mod olc_vectors;
mod ops;
mod outage;
mod parse_api;
mod parse_corpus;
mod parse_units;
mod postal_scheme;
mod postgres;
mod registry;
mod reverse_shapes;
mod seed_file;
mod snapshot;
mod standby;

fn main() -> std::process::ExitCode {
    let arguments = libtest_mimic::Arguments::from_args();
    let trials = [
        vec![helpers::harness::configuration_trial()],
        address_writes::trials(),
        admin_api::trials(),
        api::trials(),
        assign::trials(),
        assign_geojson::trials(),
        assign_lists::trials(),
        assign_safety::trials(),
        assign_stream::trials(),
        autocomplete::trials(),
        bench_cmd::trials(),
        boundaries::trials(),
        connections::trials(),
        convert_lists::trials(),
        drain::trials(),
        e2e::trials(),
        edge::trials(),
        export::trials(),
        geo_api::trials(),
        geocode::trials(),
        geocode_lists::trials(),
        index_oracle::trials(),
        map_page::trials(),
        olc_vectors::trials(),
        ops::trials(),
        outage::trials(),
        parse_api::trials(),
        parse_corpus::trials(),
        parse_units::trials(),
        postal_scheme::trials(),
        postgres::trials(),
        registry::trials(),
        reverse_shapes::trials(),
        seed_file::trials(),
        snapshot::trials(),
        standby::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    helpers::harness::note_ignored_postgres(&arguments);
    libtest_mimic::run(&arguments, trials).exit_code()
}
