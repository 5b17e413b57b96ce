//! The cache component: the site's cache behind `web`'s [`Cache`] seam, as Django's
//! `CACHES` setting picks one. `[cache] backend` (`QUOTES__CACHE__BACKEND`) chooses what
//! runs: `memory` (the default: moka, in this process, bounded in bytes), `redis` (one
//! server shared by every replica, `[cache] redis_url`) or `none`; the `memory` and `redis`
//! features choose what is compiled in. Later components find it with
//! `ctx.resource::<CacheHandle>()`.
//!
//! A cache that fails never fails a request: the Redis backend answers a miss while the
//! server is down, tries again a second later, and picks up by itself when it is back.
//!
//! Architecture invariant: no component names this crate; they see `web::Cache` only.

#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "redis")]
mod redis_cache;

use serde::Deserialize;
use web::{CacheHandle, Component, Context, Running};

#[cfg(feature = "memory")]
pub use memory::MemoryCache;
#[cfg(feature = "redis")]
pub use redis_cache::RedisCache;

/// `[cache]` in the settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    pub backend: BackendKind,
    /// The Redis server, e.g. `redis://:PASSWORD@127.0.0.1:6379/0`.
    pub redis_url: Option<String>,
    /// The memory backend's bound, in MiB of values.
    pub max_mib: u64,
    /// How long a Redis call may take before it counts as a miss.
    pub timeout_ms: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            backend: BackendKind::Memory,
            redis_url: None,
            max_mib: 64,
            timeout_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    None,
    Memory,
    Redis,
}

/// The cache component, as the registry lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CacheComponent;

/// Runs nothing of its own: it provides the cache to the components after it.
struct Provided {
    cache: Option<CacheHandle>,
}

impl Running for Provided {
    fn check_ready(&self) -> Result<(), String> {
        // Never a reason to take a replica out: without its cache it is slower, not broken.
        Ok(())
    }
}

impl std::fmt::Debug for Provided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provided")
            .field("cache", &self.cache.as_ref().map(|c| c.backend()))
            .finish()
    }
}

impl Component for CacheComponent {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: CacheSettings = ctx.settings()?;
        let cache = open(&settings)?;
        match &cache {
            Some(c) => tracing::debug!(backend = c.backend(), "cache ready"),
            None => tracing::debug!("cache switched off ([cache] backend = \"none\")"),
        }
        if let Some(c) = &cache {
            ctx.provide(c.clone());
        }
        Ok(Box::new(Provided { cache }))
    }
}

/// The backend `settings` ask for; an error when the build left it out or its settings
/// are incomplete.
pub fn open(settings: &CacheSettings) -> anyhow::Result<Option<CacheHandle>> {
    match settings.backend {
        BackendKind::None => Ok(None),
        #[cfg(feature = "memory")]
        BackendKind::Memory => Ok(Some(CacheHandle(std::sync::Arc::new(MemoryCache::new(
            settings.max_mib.saturating_mul(1024 * 1024),
        ))))),
        #[cfg(feature = "redis")]
        BackendKind::Redis => {
            let url = settings.redis_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "[cache] backend = \"redis\" needs [cache] redis_url (QUOTES__CACHE__REDIS_URL)"
                )
            })?;
            let timeout = std::time::Duration::from_millis(settings.timeout_ms.max(1));
            Ok(Some(CacheHandle(std::sync::Arc::new(RedisCache::new(
                url, timeout,
            )?))))
        }
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "[cache] backend = {other:?} is not in this build; it has: {}",
            compiled_in().join(", ")
        ),
    }
}

/// The backends this build has.
pub fn compiled_in() -> Vec<&'static str> {
    let mut kinds = vec!["none"];
    if cfg!(feature = "memory") {
        kinds.push("memory");
    }
    if cfg!(feature = "redis") {
        kinds.push("redis");
    }
    kinds
}

/// Counts a hit or a miss for `/metrics`.
pub(crate) fn count(backend: &'static str, hit: bool) {
    metrics::counter!("cache_requests_total", "backend" => backend, "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}
