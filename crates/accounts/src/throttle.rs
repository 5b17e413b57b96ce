//! Login throttling: after `limit` failures within `window` for a username or for a client
//! address, further tries wait, whether or not the user exists. Attempts live in the store,
//! so every replica counts the same, and each is recorded before its password is checked,
//! so that tries racing each other all count.

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

/// What the throttle says to a login attempt.
pub(crate) enum Attempt {
    /// Go on and check the password; the attempt is recorded (forget it when it succeeds).
    Admitted(Vec<i64>),
    /// Wait this many whole seconds (at least 1); nothing is recorded.
    Throttled(u64),
}

/// The keys a login attempt counts against: the name (as the store compares names: trimmed,
/// lowercase, at most a username's length) and the client's address (an IPv6 client by its
/// /64, which one machine can fill with addresses).
pub(crate) fn keys(username: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![user_key(username)];
    if let Some(addr) = client {
        let addr = match addr {
            IpAddr::V6(v6) => {
                let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
                net.map_or_else(|_| addr.to_string(), |n| n.to_string())
            }
            IpAddr::V4(_) => addr.to_string(),
        };
        keys.push(format!("addr:{addr}"));
    }
    keys
}

pub(crate) fn user_key(username: &str) -> String {
    let name: String = username.trim().chars().take(150).collect();
    format!("user:{}", name.to_ascii_lowercase())
}

impl Throttle {
    /// Records the attempt, then counts: when any key holds more than `limit` attempts in the
    /// window (this one included), the attempt is forgotten again and waits.
    pub fn attempt(&self, keys: &[String], now: DateTime<Utc>) -> Result<Attempt, AccountsError> {
        let ids = self.store.record_attempt(keys, now)?;
        let limit = self.limit.max(1) as usize;
        let mut wait: Option<Duration> = None;
        for key in keys {
            let mut times = self.store.failures_since(key, now - self.window)?;
            if times.len() > limit {
                // The others' attempts: this one is (one of) the newest.
                times.pop();
                // Below the limit again once the attempt `limit` places from the newest
                // ages out of the window.
                let frees_at = times[times.len() - limit] + self.window;
                let this = frees_at - now;
                wait = Some(wait.map_or(this, |w| w.max(this)));
            }
        }
        match wait {
            Some(w) => {
                self.store.forget_attempts(&ids)?;
                let millis = u64::try_from(w.num_milliseconds()).unwrap_or(0);
                Ok(Attempt::Throttled(millis.div_ceil(1000).max(1)))
            }
            None => Ok(Attempt::Admitted(ids)),
        }
    }

    /// A good login forgets its attempt and the username's failures (the address's stay).
    pub fn succeeded(&self, username: &str, attempt: &[i64]) -> Result<(), AccountsError> {
        self.store.forget_attempts(attempt)?;
        self.store.clear_failures(&user_key(username))
    }
}

#[cfg(all(test, feature = "memory"))]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    fn fail(throttle: &Throttle, keys: &[String], at: DateTime<Utc>) -> Option<u64> {
        match throttle.attempt(keys, at).unwrap() {
            Attempt::Admitted(_) => None,
            Attempt::Throttled(wait) => Some(wait),
        }
    }

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
            assert_eq!(fail(&throttle, &keys, t0 + Duration::minutes(minute)), None);
        }
        let now = t0 + Duration::minutes(11);
        assert_eq!(fail(&throttle, &keys, now), Some(4 * 60), "until t0 + 15m");
        assert_eq!(
            fail(&throttle, &keys, now + Duration::seconds(1)),
            Some(4 * 60 - 1),
            "a throttled try does not push the end further"
        );
        let later = t0 + Duration::minutes(16);
        let Attempt::Admitted(ids) = throttle.attempt(&keys, later).unwrap() else {
            panic!("the first failure has aged out");
        };
        throttle.succeeded("ADA", &ids).unwrap();
        assert!(
            fail(&throttle, &keys[..1], later).is_none(),
            "a good login forgets the username's failures"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = keys("x", Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = keys("x", Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a[1], "addr:2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_eq!(user_key(&"N".repeat(500)).len(), 5 + 150);
    }
}
