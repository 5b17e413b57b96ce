//! The words of accounts: users, sessions, failed logins; the store traits both backends
//! implement, and their errors. No web, database or other crate of the site here.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct UserId(pub i64);

/// A username: 1 to 150 of letters, digits and `@ . + - _` (Django's rule), unique
/// regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid::new("username", "must not be empty"));
        }
        if name.chars().count() > 150 {
            return Err(Invalid::new("username", "must be at most 150 characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c))
        {
            return Err(Invalid::new(
                "username",
                "may hold only letters, digits and @ . + - _",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What makes two usernames the same: the name in lowercase.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An email address: at most 254 characters with an `@` between something and something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email(String);

impl Email {
    /// An address, or none for blank input.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, Invalid> {
        let email = raw.trim();
        if email.is_empty() {
            return Ok(None);
        }
        let valid = email.chars().count() <= 254
            && !email.chars().any(char::is_whitespace)
            && email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty());
        if !valid {
            return Err(Invalid::new("email", "is not an email address"));
        }
        Ok(Some(Self(email.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value refused at the edge, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Flags {
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// A stored user. The password hash is a PHC string (argon2id).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    #[serde(skip)]
    pub password_hash: String,
    pub flags: Flags,
    pub last_login: Option<DateTime<Utc>>,
    pub date_joined: DateTime<Utc>,
}

// By hand, so that no log of a user ever holds its password hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("flags", &self.flags)
            .field("last_login", &self.last_login)
            .field("date_joined", &self.date_joined)
            .finish_non_exhaustive()
    }
}

/// What staff may change of a user: the email and the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: Option<Email>,
    pub flags: Flags,
}

impl User {
    pub fn profile(&self) -> Profile {
        Profile {
            email: self.email.clone(),
            flags: self.flags,
        }
    }
}

/// A user to add.
#[derive(Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: String,
    pub flags: Flags,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// A server-side session: what a cookie's key stands for. Stores see only a digest of the
/// key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub key_digest: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The absolute end, whatever the use.
    pub expires_at: DateTime<Utc>,
}

/// What can go wrong, named by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("not found")]
    NotFound,
    /// The username is taken (regardless of case).
    #[error("a user named {0} exists already")]
    Taken(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A session with this key exists already.
    #[error("{0}")]
    Conflict(String),
    /// The user changed since the caller read it; nothing was written.
    #[error("the user has changed since it was read")]
    Stale,
    /// The backend is down; try again later.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Users. Object-safe: hold it as `Arc<dyn UserStore>`.
pub trait UserStore: Send + Sync {
    /// Adds a user; [`AccountsError::Taken`] when the name exists in any case.
    fn create(&self, user: NewUser) -> Result<User, AccountsError>;
    fn get(&self, id: UserId) -> Result<User, AccountsError>;
    /// The user of this name, in any case.
    fn find(&self, username: &str) -> Result<Option<User>, AccountsError>;
    /// Every user, by id.
    fn list(&self) -> Result<Vec<User>, AccountsError>;
    fn set_password(&self, id: UserId, password_hash: &str) -> Result<(), AccountsError>;
    fn set_flags(&self, id: UserId, flags: Flags) -> Result<User, AccountsError>;
    /// Sets email and flags (and the password, when a hash is given) only if email and flags
    /// are still `expected`, all at once: [`AccountsError::Stale`], with nothing written, when
    /// someone changed them since.
    fn update_profile_if(
        &self,
        id: UserId,
        expected: &Profile,
        profile: &Profile,
        password_hash: Option<&str>,
    ) -> Result<User, AccountsError>;
    /// Removes a user, and with it their sessions.
    fn delete(&self, id: UserId) -> Result<(), AccountsError>;
    /// [`AccountsError::NotFound`] when there is no such user.
    fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), AccountsError>;
    fn ping(&self) -> Result<(), AccountsError>;
}

/// Server-side sessions, shared by every replica that uses the same store.
pub trait SessionStore: Send + Sync {
    /// Adds a session; [`AccountsError::NotFound`] without its user,
    /// [`AccountsError::Conflict`] when its key digest is taken.
    fn create_session(&self, session: Session) -> Result<(), AccountsError>;
    /// The session with this key digest, whatever its age (the caller checks expiry).
    fn session(&self, key_digest: &str) -> Result<Option<Session>, AccountsError>;
    fn touch_session(&self, key_digest: &str, at: DateTime<Utc>) -> Result<(), AccountsError>;
    fn delete_session(&self, key_digest: &str) -> Result<(), AccountsError>;
    /// Ends every session of `user` but `keep`; returns how many ended.
    fn delete_sessions_of(&self, user: UserId, keep: Option<&str>) -> Result<u64, AccountsError>;
    /// Drops sessions past `expires_at` or idle since before `idle_before`.
    fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, AccountsError>;
}

/// Login attempts, counted per key (a username, a client address) for throttling. An
/// attempt is recorded before its password is checked, so that attempts racing each other
/// (on one replica or several) all count; a good one is forgotten again.
pub trait AttemptStore: Send + Sync {
    /// Records one attempt under each key; returns their ids.
    fn record_attempt(&self, keys: &[String], at: DateTime<Utc>)
        -> Result<Vec<i64>, AccountsError>;
    /// The times of `key`'s attempts since `since`, oldest first.
    fn failures_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, AccountsError>;
    /// Forgets the attempts with these ids (a good login, or one turned away).
    fn forget_attempts(&self, ids: &[i64]) -> Result<(), AccountsError>;
    fn clear_failures(&self, key: &str) -> Result<(), AccountsError>;
    /// Drops every attempt from before `before`; returns how many.
    fn purge_attempts(&self, before: DateTime<Utc>) -> Result<u64, AccountsError>;
}

/// Everything accounts keep, on one backend.
pub trait AccountStore: UserStore + SessionStore + AttemptStore {}

impl<T: UserStore + SessionStore + AttemptStore> AccountStore for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rule_and_compare_without_case() {
        assert_eq!(
            Username::parse(" Ada.L+1@x_y-z ").unwrap().as_str(),
            "Ada.L+1@x_y-z"
        );
        assert_eq!(Username::parse("ADA").unwrap().key(), "ada");
        for (bad, reason) in [
            ("", "username must not be empty"),
            (
                "a b",
                "username may hold only letters, digits and @ . + - _",
            ),
            (
                "ädä",
                "username may hold only letters, digits and @ . + - _",
            ),
            (&"a".repeat(151), "username must be at most 150 characters"),
        ] {
            assert_eq!(
                Username::parse(bad).unwrap_err().to_string(),
                reason,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn emails_are_optional_and_checked_lightly() {
        assert_eq!(Email::parse_optional("  ").unwrap(), None);
        assert_eq!(
            Email::parse_optional("a@b").unwrap().unwrap().as_str(),
            "a@b"
        );
        for bad in ["ab", "@b", "a@", "a b@c"] {
            assert_eq!(
                Email::parse_optional(bad).unwrap_err().to_string(),
                "email is not an email address"
            );
        }
    }
}
