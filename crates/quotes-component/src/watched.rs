//! The store as the component sees it: every call goes to the real store, and the store's
//! version (count, generation, last change) is remembered for `[quotes] recheck_ms`, so
//! that a page served from the cache need not ask the database. A write through this
//! process forgets the remembered version at once; writes elsewhere (another replica,
//! `quotes load-quotes`) are seen within `recheck_ms` (0, the default: every request reads
//! the version, one primary-key lookup of a one-row table).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use quotes_core::{
    Cursor, Listing, LoadReport, NewQuote, Page, PageRequest, Quote, QuoteId, QuoteQuery,
    QuoteStore, StoreError, StoreStats,
};

pub(crate) struct Watched {
    inner: Arc<dyn QuoteStore>,
    recheck: Duration,
    last: Mutex<Option<(StoreStats, Instant)>>,
}

impl Watched {
    pub(crate) fn new(inner: Arc<dyn QuoteStore>, recheck: Duration) -> Self {
        Self {
            inner,
            recheck,
            last: Mutex::new(None),
        }
    }

    /// The version remembered, if it is younger than `recheck_ms`.
    pub(crate) fn remembered(&self) -> Option<StoreStats> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.filter(|(_, at)| at.elapsed() < self.recheck)
            .map(|(stats, _)| stats)
    }

    /// The store's version: remembered, or read (and remembered).
    pub(crate) fn version(&self) -> Result<StoreStats, StoreError> {
        match self.remembered() {
            Some(stats) => Ok(stats),
            None => self.stats(),
        }
    }

    fn remember(&self, stats: StoreStats) {
        if !self.recheck.is_zero() {
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((stats, Instant::now()));
        }
    }

    fn forget(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Runs a write, then forgets the version whatever came of it.
    fn write<T>(&self, f: impl FnOnce(&dyn QuoteStore) -> T) -> T {
        let result = f(&*self.inner);
        self.forget();
        result
    }
}

impl QuoteStore for Watched {
    fn get(&self, id: QuoteId) -> Result<Quote, StoreError> {
        self.inner.get(id)
    }

    fn list(&self, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        self.inner.list(page)
    }

    fn list_from(&self, cursor: Cursor, per_page: u32) -> Result<Vec<Quote>, StoreError> {
        self.inner.list_from(cursor, per_page)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let stats = self.inner.stats()?;
        self.remember(stats);
        Ok(stats)
    }

    fn listing(
        &self,
        page: PageRequest,
        cursor: Option<Cursor>,
        featured: u64,
    ) -> Result<Listing, StoreError> {
        let listing = self.inner.listing(page, cursor, featured)?;
        self.remember(listing.stats);
        Ok(listing)
    }

    fn insert(&self, quote: NewQuote) -> Result<Quote, StoreError> {
        self.write(|s| s.insert(quote))
    }

    fn update(&self, id: QuoteId, quote: NewQuote) -> Result<Quote, StoreError> {
        self.write(|s| s.update(id, quote))
    }

    fn update_if(
        &self,
        id: QuoteId,
        expected: &NewQuote,
        quote: NewQuote,
    ) -> Result<Quote, StoreError> {
        self.write(|s| s.update_if(id, expected, quote))
    }

    fn search(&self, query: &QuoteQuery, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        self.inner.search(query, page)
    }

    fn authors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.authors()
    }

    fn sources(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.sources()
    }

    fn delete(&self, id: QuoteId) -> Result<(), StoreError> {
        self.write(|s| s.delete(id))
    }

    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError> {
        self.inner.pick(seed)
    }

    fn get_or_create_all(&self, batch: &[NewQuote]) -> Result<LoadReport, StoreError> {
        self.write(|s| s.get_or_create_all(batch))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quotes_store_memory::MemoryStore;

    fn nq(text: &str) -> NewQuote {
        NewQuote::parse(text, "a", None).unwrap()
    }

    #[test]
    fn remembers_for_recheck_and_forgets_on_its_own_writes() {
        let inner: Arc<dyn QuoteStore> = Arc::new(MemoryStore::default());
        let watched = Watched::new(inner.clone(), Duration::from_secs(3600));
        assert_eq!(watched.version().unwrap().count, 0);
        // A write elsewhere is not seen until the version is read again…
        inner.insert(nq("elsewhere")).unwrap();
        assert_eq!(watched.version().unwrap().count, 0);
        // …and a write through it is seen at once.
        watched.insert(nq("here")).unwrap();
        assert_eq!(watched.version().unwrap().count, 2);
    }

    #[test]
    fn recheck_zero_reads_every_time() {
        let inner: Arc<dyn QuoteStore> = Arc::new(MemoryStore::default());
        let watched = Watched::new(inner.clone(), Duration::ZERO);
        assert_eq!(watched.version().unwrap().count, 0);
        inner.insert(nq("elsewhere")).unwrap();
        assert_eq!(watched.version().unwrap().count, 1);
        assert!(watched.remembered().is_none());
    }
}
