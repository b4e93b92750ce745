//! vmap: an address-code service for Vietnam.
//!
//! See `ARCHITECTURE.md` for the map of this crate.

pub mod address;
pub mod admin;
pub mod api;
pub mod assign;
pub mod bench;
pub mod boundaries;
pub mod cli;
pub mod code;
pub mod convert;
pub mod export;
pub mod geocode;
pub mod index;
pub mod parse;
pub mod point;
pub mod progress;
pub mod registry;
pub mod store;
pub mod synth;
pub mod zones;
