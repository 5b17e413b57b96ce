//! For tests only: throwaway databases, each a copy of a template migrated once per cluster
//! with the migrations a test asks for.
//!
//! Small and free of test-only dependencies, so it is always compiled: other crates' tests
//! (e.g. a server test pointed at [`TestDatabase::url`]) can use it without a feature flag.
//!
//! `TEST_DATABASE_URL` names a superuser on a running server, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`; `cargo xtask test` starts a throwaway
//! PostgreSQL and sets it. Without it the tests fail rather than skip, so that a missing
//! database never looks like a pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::migrate::{establish, migrate_url, Migrations};
use crate::url::{describe_url, with_connect_timeout, with_database};
use crate::{Database, PgSettings};

/// Taken exclusively to create or migrate the template and shared to copy it, in the admin
/// database, so that no copy starts while a process is connected to the template. "quotestt"
/// in ASCII.
const TEMPLATE_LOCK: i64 = 0x71756f7465737474;

/// A fresh database of its own, dropped again when this value is: a copy of a template
/// migrated with the sets a test names ([`TestDatabase::migrated`]), or an empty database
/// ([`TestDatabase::empty`]).
pub struct TestDatabase {
    database: Option<Database>,
    name: String,
    url: String,
    admin_url: String,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// A database of its own with `sets` applied, copied from a template that is migrated
    /// once per cluster for each distinct combination of sets. Panics when
    /// `TEST_DATABASE_URL` is not set or the server cannot make the database: a test must
    /// never pass for want of one.
    pub fn migrated(sets: &[Migrations]) -> Self {
        let admin_url = admin_url();
        let template = template_name(sets);
        let ready = {
            let mut templates = TEMPLATES
                .get_or_init(Mutex::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(templates.entry(template.clone()).or_default())
        };
        let prepared = ready.get_or_init(|| prepare_template(&admin_url, &template, sets));
        if let Err(e) = prepared {
            panic!("cannot prepare the test template database {template}: {e}");
        }
        Self::create(admin_url, &template, sets)
    }

    /// A database of its own without any migration, to test migrating itself. `sets` are
    /// registered with its [`Database`], so that [`Database::migrate`] applies them.
    pub fn empty(sets: &[Migrations]) -> Self {
        // template0 accepts no connections, so nothing can be in the way of copying it.
        Self::create(admin_url(), "template0", sets)
    }

    /// The connection string of this database, e.g. to point a server process at it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Settings for another pool on this database.
    pub fn settings(&self) -> PgSettings {
        PgSettings {
            url: self.url.clone(),
            ..PgSettings::default()
        }
    }

    /// The pool on this database, with the sets registered.
    pub fn database(&self) -> &Database {
        self.database.as_ref().expect("the pool lives until drop")
    }

    fn create(admin_url: String, template: &str, sets: &[Migrations]) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let name = format!(
            "quotes_test_{}_{}_{millis}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(e) = create_database(&admin_url, &name, template) {
            panic!("cannot create test database {name}: {e}");
        }
        let url = with_database(&admin_url, &name);
        let settings = PgSettings {
            url: url.clone(),
            ..PgSettings::default()
        };
        let database = Database::connect(&settings).unwrap_or_else(|e| panic!("{e}"));
        for set in sets {
            database.require(*set).unwrap_or_else(|e| panic!("{e}"));
        }
        TestDatabase {
            database: Some(database),
            name,
            url,
            admin_url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Close the pool first so that FORCE has nothing of ours to cut off; a store that
        // outlives this value keeps its own clone of the pool and loses its database.
        drop(self.database.take());
        let dropped = establish(&self.admin_url).and_then(|mut conn| {
            conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .map_err(|e| crate::PgError::Query {
                at: describe_url(&self.admin_url),
                reason: e.to_string(),
            })
        });
        // A panic in drop during a failing test would abort the whole run and hide its
        // message; a leftover database in a throwaway cluster does no harm.
        if let Err(e) = dropped {
            eprintln!("warning: cannot drop test database {}: {e}", self.name);
        }
    }
}

/// The template for `sets`: one per combination, named by a digest of their names, so a
/// test of one component and a test of the whole site each get a template that fits. The
/// digest (FNV-1a) is the same in every build, so a long-lived server keeps reusing it.
fn template_name(sets: &[Migrations]) -> String {
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for set in sets {
        for part in std::iter::once(set.component().to_owned()).chain(set.names()) {
            for byte in part.bytes().chain([0]) {
                digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!("quotes_test_template_{digest:016x}")
}

/// A store on a migrated database of its own, dropped with it (the store first): a contract
/// suite's fresh PostgreSQL store per case. Derefs to the store.
pub struct OnTestDatabase<S> {
    store: S,
    _db: TestDatabase,
}

impl<S> OnTestDatabase<S> {
    /// `open` (a store's `new`) on a fresh database with `sets` applied.
    pub fn new<E: std::fmt::Debug>(
        sets: &[Migrations],
        open: impl FnOnce(&crate::Database) -> Result<S, E>,
    ) -> Self {
        let db = TestDatabase::migrated(sets);
        let store = open(db.database()).expect("the store opens on a migrated database");
        Self { store, _db: db }
    }
}

impl<S> std::ops::Deref for OnTestDatabase<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.store
    }
}

/// Asserts that `set` undoes cleanly and applies again, on a database of its own: every
/// `down.sql` runs, newest first, then every migration is pending and applies.
pub fn assert_migrations_revert_and_apply_again(set: Migrations) {
    let db = TestDatabase::migrated(&[set]);
    let reverted = revert_all(db.url(), &set).unwrap();
    assert_eq!(reverted.len(), set.names().len());
    assert_eq!(db.database().migrate().unwrap(), set.names());
}

/// Runs every `down.sql` of `set` on the database at `url`, newest first, and returns the
/// names reverted: to test that a component's migrations undo cleanly.
pub fn revert_all(url: &str, set: &Migrations) -> Result<Vec<String>, String> {
    use diesel_migrations::MigrationHarness;
    let mut conn = establish(url).map_err(|e| e.to_string())?;
    conn.revert_all_migrations(crate::migrate::Combined(std::slice::from_ref(set)))
        .map(|versions| versions.into_iter().map(|v| v.to_string()).collect())
        .map_err(|e| e.to_string())
}

type Ready = Arc<OnceLock<Result<(), String>>>;

/// Each template of this process, prepared once.
static TEMPLATES: OnceLock<Mutex<HashMap<String, Ready>>> = OnceLock::new();

fn admin_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => with_connect_timeout(&url, 5),
        _ => panic!(
            "TEST_DATABASE_URL is not set; run `cargo xtask test` (which starts a throwaway \
             PostgreSQL) or point it at a server, e.g. \
             TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        ),
    }
}

/// Creates the template if it is missing and applies pending migrations to it, one process
/// of the cluster at a time; the others wait on the lock and then find it current.
fn prepare_template(admin_url: &str, template: &str, sets: &[Migrations]) -> Result<(), String> {
    let mut admin = establish(admin_url).map_err(|e| e.to_string())?;
    lock(&mut admin, "pg_advisory_lock")?;
    let prepared = create_and_migrate_template(&mut admin, admin_url, template, sets);
    lock(&mut admin, "pg_advisory_unlock")?;
    prepared
}

fn create_and_migrate_template(
    admin: &mut PgConnection,
    admin_url: &str,
    template: &str,
    sets: &[Migrations],
) -> Result<(), String> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let found = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(template)
        .get_result::<Found>(admin)
        .map_err(|e| e.to_string())?;
    if found.n == 0 {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{template}\""))
            .map_err(|e| e.to_string())?;
    }
    // Connects to the template and disconnects before returning, so copies can start.
    migrate_url(&with_database(admin_url, template), sets).map_err(|e| e.to_string())?;
    Ok(())
}

fn create_database(admin_url: &str, name: &str, template: &str) -> Result<(), String> {
    let mut admin = establish(admin_url).map_err(|e| e.to_string())?;
    lock(&mut admin, "pg_advisory_lock_shared")?;
    let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
    let mut attempts = 0;
    let created = loop {
        match admin.batch_execute(&sql) {
            // Autovacuum may visit the template; PostgreSQL refuses to copy it meanwhile.
            Err(e) if e.to_string().contains("being accessed by other users") && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            result => break result.map_err(|e| e.to_string()),
        }
    };
    lock(&mut admin, "pg_advisory_unlock_shared")?;
    created
}

fn lock(conn: &mut PgConnection, function: &str) -> Result<(), String> {
    diesel::sql_query(format!("SELECT {function}($1)"))
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(conn)
        .map(drop)
        .map_err(|e| format!("{function}: {e}"))
}
