//! `Database`: the one pool of PostgreSQL connections a process has, shared by every
//! component's store, and the migrations those stores need.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::{get_default_instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, HandleError, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;

use crate::migrate::{self, Migrations};
use crate::settings::concise;
use crate::url::{describe_url, with_connect_timeout};
use crate::{PgError, PgSettings};

type PgPool = Pool<ConnectionManager<PgConnection>>;

/// A connection checked out of the pool; it goes back when dropped.
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

/// The pool's metrics (see [`Database::conn`]); the names are what dashboards query.
pub const POOL_CHECKOUT: &str = "db_pool_checkout_seconds";
pub const POOL_CONNECTIONS: &str = "db_pool_connections";
pub const POOL_IDLE: &str = "db_pool_idle_connections";
pub const POOL_MAX: &str = "db_pool_max_connections";
pub const POOL_ERRORS: &str = "db_pool_checkout_errors_total";

/// The site's PostgreSQL: one pool per process, cheap to clone (clones share the pool).
///
/// Each component's PostgreSQL store holds a clone and, when made, registers its embedded
/// migrations with [`Database::require`]; [`Database::migrate`] then applies every
/// component's migrations in one run, and [`Database::wait_until_ready`] waits for all of them.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    settings: PgSettings,
    /// The URL with libpq's `connect_timeout`, for connections outside the pool.
    url: String,
    /// `host:port`, the only form of the URL that messages and logs show.
    at: String,
    queries: Arc<AtomicU64>,
    migrations: Mutex<Vec<Migrations>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.pool.state();
        f.debug_struct("Database")
            .field("at", &self.inner.at)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish_non_exhaustive()
    }
}

/// What a failed statement means to a store, which turns it into its own error type.
#[derive(Debug)]
pub enum Fault {
    /// No row where one was expected.
    NotFound,
    /// A unique index refused the row; `constraint` names it, `error` says it for a log or
    /// for a store that does not count it as a duplicate.
    Unique {
        constraint: Option<String>,
        error: PgError,
    },
    /// A CHECK or NOT NULL constraint refused the row.
    Check { message: String },
    /// A foreign key refused the row: what it points at is not there.
    ForeignKey { constraint: Option<String> },
    /// Anything else: a lost connection, a statement timeout, a deadlock. It may pass if
    /// tried again. Logged here, naming the server by `host:port` only.
    Unavailable(PgError),
}

impl Database {
    /// Builds the pool without connecting, so that a process can start (and answer its
    /// health checks) while the database is still down. Until it is up, each checkout fails
    /// after `connect_timeout`; afterwards the pool connects by itself. Fails only on
    /// invalid settings.
    pub fn connect(settings: &PgSettings) -> Result<Database, PgError> {
        settings.check()?;
        let url = with_connect_timeout(&settings.url, settings.libpq_connect_timeout());
        let at = describe_url(&settings.url);
        let queries = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.connect_timeout)
            // One `SELECT 1` per checkout: a connection that the server closed (a restart,
            // a failover) is replaced before a request sees it fail.
            .test_on_check_out(true)
            .error_handler(Box::new(LogConnectErrors {
                url: url.clone(),
                at: at.clone(),
                last_warning: Mutex::new(None),
            }))
            .connection_customizer(Box::new(SetUpConnection {
                statement_timeout_ms: settings.statement_timeout_ms(),
                queries: Arc::clone(&queries),
            }))
            .build_unchecked(ConnectionManager::new(url.clone()));
        Ok(Database {
            inner: Arc::new(Inner {
                pool,
                settings: settings.clone(),
                url,
                at,
                queries,
                migrations: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A pooled connection, or [`PgError::Unavailable`] after `connect_timeout`.
    ///
    /// Each checkout reports the pool through the `metrics` facade: how long it waited
    /// (`db_pool_checkout_seconds`), the connections open and idle, the most it may open, and
    /// the checkouts that gave up (`db_pool_checkout_errors_total`).
    pub fn conn(&self) -> Result<Conn, PgError> {
        // Registered before it is needed, so dashboards see a 0 rather than no series.
        let errors = metrics::counter!(POOL_ERRORS);
        let started = std::time::Instant::now();
        let got = self.inner.pool.get();
        metrics::histogram!(POOL_CHECKOUT).record(started.elapsed().as_secs_f64());
        let state = self.inner.pool.state();
        metrics::gauge!(POOL_CONNECTIONS).set(f64::from(state.connections));
        metrics::gauge!(POOL_IDLE).set(f64::from(state.idle_connections));
        metrics::gauge!(POOL_MAX).set(f64::from(self.inner.pool.max_size()));
        got.map_err(|e| {
            errors.increment(1);
            PgError::Unavailable {
                at: self.inner.at.clone(),
                reason: concise(&self.inner.url, &e.to_string()),
            }
        })
    }

    /// `host:port` of the server, for messages.
    pub fn at(&self) -> &str {
        &self.inner.at
    }

    /// Registers a component's migrations; the same set twice counts once. Refuses a set
    /// whose version another component's set already uses, since diesel would silently skip
    /// one of the two.
    pub fn require(&self, migrations: Migrations) -> Result<(), PgError> {
        let mut sets = self
            .inner
            .migrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sets.iter().any(|m| m.component() == migrations.component()) {
            return Ok(());
        }
        migrate::check_versions(sets.iter().chain([&migrations]))?;
        sets.push(migrations);
        Ok(())
    }

    /// Every registered set, in registration order.
    pub fn migrations(&self) -> Vec<Migrations> {
        self.inner
            .migrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies every registered component's pending migrations in version order, under one
    /// advisory lock, and returns their names (none when the database is current). Safe to
    /// call from several processes at once: each migration is applied exactly once.
    pub fn migrate(&self) -> Result<Vec<String>, PgError> {
        migrate::migrate_url(&self.inner.url, &self.migrations())
    }

    /// The names of the registered migrations that the database lacks, in version order.
    pub fn pending_migrations(&self) -> Result<Vec<String>, PgError> {
        migrate::pending_url(&self.inner.url, &self.migrations())
    }

    /// Waits, bounded, until the server accepts a connection and no registered migration is
    /// pending; see [`migrate::wait_for_db`].
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<(), PgError> {
        migrate::wait_for_db(&self.inner.settings, &self.migrations(), timeout)
    }

    /// How many SQL statements have started on this pool's connections. Counts the pool's
    /// `SELECT 1` at each checkout; leaves out the `SET statement_timeout` run once per new
    /// connection and the statements of migrations, which use connections of their own.
    pub fn queries_run(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    /// Says what a failed statement means; see [`Fault`].
    pub fn fault(&self, e: DieselError) -> Fault {
        match e {
            DieselError::NotFound => Fault::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                Fault::Unique {
                    constraint: info.constraint_name().map(str::to_owned),
                    error: self.query_error(&e),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, ref info) => {
                Fault::ForeignKey {
                    constraint: info.constraint_name().map(str::to_owned),
                }
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation,
                info,
            ) => Fault::Check {
                message: info.message().to_owned(),
            },
            e => {
                let error = self.query_error(&e);
                tracing::warn!(database = %self.inner.at, %error, "query failed");
                Fault::Unavailable(error)
            }
        }
    }

    fn query_error(&self, e: &DieselError) -> PgError {
        PgError::Query {
            at: self.inner.at.clone(),
            reason: concise(&self.inner.url, &e.to_string()),
        }
    }

    /// Whether the server answers now (for readiness checks): one checkout.
    pub fn ping(&self) -> Result<(), PgError> {
        self.conn().map(drop)
    }
}

/// Prepares each new pooled connection: the statement timeout, then the statement counter
/// (installed last, so that the setup itself is not counted).
#[derive(Debug)]
struct SetUpConnection {
    statement_timeout_ms: i32,
    queries: Arc<AtomicU64>,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SetUpConnection {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET statement_timeout = {}",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        let queries = Arc::clone(&self.queries);
        // Keep whatever instrumentation the application installed as diesel's default
        // (e.g. query logging); ours only counts and passes each event on.
        let mut inner = get_default_instrumentation();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                queries.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(inner) = inner.as_mut() {
                inner.on_connection_event(event);
            }
        });
        Ok(())
    }
}

/// Logs the pool's failed connection attempts through `tracing` (r2d2's own handler writes
/// to the `log` crate), naming the server by `host:port` only. While the database is down
/// the pool retries every few seconds for each connection it wants, so a warning goes out
/// at most every [`WARN_EVERY`] and the rest at debug level.
struct LogConnectErrors {
    url: String,
    at: String,
    last_warning: Mutex<Option<Instant>>,
}

const WARN_EVERY: Duration = Duration::from_secs(30);

// By hand, because the URL may hold a password.
impl fmt::Debug for LogConnectErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogConnectErrors")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl HandleError<diesel::r2d2::Error> for LogConnectErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        let error = concise(&self.url, &error.to_string());
        let warn = {
            let mut last = self
                .last_warning
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = match *last {
                Some(at) => at.elapsed() >= WARN_EVERY,
                None => true,
            };
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if warn {
            tracing::warn!(database = %self.at, %error, "cannot open a database connection");
        } else {
            tracing::debug!(database = %self.at, %error, "cannot open a database connection");
        }
    }
}
