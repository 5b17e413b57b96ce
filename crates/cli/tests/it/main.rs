//! The `quotes` binary, run as an operator would: management commands and the server.

mod builds;
mod components;
mod helpers;
mod site;
// The only place these tests pick modules by feature: what a module needs must be built in.
#[cfg(feature = "accounts")]
mod accounts;
#[cfg(feature = "quotes")]
mod commands;
#[cfg(all(feature = "quotes", feature = "store-memory"))]
mod memory;
#[cfg(all(feature = "quotes", feature = "store-pg"))]
mod ops;
#[cfg(all(feature = "quotes", feature = "store-pg"))]
mod outage;
#[cfg(all(feature = "quotes", feature = "store-pg"))]
mod postgres;
#[cfg(feature = "quotes")]
mod serve;
#[cfg(all(feature = "wiki", feature = "store-pg"))]
mod wiki;
