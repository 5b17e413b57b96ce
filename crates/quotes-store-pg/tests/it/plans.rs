//! The plans of the hot statements at 10,000 quotes: none scans the quotes table, so their
//! cost does not grow with it. The statements are the store's own (`statements::*`), with
//! their parameters written in.

use diesel::{QueryableByName, RunQueryDsl};
use quotes_core::QuoteStore;
use quotes_store_pg::{statements, testing::TestDatabase};

use crate::{nq, raw};

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

fn plan(db: &TestDatabase, sql: &str, params: &[&str]) -> String {
    let mut sql = sql.to_owned();
    // From the last, so that $1 does not match the start of $10.
    for (i, p) in params.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), p);
    }
    let lines: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {sql}"))
        .load(&mut raw(db.url()))
        .unwrap();
    lines.into_iter().map(|l| l.line + "\n").collect()
}

fn scans_quotes(plan: &str) -> bool {
    plan.lines().any(|l| {
        let l = l.trim_end();
        l.contains("Seq Scan on quotes ") || l.ends_with("Seq Scan on quotes")
    })
}

#[test]
fn hot_statements_do_not_scan_the_table() {
    let db = TestDatabase::new();
    let batch: Vec<_> = (0..10_000).map(|i| nq(&format!("q{i}"), "a")).collect();
    db.get_or_create_all(&batch).unwrap();
    diesel::sql_query("ANALYZE quotes")
        .execute(&mut raw(db.url()))
        .unwrap();
    let last = db
        .list(quotes_core::PageRequest::new(200, 50).unwrap())
        .unwrap();
    assert_eq!(last.items.len(), 50);
    let cases = [
        ("the stats (count and version)", statements::STATS, vec![]),
        ("the pick", statements::PICK, vec!["'987654321'"]),
        ("the first page", statements::PAGE_FORWARD, vec!["50", "0"]),
        ("the last page", statements::PAGE_BACKWARD, vec!["50", "0"]),
        (
            "a page after a deep cursor",
            statements::AFTER,
            vec!["9000", "50"],
        ),
        (
            "a page before a deep cursor",
            statements::BEFORE,
            vec!["9000", "50"],
        ),
    ];
    for (what, sql, params) in cases {
        let plan = plan(&db, sql, &params);
        assert!(!scans_quotes(&plan), "{what} scans the quotes:\n{plan}");
        if sql != statements::STATS {
            assert!(plan.contains("Index"), "{what} uses no index:\n{plan}");
        }
    }
    // The check itself can fail: nothing indexes the text.
    let by_text = plan(&db, "SELECT * FROM quotes WHERE text = 'q5'", &[]);
    assert!(scans_quotes(&by_text), "{by_text}");
}
