//! The migrated schema: it matches `schema.rs`, and its constraints back up the domain's
//! rules for rows that do not come through the store.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use quotes_core::{NewQuote, QuoteStore, StoreError};
use quotes_store_pg::testing::TestDatabase;

use crate::raw;

#[derive(QueryableByName, Debug, PartialEq)]
struct Column {
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

/// The columns `src/schema.rs` declares for `table`, read from its text as
/// `(name, PostgreSQL type, nullable)`.
fn declared_columns(table: &str) -> Vec<(String, String, String)> {
    let source = include_str!("../../src/schema.rs");
    let start = source
        .find(&format!("    {table} ("))
        .unwrap_or_else(|| panic!("schema.rs declares no table {table}"));
    let body = &source[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.lines()
        .filter_map(|line| line.trim().strip_suffix(','))
        .map(|line| {
            let (name, ty) = line.split_once(" -> ").expect("a `name -> Type` line");
            let (ty, nullable) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>'), "YES"),
                None => (ty, "NO"),
            };
            let pg = match ty {
                "Int8" => "bigint",
                "Int4" => "integer",
                "Text" => "text",
                "Bool" => "boolean",
                "Timestamptz" => "timestamp with time zone",
                other => panic!("add the PostgreSQL name of diesel's {other} here"),
            };
            (name.to_owned(), pg.to_owned(), nullable.to_owned())
        })
        .collect()
}

/// `src/schema.rs` is written by hand; this catches it drifting from the migrations.
#[test]
fn columns_match_schema_rs() {
    let db = TestDatabase::new();
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'quotes' ORDER BY ordinal_position",
    )
    .load(&mut raw(db.url()))
    .unwrap();
    let got: Vec<_> = columns
        .into_iter()
        .map(|c| (c.column_name, c.data_type, c.is_nullable))
        .collect();
    let declared = declared_columns("quotes");
    assert_eq!(declared.len(), 6, "schema.rs read: {declared:?}");
    assert_eq!(got, declared);
}

#[test]
fn constraints_refuse_rows_the_domain_would_refuse() {
    let db = TestDatabase::new();
    let mut conn = raw(db.url());
    let long_text = "x".repeat(2001);
    for (values, constraint) in [
        ("'', 'a', NULL", "quotes_text_length"),
        (&*format!("'{long_text}', 'a', NULL"), "quotes_text_length"),
        ("'t', E'two\\nlines', NULL", "quotes_author_single_line"),
        ("'t', 'a', E'two\\rlines'", "quotes_source_single_line"),
        ("'t', 'a', ''", "quotes_source_length"),
        ("E' \\t ', 'a', NULL", "quotes_text_not_blank"),
        ("'t', '   ', NULL", "quotes_author_not_blank"),
        ("'t', 'a', '  '", "quotes_source_not_blank"),
    ] {
        let err = conn
            .batch_execute(&format!(
                "INSERT INTO quotes (text, author, source, same_key) VALUES ({values}, 'k')"
            ))
            .expect_err(values);
        assert!(err.to_string().contains(constraint), "{values}: {err}");
    }
    assert_eq!(db.count().unwrap(), 0);
}

/// 2,000 four-byte characters make an 8,000-byte key: too big for a btree entry, which is
/// why the unique index holds a digest.
#[test]
fn longest_keys_are_unique_too() {
    let db = TestDatabase::new();
    let text = "𝄞".repeat(2000);
    let author = "𝄞".repeat(200);
    let quote = NewQuote::parse(&text, &author, None).unwrap();
    let stored = db.insert(quote.clone()).unwrap();
    assert_eq!(db.get(stored.id).unwrap().text.as_str(), text);
    let again = db.insert(quote);
    assert_eq!(
        again.unwrap_err().to_string(),
        "conflict: a quote with this text and author already exists"
    );
    let report = db
        .get_or_create_all(&[NewQuote::parse(&text, &author, Some("s")).unwrap()])
        .unwrap();
    assert_eq!((report.added, report.existing), (0, 1));
}

/// A row that breaks the domain's rules (written past the store by another tool, in a shape
/// the constraints let through) is a fault, reported, never passed on as a `Quote` nor
/// dressed up as a passing outage.
#[test]
fn unreadable_rows_are_reported() {
    let db = TestDatabase::new();
    let mut conn = raw(db.url());
    conn.batch_execute(
        "INSERT INTO quotes (id, text, author, source, same_key) VALUES (7, 't', 'a', '(', 'k')",
    )
    .unwrap();
    let err = db.get(quotes_core::QuoteId(7)).unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    let chain: Vec<String> =
        std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect();
    assert_eq!(
        chain,
        [
            "store fault",
            "quote 7 in the database is not valid",
            "source has unbalanced parentheses"
        ]
    );
}
