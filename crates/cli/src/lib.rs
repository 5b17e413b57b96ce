//! The `quotes` binary's library: the one composition root (settings → backend → the
//! registry's components → server) and the site's commands. `main.rs` only parses
//! arguments.
//!
//! Architecture invariant: this is the only crate that lists components (`registry.rs`) and
//! picks the backend (`stores.rs`, the only file that checks the `store-*` features).

pub mod commands;
pub mod registry;
pub mod settings;
pub mod stores;

use web::BuildInfo;

/// What this binary was built from.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        name: "quotes",
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("QUOTES_GIT_COMMIT").to_owned(),
    }
}
