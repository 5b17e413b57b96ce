//! Items in PostgreSQL, on the site's shared pool (`db::Database`), with this component's
//! migrations embedded.

use db::{Database, Fault, PgError};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use crate::{parse_text, Item, ItemStore, StoreError};

static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");

/// This component's migrations, applied by `quotes migrate` once a store is made.
pub const MIGRATIONS: db::Migrations = db::Migrations::new("__name__", &EMBEDDED);

diesel::table! {
    __name___items (id) {
        id -> Int8,
        text -> Text,
        created_at -> Timestamptz,
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = __name___items, check_for_backend(diesel::pg::Pg))]
struct ItemRow {
    id: i64,
    text: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<ItemRow> for Item {
    fn from(row: ItemRow) -> Item {
        Item {
            id: row.id,
            text: row.text,
            created_at: row.created_at,
        }
    }
}

/// Items in PostgreSQL. Cheap to clone: clones share the pool.
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

    fn conn(&self) -> Result<db::Conn, StoreError> {
        self.db
            .conn()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))
    }

    fn error(&self, e: diesel::result::Error) -> StoreError {
        match self.db.fault(e) {
            // `parse_text` checks first, so only a rule it does not know lands here.
            Fault::Check { message } => StoreError::Invalid(message),
            // No query here reads one row that may be missing; when one does (a `get`), add
            // a `StoreError::NotFound` and answer it with a 404.
            Fault::NotFound | Fault::ForeignKey { .. } => {
                StoreError::Unavailable("a row went missing".into())
            }
            // No column here is unique; when one is, answer its violation as a conflict
            // (409) rather than as a passing outage.
            Fault::Unique { error, .. } | Fault::Unavailable(error) => {
                StoreError::Unavailable(Box::new(error))
            }
        }
    }
}

impl ItemStore for PgStore {
    fn add(&self, text: &str) -> Result<Item, StoreError> {
        let text = parse_text(text)?;
        let mut conn = self.conn()?;
        let row: ItemRow = diesel::insert_into(__name___items::table)
            .values(__name___items::text.eq(text))
            .returning(ItemRow::as_returning())
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(row.into())
    }

    fn recent(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<ItemRow> = __name___items::table
            .select(ItemRow::as_select())
            .order(__name___items::id.desc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    fn count(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let n: i64 = __name___items::table
            .count()
            .get_result(&mut conn)
            .map_err(|e| self.error(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn().map(drop)
    }
}
