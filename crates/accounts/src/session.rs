//! Server-side sessions behind a signed cookie: the middleware that tells the site who is
//! signed in, and starting and ending sessions.
//!
//! The cookie holds a random key, signed with the site's secret key (HMAC, through the
//! `cookie` crate), HttpOnly and SameSite=Lax, Secure when the settings say so. The store
//! holds only a SHA-256 digest of the key, with the user, the last use and the absolute end,
//! so that a session holds on every replica that shares the store and ends everywhere when
//! it is deleted.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use web::actix_web::body::BoxBody;
use web::actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use web::actix_web::dev::{ServiceRequest, ServiceResponse};
use web::actix_web::web::block;
use web::actix_web::{HttpMessage, HttpRequest};
use web::security::{hex, random_bytes};
use web::{Identity, Next, SessionBinding};

use crate::store::{AccountStore, AccountsError, Session, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "quotes_session";

/// How sessions are kept.
#[derive(Clone)]
pub(crate) struct Sessions {
    pub store: Arc<dyn AccountStore>,
    key: Key,
    pub secure: bool,
    pub idle: Duration,
    pub absolute: Duration,
}

/// The session of this request, for the handlers that change it (logout, password change).
#[derive(Clone)]
pub(crate) struct Current {
    pub key_digest: String,
    pub user: User,
}

fn digest(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

impl Sessions {
    pub fn new(
        store: Arc<dyn AccountStore>,
        secret: &web::SecretKey,
        secure: bool,
        idle: Duration,
        absolute: Duration,
    ) -> Self {
        Self {
            store,
            key: Key::derive_from(secret.bytes()),
            secure,
            idle,
            absolute,
        }
    }

    /// The verified session key of a request's cookie.
    fn cookie_key(&self, req: &HttpRequest) -> Option<String> {
        let cookie = req.cookie(SESSION_COOKIE)?;
        let mut jar = CookieJar::new();
        jar.add_original(cookie.into_owned());
        jar.signed(&self.key)
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
    }

    /// Whether a stored session may still be used at `now`.
    fn alive(&self, session: &Session, now: DateTime<Utc>) -> bool {
        session.expires_at > now && session.last_seen + self.idle > now
    }

    /// The user and session behind `key`, when both are alive; refreshes the last use
    /// (at most once a minute, so that reading pages does not write on every request).
    fn load(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Current>, AccountsError> {
        let key_digest = digest(key);
        let Some(session) = self.store.session(&key_digest)? else {
            return Ok(None);
        };
        if !self.alive(&session, now) {
            self.store.delete_session(&key_digest)?;
            return Ok(None);
        }
        let user = match self.store.get(session.user_id) {
            Ok(user) if user.flags.is_active => user,
            Ok(_) | Err(AccountsError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Often enough that a short idle setting never ends a session in use.
        let refresh = Duration::minutes(1).min(self.idle / 2);
        if now - session.last_seen > refresh {
            self.store.touch_session(&key_digest, now)?;
        }
        Ok(Some(Current { key_digest, user }))
    }

    /// Starts a session for `user` (a new key: no fixation) and ends `replaced`, the
    /// session the request came with, if any. Returns the cookie to set.
    pub fn start(
        &self,
        user: &User,
        replaced: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Cookie<'static>, AccountsError> {
        if let Some(old) = replaced {
            self.store.delete_session(old)?;
        }
        let key = hex(&random_bytes::<32>());
        self.store.create_session(Session {
            key_digest: digest(&key),
            user_id: user.id,
            created_at: now,
            last_seen: now,
            expires_at: now + self.absolute,
        })?;
        let cookie = Cookie::build(SESSION_COOKIE, key)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(web::actix_web::cookie::time::Duration::seconds(
                self.absolute.num_seconds(),
            ))
            .finish();
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key).add(cookie);
        Ok(jar
            .get(SESSION_COOKIE)
            .cloned()
            .expect("the jar holds what was just added"))
    }

    /// A cookie that makes the browser forget its session cookie.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = Cookie::build(SESSION_COOKIE, "")
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish();
        cookie.make_removal();
        cookie
    }
}

/// The middleware: a request with a live session carries the user (`web::Identity`), the
/// CSRF binding and the [`Current`] session; every other request is anonymous. A store that
/// cannot answer makes the request anonymous (and is logged), so that pages that need no
/// account still work.
pub(crate) async fn middleware(
    sessions: Arc<Sessions>,
    req: ServiceRequest,
    next: Next,
) -> Result<ServiceResponse<BoxBody>, web::actix_web::Error> {
    if let Some(key) = sessions.cookie_key(req.request()) {
        let loader = sessions.clone();
        let loaded = block(move || loader.load(&key, Utc::now())).await;
        match loaded {
            Ok(Ok(Some(current))) => {
                let flags = current.user.flags;
                req.extensions_mut().insert(Identity {
                    user_id: current.user.id.0,
                    username: current.user.username.as_str().to_owned(),
                    is_staff: flags.is_staff,
                    is_superuser: flags.is_superuser,
                });
                req.extensions_mut()
                    .insert(SessionBinding(current.key_digest.clone()));
                req.extensions_mut().insert(current);
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sessions unavailable; serving as anonymous"),
            Err(e) => tracing::error!(error = %e, "loading the session failed"),
        }
    }
    next.call(req).await
}

/// The session of a request, as the middleware found it.
pub(crate) fn current(req: &HttpRequest) -> Option<Current> {
    req.extensions().get::<Current>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_sees_a_digest_never_the_key() {
        let d = digest("abc");
        assert_eq!(d.len(), 64);
        assert_ne!(d, "abc");
        assert_eq!(d, digest("abc"));
    }
}
