//! Both stores keep the `WikiStore` contract, the PostgreSQL one on a fresh database per
//! case; and the migrations undo cleanly.

use std::ops::Deref;

use wiki_adapter::pg::{PgStore, MIGRATIONS};

mod on_memory {
    wiki_adapter::wiki_store_contract!(Box::new(wiki_adapter::memory::MemoryStore::default()));
}

mod on_postgres {
    wiki_adapter::wiki_store_contract!(super::OnTestDatabase::new());
}

#[test]
fn migrations_revert_and_apply_again() {
    let db = db::testing::TestDatabase::migrated(&[MIGRATIONS]);
    let reverted = db::testing::revert_all(db.url(), &MIGRATIONS).unwrap();
    assert_eq!(reverted.len(), MIGRATIONS.names().len());
    assert_eq!(db.database().migrate().unwrap(), MIGRATIONS.names());
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
