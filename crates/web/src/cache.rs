//! The cache seam: bytes put aside under a key and found again, as Django's cache framework
//! offers them. The cache component provides a [`CacheHandle`] (`ctx.resource::<CacheHandle>()`);
//! a site without it runs uncached.
//!
//! A cache is never the only copy of anything, so it never fails a request: a get that
//! cannot reach the backend is a miss, a set is dropped, and the backend logs and counts
//! the error (`quotes_cache_errors_total`). Keys name what the value depends on (a
//! component prefix, the data's version, the template's digest), so a write makes old
//! entries unreachable instead of deleting them, across every replica sharing the backend.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::header::{self, EntityTag, Header as _, IfModifiedSince, IfNoneMatch};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::security::{CsrfToken, Identity};

/// A backend: memory in this process, or a server shared by replicas.
pub trait Cache: Send + Sync + fmt::Debug {
    /// `"memory"`, `"redis"`: for logs and metrics.
    fn backend(&self) -> &'static str;

    /// The value under `key`, if there is one and it has not expired.
    fn get(&self, key: &str) -> Option<Bytes>;

    /// Keeps `value` under `key` for up to `ttl`.
    fn set(&self, key: &str, value: Bytes, ttl: Duration);

    /// Forgets `key`.
    fn delete(&self, key: &str);

    /// True when a call may wait on the network: then call it off the async workers (in
    /// `web::block`, next to the store calls).
    fn blocks(&self) -> bool;
}

/// The site's cache, shared with the components (`ctx.resource::<CacheHandle>()`).
#[derive(Debug, Clone)]
pub struct CacheHandle(pub Arc<dyn Cache>);

impl std::ops::Deref for CacheHandle {
    type Target = dyn Cache;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// A short, stable digest of `parts` for cache keys and ETags (FNV-1a, 64 bits): the same
/// on every replica and every release, unlike `std`'s hasher.
pub fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Who a page is rendered for, as far as its bytes depend on it: the signed-in user and
/// the CSRF token in its forms. Part of an HTML page's ETag, so that a 304 never hands one
/// visitor's page to another.
pub fn viewer(req: &HttpRequest) -> u64 {
    let extensions = req.extensions();
    let user = extensions
        .get::<Identity>()
        .map_or(&[][..], |i| i.username.as_bytes());
    let token = extensions
        .get::<CsrfToken>()
        .map_or(0, CsrfToken::fingerprint)
        .to_le_bytes();
    digest([user, token.as_slice()])
}

/// The validators of a representation, for conditional GETs (RFC 9110 §13): a weak ETag
/// and, when known, when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub etag: EntityTag,
    pub last_modified: Option<SystemTime>,
}

impl Validators {
    /// A weak ETag (the same content, not necessarily the same bytes: compression may
    /// differ) from `parts`, e.g. the data's version and whatever else the page shows.
    pub fn new<'a>(
        parts: impl IntoIterator<Item = &'a [u8]>,
        last_modified: Option<SystemTime>,
    ) -> Self {
        Self {
            etag: EntityTag::new_weak(format!("{:016x}", digest(parts))),
            last_modified,
        }
    }

    /// True when the request asks whether its copy is current (`If-None-Match` or
    /// `If-Modified-Since`): only then is it worth finding the validators before the answer.
    pub fn asked(req: &HttpRequest) -> bool {
        let headers = req.headers();
        headers.contains_key(header::IF_NONE_MATCH)
            || headers.contains_key(header::IF_MODIFIED_SINCE)
    }

    /// True when the client's copy is current: its `If-None-Match` names this ETag or,
    /// without `If-None-Match`, its `If-Modified-Since` is no earlier than the last change.
    pub fn fresh(&self, req: &HttpRequest) -> bool {
        if req.headers().contains_key(header::IF_NONE_MATCH) {
            return match IfNoneMatch::parse(req) {
                Ok(IfNoneMatch::Any) => true,
                Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&self.etag)),
                Err(_) => false,
            };
        }
        match (IfModifiedSince::parse(req), self.last_modified) {
            (Ok(IfModifiedSince(since)), Some(changed)) => {
                // HTTP dates have whole seconds; the change time has more.
                let secs = |t: SystemTime| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                };
                secs(changed) <= secs(SystemTime::from(since))
            }
            _ => false,
        }
    }

    /// Adds the validators to a response, with `Cache-Control: no-cache` (keep it, but ask
    /// before using it again) and `private` when the page depends on who asks.
    pub fn apply(&self, response: &mut HttpResponseBuilder, private: bool) {
        response.insert_header(header::ETag(self.etag.clone()));
        if let Some(changed) = self.last_modified {
            response.insert_header(header::LastModified(changed.into()));
        }
        let control = if private {
            "private, no-cache"
        } else {
            "no-cache"
        };
        response.insert_header((header::CACHE_CONTROL, control));
    }

    /// The answer when [`Validators::fresh`]: 304, no body.
    pub fn not_modified(&self, private: bool) -> HttpResponse {
        let mut response = HttpResponse::NotModified();
        self.apply(&mut response, private);
        response.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HttpDate;
    use actix_web::test::TestRequest;

    fn validators() -> Validators {
        let changed = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        Validators::new([b"v1".as_slice()], Some(changed))
    }

    #[test]
    fn a_matching_etag_or_a_later_date_is_fresh() {
        let v = validators();
        let tag = v.etag.to_string();
        let fresh = |headers: &[(header::HeaderName, &str)]| {
            let mut req = TestRequest::get();
            for (name, value) in headers {
                req = req.insert_header((name.clone(), *value));
            }
            v.fresh(&req.to_http_request())
        };
        assert!(!fresh(&[]));
        assert!(fresh(&[(header::IF_NONE_MATCH, &tag)]));
        // Weak comparison: a strong tag of the same value matches too.
        assert!(fresh(&[(
            header::IF_NONE_MATCH,
            tag.trim_start_matches("W/")
        )]));
        assert!(fresh(&[(header::IF_NONE_MATCH, &format!("\"x\", {tag}"))]));
        assert!(fresh(&[(header::IF_NONE_MATCH, "*")]));
        assert!(!fresh(&[(header::IF_NONE_MATCH, "W/\"0000\"")]));
        let at =
            |secs| HttpDate::from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).to_string();
        assert!(fresh(&[(header::IF_MODIFIED_SINCE, &at(1_700_000_000))]));
        assert!(fresh(&[(header::IF_MODIFIED_SINCE, &at(1_700_000_100))]));
        assert!(!fresh(&[(header::IF_MODIFIED_SINCE, &at(1_699_999_999))]));
        assert!(!fresh(&[(header::IF_MODIFIED_SINCE, "yesterday")]));
        // If-None-Match wins over If-Modified-Since.
        assert!(!fresh(&[
            (header::IF_NONE_MATCH, "W/\"0000\""),
            (header::IF_MODIFIED_SINCE, &at(1_700_000_100)),
        ]));
    }

    #[test]
    fn a_304_carries_the_validators() {
        let v = validators();
        let response = v.not_modified(true);
        assert_eq!(response.status(), 304);
        let h = response.headers();
        assert_eq!(
            h.get(header::ETAG).unwrap().to_str().unwrap(),
            v.etag.to_string()
        );
        assert_eq!(
            h.get(header::LAST_MODIFIED).unwrap().to_str().unwrap(),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "private, no-cache");
    }

    #[test]
    fn digests_are_stable_and_part_aware() {
        assert_eq!(digest([b"".as_slice()]), digest([b"".as_slice()]));
        assert_ne!(
            digest([b"ab".as_slice(), b"c"]),
            digest([b"a".as_slice(), b"bc"])
        );
        // Fixed across releases: caches shared by two releases agree on keys.
        assert_eq!(digest([b"quotes".as_slice()]), 0xe479_0218_92e9_1629);
    }
}
