//! Both stores keep the `ItemStore` contract; the PostgreSQL one on a fresh database per case.

use std::ops::Deref;

use __name__::pg::{PgStore, MIGRATIONS};

mod memory {
    __name__::item_store_contract!(Box::new(__name__::memory::MemoryStore::default()));
}

mod postgres {
    __name__::item_store_contract!(super::OnTestDatabase::new());
}

/// A `PgStore` on a migrated database of its own, dropped with it.
struct OnTestDatabase {
    store: PgStore,
    _db: db::testing::TestDatabase,
}

impl OnTestDatabase {
    fn new() -> Self {
        let db = db::testing::TestDatabase::migrated(&[MIGRATIONS]);
        let store = PgStore::new(db.database()).unwrap();
        Self { store, _db: db }
    }
}

impl Deref for OnTestDatabase {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}
