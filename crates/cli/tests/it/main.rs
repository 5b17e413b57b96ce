//! The `quotes` binary, run as an operator would: management commands and the server.

mod helpers;
mod commands;
mod serve;
