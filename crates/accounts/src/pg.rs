//! Accounts in PostgreSQL, on the site's shared pool (`db::Database`), with this component's
//! migrations embedded: sessions and failed logins are shared by every replica.

use chrono::{DateTime, Utc};
use db::{Database, Fault, PgError};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

use crate::store::{
    AccountsError, AttemptStore, Email, Flags, Invalid, NewUser, Profile, Session, SessionStore,
    User, UserId, UserStore, Username,
};

static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");

/// The accounts tables' migrations, applied by `quotes migrate` once a store is made.
pub const MIGRATIONS: db::Migrations = db::Migrations::new("accounts", &EMBEDDED);

diesel::define_sql_function!(fn lower(x: Text) -> Text);

/// The unique index on `lower(username)`.
const USERNAME_KEY: &str = "accounts_users_username_key";
/// The sessions' primary key.
const SESSION_KEY: &str = "accounts_sessions_pkey";

mod schema {
    diesel::table! {
        accounts_users (id) {
            id -> Int8,
            username -> Text,
            email -> Nullable<Text>,
            password_hash -> Text,
            is_active -> Bool,
            is_staff -> Bool,
            is_superuser -> Bool,
            last_login -> Nullable<Timestamptz>,
            date_joined -> Timestamptz,
        }
    }

    diesel::table! {
        accounts_sessions (key_digest) {
            key_digest -> Text,
            user_id -> Int8,
            created_at -> Timestamptz,
            last_seen -> Timestamptz,
            expires_at -> Timestamptz,
        }
    }

    diesel::table! {
        accounts_login_failures (id) {
            id -> Int8,
            key -> Text,
            at -> Timestamptz,
        }
    }
}

use schema::{
    accounts_login_failures as failures, accounts_sessions as sessions, accounts_users as users,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    password_hash: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    last_login: Option<DateTime<Utc>>,
    date_joined: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Invalid;

    /// Parses again what the database holds, as the quotes store does.
    fn try_from(row: UserRow) -> Result<User, Invalid> {
        Ok(User {
            id: UserId(row.id),
            username: Username::parse(&row.username)?,
            email: row
                .email
                .as_deref()
                .map(Email::parse_optional)
                .transpose()?
                .flatten(),
            password_hash: row.password_hash,
            flags: Flags {
                is_active: row.is_active,
                is_staff: row.is_staff,
                is_superuser: row.is_superuser,
            },
            last_login: row.last_login,
            date_joined: row.date_joined,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    key_digest: String,
    user_id: i64,
    created_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Session {
        Session {
            key_digest: row.key_digest,
            user_id: UserId(row.user_id),
            created_at: row.created_at,
            last_seen: row.last_seen,
            expires_at: row.expires_at,
        }
    }
}

/// Accounts in PostgreSQL. Cheap to clone: clones share the pool.
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

    fn conn(&self) -> Result<db::Conn, AccountsError> {
        self.db
            .conn()
            .map_err(|e| AccountsError::Unavailable(Box::new(e)))
    }

    fn error(&self, e: diesel::result::Error, name: Option<&str>) -> AccountsError {
        match self.db.fault(e) {
            // A missing row, or (for a session) a user that is not there.
            Fault::NotFound | Fault::ForeignKey { .. } => AccountsError::NotFound,
            Fault::Unique { constraint, .. } if constraint.as_deref() == Some(USERNAME_KEY) => {
                AccountsError::Taken(name.unwrap_or_default().to_owned())
            }
            Fault::Unique { constraint, .. } if constraint.as_deref() == Some(SESSION_KEY) => {
                AccountsError::Conflict("a session with this key exists".into())
            }
            // The domain checks every field first, so only a rule it does not know lands here.
            Fault::Check { message } => AccountsError::Invalid(Invalid::new("user", message)),
            Fault::Unique { error, .. } | Fault::Unavailable(error) => {
                AccountsError::Unavailable(Box::new(error))
            }
        }
    }

    fn to_user(&self, row: UserRow) -> Result<User, AccountsError> {
        let id = row.id;
        User::try_from(row).map_err(|e| {
            tracing::error!(database = %self.db.at(), user = id, error = %e, "unreadable user row");
            AccountsError::Unavailable(Box::new(e))
        })
    }
}

impl UserStore for PgStore {
    fn create(&self, user: NewUser) -> Result<User, AccountsError> {
        let mut conn = self.conn()?;
        let name = user.username.as_str().to_owned();
        let row: UserRow = diesel::insert_into(users::table)
            .values((
                users::username.eq(user.username.as_str()),
                users::email.eq(user.email.as_ref().map(Email::as_str)),
                users::password_hash.eq(&user.password_hash),
                users::is_active.eq(user.flags.is_active),
                users::is_staff.eq(user.flags.is_staff),
                users::is_superuser.eq(user.flags.is_superuser),
            ))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .map_err(|e| self.error(e, Some(&name)))?;
        self.to_user(row)
    }

    fn get(&self, id: UserId) -> Result<User, AccountsError> {
        let mut conn = self.conn()?;
        let row = users::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(&mut conn)
            .map_err(|e| self.error(e, None))?;
        self.to_user(row)
    }

    fn find(&self, username: &str) -> Result<Option<User>, AccountsError> {
        let mut conn = self.conn()?;
        let row = users::table
            .filter(lower(users::username).eq(username.trim().to_ascii_lowercase()))
            .select(UserRow::as_select())
            .first(&mut conn)
            .optional()
            .map_err(|e| self.error(e, None))?;
        row.map(|r| self.to_user(r)).transpose()
    }

    fn list(&self) -> Result<Vec<User>, AccountsError> {
        let mut conn = self.conn()?;
        let rows: Vec<UserRow> = users::table
            .order(users::id)
            .select(UserRow::as_select())
            .load(&mut conn)
            .map_err(|e| self.error(e, None))?;
        rows.into_iter().map(|r| self.to_user(r)).collect()
    }

    fn set_password(&self, id: UserId, password_hash: &str) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        let n = diesel::update(users::table.find(id.0))
            .set(users::password_hash.eq(password_hash))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        if n == 0 {
            return Err(AccountsError::NotFound);
        }
        Ok(())
    }

    fn set_flags(&self, id: UserId, flags: Flags) -> Result<User, AccountsError> {
        let mut conn = self.conn()?;
        let row = diesel::update(users::table.find(id.0))
            .set((
                users::is_active.eq(flags.is_active),
                users::is_staff.eq(flags.is_staff),
                users::is_superuser.eq(flags.is_superuser),
            ))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .map_err(|e| self.error(e, None))?;
        self.to_user(row)
    }

    fn update_profile_if(
        &self,
        id: UserId,
        expected: &Profile,
        profile: &Profile,
        password_hash: Option<&str>,
    ) -> Result<User, AccountsError> {
        let mut conn = self.conn()?;
        // One statement: the row changes only if it still holds what the caller read.
        let row = diesel::update(
            users::table
                .find(id.0)
                .filter(
                    users::email.is_not_distinct_from(expected.email.as_ref().map(|e| e.as_str())),
                )
                .filter(users::is_active.eq(expected.flags.is_active))
                .filter(users::is_staff.eq(expected.flags.is_staff))
                .filter(users::is_superuser.eq(expected.flags.is_superuser)),
        )
        .set((
            users::email.eq(profile.email.as_ref().map(|e| e.as_str())),
            users::is_active.eq(profile.flags.is_active),
            users::is_staff.eq(profile.flags.is_staff),
            users::is_superuser.eq(profile.flags.is_superuser),
            // The hash given, else the one stored: one statement either way.
            users::password_hash.eq(diesel::dsl::sql::<Text>("coalesce(")
                .bind::<diesel::sql_types::Nullable<Text>, _>(password_hash)
                .sql(", password_hash)")),
        ))
        .returning(UserRow::as_returning())
        .get_result(&mut conn)
        .optional()
        .map_err(|e| self.error(e, None))?;
        match row {
            Some(row) => self.to_user(row),
            None => {
                let exists: bool = diesel::select(diesel::dsl::exists(users::table.find(id.0)))
                    .get_result(&mut conn)
                    .map_err(|e| self.error(e, None))?;
                Err(if exists {
                    AccountsError::Stale
                } else {
                    AccountsError::NotFound
                })
            }
        }
    }

    fn delete(&self, id: UserId) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        // Sessions go with the user (ON DELETE CASCADE).
        let n = diesel::delete(users::table.find(id.0))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        if n == 0 {
            return Err(AccountsError::NotFound);
        }
        Ok(())
    }

    fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        let n = diesel::update(users::table.find(id.0))
            .set(users::last_login.eq(at))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        if n == 0 {
            return Err(AccountsError::NotFound);
        }
        Ok(())
    }

    fn ping(&self) -> Result<(), AccountsError> {
        self.conn().map(drop)
    }
}

impl SessionStore for PgStore {
    fn create_session(&self, session: Session) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        diesel::insert_into(sessions::table)
            .values(SessionRow {
                key_digest: session.key_digest,
                user_id: session.user_id.0,
                created_at: session.created_at,
                last_seen: session.last_seen,
                expires_at: session.expires_at,
            })
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(())
    }

    fn session(&self, key_digest: &str) -> Result<Option<Session>, AccountsError> {
        let mut conn = self.conn()?;
        let row = sessions::table
            .find(key_digest)
            .select(SessionRow::as_select())
            .first(&mut conn)
            .optional()
            .map_err(|e| self.error(e, None))?;
        Ok(row.map(Session::from))
    }

    fn touch_session(&self, key_digest: &str, at: DateTime<Utc>) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        diesel::update(sessions::table.find(key_digest))
            .set(sessions::last_seen.eq(at))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(())
    }

    fn delete_session(&self, key_digest: &str) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        diesel::delete(sessions::table.find(key_digest))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(())
    }

    fn delete_sessions_of(&self, user: UserId, keep: Option<&str>) -> Result<u64, AccountsError> {
        let mut conn = self.conn()?;
        let of_user = sessions::table.filter(sessions::user_id.eq(user.0));
        let n = match keep {
            Some(keep) => {
                diesel::delete(of_user.filter(sessions::key_digest.ne(keep))).execute(&mut conn)
            }
            None => diesel::delete(of_user).execute(&mut conn),
        }
        .map_err(|e| self.error(e, None))?;
        Ok(n as u64)
    }

    fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, AccountsError> {
        let mut conn = self.conn()?;
        let n = diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .le(now)
                    .or(sessions::last_seen.lt(idle_before)),
            ),
        )
        .execute(&mut conn)
        .map_err(|e| self.error(e, None))?;
        Ok(n as u64)
    }
}

impl AttemptStore for PgStore {
    fn record_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, AccountsError> {
        let mut conn = self.conn()?;
        let rows: Vec<_> = keys
            .iter()
            .map(|k| (failures::key.eq(k), failures::at.eq(at)))
            .collect();
        diesel::insert_into(failures::table)
            .values(rows)
            .returning(failures::id)
            .get_results(&mut conn)
            .map_err(|e| self.error(e, None))
    }

    fn failures_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, AccountsError> {
        let mut conn = self.conn()?;
        failures::table
            .filter(failures::key.eq(key).and(failures::at.ge(since)))
            .order(failures::at)
            .select(failures::at)
            .load(&mut conn)
            .map_err(|e| self.error(e, None))
    }

    fn forget_attempts(&self, ids: &[i64]) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        diesel::delete(failures::table.filter(failures::id.eq_any(ids)))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(())
    }

    fn clear_failures(&self, key: &str) -> Result<(), AccountsError> {
        let mut conn = self.conn()?;
        diesel::delete(failures::table.filter(failures::key.eq(key)))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(())
    }

    fn purge_attempts(&self, before: DateTime<Utc>) -> Result<u64, AccountsError> {
        let mut conn = self.conn()?;
        let n = diesel::delete(failures::table.filter(failures::at.lt(before)))
            .execute(&mut conn)
            .map_err(|e| self.error(e, None))?;
        Ok(n as u64)
    }
}
