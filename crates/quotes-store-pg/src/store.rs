//! `PgStore`: the `QuoteStore` on PostgreSQL, through an r2d2 pool of diesel connections.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::{get_default_instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, HandleError, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use quotes_core::{
    Invalid, LoadReport, NewQuote, Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError,
};

use crate::rows::{same_key, ContentRow, QuoteRow};
use crate::schema::quotes;
use crate::settings::concise;
use crate::url::{describe_url, with_connect_timeout};
use crate::{migrate, PgError, PgSettings};

type PgPool = Pool<ConnectionManager<PgConnection>>;
type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

/// Quotes in PostgreSQL. Cheap to share: hold it as `Arc<dyn QuoteStore>`.
///
/// Every method takes one pooled connection and runs a fixed number of statements on it,
/// whatever the size of the data; see [`PgStore::queries_run`].
pub struct PgStore {
    pool: PgPool,
    /// The URL with libpq's `connect_timeout`, for connections outside the pool.
    url: String,
    /// `host:port`, the only form of the URL that messages and logs show.
    at: String,
    queries: Arc<AtomicU64>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("PgStore")
            .field("at", &self.at)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Builds the pool without connecting, so that a process can start (and answer its
    /// health checks) while the database is still down. Until it is up, each store method
    /// answers `StoreError::Unavailable` after `connect_timeout`; afterwards the pool
    /// connects by itself. Fails only on invalid settings.
    pub fn connect(settings: &PgSettings) -> Result<PgStore, PgError> {
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
        Ok(PgStore {
            pool,
            url,
            at,
            queries,
        })
    }

    /// Applies the pending embedded migrations and returns their names (none when the
    /// database is current). Safe to call from several processes at once: they take turns
    /// on an advisory lock, so each migration is applied exactly once.
    pub fn migrate(&self) -> Result<Vec<String>, PgError> {
        migrate::migrate_url(&self.url)
    }

    /// The names of the embedded migrations that the database lacks.
    pub fn pending_migrations(&self) -> Result<Vec<String>, PgError> {
        migrate::pending_url(&self.url)
    }

    /// How many SQL statements this store has started on its pooled connections. Counts the
    /// pool's `SELECT 1` at each checkout; leaves out the `SET statement_timeout` run once
    /// per new connection and the statements of `migrate` and `pending_migrations`, which
    /// use connections of their own.
    pub fn queries_run(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    fn conn(&self) -> Result<PgPooled, StoreError> {
        self.pool.get().map_err(|e| {
            StoreError::unavailable(PgError::Unavailable {
                at: self.at.clone(),
                reason: concise(&self.url, &e.to_string()),
            })
        })
    }

    fn error(&self, e: DieselError) -> StoreError {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info)
                if info.constraint_name() == Some(SAME_KEY_INDEX) =>
            {
                conflict()
            }
            // The domain checks every field first, so only a constraint that it does not
            // know about (or a mismatch between the two) lands here.
            DieselError::DatabaseError(
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation,
                info,
            ) => StoreError::Invalid(Invalid::Other {
                field: "quote",
                reason: info.message().to_owned(),
            }),
            // Everything else (a lost connection, a statement timeout, a deadlock between
            // two overlapping batches) may pass if tried again, which is what `Unavailable`
            // tells the caller.
            e => {
                let reason = concise(&self.url, &e.to_string());
                tracing::warn!(database = %self.at, error = %reason, "query failed");
                StoreError::unavailable(PgError::Query {
                    at: self.at.clone(),
                    reason,
                })
            }
        }
    }

    fn to_quote(&self, row: QuoteRow) -> Result<Quote, StoreError> {
        Quote::try_from(row).map_err(|e| {
            tracing::error!(database = %self.at, error = %e, "unreadable row");
            StoreError::internal(e)
        })
    }
}

fn conflict() -> StoreError {
    StoreError::Conflict("a quote with this text and author already exists".into())
}

/// The unique index on the digest of `NewQuote::same_key` (see `migrations/`). Another
/// unique violation, say of the primary key, is no duplicate quote.
const SAME_KEY_INDEX: &str = "quotes_same_key_md5";

/// The columns of [`QuoteRow`], for the statements written in SQL.
const QUOTE_COLUMNS: &str =
    "quotes.id, quotes.text, quotes.author, quotes.source, quotes.created_at";

impl QuoteStore for PgStore {
    fn get(&self, id: QuoteId) -> Result<Quote, StoreError> {
        let mut conn = self.conn()?;
        let row = quotes::table
            .find(id.0)
            .select(QuoteRow::as_select())
            .first(&mut conn)
            .map_err(|e| self.error(e))?;
        self.to_quote(row)
    }

    fn list(&self, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        // The total rides along on every row, so a page and its total come from one
        // statement and thus one snapshot; only a page past the end needs a second look.
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows: Vec<(QuoteRow, i64)> = quotes::table
            .select((
                QuoteRow::as_select(),
                diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM quotes)"),
            ))
            .order(quotes::id)
            .limit(i64::from(page.per_page()))
            .offset(offset)
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        let total = match rows.first() {
            Some((_, total)) => *total,
            None => quotes::table
                .count()
                .get_result(&mut conn)
                .map_err(|e| self.error(e))?,
        };
        let items = rows
            .into_iter()
            .map(|(row, _)| self.to_quote(row))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn count(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let n: i64 = quotes::table
            .count()
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn insert(&self, quote: NewQuote) -> Result<Quote, StoreError> {
        let mut conn = self.conn()?;
        let row = diesel::insert_into(quotes::table)
            .values(ContentRow::from(&quote))
            .returning(QuoteRow::as_returning())
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        self.to_quote(row)
    }

    fn update(&self, id: QuoteId, quote: NewQuote) -> Result<Quote, StoreError> {
        let mut conn = self.conn()?;
        // `created_at` is not in `ContentRow`, so it keeps its value.
        let row = diesel::update(quotes::table.find(id.0))
            .set(ContentRow::from(&quote))
            .returning(QuoteRow::as_returning())
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        self.to_quote(row)
    }

    fn delete(&self, id: QuoteId) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        match diesel::delete(quotes::table.find(id.0)).execute(&mut conn) {
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError> {
        // `seed % count` as an offset in id order, as the memory store does. The seed goes
        // in as text and becomes `numeric`, because PostgreSQL has no unsigned 64-bit type;
        // the count and the scan share one statement, so a concurrent delete cannot push the
        // offset past the end. NULLIF makes an empty table give no row rather than a
        // division by zero.
        let sql = format!(
            "SELECT {QUOTE_COLUMNS} FROM quotes ORDER BY quotes.id LIMIT 1 \
             OFFSET (SELECT (CAST($1 AS numeric) % NULLIF(count(*), 0))::bigint FROM quotes)"
        );
        let mut conn = self.conn()?;
        let row = diesel::sql_query(sql)
            .bind::<Text, _>(seed.to_string())
            .get_result::<QuoteRow>(&mut conn)
            .optional()
            .map_err(|e| self.error(e))?;
        row.map(|row| self.to_quote(row)).transpose()
    }

    fn get_or_create_all(&self, batch: &[NewQuote]) -> Result<LoadReport, StoreError> {
        if batch.is_empty() {
            return Ok(LoadReport::default());
        }
        // A later duplicate inside the batch counts as existing, like one already stored.
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let mut texts = Vec::with_capacity(batch.len());
        let mut authors = Vec::with_capacity(batch.len());
        let mut sources = Vec::with_capacity(batch.len());
        let mut keys = Vec::with_capacity(batch.len());
        for quote in batch {
            let key = same_key(quote);
            if seen.insert(key.clone()) {
                texts.push(quote.text.as_str());
                authors.push(quote.author.as_str());
                sources.push(quote.source.as_ref().map(|s| s.as_str()));
                keys.push(key);
            }
        }

        #[derive(QueryableByName)]
        struct Added {
            #[diesel(sql_type = BigInt)]
            added: i64,
        }
        // One statement, so one transaction: it adds every new quote or, on any error,
        // none. Four array parameters carry the whole batch, so its size meets neither
        // PostgreSQL's limit of 65,535 parameters nor a statement per row. Rows go in batch
        // order (ORDINALITY), so ids follow the batch. ON CONFLICT DO NOTHING waits for a
        // concurrent transaction inserting the same key and then skips it, so callers
        // loading the same batch at once add each quote exactly once between them. It names
        // the key's index: any other clash (of ids, say) must fail, not count as existing.
        let mut conn = self.conn()?;
        let added = diesel::sql_query(
            "WITH added AS ( \
                 INSERT INTO quotes (text, author, source, same_key) \
                 SELECT text, author, source, same_key \
                 FROM unnest($1, $2, $3, $4) WITH ORDINALITY AS batch (text, author, source, same_key, n) \
                 ORDER BY n \
                 ON CONFLICT ((md5(same_key))) DO NOTHING \
                 RETURNING 1 \
             ) \
             SELECT count(*) AS added FROM added",
        )
        .bind::<Array<Text>, _>(texts)
        .bind::<Array<Text>, _>(authors)
        .bind::<Array<Nullable<Text>>, _>(sources)
        .bind::<Array<Text>, _>(keys)
        .get_result::<Added>(&mut conn)
        .map_err(|e| self.error(e))?
        .added;
        let added = usize::try_from(added).expect("no more rows added than were sent");
        Ok(LoadReport {
            added,
            existing: batch.len() - added,
        })
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
