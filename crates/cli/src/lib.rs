//! The `quotes` binary's library: the one composition root (settings → concrete stores →
//! components → server) and the management commands. `main.rs` only parses arguments.
//!
//! Architecture invariant: this is the only crate that names concrete stores, and
//! `stores.rs` is the only file that checks the `store-*` features.

pub mod commands;
pub mod settings;
pub mod stores;

use web::BuildInfo;

/// What this binary was built from.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("QUOTES_GIT_COMMIT").to_owned(),
    }
}
