//! The wiki in PostgreSQL, on the site's shared pool (`db::Database`), with this component's
//! migrations embedded.

use chrono::{DateTime, Utc};
use db::{Database, Fault, PgError};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use crate::path::WikiPath;
use crate::store::{
    check_import, import_step, Change, HistoryEntry, Hit, Imported, NewRevision, PageFilter,
    PageInfo, PageState, Revision, WikiError, WikiStore, MARK_END, MARK_START,
};

static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");

/// This component's migrations, applied by `quotes migrate` once a store is made.
pub const MIGRATIONS: db::Migrations = db::Migrations::new("wiki", &EMBEDDED);

diesel::table! {
    wiki_pages (path) {
        path -> Text,
        title -> Text,
        revision -> Int4,
        updated_at -> Timestamptz,
        content -> Text,
        deleted -> Bool,
        locked -> Bool,
    }
}

diesel::table! {
    wiki_revisions (path, number) {
        path -> Text,
        number -> Int4,
        title -> Text,
        content -> Text,
        html -> Text,
        author -> Nullable<Text>,
        address -> Nullable<Text>,
        message -> Text,
        created_at -> Timestamptz,
        deleted -> Bool,
        locked -> Bool,
    }
}

diesel::joinable!(wiki_revisions -> wiki_pages (path));
diesel::allow_tables_to_appear_in_same_query!(wiki_pages, wiki_revisions);

#[derive(Queryable, Selectable)]
#[diesel(table_name = wiki_pages, check_for_backend(diesel::pg::Pg))]
struct PageRow {
    path: String,
    title: String,
    revision: i32,
    updated_at: DateTime<Utc>,
    deleted: bool,
    locked: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = wiki_revisions, check_for_backend(diesel::pg::Pg))]
struct RevisionRow {
    number: i32,
    title: String,
    content: String,
    html: String,
    author: Option<String>,
    address: Option<String>,
    message: String,
    created_at: DateTime<Utc>,
    deleted: bool,
    locked: bool,
}

/// A revision's history line: number, title, author, address, message, time, size, state.
type HistoryRow = (
    i32,
    String,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    i32,
    bool,
    bool,
);

/// A revision for recent changes: path, title, number, author, address, message, time.
type ChangeRow = (
    String,
    String,
    i32,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
);

fn number(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl PageRow {
    fn into_info(self) -> PageInfo {
        PageInfo {
            path: WikiPath::parse(&self.path).unwrap_or_default(),
            title: self.title,
            revision: number(self.revision),
            updated_at: self.updated_at,
            state: PageState {
                deleted: self.deleted,
                locked: self.locked,
            },
        }
    }
}

impl From<RevisionRow> for Revision {
    fn from(r: RevisionRow) -> Self {
        Revision {
            number: number(r.number),
            title: r.title,
            content: r.content,
            html: r.html,
            author: r.author,
            address: r.address,
            message: r.message,
            created_at: r.created_at,
            state: PageState {
                deleted: r.deleted,
                locked: r.locked,
            },
        }
    }
}

/// Adds a checked revision on top of `base` in the caller's transaction (see
/// [`WikiStore::save`]); the outer error is the database's, the inner the save's refusal.
fn save_in(
    conn: &mut PgConnection,
    path: &WikiPath,
    base: Option<u32>,
    revision: &NewRevision,
) -> QueryResult<Result<u32, WikiError>> {
    let title = revision.title.trim();
    let landed: Option<(i32, bool, bool)> = match base {
        None => {
            let state = revision.state.unwrap_or_default();
            diesel::insert_into(wiki_pages::table)
                .values((
                    wiki_pages::path.eq(path.as_str()),
                    wiki_pages::title.eq(title),
                    wiki_pages::revision.eq(1),
                    wiki_pages::content.eq(&revision.content),
                    wiki_pages::deleted.eq(state.deleted),
                    wiki_pages::locked.eq(state.locked),
                ))
                .on_conflict_do_nothing()
                .returning((
                    wiki_pages::revision,
                    wiki_pages::deleted,
                    wiki_pages::locked,
                ))
                .get_result(conn)
                .optional()?
        }
        // Under the row's lock: a concurrent save from the same base waits, then finds the
        // revision moved on and updates nothing. A state left out stays as it is.
        Some(base) => diesel::update(
            wiki_pages::table
                .filter(wiki_pages::path.eq(path.as_str()))
                .filter(wiki_pages::revision.eq(i32::try_from(base).unwrap_or(-1))),
        )
        .set((
            wiki_pages::revision.eq(wiki_pages::revision + 1),
            wiki_pages::title.eq(title),
            wiki_pages::content.eq(&revision.content),
            wiki_pages::updated_at.eq(diesel::dsl::now),
            revision.state.map(|s| wiki_pages::deleted.eq(s.deleted)),
            revision.state.map(|s| wiki_pages::locked.eq(s.locked)),
        ))
        .returning((
            wiki_pages::revision,
            wiki_pages::deleted,
            wiki_pages::locked,
        ))
        .get_result(conn)
        .optional()?,
    };
    let Some((n, deleted, locked)) = landed else {
        let current: Option<i32> = wiki_pages::table
            .filter(wiki_pages::path.eq(path.as_str()))
            .select(wiki_pages::revision)
            .first(conn)
            .optional()?;
        return Ok(Err(match (base, current) {
            (None, _) => WikiError::Exists,
            (Some(_), None) => WikiError::NotFound,
            (Some(base), Some(current)) => WikiError::Stale {
                base,
                current: number(current),
            },
        }));
    };
    diesel::insert_into(wiki_revisions::table)
        .values((
            wiki_revisions::path.eq(path.as_str()),
            wiki_revisions::number.eq(n),
            wiki_revisions::title.eq(title),
            wiki_revisions::content.eq(&revision.content),
            wiki_revisions::html.eq(&revision.html),
            wiki_revisions::author.eq(&revision.author),
            wiki_revisions::address.eq(&revision.address),
            wiki_revisions::message.eq(revision.message.trim()),
            wiki_revisions::deleted.eq(deleted),
            wiki_revisions::locked.eq(locked),
        ))
        .execute(conn)?;
    Ok(Ok(number(n)))
}

/// The wiki in PostgreSQL. Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    db: Database,
}

impl PgStore {
    /// The store on `db`'s pool; registers [`MIGRATIONS`] with it. Connects to nothing.
    pub fn new(db: &Database) -> Result<PgStore, PgError> {
        db.require(MIGRATIONS)?;
        Ok(PgStore { db: db.clone() })
    }

    fn conn(&self) -> Result<db::Conn, WikiError> {
        self.db
            .conn()
            .map_err(|e| WikiError::Unavailable(Box::new(e)))
    }

    fn error(&self, e: diesel::result::Error) -> WikiError {
        match self.db.fault(e) {
            Fault::NotFound | Fault::ForeignKey { .. } => WikiError::NotFound,
            // The page's primary key: a create that lost the race.
            Fault::Unique { .. } => WikiError::Exists,
            // `NewRevision::check` and `WikiPath::parse` check first, so only a rule they
            // do not know lands here.
            Fault::Check { message } => WikiError::invalid("page", message),
            Fault::Unavailable(error) => WikiError::Unavailable(Box::new(error)),
        }
    }
}

impl WikiStore for PgStore {
    fn page(&self, path: &WikiPath) -> Result<Option<(PageInfo, Revision)>, WikiError> {
        let mut conn = self.conn()?;
        let row: Option<(PageRow, RevisionRow)> = wiki_pages::table
            .inner_join(
                wiki_revisions::table.on(wiki_revisions::path
                    .eq(wiki_pages::path)
                    .and(wiki_revisions::number.eq(wiki_pages::revision))),
            )
            .filter(wiki_pages::path.eq(path.as_str()))
            .select((PageRow::as_select(), RevisionRow::as_select()))
            .first(&mut conn)
            .optional()
            .map_err(|e| self.error(e))?;
        Ok(row.map(|(page, revision)| (page.into_info(), revision.into())))
    }

    fn save(
        &self,
        path: &WikiPath,
        base: Option<u32>,
        revision: NewRevision,
    ) -> Result<u32, WikiError> {
        revision.check()?;
        let mut conn = self.conn()?;
        conn.transaction(|conn| save_in(conn, path, base, &revision))
            .map_err(|e| self.error(e))?
    }

    fn revision(&self, path: &WikiPath, n: u32) -> Result<Revision, WikiError> {
        let mut conn = self.conn()?;
        let row: RevisionRow = wiki_revisions::table
            .filter(wiki_revisions::path.eq(path.as_str()))
            .filter(wiki_revisions::number.eq(i32::try_from(n).unwrap_or(-1)))
            .select(RevisionRow::as_select())
            .first(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(row.into())
    }

    fn history(&self, path: &WikiPath) -> Result<Vec<HistoryEntry>, WikiError> {
        let mut conn = self.conn()?;
        let rows: Vec<HistoryRow> = wiki_revisions::table
            .filter(wiki_revisions::path.eq(path.as_str()))
            .order(wiki_revisions::number.desc())
            .select((
                wiki_revisions::number,
                wiki_revisions::title,
                wiki_revisions::author,
                wiki_revisions::address,
                wiki_revisions::message,
                wiki_revisions::created_at,
                diesel::dsl::sql::<diesel::sql_types::Int4>("octet_length(content)"),
                wiki_revisions::deleted,
                wiki_revisions::locked,
            ))
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        if rows.is_empty() {
            return Err(WikiError::NotFound);
        }
        Ok(rows
            .into_iter()
            .map(
                |(n, title, author, address, message, created_at, size, deleted, locked)| {
                    HistoryEntry {
                        number: number(n),
                        title,
                        author,
                        address,
                        message,
                        created_at,
                        size: usize::try_from(size).unwrap_or(0),
                        state: PageState { deleted, locked },
                    }
                },
            )
            .collect())
    }

    fn children(&self, path: &WikiPath) -> Result<Vec<PageInfo>, WikiError> {
        let mut conn = self.conn()?;
        // Direct children: one slug more, no further slash.
        let pattern = if path.is_root() {
            "^[^/]+$".to_owned()
        } else {
            format!("^{}/[^/]+$", path.as_str())
        };
        let rows: Vec<PageRow> = wiki_pages::table
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("path ~ ")
                    .bind::<diesel::sql_types::Text, _>(pattern),
            )
            .filter(wiki_pages::deleted.eq(false))
            .order(wiki_pages::path)
            .select(PageRow::as_select())
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(rows.into_iter().map(PageRow::into_info).collect())
    }

    fn existing(&self, paths: &[WikiPath]) -> Result<Vec<WikiPath>, WikiError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        let wanted: Vec<&str> = paths.iter().map(WikiPath::as_str).collect();
        let found: Vec<String> = wiki_pages::table
            .filter(wiki_pages::path.eq_any(wanted))
            .filter(wiki_pages::deleted.eq(false))
            .select(wiki_pages::path)
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(paths
            .iter()
            .filter(|p| found.iter().any(|f| f == p.as_str()))
            .cloned()
            .collect())
    }

    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, WikiError> {
        use diesel::sql_types::{BigInt, Float4, Text};
        #[derive(QueryableByName)]
        struct HitRow {
            #[diesel(sql_type = Text)]
            path: String,
            #[diesel(sql_type = Text)]
            title: String,
            #[diesel(sql_type = Text)]
            snippet: String,
            #[diesel(sql_type = Float4)]
            rank: f32,
        }
        let options = format!(
            "StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MaxWords=30, MinWords=10, FragmentDelimiter= … "
        );
        let mut conn = self.conn()?;
        let rows: Vec<HitRow> = diesel::sql_query(
            "SELECT p.path, p.title, ts_headline('english', p.content, q, $2) AS snippet, \
                    ts_rank(p.search, q) AS rank \
             FROM wiki_pages p, websearch_to_tsquery('english', $1) AS q \
             WHERE p.search @@ q AND NOT p.deleted \
             ORDER BY rank DESC, p.path \
             LIMIT $3",
        )
        .bind::<Text, _>(query)
        .bind::<Text, _>(options)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(|r| Hit {
                path: WikiPath::parse(&r.path).unwrap_or_default(),
                title: r.title,
                snippet: r.snippet,
                rank: r.rank,
            })
            .collect())
    }

    fn revisions_since(
        &self,
        author: Option<&str>,
        address: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<u64, WikiError> {
        let mut conn = self.conn()?;
        let recent = wiki_revisions::table.filter(wiki_revisions::created_at.ge(since));
        let n: i64 = match author {
            Some(a) => recent
                .filter(wiki_revisions::author.eq(a))
                .count()
                .get_result(&mut conn),
            None => recent
                .filter(wiki_revisions::author.is_null())
                .filter(wiki_revisions::address.eq(address))
                .count()
                .get_result(&mut conn),
        }
        .map_err(|e| self.error(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn recent(&self, offset: usize, limit: usize) -> Result<Vec<Change>, WikiError> {
        let mut conn = self.conn()?;
        let rows: Vec<ChangeRow> = wiki_revisions::table
            .order((
                wiki_revisions::created_at.desc(),
                wiki_revisions::number.desc(),
                wiki_revisions::path,
            ))
            .offset(i64::try_from(offset).unwrap_or(i64::MAX))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select((
                wiki_revisions::path,
                wiki_revisions::title,
                wiki_revisions::number,
                wiki_revisions::author,
                wiki_revisions::address,
                wiki_revisions::message,
                wiki_revisions::created_at,
            ))
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(
                |(path, title, n, author, address, message, created_at)| Change {
                    path: WikiPath::parse(&path).unwrap_or_default(),
                    title,
                    number: number(n),
                    author,
                    address,
                    message,
                    created_at,
                },
            )
            .collect())
    }

    fn pages(
        &self,
        filter: &PageFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<PageInfo>, u64), WikiError> {
        let matching = || {
            let mut query = wiki_pages::table.into_boxed();
            if let Some(needle) = &filter.contains {
                let pattern = format!("%{}%", db::escape_like(needle));
                query = query.filter(
                    wiki_pages::path
                        .ilike(pattern.clone())
                        .or(wiki_pages::title.ilike(pattern)),
                );
            }
            if let Some(deleted) = filter.deleted {
                query = query.filter(wiki_pages::deleted.eq(deleted));
            }
            if let Some(locked) = filter.locked {
                query = query.filter(wiki_pages::locked.eq(locked));
            }
            query
        };
        let mut conn = self.conn()?;
        let total: i64 = matching()
            .count()
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        let rows: Vec<PageRow> = matching()
            .order(wiki_pages::path)
            .offset(i64::try_from(offset).unwrap_or(i64::MAX))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(PageRow::as_select())
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok((
            rows.into_iter().map(PageRow::into_info).collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }

    fn import(&self, batch: Vec<(WikiPath, NewRevision)>) -> Result<Imported, WikiError> {
        check_import(&batch)?;
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let mut done = Imported::default();
            for (path, revision) in &batch {
                let current: Option<(i32, String, String, bool, bool)> = wiki_pages::table
                    .filter(wiki_pages::path.eq(path.as_str()))
                    .select((
                        wiki_pages::revision,
                        wiki_pages::title,
                        wiki_pages::content,
                        wiki_pages::deleted,
                        wiki_pages::locked,
                    ))
                    .for_update()
                    .first(conn)
                    .optional()?;
                let current = current
                    .as_ref()
                    .map(|(n, title, content, deleted, locked)| {
                        let state = PageState {
                            deleted: *deleted,
                            locked: *locked,
                        };
                        (number(*n), title.as_str(), content.as_str(), state)
                    });
                let Some(base) = import_step(current, revision, &mut done) else {
                    continue;
                };
                if let Err(refused) = save_in(conn, path, base, revision)? {
                    // A page made by someone else between the read and the insert: undo all.
                    return Ok(Err(refused));
                }
            }
            Ok::<_, diesel::result::Error>(Ok(done))
        })
        .map_err(|e| self.error(e))?
    }

    fn ping(&self) -> Result<(), WikiError> {
        self.conn().map(drop)
    }
}
