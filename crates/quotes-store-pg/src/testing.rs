//! For tests only: a `PgStore` on a throwaway database of its own, migrated with the quotes
//! migrations (see `db::testing`). `TEST_DATABASE_URL` must name a superuser on a running
//! server; `cargo xtask test` starts one. Without it the tests fail rather than skip.

use std::ops::Deref;

use crate::{PgStore, MIGRATIONS};

/// A `PgStore` on a fresh database, dropped again when this value is. Derefs to the store.
#[derive(Debug)]
pub struct TestDatabase {
    store: PgStore,
    db: db::testing::TestDatabase,
}

impl TestDatabase {
    /// A store on a copy of the migrated template.
    pub fn new() -> Self {
        Self::on(db::testing::TestDatabase::migrated(&[MIGRATIONS]))
    }

    /// A store on a database without any migration, to test migrating itself.
    pub fn empty() -> Self {
        Self::on(db::testing::TestDatabase::empty(&[MIGRATIONS]))
    }

    fn on(db: db::testing::TestDatabase) -> Self {
        let store = PgStore::new(db.database()).unwrap_or_else(|e| panic!("{e}"));
        TestDatabase { store, db }
    }

    /// The connection string of this database, e.g. to point a server process at it.
    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// Settings for another pool on this database.
    pub fn settings(&self) -> db::PgSettings {
        self.db.settings()
    }
}

/// The same as [`TestDatabase::new`].
impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for TestDatabase {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}
