//! Both history stores keep the contract, the PostgreSQL one on a fresh database per case;
//! and its migration undoes cleanly.

use admin::history::{MemoryHistory, PgHistory, MIGRATIONS};

mod on_memory {
    admin::history_contract!(Box::new(admin::history::MemoryHistory::default()));
}

mod on_postgres {
    admin::history_contract!(super::on_test_database());
}

#[test]
fn migrations_revert_and_apply_again() {
    db::testing::assert_migrations_revert_and_apply_again(MIGRATIONS);
}

#[test]
fn the_memory_history_starts_empty() {
    use web::admin::History;
    assert!(MemoryHistory::default().recent(1).unwrap().is_empty());
}

/// A `PgHistory` on a migrated database of its own, dropped with it.
fn on_test_database() -> db::testing::OnTestDatabase<PgHistory> {
    db::testing::OnTestDatabase::new(&[MIGRATIONS], PgHistory::new)
}
