//! Both history stores keep the contract, the PostgreSQL one on a fresh database per case;
//! and its migration undoes cleanly.

use std::ops::Deref;

use admin::history::{MemoryHistory, PgHistory, MIGRATIONS};

mod on_memory {
    admin::history_contract!(Box::new(admin::history::MemoryHistory::default()));
}

mod on_postgres {
    admin::history_contract!(super::OnTestDatabase::new());
}

#[test]
fn migrations_revert_and_apply_again() {
    let db = db::testing::TestDatabase::migrated(&[MIGRATIONS]);
    let reverted = db::testing::revert_all(db.url(), &MIGRATIONS).unwrap();
    assert_eq!(reverted.len(), MIGRATIONS.names().len());
    assert_eq!(db.database().migrate().unwrap(), MIGRATIONS.names());
}

#[test]
fn the_memory_history_starts_empty() {
    use web::admin::History;
    assert!(MemoryHistory::default().recent(1).unwrap().is_empty());
}

/// A `PgHistory` on a migrated database of its own, dropped with it.
struct OnTestDatabase {
    history: PgHistory,
    _db: db::testing::TestDatabase,
}

impl OnTestDatabase {
    fn new() -> Self {
        let db = db::testing::TestDatabase::migrated(&[MIGRATIONS]);
        let history = PgHistory::new(db.database()).unwrap();
        Self { history, _db: db }
    }
}

impl Deref for OnTestDatabase {
    type Target = PgHistory;

    fn deref(&self) -> &PgHistory {
        &self.history
    }
}
