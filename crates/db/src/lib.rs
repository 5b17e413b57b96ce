//! db: the PostgreSQL layer every component's store shares. One pool per process
//! ([`Database`]), its settings, URL parsing and redaction, the migration runner over every
//! component's migrations under one advisory lock, a wait-for-db that waits for all of them,
//! and test databases copied from migrated templates.
//!
//! ```text
//! let db = Database::connect(&settings)?;     // never blocks, even with the database down
//! let quotes = PgStore::new(&db)?;            // a store registers its component's migrations
//! db.migrate()?;                              // every registered component; safe to race
//! db.wait_until_ready(timeout)?;              // up, and nothing pending
//! ```
//!
//! Architecture invariant: this crate knows no component. Each component's PostgreSQL store
//! owns its `schema.rs`, row structs and queries, and turns a [`Fault`] into its own errors.

mod database;
mod migrate;
mod settings;
pub mod testing;
mod url;

pub use database::{Conn, Database, Fault};
pub use migrate::{wait_for_db, Migrations};
pub use settings::{concise, PgError, PgSettings};
pub use url::{describe_url, split_password};

/// `text` as a LIKE pattern that matches itself only (the default escape is `\`): wrap it in
/// `%` for "contains".
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod like_tests {
    #[test]
    fn escape_like_takes_wildcards_literally() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
