//! The quote store in memory: fast and complete, a product backend (its data lives as long
//! as the process).

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::Utc;
use quotes_core::{
    LoadReport, NewQuote, Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError,
};

#[derive(Default)]
struct Inner {
    quotes: BTreeMap<QuoteId, Quote>,
    by_key: HashMap<(String, String), QuoteId>,
    last_id: i64,
}

impl Inner {
    fn add(&mut self, quote: NewQuote, key: (String, String)) -> Quote {
        self.last_id += 1;
        let id = QuoteId(self.last_id);
        let stored = Quote {
            id,
            text: quote.text,
            author: quote.author,
            source: quote.source,
            created_at: Utc::now(),
        };
        self.by_key.insert(key, id);
        self.quotes.insert(id, stored.clone());
        stored
    }
}

/// Quotes in a `BTreeMap` behind one lock; every method is atomic.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    // A panic while holding the lock cannot leave `Inner` half-changed (each method checks
    // before it writes), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn conflict() -> StoreError {
    StoreError::Conflict("a quote with this text and author already exists".into())
}

impl QuoteStore for MemoryStore {
    fn get(&self, id: QuoteId) -> Result<Quote, StoreError> {
        self.read()
            .quotes
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn list(&self, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        let inner = self.read();
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items = inner
            .quotes
            .values()
            .skip(skip)
            .take(page.per_page() as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total: inner.quotes.len() as u64,
        })
    }

    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.read().quotes.len() as u64)
    }

    fn insert(&self, quote: NewQuote) -> Result<Quote, StoreError> {
        let key = quote.same_key();
        let mut inner = self.write();
        if inner.by_key.contains_key(&key) {
            return Err(conflict());
        }
        Ok(inner.add(quote, key))
    }

    fn update(&self, id: QuoteId, quote: NewQuote) -> Result<Quote, StoreError> {
        let key = quote.same_key();
        let mut inner = self.write();
        let old_key = match inner.quotes.get(&id) {
            Some(old) => old.content().same_key(),
            None => return Err(StoreError::NotFound),
        };
        if inner.by_key.get(&key).is_some_and(|&other| other != id) {
            return Err(conflict());
        }
        inner.by_key.remove(&old_key);
        inner.by_key.insert(key, id);
        let stored = inner.quotes.get_mut(&id).expect("checked above");
        stored.text = quote.text;
        stored.author = quote.author;
        stored.source = quote.source;
        Ok(stored.clone())
    }

    fn delete(&self, id: QuoteId) -> Result<(), StoreError> {
        let mut inner = self.write();
        let removed = inner.quotes.remove(&id).ok_or(StoreError::NotFound)?;
        inner.by_key.remove(&removed.content().same_key());
        Ok(())
    }

    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError> {
        let inner = self.read();
        let len = inner.quotes.len() as u64;
        if len == 0 {
            return Ok(None);
        }
        let index = usize::try_from(seed % len).expect("index below a usize length");
        Ok(inner.quotes.values().nth(index).cloned())
    }

    fn get_or_create_all(&self, batch: &[NewQuote]) -> Result<LoadReport, StoreError> {
        let mut inner = self.write();
        let mut report = LoadReport::default();
        for quote in batch {
            let key = quote.same_key();
            if inner.by_key.contains_key(&key) {
                report.existing += 1;
            } else {
                inner.add(quote.clone(), key);
                report.added += 1;
            }
        }
        Ok(report)
    }
}
