//! Statement counts: each store method runs a fixed number of statements, whatever the
//! size of the data.
//!
//! Every method checks out one pooled connection, and the pool runs `SELECT 1` on it first
//! (`test_on_check_out`, which replaces connections the server closed). So one statement of
//! the method's own shows as 2. The `SET statement_timeout` of a new connection is not
//! counted (see `PgStore::queries_run`).

use quotes_core::{NewQuote, QuoteId, QuoteStore};
use quotes_store_pg::testing::TestDatabase;

use crate::{nq, page};

const CHECKOUT: u64 = 1;

fn statements(db: &TestDatabase, f: impl FnOnce()) -> u64 {
    let before = db.queries_run();
    f();
    db.queries_run() - before
}

fn batch(from: usize, n: usize) -> Vec<NewQuote> {
    (from..from + n)
        .map(|i| nq(&format!("q{i}"), "a"))
        .collect()
}

#[test]
fn get_or_create_all_takes_one_statement_for_any_size() {
    let db = TestDatabase::new();
    let ten = batch(0, 10);
    let thousand = batch(10, 1000);
    assert_eq!(
        statements(&db, || assert_eq!(
            db.get_or_create_all(&ten).unwrap().added,
            10
        )),
        CHECKOUT + 1
    );
    assert_eq!(
        statements(&db, || assert_eq!(
            db.get_or_create_all(&thousand).unwrap().added,
            1000
        )),
        CHECKOUT + 1
    );
    assert_eq!(
        statements(&db, || assert_eq!(
            db.get_or_create_all(&thousand).unwrap().existing,
            1000
        )),
        CHECKOUT + 1
    );
    assert_eq!(db.count().unwrap(), 1010);
}

#[test]
fn list_takes_one_statement_and_a_second_past_the_end() {
    let db = TestDatabase::new();
    db.get_or_create_all(&batch(0, 1000)).unwrap();
    let full = statements(&db, || {
        assert_eq!(db.list(page(1, 1000)).unwrap().items.len(), 1000)
    });
    assert_eq!(full, CHECKOUT + 1, "page and total in one statement");
    // An empty page carries no row to read the total from, so it is counted on its own.
    let beyond = statements(&db, || {
        assert_eq!(db.list(page(2, 1000)).unwrap().total, 1000)
    });
    assert_eq!(beyond, CHECKOUT + 2);
}

#[test]
fn every_other_method_takes_one_statement() {
    let db = TestDatabase::new();
    db.get_or_create_all(&batch(0, 100)).unwrap();
    let one = CHECKOUT + 1;
    assert_eq!(statements(&db, || drop(db.get(QuoteId(1)).unwrap())), one);
    assert_eq!(statements(&db, || assert!(db.count().unwrap() > 0)), one);
    assert_eq!(
        statements(&db, || drop(db.pick(12345).unwrap().unwrap())),
        one
    );
    let id = db.insert(nq("new", "a")).unwrap().id;
    assert_eq!(
        statements(&db, || drop(db.update(id, nq("newer", "a")).unwrap())),
        one
    );
    assert_eq!(statements(&db, || db.delete(id).unwrap()), one);
    assert_eq!(
        statements(&db, || drop(db.insert(nq("again", "a")).unwrap())),
        one
    );
}
