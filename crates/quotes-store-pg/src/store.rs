//! `PgStore`: the `QuoteStore` on PostgreSQL, on the site's shared pool of diesel connections.

use std::fmt;

use db::{Database, Fault, PgError};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use quotes_core::{
    Cursor, Invalid, Listing, LoadReport, NewQuote, Page, PageRequest, Quote, QuoteId, QuoteOrder,
    QuoteQuery, QuoteStore, StoreError, StoreStats,
};

use crate::rows::{same_key, ContentRow, QuoteRow};
use crate::schema::quotes;
use crate::MIGRATIONS;

/// Quotes in PostgreSQL. Cheap to share: hold it as `Arc<dyn QuoteStore>`.
///
/// Every method takes one pooled connection and runs a fixed number of statements on it,
/// whatever the size of the data; see [`Database::queries_run`].
#[derive(Clone)]
pub struct PgStore {
    db: Database,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("db", &self.db).finish()
    }
}

impl PgStore {
    /// The quote store on `db`'s pool. Registers the quotes migrations with `db`, so that
    /// `db.migrate()` applies them; connects to nothing.
    pub fn new(db: &Database) -> Result<PgStore, PgError> {
        db.require(MIGRATIONS)?;
        Ok(PgStore { db: db.clone() })
    }

    /// The shared database this store runs on.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// How many statements have run on the shared pool; see [`Database::queries_run`].
    pub fn queries_run(&self) -> u64 {
        self.db.queries_run()
    }

    fn conn(&self) -> Result<db::Conn, StoreError> {
        self.db.conn().map_err(StoreError::unavailable)
    }

    fn error(&self, e: diesel::result::Error) -> StoreError {
        match self.db.fault(e) {
            // The quotes table has no foreign key.
            Fault::NotFound | Fault::ForeignKey { .. } => StoreError::NotFound,
            Fault::Unique { constraint, .. } if constraint.as_deref() == Some(SAME_KEY_INDEX) => {
                conflict()
            }
            // The domain checks every field first, so only a constraint that it does not
            // know about (or a mismatch between the two) lands here.
            Fault::Check { message } => StoreError::Invalid(Invalid::Other {
                field: "quote",
                reason: message,
            }),
            // Another unique violation (of the primary key, say) is no duplicate quote;
            // like a lost connection, a statement timeout or a deadlock between two
            // overlapping batches, it may pass if tried again, which is what `Unavailable`
            // tells the caller.
            Fault::Unique { error, .. } | Fault::Unavailable(error) => {
                StoreError::unavailable(error)
            }
        }
    }

    fn to_quote(&self, row: QuoteRow) -> Result<Quote, StoreError> {
        Quote::try_from(row).map_err(|e| {
            tracing::error!(database = %self.db.at(), error = %e, "unreadable row");
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
        let mut conn = self.conn()?;
        let stats = self.read_stats(&mut conn)?;
        self.list_on(&mut conn, page, stats.count)
    }

    fn list_from(&self, cursor: Cursor, per_page: u32) -> Result<Vec<Quote>, StoreError> {
        let mut conn = self.conn()?;
        self.list_from_on(&mut conn, cursor, per_page)
    }

    fn listing(
        &self,
        page: PageRequest,
        cursor: Option<Cursor>,
        featured: u64,
    ) -> Result<Listing, StoreError> {
        // One connection for all three, so one checkout.
        let mut conn = self.conn()?;
        let stats = self.read_stats(&mut conn)?;
        let mut items = match cursor {
            Some(cursor) => self.list_from_on(&mut conn, cursor, page.per_page())?,
            None => Vec::new(),
        };
        if items.is_empty() {
            items = self.list_on(&mut conn, page, stats.count)?.items;
        }
        let featured = self.pick_on(&mut conn, featured)?;
        Ok(Listing {
            stats,
            page: Page {
                items,
                page: page.page(),
                per_page: page.per_page(),
                total: stats.count,
            },
            featured,
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut conn = self.conn()?;
        self.read_stats(&mut conn)
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

    fn ping(&self) -> Result<(), StoreError> {
        self.conn().map(drop)
    }

    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError> {
        let mut conn = self.conn()?;
        self.pick_on(&mut conn, seed)
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

        // One statement, so one transaction: it adds every new quote or, on any error,
        // none. Four array parameters carry the whole batch, so its size meets neither
        // PostgreSQL's limit of 65,535 parameters nor a statement per row. Rows go in batch
        // order (ORDINALITY), so ids follow the batch. ON CONFLICT DO NOTHING waits for a
        // concurrent transaction inserting the same key and then skips it, so callers
        // loading the same batch at once add each quote exactly once between them. It names
        // the key's index: any other clash (of ids, say) must fail, not count as existing.
        let mut conn = self.conn()?;
        let rows = diesel::sql_query(
            "WITH added AS ( \
                 INSERT INTO quotes (text, author, source, same_key) \
                 SELECT text, author, source, same_key \
                 FROM unnest($1, $2, $3, $4) WITH ORDINALITY AS batch (text, author, source, same_key, n) \
                 ORDER BY n \
                 ON CONFLICT ((md5(same_key))) DO NOTHING \
                 RETURNING quotes.id, quotes.text, quotes.author, quotes.source, quotes.created_at \
             ) \
             SELECT * FROM added ORDER BY id",
        )
        .bind::<Array<Text>, _>(texts)
        .bind::<Array<Text>, _>(authors)
        .bind::<Array<Nullable<Text>>, _>(sources)
        .bind::<Array<Text>, _>(keys)
        .load::<QuoteRow>(&mut conn)
        .map_err(|e| self.error(e))?;
        let new_quotes = rows
            .into_iter()
            .map(|row| self.to_quote(row))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadReport {
            added: new_quotes.len(),
            existing: batch.len() - new_quotes.len(),
            new_quotes,
        })
    }

    fn update_if(
        &self,
        id: QuoteId,
        expected: &NewQuote,
        quote: NewQuote,
    ) -> Result<Quote, StoreError> {
        use diesel::PgExpressionMethods;
        let mut conn = self.conn()?;
        // One statement: the row is changed only if it still holds what the caller read.
        let row = diesel::update(
            quotes::table
                .find(id.0)
                .filter(quotes::text.eq(expected.text.as_str()))
                .filter(quotes::author.eq(expected.author.as_str()))
                .filter(
                    quotes::source
                        .is_not_distinct_from(expected.source.as_ref().map(|s| s.as_str())),
                ),
        )
        .set(ContentRow::from(&quote))
        .returning(QuoteRow::as_returning())
        .get_result(&mut conn)
        .optional()
        .map_err(|e| self.error(e))?;
        match row {
            Some(row) => self.to_quote(row),
            None => {
                let exists: bool = diesel::select(diesel::dsl::exists(quotes::table.find(id.0)))
                    .get_result(&mut conn)
                    .map_err(|e| self.error(e))?;
                Err(if exists {
                    StoreError::Stale
                } else {
                    StoreError::NotFound
                })
            }
        }
    }

    fn search(&self, query: &QuoteQuery, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let total: i64 = filtered(query)
            .count()
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        let rows: Vec<QuoteRow> = filtered(query)
            .order_by(diesel::dsl::sql::<Text>(&order_by(query)))
            .limit(i64::from(page.per_page()))
            .offset(offset)
            .select(QuoteRow::as_select())
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        let items = rows
            .into_iter()
            .map(|row| self.to_quote(row))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn authors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.tally(
            "SELECT author AS value, count(*) AS n FROM quotes \
             GROUP BY author ORDER BY author COLLATE \"C\"",
        )
    }

    fn sources(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.tally(
            "SELECT source AS value, count(*) AS n FROM quotes WHERE source IS NOT NULL \
             GROUP BY source ORDER BY source COLLATE \"C\"",
        )
    }
}

/// `n` as a bind parameter; listings never come near `i64::MAX`.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The statements of the hot paths, public so that tests can EXPLAIN exactly these.
pub mod statements {
    /// The one row of `quotes_stats` (see its migration).
    pub const STATS: &str =
        "SELECT n, generation, epoch, changed_at FROM quotes_stats WHERE only_row";

    /// A point in the range of ids, and the first quote at or after it. min and max come
    /// from the ends of the primary key's index; the point is computed once, then one index
    /// lookup: nothing is counted or scanned. An empty table gives no row.
    pub const PICK: &str = "SELECT quotes.id, quotes.text, quotes.author, quotes.source, \
         quotes.created_at FROM quotes \
         WHERE quotes.id >= (SELECT min(id) + (CAST($1 AS numeric) % (max(id) - min(id) + 1))::bigint \
                             FROM quotes) \
         ORDER BY quotes.id LIMIT 1";

    /// `$1` quotes after skipping `$2`, from the start.
    pub const PAGE_FORWARD: &str = "SELECT quotes.id, quotes.text, quotes.author, quotes.source, \
         quotes.created_at FROM quotes ORDER BY quotes.id LIMIT $1 OFFSET $2";

    /// `$1` quotes after skipping `$2` from the end, in id order.
    pub const PAGE_BACKWARD: &str = "SELECT * FROM (SELECT quotes.id, quotes.text, quotes.author, \
         quotes.source, quotes.created_at FROM quotes ORDER BY quotes.id DESC LIMIT $1 OFFSET $2) \
         AS page ORDER BY id";

    /// The first `$2` quotes after id `$1`.
    pub const AFTER: &str = "SELECT quotes.id, quotes.text, quotes.author, quotes.source, \
         quotes.created_at FROM quotes WHERE quotes.id > $1 ORDER BY quotes.id LIMIT $2";

    /// The last `$2` quotes before id `$1`, in id order.
    pub const BEFORE: &str = "SELECT * FROM (SELECT quotes.id, quotes.text, quotes.author, \
         quotes.source, quotes.created_at FROM quotes WHERE quotes.id < $1 \
         ORDER BY quotes.id DESC LIMIT $2) AS page ORDER BY id";
}

impl PgStore {
    /// A page by number, `total` quotes in all, on `conn`.
    fn list_on(
        &self,
        conn: &mut db::Conn,
        page: PageRequest,
        total: u64,
    ) -> Result<Page<Quote>, StoreError> {
        let offset = page.offset();
        let per_page = u64::from(page.per_page());
        // Walk from the nearer end: the first and the last pages cost the same at a
        // thousand quotes and at a million. The total comes from `quotes_stats`, so a
        // write between the two statements can shift a page by a row, never break it.
        let rows: Vec<QuoteRow> = if offset >= total {
            Vec::new()
        } else if offset <= total / 2 {
            diesel::sql_query(statements::PAGE_FORWARD)
                .bind::<BigInt, _>(as_i64(per_page))
                .bind::<BigInt, _>(as_i64(offset))
                .load(conn)
                .map_err(|e| self.error(e))?
        } else {
            let end = (offset + per_page).min(total);
            diesel::sql_query(statements::PAGE_BACKWARD)
                .bind::<BigInt, _>(as_i64(end - offset))
                .bind::<BigInt, _>(as_i64(total - end))
                .load(conn)
                .map_err(|e| self.error(e))?
        };
        let items = rows
            .into_iter()
            .map(|row| self.to_quote(row))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total,
        })
    }

    /// Up to `per_page` quotes next to `cursor`, on `conn`.
    fn list_from_on(
        &self,
        conn: &mut db::Conn,
        cursor: Cursor,
        per_page: u32,
    ) -> Result<Vec<Quote>, StoreError> {
        let (sql, id) = match cursor {
            Cursor::After(id) => (statements::AFTER, id),
            Cursor::Before(id) => (statements::BEFORE, id),
        };
        let rows: Vec<QuoteRow> = diesel::sql_query(sql)
            .bind::<BigInt, _>(id.0)
            .bind::<BigInt, _>(i64::from(per_page))
            .load(conn)
            .map_err(|e| self.error(e))?;
        rows.into_iter().map(|row| self.to_quote(row)).collect()
    }

    /// The quote `seed` picks, on `conn`.
    fn pick_on(&self, conn: &mut db::Conn, seed: u64) -> Result<Option<Quote>, StoreError> {
        // The seed goes in as text and becomes `numeric`, because PostgreSQL has no
        // unsigned 64-bit type.
        let row = diesel::sql_query(statements::PICK)
            .bind::<Text, _>(seed.to_string())
            .get_result::<QuoteRow>(conn)
            .optional()
            .map_err(|e| self.error(e))?;
        row.map(|row| self.to_quote(row)).transpose()
    }

    fn read_stats(&self, conn: &mut db::Conn) -> Result<StoreStats, StoreError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            n: i64,
            #[diesel(sql_type = BigInt)]
            generation: i64,
            #[diesel(sql_type = BigInt)]
            epoch: i64,
            #[diesel(sql_type = Nullable<diesel::sql_types::Timestamptz>)]
            changed_at: Option<chrono::DateTime<chrono::Utc>>,
        }
        let row: Row = diesel::sql_query(statements::STATS)
            .get_result(conn)
            .map_err(|e| self.error(e))?;
        Ok(StoreStats {
            count: u64::try_from(row.n).unwrap_or(0),
            generation: u64::try_from(row.generation).unwrap_or(0),
            epoch: row.epoch as u64,
            changed_at: row.changed_at,
        })
    }

    /// `(value, n)` rows of a GROUP BY.
    fn tally(&self, sql: &'static str) -> Result<Vec<(String, u64)>, StoreError> {
        #[derive(QueryableByName)]
        struct Tally {
            #[diesel(sql_type = Text)]
            value: String,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.conn()?;
        let rows: Vec<Tally> = diesel::sql_query(sql)
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(|t| (t.value, u64::try_from(t.n).unwrap_or(0)))
            .collect())
    }
}

/// The quotes `query` matches, as a boxed query to count or to page through.
fn filtered(query: &QuoteQuery) -> quotes::BoxedQuery<'static, diesel::pg::Pg> {
    let mut q = quotes::table.into_boxed();
    if let Some(needle) = &query.contains {
        let pattern = format!("%{}%", db::escape_like(needle));
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(quotes.text ILIKE ")
                .bind::<Text, _>(pattern.clone())
                .sql(" OR quotes.author ILIKE ")
                .bind::<Text, _>(pattern.clone())
                .sql(" OR coalesce(quotes.source ILIKE ")
                .bind::<Text, _>(pattern)
                .sql(", false))"),
        );
    }
    if let Some(author) = &query.author {
        q = q.filter(quotes::author.eq(author.clone()));
    }
    match &query.source {
        Some(Some(source)) => q = q.filter(quotes::source.eq(source.clone())),
        Some(None) => q = q.filter(quotes::source.is_null()),
        None => {}
    }
    q
}

/// The ORDER BY of a search: strings lower-cased and compared code point by code point
/// (`COLLATE "C"`, as Rust compares them, so both stores agree), a missing source first,
/// ties by id; descending reverses it all.
fn order_by(query: &QuoteQuery) -> String {
    let key = match query.order {
        QuoteOrder::Id => return format!("quotes.id {}", direction(query)),
        QuoteOrder::Text => "lower(quotes.text) COLLATE \"C\"",
        QuoteOrder::Author => "lower(quotes.author) COLLATE \"C\"",
        QuoteOrder::Source => "lower(quotes.source) COLLATE \"C\"",
        QuoteOrder::Created => "quotes.created_at",
    };
    let dir = direction(query);
    let nulls = if query.descending {
        "NULLS LAST"
    } else {
        "NULLS FIRST"
    };
    format!("{key} {dir} {nulls}, quotes.id {dir}")
}

fn direction(query: &QuoteQuery) -> &'static str {
    if query.descending {
        "DESC"
    } else {
        "ASC"
    }
}
