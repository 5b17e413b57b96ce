//! The Redis backend: one server shared by every replica, over a small r2d2 pool of
//! connections with timeouts. While the server is down, every call is a miss at once
//! (no waiting on a connect per request); a second after a failure the next call tries
//! again, so the cache comes back by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use redis::{Client, Commands, Connection, ConnectionLike};
use web::actix_web::web::Bytes;
use web::Cache;

/// How long the backend rests after a failure before it tries the server again.
const BACK_OFF: Duration = Duration::from_secs(1);

/// Connections made with a timeout, for reads and writes too.
struct Manager {
    client: Client,
    timeout: Duration,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<Connection, redis::RedisError> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<()>(conn)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        !conn.is_open()
    }
}

/// The cache on a Redis server.
pub struct RedisCache {
    pool: r2d2::Pool<Manager>,
    /// Where the server is, without its password, for logs.
    at: String,
    started: Instant,
    /// Milliseconds after `started` before which calls do not try the server.
    resting_until: AtomicU64,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("at", &self.at).finish()
    }
}

impl RedisCache {
    /// A cache on the server at `url` (`redis://:PASSWORD@HOST:PORT/DB`). Connects lazily:
    /// a server that is down at start-up is a cache that misses until it is up.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = Client::open(url).context("reading [cache] redis_url")?;
        let info = client.get_connection_info();
        let at = format!("{}", info.addr());
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(0))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager { client, timeout });
        Ok(Self {
            pool,
            at,
            started: Instant::now(),
            resting_until: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` on a pooled connection, unless the backend is resting after a failure; a
    /// failure is logged, counted and starts a rest.
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if self.now_ms() < self.resting_until.load(Ordering::Relaxed) {
            return None;
        }
        let result = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| f(&mut conn).map_err(|e| e.to_string()));
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                let rest = u64::try_from(BACK_OFF.as_millis()).unwrap_or(1000);
                let before = self
                    .resting_until
                    .swap(self.now_ms() + rest, Ordering::Relaxed);
                // Once per outage, not once per request.
                if before <= self.now_ms() {
                    tracing::warn!(redis = %self.at, %error, "cache {what} failed; serving uncached for a while");
                }
                metrics::counter!("cache_errors_total", "backend" => "redis").increment(1);
                None
            }
        }
    }
}

impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let found = self
            .with("get", |c| c.get::<_, Option<Vec<u8>>>(key))
            .flatten()
            .map(Bytes::from);
        crate::count("redis", found.is_some());
        found
    }

    fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.with("set", |c| c.pset_ex::<_, _, ()>(key, value.as_ref(), ms));
    }

    fn delete(&self, key: &str) {
        self.with("delete", |c| c.del::<_, ()>(key));
    }

    fn blocks(&self) -> bool {
        true
    }
}
