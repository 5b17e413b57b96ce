//! quotes-store-pg: the `QuoteStore` on PostgreSQL, through diesel on the site's shared pool
//! (`db::Database`), with the quotes component's migrations (`migrations/`) embedded.
//!
//! ```text
//! let db = db::Database::connect(&settings)?;  // the process's one pool
//! let store = PgStore::new(&db)?;             // registers MIGRATIONS with db
//! db.migrate()?;                              // once per deploy; safe to race
//! let store: Arc<dyn QuoteStore> = Arc::new(store);
//! ```
//!
//! Architecture invariant: diesel's row structs and `schema.rs` stay private to this crate;
//! callers see `quotes_core` types and `db`'s errors only.

mod rows;
mod schema;
mod store;
pub mod testing;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub use store::{statements, PgStore};

static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");

/// The quotes tables' migrations, applied by `db::Database::migrate` once a store is made.
pub const MIGRATIONS: db::Migrations = db::Migrations::new("quotes", &EMBEDDED);
