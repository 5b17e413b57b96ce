//! The memory backend: moka, bounded by the bytes of its values, each entry with its own
//! time to live.

use std::time::{Duration, Instant};

use moka::sync::Cache as Moka;
use moka::Expiry;
use web::actix_web::web::Bytes;
use web::Cache;

/// What each entry keeps: the value and how long it may live.
#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

struct PerEntry;

impl Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The cache in this process's memory: the fastest, and each replica's own.
pub struct MemoryCache {
    entries: Moka<String, Entry>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl MemoryCache {
    /// A cache holding at most about `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> Self {
        let entries = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntry)
            .build();
        Self { entries }
    }
}

impl Cache for MemoryCache {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let found = self.entries.get(key).map(|e| e.value);
        crate::count("memory", found.is_some());
        found
    }

    fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        self.entries.insert(key.to_owned(), Entry { value, ttl });
    }

    fn delete(&self, key: &str) {
        self.entries.invalidate(key);
    }

    fn blocks(&self) -> bool {
        false
    }
}
