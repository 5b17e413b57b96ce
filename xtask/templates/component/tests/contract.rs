//! Both stores keep the `ItemStore` contract, the PostgreSQL one on a fresh database per
//! case; and the migrations undo cleanly.

use __name__::pg::{PgStore, MIGRATIONS};

mod on_memory {
    __name__::item_store_contract!(Box::new(__name__::memory::MemoryStore::default()));
}

mod on_postgres {
    __name__::item_store_contract!(super::on_test_database());
}

#[test]
fn migrations_revert_and_apply_again() {
    db::testing::assert_migrations_revert_and_apply_again(MIGRATIONS);
}

/// A `PgStore` on a migrated database of its own, dropped with it.
fn on_test_database() -> db::testing::OnTestDatabase<PgStore> {
    db::testing::OnTestDatabase::new(&[MIGRATIONS], PgStore::new)
}
