//! Settings refused by name, and waiting for a database that is down or not yet current.

use std::time::{Duration, Instant};

use db::testing::TestDatabase;
use db::{describe_url, wait_for_db, Database, PgSettings};

use crate::{closed_port, ALPHA, BETA};

#[test]
fn bad_settings_are_refused_by_name() {
    let err = Database::connect(&PgSettings::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid database settings: the database url is empty"
    );
    let err = wait_for_db(&PgSettings::default(), &[], Duration::from_secs(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid database settings: the database url is empty"
    );
}

#[test]
fn connect_never_waits_for_the_database() {
    let started = Instant::now();
    let db = Database::connect(&PgSettings {
        url: format!("postgres://127.0.0.1:{}/none", closed_port()),
        connect_timeout: Duration::from_millis(500),
        ..PgSettings::default()
    })
    .unwrap();
    assert!(started.elapsed() < Duration::from_millis(200));
    assert!(db.ping().is_err());
}

#[test]
fn wait_for_db_gives_up_in_time_naming_host_and_port_only() {
    let port = closed_port();
    let settings = PgSettings {
        url: format!("postgres://quoteuser:hunter2secret@127.0.0.1:{port}/quotes"),
        connect_timeout: Duration::from_secs(3),
        ..PgSettings::default()
    };
    let started = Instant::now();
    let err = wait_for_db(&settings, &[ALPHA], Duration::from_secs(1)).unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(2500),
        "took {took:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("database at 127.0.0.1:{port} not ready after 1s: connection refused")
    );
    let debug = format!("{err:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("quoteuser"),
        "{debug}"
    );
}

#[test]
fn waiting_covers_every_registered_component() {
    let db = TestDatabase::migrated(&[ALPHA]);
    let both = Database::connect(&db.settings()).unwrap();
    both.require(ALPHA).unwrap();
    both.require(BETA).unwrap();
    let err = both
        .wait_until_ready(Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "database at {} not ready after 300ms: 1 migration pending: 2020-01-01-000001_create_beta",
            describe_url(db.url())
        )
    );
    both.migrate().unwrap();
    let started = Instant::now();
    both.wait_until_ready(Duration::from_secs(5)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}
