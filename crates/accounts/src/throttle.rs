//! Login throttling: after `limit` failures within `window` for a username or for a client
//! address, further tries wait, whether or not the user exists. Failures live in the store,
//! so every replica counts the same.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::store::{AccountStore, AccountsError};

#[derive(Clone)]
pub(crate) struct Throttle {
    pub store: Arc<dyn AccountStore>,
    pub limit: u32,
    pub window: Duration,
}

/// The keys a login attempt counts against.
pub(crate) fn keys(username: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![user_key(username)];
    if let Some(addr) = client {
        keys.push(format!("addr:{addr}"));
    }
    keys
}

pub(crate) fn user_key(username: &str) -> String {
    format!("user:{}", username.trim().to_ascii_lowercase())
}

impl Throttle {
    /// How long to wait (in whole seconds, at least 1) when any key is at its limit.
    pub fn blocked(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, AccountsError> {
        let limit = self.limit.max(1) as usize;
        let mut wait: Option<Duration> = None;
        for key in keys {
            let times = self.store.failures_since(key, now - self.window)?;
            if times.len() >= limit {
                // Below the limit again once the failure `limit` places from the newest ages
                // out of the window.
                let frees_at = times[times.len() - limit] + self.window;
                let this = frees_at - now;
                wait = Some(wait.map_or(this, |w| w.max(this)));
            }
        }
        Ok(wait.map(|w| {
            let millis = u64::try_from(w.num_milliseconds()).unwrap_or(0);
            millis.div_ceil(1000).max(1)
        }))
    }

    pub fn failed(&self, keys: &[String], now: DateTime<Utc>) -> Result<(), AccountsError> {
        self.store.record_failure(keys, now)
    }

    /// A good login forgets the username's failures (the address's stay).
    pub fn succeeded(&self, username: &str) -> Result<(), AccountsError> {
        self.store.clear_failures(&user_key(username))
    }
}

#[cfg(all(test, feature = "memory"))]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[test]
    fn the_wait_ends_when_enough_failures_age_out() {
        let throttle = Throttle {
            store: Arc::new(MemoryStore::default()),
            limit: 3,
            window: Duration::minutes(15),
        };
        let keys = keys("Ada", Some("192.0.2.7".parse().unwrap()));
        assert_eq!(keys, ["user:ada", "addr:192.0.2.7"]);
        let t0 = Utc::now();
        for minute in [0, 5, 10] {
            assert_eq!(
                throttle
                    .blocked(&keys, t0 + Duration::minutes(minute))
                    .unwrap(),
                None
            );
            throttle
                .failed(&keys, t0 + Duration::minutes(minute))
                .unwrap();
        }
        let now = t0 + Duration::minutes(11);
        assert_eq!(
            throttle.blocked(&keys, now).unwrap(),
            Some(4 * 60),
            "until t0 + 15m"
        );
        assert_eq!(
            throttle.blocked(&keys, t0 + Duration::minutes(16)).unwrap(),
            None
        );
        throttle.succeeded("ADA").unwrap();
        assert_eq!(
            throttle.blocked(&keys[..1], now).unwrap(),
            None,
            "a good login forgets the username's failures"
        );
        assert!(
            throttle.blocked(&keys[1..], now).unwrap().is_some(),
            "not the address's"
        );
    }
}
