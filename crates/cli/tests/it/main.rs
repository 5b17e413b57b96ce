//! The `quotes` binary, run as an operator would: management commands and the server.

mod commands;
mod helpers;
mod serve;
// The only place these tests pick modules by store feature.
mod builds;
#[cfg(feature = "store-memory")]
mod memory;
#[cfg(feature = "store-pg")]
mod outage;
#[cfg(feature = "store-pg")]
mod postgres;
