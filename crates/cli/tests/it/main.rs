//! The `quotes` binary, run as an operator would: management commands and the server.

mod commands;
mod helpers;
mod serve;
// The only place these tests check a store feature.
#[cfg(feature = "store-pg")]
mod postgres;
