//! Migrations: applied exactly once however many callers race, reported while pending,
//! and reversible.

use std::sync::Barrier;

use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use quotes_store_pg::testing::TestDatabase;

use crate::all_migrations;
use crate::raw;

#[test]
fn concurrent_migrate_applies_each_migration_once() {
    let db = TestDatabase::empty();
    let barrier = Barrier::new(4);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    db.database().migrate()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut applied: Vec<String> = results.into_iter().flat_map(|r| r.unwrap()).collect();
    applied.sort();
    assert_eq!(
        applied,
        all_migrations(),
        "each migration applied by exactly one of the four callers"
    );
    assert!(db.database().pending_migrations().unwrap().is_empty());
}

#[test]
fn pending_until_migrated_then_current() {
    let db = TestDatabase::empty();
    assert_eq!(
        db.database().pending_migrations().unwrap(),
        all_migrations()
    );
    assert_eq!(db.database().migrate().unwrap(), all_migrations());
    assert!(db.database().pending_migrations().unwrap().is_empty());
    assert!(
        db.database().migrate().unwrap().is_empty(),
        "a current database gets nothing"
    );
}

#[test]
fn pending_migrations_does_not_write() {
    let db = TestDatabase::empty();
    db.database().pending_migrations().unwrap();
    let mut conn = raw(db.url());
    // A role that may not create tables must still be able to ask.
    conn.batch_execute("SELECT '__diesel_schema_migrations'::regclass")
        .expect_err("pending_migrations created diesel's table");
}

#[test]
fn migrations_revert_and_apply_again() {
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
    let db = TestDatabase::new();
    let mut conn = raw(db.url());
    let reverted = conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert_eq!(reverted.len(), all_migrations().len());
    conn.batch_execute("SELECT 'quotes'::regclass")
        .expect_err("down.sql left the table");
    drop(conn);
    assert_eq!(
        db.database().pending_migrations().unwrap(),
        all_migrations()
    );
    assert_eq!(db.database().migrate().unwrap(), all_migrations());
}
