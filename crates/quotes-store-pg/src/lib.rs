//! quotes-store-pg: the `QuoteStore` on PostgreSQL, through diesel and an r2d2 pool, with
//! the migrations of `migrations/` embedded.
//!
//! ```text
//! let store = PgStore::connect(&settings)?;   // never blocks, even with the database down
//! store.migrate()?;                           // once per deploy; safe to race
//! let store: Arc<dyn QuoteStore> = Arc::new(store);
//! ```
//!
//! Architecture invariant: diesel's row structs and `schema.rs` stay private to this crate;
//! callers see `quotes_core` types, [`PgSettings`] and [`PgError`] only.

mod migrate;
mod rows;
mod schema;
mod settings;
mod store;
pub mod testing;
mod url;

pub use migrate::wait_for_db;
pub use settings::{PgError, PgSettings};
pub use store::PgStore;
pub use url::describe_url;
