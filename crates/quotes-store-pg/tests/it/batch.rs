//! `get_or_create_all` beyond the contract: all or nothing when a row fails, and batches
//! larger than PostgreSQL's bind-parameter limit.

use diesel::connection::SimpleConnection;
use quotes_core::{NewQuote, QuoteStore, StoreError};
use quotes_store_pg::testing::TestDatabase;

use crate::{nq, page, raw};

#[test]
fn a_failing_row_leaves_the_table_as_it_was() {
    let db = TestDatabase::new();
    db.get_or_create_all(&[nq("kept 1", "a"), nq("kept 2", "a")])
        .unwrap();
    let before = db.list(page(1, 1000)).unwrap();
    // A rule that only the third row of the batch breaks, so the first two are already
    // inserted when the statement fails.
    raw(db.url())
        .batch_execute("ALTER TABLE quotes ADD CONSTRAINT test_no_poison CHECK (text <> 'poison')")
        .unwrap();
    let batch = [
        nq("new 1", "a"),
        nq("new 2", "a"),
        nq("poison", "a"),
        nq("new 3", "a"),
    ];

    let err = db.get_or_create_all(&batch).unwrap_err();

    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid: quote is not valid: new row for relation \"quotes\" violates check constraint \"test_no_poison\""
    );
    assert_eq!(db.list(page(1, 1000)).unwrap(), before);
    // Nothing was half-added: without the poison the rest goes in whole.
    let report = db
        .get_or_create_all(&[nq("new 1", "a"), nq("new 2", "a"), nq("new 3", "a")])
        .unwrap();
    assert_eq!((report.added, report.existing), (3, 0));
}

/// 20,000 quotes of four values each would need 80,000 bind parameters as a plain
/// multi-row INSERT, over PostgreSQL's limit of 65,535.
#[test]
fn batches_beyond_the_parameter_limit_load_in_order() {
    let db = TestDatabase::new();
    let batch: Vec<NewQuote> = (0..20_000)
        .map(|i| NewQuote::parse(&format!("quote {i}"), "a", (i % 2 == 0).then_some("s")).unwrap())
        .collect();

    let report = db.get_or_create_all(&batch).unwrap();

    assert_eq!((report.added, report.existing), (20_000, 0));
    assert_eq!(db.count().unwrap(), 20_000);
    let first = db.list(page(1, 1000)).unwrap();
    let contents: Vec<NewQuote> = first.items.iter().map(|q| q.content()).collect();
    assert_eq!(contents, batch[..1000], "ids follow the order of the batch");
    let again = db.get_or_create_all(&batch).unwrap();
    assert_eq!((again.added, again.existing), (0, 20_000));
}

/// Only a clash of keys counts as existing: a row whose id the sequence has not yet handed
/// out (written by another tool) makes the load fail rather than quietly skip a quote.
#[test]
fn a_clash_of_ids_is_not_taken_for_an_existing_quote() {
    let db = TestDatabase::new();
    raw(db.url())
        .batch_execute(
            "INSERT INTO quotes (id, text, author, same_key) VALUES (1, 'x', 'a', E'x\\na')",
        )
        .unwrap();

    let err = db.get_or_create_all(&[nq("y", "a")]).unwrap_err();

    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        format!(
            "query on the database at {} failed: duplicate key value violates unique constraint \"quotes_pkey\"",
            db::describe_url(db.url())
        )
    );
    assert_eq!(db.count().unwrap(), 1);
    // The failed attempt used up id 1, so the same load now goes through.
    assert_eq!(db.get_or_create_all(&[nq("y", "a")]).unwrap().added, 1);
}
