//! How to reach the database, and what can go wrong on the way.

use std::fmt;
use std::time::Duration;

use crate::url::describe_url;

/// Where the database is and how patient to be with it.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// A libpq connection string: `postgres://user:password@host:port/db` or `host=… dbname=…`.
    pub url: String,
    /// The most connections the pool opens.
    pub pool_size: u32,
    /// How long to wait for a connection, from the pool or from the server, before a store
    /// method answers `Unavailable`.
    pub connect_timeout: Duration,
    /// How long one statement may run before the server cancels it; zero means no limit.
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            pool_size: 10,
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

// By hand, because the URL may hold a password.
impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &describe_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PgSettings {
    pub(crate) fn check(&self) -> Result<(), PgError> {
        if self.url.trim().is_empty() {
            return Err(PgError::Settings("the database url is empty"));
        }
        if self.pool_size == 0 {
            return Err(PgError::Settings("pool_size must be at least 1"));
        }
        if self.connect_timeout.is_zero() {
            return Err(PgError::Settings(
                "connect_timeout must be longer than zero",
            ));
        }
        Ok(())
    }

    /// libpq counts its `connect_timeout` in whole seconds.
    pub(crate) fn libpq_connect_timeout(&self) -> u64 {
        whole_seconds_up(self.connect_timeout)
    }

    /// PostgreSQL's `statement_timeout` is an `int` of milliseconds.
    pub(crate) fn statement_timeout_ms(&self) -> i32 {
        i32::try_from(self.statement_timeout.as_millis()).unwrap_or(i32::MAX)
    }
}

pub(crate) fn whole_seconds_up(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// What went wrong with the database. Messages name the database by `host:port` only (see
/// [`describe_url`]); they never hold the user name or the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    #[error("invalid database settings: {0}")]
    Settings(&'static str),
    #[error("cannot connect to the database at {at}: {reason}")]
    Connect { at: String, reason: String },
    #[error("database at {at} unavailable: {reason}")]
    Unavailable { at: String, reason: String },
    #[error("query on the database at {at} failed: {reason}")]
    Query { at: String, reason: String },
    #[error("migrating the database at {at} failed: {reason}")]
    Migrate { at: String, reason: String },
    #[error("database at {at} not ready after {waited:?}: {last}")]
    NotReady {
        at: String,
        waited: Duration,
        last: String,
    },
    #[error(
        "migrations of {first} and {second} share version {version}: give one a later timestamp"
    )]
    DuplicateVersion {
        version: String,
        first: String,
        second: String,
    },
}

/// libpq's messages, made to fit after our own `database at host:port …: `: the first line
/// only, without the `connection to server at "h", port p failed:` that we already say, and
/// without a severity prefix. Credentials are removed as well.
pub fn concise(url: &str, message: &str) -> String {
    let message = crate::url::redact(url, message);
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    // r2d2 puts its own words before libpq's: "timed out waiting for connection: …".
    let (head, mut tail) = match first.find("connection to server") {
        Some(i) => match first[i..].find(" failed: ") {
            Some(j) => (&first[..i], &first[i + j + " failed: ".len()..]),
            None => (&first[..i], &first[i..]),
        },
        None => ("", first),
    };
    for severity in ["FATAL:", "ERROR:"] {
        if let Some(rest) = tail.strip_prefix(severity) {
            tail = rest.trim_start();
        }
    }
    format!("{head}{}", lowercase_first(tail))
}

/// "Connection refused" reads better as "connection refused" after a colon; "SSL …" keeps
/// its capitals.
fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            a.to_lowercase().chain(s[a.len_utf8()..].chars()).collect()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = PgSettings::default();
        assert_eq!(
            (
                s.url.as_str(),
                s.pool_size,
                s.connect_timeout,
                s.statement_timeout
            ),
            ("", 10, Duration::from_secs(3), Duration::from_secs(5))
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let check = |s: PgSettings, expected: &str| {
            assert_eq!(s.check().unwrap_err().to_string(), expected);
        };
        let url = || "postgres://h/db".to_owned();
        check(
            PgSettings::default(),
            "invalid database settings: the database url is empty",
        );
        check(
            PgSettings {
                url: url(),
                pool_size: 0,
                ..PgSettings::default()
            },
            "invalid database settings: pool_size must be at least 1",
        );
        check(
            PgSettings {
                url: url(),
                connect_timeout: Duration::ZERO,
                ..PgSettings::default()
            },
            "invalid database settings: connect_timeout must be longer than zero",
        );
        assert!(PgSettings {
            url: url(),
            ..PgSettings::default()
        }
        .check()
        .is_ok());
    }

    #[test]
    fn debug_hides_the_password() {
        let s = PgSettings {
            url: "postgres://bob:s3cret@db:5432/q".into(),
            ..PgSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            shown.contains("db:5432") && !shown.contains("s3cret") && !shown.contains("bob"),
            "{shown}"
        );
    }

    #[test]
    fn timeouts_convert() {
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(3000)), 3);
        assert_eq!(whole_seconds_up(Duration::from_millis(3001)), 4);
        let s = |d| {
            PgSettings {
                statement_timeout: d,
                ..PgSettings::default()
            }
            .statement_timeout_ms()
        };
        assert_eq!(s(Duration::from_secs(5)), 5000);
        assert_eq!(s(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[test]
    fn libpq_messages_are_made_concise() {
        let url = "postgres://bob:pw@127.0.0.1:1/q";
        let check = |msg: &str, expected: &str| assert_eq!(concise(url, msg), expected);
        check(
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n",
            "connection refused",
        );
        check(
            "connection to server at \"127.0.0.1\", port 1 failed: FATAL:  password authentication failed for user \"bob\"",
            "password authentication failed for user \"***\"",
        );
        check(
            "timed out waiting for connection: connection to server at \"127.0.0.1\", port 1 failed: Connection refused",
            "timed out waiting for connection: connection refused",
        );
        check("SSL error: x", "SSL error: x");
        check("", "unknown error");
    }
}
