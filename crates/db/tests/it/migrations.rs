//! Every component's migrations in one run: version order across components, exactly once
//! however many callers race, and no two components with one version.

use std::sync::Barrier;

use db::testing::TestDatabase;
use db::Database;

use crate::{ALPHA, BETA, CLASH};

const IN_VERSION_ORDER: [&str; 3] = [
    "2020-01-01-000000_create_alpha",
    "2020-01-01-000001_create_beta",
    "2020-01-01-000002_alpha_note",
];

#[test]
fn sets_apply_together_in_version_order() {
    let db = TestDatabase::empty(&[ALPHA, BETA]);
    assert_eq!(
        db.database().pending_migrations().unwrap(),
        IN_VERSION_ORDER
    );
    assert_eq!(db.database().migrate().unwrap(), IN_VERSION_ORDER);
    assert!(db.database().pending_migrations().unwrap().is_empty());
    assert!(db.database().migrate().unwrap().is_empty());
}

#[test]
fn four_callers_at_once_apply_each_migration_once() {
    let db = TestDatabase::empty(&[ALPHA, BETA]);
    let barrier = Barrier::new(4);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    // Each caller a process of its own would have its own pool.
                    let own = Database::connect(&db.settings()).unwrap();
                    own.require(ALPHA).unwrap();
                    own.require(BETA).unwrap();
                    barrier.wait();
                    own.migrate()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut applied: Vec<String> = results.into_iter().flat_map(|r| r.unwrap()).collect();
    applied.sort();
    assert_eq!(
        applied, IN_VERSION_ORDER,
        "each applied by exactly one caller"
    );
}

#[test]
fn a_second_component_is_migrated_when_it_joins() {
    let db = TestDatabase::migrated(&[ALPHA]);
    assert!(db.database().pending_migrations().unwrap().is_empty());
    let grown = Database::connect(&db.settings()).unwrap();
    grown.require(ALPHA).unwrap();
    grown.require(BETA).unwrap();
    assert_eq!(grown.migrate().unwrap(), ["2020-01-01-000001_create_beta"]);
}

#[test]
fn two_components_with_one_version_are_refused_by_name() {
    let db = Database::connect(&db::PgSettings {
        url: "postgres://127.0.0.1:1/none".into(),
        ..db::PgSettings::default()
    })
    .unwrap();
    db.require(ALPHA).unwrap();
    let err = db.require(CLASH).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migrations of alpha (2020-01-01-000000_create_alpha) and clash \
         (2020-01-01-000000_create_clash) share version 20200101000000: give one a later timestamp"
    );
    assert_eq!(
        db.migrations().len(),
        1,
        "the clashing set is not registered"
    );
    db.require(ALPHA).unwrap();
    assert_eq!(
        db.migrations().len(),
        1,
        "a set registered twice counts once"
    );
}

#[test]
fn templates_differ_by_their_sets() {
    let alpha = TestDatabase::migrated(&[ALPHA]);
    let both = TestDatabase::migrated(&[ALPHA, BETA]);
    let tables = |db: &TestDatabase| {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut conn = PgConnection::establish(db.url()).unwrap();
        diesel::sql_query(
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> '__diesel_schema_migrations' ORDER BY 1",
        )
        .load::<Name>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect::<Vec<_>>()
    };
    assert_eq!(tables(&alpha), ["alpha"]);
    assert_eq!(tables(&both), ["alpha", "beta"]);
}
