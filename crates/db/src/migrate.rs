//! Every component's migrations, applied once however many processes start at the same
//! time, and waiting until the database is up and current.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::settings::{concise, whole_seconds_up};
use crate::url::{describe_url, with_connect_timeout};
use crate::{PgError, PgSettings};

/// One component's migrations, embedded in its binary with diesel's `embed_migrations!`:
///
/// ```text
/// static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");
/// pub const MIGRATIONS: Migrations = Migrations::new("notes", &EMBEDDED);
/// ```
///
/// diesel knows a migration by the text before the first underscore of its folder name, so
/// every component's folders need versions (timestamps) of their own; [`Database::require`]
/// refuses a clash.
///
/// [`Database::require`]: crate::Database::require
#[derive(Clone, Copy)]
pub struct Migrations {
    component: &'static str,
    embedded: &'static EmbeddedMigrations,
}

impl fmt::Debug for Migrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrations")
            .field("component", &self.component)
            .field("names", &self.names())
            .finish()
    }
}

impl Migrations {
    pub const fn new(component: &'static str, embedded: &'static EmbeddedMigrations) -> Self {
        Self {
            component,
            embedded,
        }
    }

    /// The component these belong to.
    pub fn component(&self) -> &'static str {
        self.component
    }

    /// `(version, name)` of each migration, in version order.
    pub fn versions(&self) -> Vec<(String, String)> {
        let mut all: Vec<_> = MigrationSource::<Pg>::migrations(self.embedded)
            .expect("embedded migrations are read at compile time")
            .iter()
            .map(|m| (m.name().version().to_string(), m.name().to_string()))
            .collect();
        all.sort();
        all
    }

    /// The migrations' names (their folder names), in version order.
    pub fn names(&self) -> Vec<String> {
        self.versions().into_iter().map(|(_, name)| name).collect()
    }
}

/// Several components' migrations as one diesel source.
pub(crate) struct Combined<'a>(pub(crate) &'a [Migrations]);

impl MigrationSource<Pg> for Combined<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<Pg>>>> {
        let mut all = Vec::new();
        for set in self.0 {
            all.extend(MigrationSource::<Pg>::migrations(set.embedded)?);
        }
        Ok(all)
    }
}

/// Refuses two migrations with one version: diesel would apply one and skip the other.
pub(crate) fn check_versions<'a>(
    sets: impl IntoIterator<Item = &'a Migrations>,
) -> Result<(), PgError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for set in sets {
        for (version, name) in set.versions() {
            let this = format!("{} ({name})", set.component);
            if let Some(first) = seen.insert(version.clone(), this.clone()) {
                return Err(PgError::DuplicateVersion {
                    version,
                    first,
                    second: this,
                });
            }
        }
    }
    Ok(())
}

/// The advisory lock that serialises migrations; the number is "quotesmg" in ASCII, so that
/// it is unlikely to meet another application's lock in the same database.
const MIGRATION_LOCK: i64 = 0x71756f7465736d67;

/// Opens a connection of its own (not from a pool): migrations may run longer than the
/// pool's statement timeout, and a copied template must have no connection left open.
pub(crate) fn establish(url: &str) -> Result<PgConnection, PgError> {
    PgConnection::establish(url).map_err(|e| PgError::Connect {
        at: describe_url(url),
        reason: concise(url, &e.to_string()),
    })
}

/// Applies the pending migrations to the database at `url` under [`MIGRATION_LOCK`] and
/// returns their names in the order applied.
pub(crate) fn migrate_url(url: &str, sets: &[Migrations]) -> Result<Vec<String>, PgError> {
    let mut conn = establish(url)?;
    let failed = |reason: String| PgError::Migrate {
        at: describe_url(url),
        reason: concise(url, &reason),
    };
    // Blocks while another process migrates; once it is done we find nothing pending.
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .map_err(|e| failed(e.to_string()))?;
    let applied = run_pending(&mut conn, sets).map_err(failed);
    // Ending the session would release the lock as well, so a failed unlock is harmless.
    let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn);
    applied
}

fn run_pending(conn: &mut PgConnection, sets: &[Migrations]) -> Result<Vec<String>, String> {
    check_versions(sets).map_err(|e| e.to_string())?;
    let pending = conn
        .pending_migrations(Combined(sets))
        .map_err(|e| e.to_string())?;
    let mut applied = Vec::with_capacity(pending.len());
    for migration in pending {
        let name = migration.name().to_string();
        conn.run_migration(&migration).map_err(|e| e.to_string())?;
        tracing::info!(migration = %name, "applied migration");
        applied.push(name);
    }
    Ok(applied)
}

/// The names of the migrations that the database at `url` lacks, in the order they would
/// be applied.
pub(crate) fn pending_url(url: &str, sets: &[Migrations]) -> Result<Vec<String>, PgError> {
    let mut conn = establish(url)?;
    pending_on(&mut conn, sets).map_err(|e| PgError::Query {
        at: describe_url(url),
        reason: concise(url, &e.to_string()),
    })
}

/// Reads diesel's bookkeeping table directly instead of asking its harness, which first
/// runs `CREATE TABLE IF NOT EXISTS`: a write that a read-only role may not make and that
/// can collide with a migration running in another process.
fn pending_on(conn: &mut PgConnection, sets: &[Migrations]) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let has_table: bool = diesel::select(diesel::dsl::sql::<Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(conn)?;
    let applied: Vec<String> = if has_table {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    let mut pending: Vec<_> = sets
        .iter()
        .flat_map(Migrations::versions)
        .filter(|(version, _)| !applied.contains(version))
        .collect();
    pending.sort();
    Ok(pending.into_iter().map(|(_, name)| name).collect())
}

/// Waits until the database in `settings` accepts a connection and has none of `sets`'
/// migrations pending, retrying with exponential backoff (100 ms doubling to at most 2 s, never
/// sleeping past the deadline). On timeout the error names the host and port and the last
/// thing that went wrong: `database at 127.0.0.1:5432 not ready after 30s: connection refused`.
pub fn wait_for_db(
    settings: &PgSettings,
    sets: &[Migrations],
    timeout: Duration,
) -> Result<(), PgError> {
    settings.check()?;
    let at = describe_url(&settings.url);
    // A timeout too large to add to now (a mistyped setting) means no deadline at all.
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(far_future);
    let mut backoff = Duration::from_millis(100);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // One attempt should not outlast the deadline by more than libpq's one-second grain.
        let attempt_timeout = whole_seconds_up(remaining.min(settings.connect_timeout));
        let url = with_connect_timeout(&settings.url, attempt_timeout);
        let last = match pending_url(&url, sets) {
            Ok(pending) if pending.is_empty() => return Ok(()),
            Ok(pending) => {
                let s = if pending.len() == 1 { "" } else { "s" };
                format!(
                    "{} migration{s} pending: {}",
                    pending.len(),
                    pending.join(", ")
                )
            }
            Err(PgError::Connect { reason, .. } | PgError::Query { reason, .. }) => reason,
            Err(e) => e.to_string(),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(PgError::NotReady {
                at,
                waited: timeout,
                last,
            });
        }
        tracing::debug!(database = %at, error = %last, "database not ready yet");
        std::thread::sleep(backoff.min(remaining));
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// A moment no wait reaches.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
