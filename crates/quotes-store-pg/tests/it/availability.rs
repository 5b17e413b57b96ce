//! The database slow, busy or gone: the store answers `Unavailable` within its timeouts,
//! names the server by host and port only, and recovers by itself.

use std::time::{Duration, Instant};

use db::{describe_url, PgSettings};
use diesel::connection::SimpleConnection;
use quotes_core::{QuoteId, QuoteStore, StoreError};
use quotes_store_pg::testing::TestDatabase;

use crate::{closed_port, nq, page, raw, store_on};

fn down(connect_timeout: Duration) -> (PgSettings, u16) {
    let port = closed_port();
    let settings = PgSettings {
        url: format!("postgres://quoteuser:hunter2secret@127.0.0.1:{port}/quotes"),
        connect_timeout,
        ..PgSettings::default()
    };
    (settings, port)
}

/// The error and its sources, one message each.
fn chain(err: &StoreError) -> Vec<String> {
    std::iter::successors(Some(err as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_method_answers_unavailable_quickly_when_the_database_is_down() {
    let (settings, port) = down(Duration::from_millis(500));
    let started = Instant::now();
    let store = store_on(&settings);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "connect blocked"
    );

    type Call<'a> = Box<dyn Fn() -> Result<(), StoreError> + 'a>;
    let calls: [(&str, Call<'_>); 8] = [
        ("get", Box::new(|| store.get(QuoteId(1)).map(drop))),
        ("list", Box::new(|| store.list(page(1, 10)).map(drop))),
        ("count", Box::new(|| store.count().map(drop))),
        ("insert", Box::new(|| store.insert(nq("a", "b")).map(drop))),
        (
            "update",
            Box::new(|| store.update(QuoteId(1), nq("a", "b")).map(drop)),
        ),
        ("delete", Box::new(|| store.delete(QuoteId(1)))),
        ("pick", Box::new(|| store.pick(1).map(drop))),
        (
            "get_or_create_all",
            Box::new(|| store.get_or_create_all(&[nq("a", "b")]).map(drop)),
        ),
    ];
    for (name, call) in calls {
        let started = Instant::now();
        let err = call().unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{name} took {took:?}");
        assert!(matches!(err, StoreError::Unavailable(_)), "{name}: {err:?}");
        assert_eq!(
            chain(&err),
            [
                "store unavailable".to_owned(),
                format!("database at 127.0.0.1:{port} unavailable: timed out waiting for connection: connection refused"),
            ],
            "{name}"
        );
    }
    assert!(matches!(store.ping(), Err(StoreError::Unavailable(_))));
}

/// One request stuck behind a lock holds the only connection until the statement timeout
/// cancels it; meanwhile another request finds the pool exhausted. Both answer
/// `Unavailable`, and the store works again once the lock is gone.
#[test]
fn statement_timeout_and_an_exhausted_pool_answer_unavailable() {
    let db = TestDatabase::new();
    let store = store_on(&PgSettings {
        pool_size: 1,
        connect_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(2),
        ..db.settings()
    });
    let mut locker = raw(db.url());
    // The server ends the locker's session after 6 s, so that a store without a statement
    // timeout makes this test fail instead of hang.
    locker
        .batch_execute(
            "SET idle_in_transaction_session_timeout = '6s'; BEGIN; LOCK TABLE quotes, quotes_stats IN ACCESS EXCLUSIVE MODE",
        )
        .unwrap();

    std::thread::scope(|scope| {
        let stuck = scope.spawn(|| {
            let started = Instant::now();
            (store.count(), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let busy = store.count().unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        assert_eq!(
            chain(&busy)[1],
            format!(
                "database at {} unavailable: timed out waiting for connection",
                describe_url(db.url())
            )
        );

        let (stuck, took) = stuck.join().unwrap();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(4),
            "{took:?}"
        );
        let stuck = stuck.unwrap_err();
        assert_eq!(
            chain(&stuck)[1],
            format!(
                "query on the database at {} failed: canceling statement due to statement timeout",
                describe_url(db.url())
            )
        );
    });

    locker.batch_execute("COMMIT").unwrap();
    assert_eq!(store.count().unwrap(), 0);
}

/// A server restart or failover closes every connection; the next request must not be
/// the one to find out.
#[test]
fn connections_closed_by_the_server_are_replaced() {
    let db = TestDatabase::new();
    db.insert(nq("a", "b")).unwrap();
    raw(db.url())
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    assert_eq!(db.count().unwrap(), 1);
}
