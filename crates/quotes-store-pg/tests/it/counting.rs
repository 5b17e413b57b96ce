//! Statement counts: each store method runs a fixed number of statements, whatever the
//! size of the data.
//!
//! Every method checks out one pooled connection, and the pool runs `SELECT 1` on it first
//! (`test_on_check_out`, which replaces connections the server closed). So one statement of
//! the method's own shows as 2. The `SET statement_timeout` of a new connection is not
//! counted (see `PgStore::queries_run`).

use quotes_core::{Cursor, NewQuote, QuoteId, QuoteStore};
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

/// The same statements at 10 and at 10,000 quotes: the seed's question ("does it send
/// 1000 queries?") asked of every listing.
#[test]
fn listings_take_the_same_statements_at_ten_and_ten_thousand_quotes() {
    let db = TestDatabase::new();
    let mut seen = Vec::new();
    for (size, loaded) in [(10, 0), (10_000, 10)] {
        db.get_or_create_all(&batch(loaded, size - loaded)).unwrap();
        assert_eq!(db.count().unwrap(), size as u64);
        let last = u32::try_from(size.div_ceil(50)).unwrap();
        let costs = [
            // The stats row (total), then the page.
            statements(&db, || {
                assert_eq!(db.list(page(1, 1000)).unwrap().items.len(), size.min(1000))
            }),
            statements(&db, || {
                assert!(!db.list(page(last, 50)).unwrap().items.is_empty())
            }),
            // Past the end: the total says so, no page is read.
            statements(&db, || {
                assert!(db.list(page(last + 1, 50)).unwrap().items.is_empty())
            }),
            statements(&db, || {
                assert_eq!(
                    db.list_from(Cursor::After(QuoteId(5)), 50).unwrap().len(),
                    (size - 5).min(50)
                )
            }),
            statements(&db, || assert_eq!(db.stats().unwrap().count, size as u64)),
            statements(&db, || drop(db.pick(12345).unwrap().unwrap())),
            // What /quotes reads: the stats, the page and the quote of the day, on one
            // connection.
            statements(&db, || {
                let listing = db.listing(page(last, 50), None, 7).unwrap();
                assert!(listing.featured.is_some() && !listing.page.items.is_empty());
            }),
        ];
        assert_eq!(
            costs,
            [
                CHECKOUT + 2,
                CHECKOUT + 2,
                CHECKOUT + 1,
                CHECKOUT + 1,
                CHECKOUT + 1,
                CHECKOUT + 1,
                CHECKOUT + 3
            ],
            "at {size} quotes"
        );
        seen.push(costs);
    }
    assert_eq!(seen[0], seen[1]);
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
