//! The quote store in memory: fast and complete, a product backend (its data lives as long
//! as the process).

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use std::ops::Bound;

use chrono::{DateTime, Utc};
use quotes_core::{
    Cursor, LoadReport, NewQuote, Page, PageRequest, Quote, QuoteId, QuoteOrder, QuoteQuery,
    QuoteStore, StoreError, StoreStats,
};

struct Inner {
    quotes: BTreeMap<QuoteId, Quote>,
    by_key: HashMap<(String, String), QuoteId>,
    last_id: i64,
    generation: u64,
    epoch: u64,
    changed_at: Option<DateTime<Utc>>,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            quotes: BTreeMap::new(),
            by_key: HashMap::new(),
            last_id: 0,
            generation: 0,
            epoch: fastrand::u64(..),
            changed_at: None,
        }
    }
}

impl Inner {
    /// Records a write, for [`QuoteStore::stats`].
    fn changed(&mut self) {
        self.generation += 1;
        self.changed_at = Some(Utc::now());
    }

    fn add(&mut self, quote: NewQuote, key: (String, String)) -> Quote {
        self.changed();
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
        let total = inner.quotes.len();
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let per_page = page.per_page() as usize;
        // Walk from the nearer end, as the PostgreSQL store does.
        let items = if skip >= total {
            Vec::new()
        } else if skip <= total / 2 {
            let rows = inner.quotes.values().skip(skip).take(per_page);
            rows.cloned().collect()
        } else {
            let end = (skip + per_page).min(total);
            let rows = inner
                .quotes
                .values()
                .rev()
                .skip(total - end)
                .take(end - skip);
            let mut items: Vec<Quote> = rows.cloned().collect();
            items.reverse();
            items
        };
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total: total as u64,
        })
    }

    fn list_from(&self, cursor: Cursor, per_page: u32) -> Result<Vec<Quote>, StoreError> {
        let inner = self.read();
        let per_page = per_page as usize;
        Ok(match cursor {
            Cursor::After(id) => {
                let rows = inner.quotes.range((Bound::Excluded(id), Bound::Unbounded));
                rows.take(per_page).map(|(_, q)| q.clone()).collect()
            }
            Cursor::Before(id) => {
                let rows = inner.quotes.range(..id).rev().take(per_page);
                let mut items: Vec<Quote> = rows.map(|(_, q)| q.clone()).collect();
                items.reverse();
                items
            }
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let inner = self.read();
        Ok(StoreStats {
            count: inner.quotes.len() as u64,
            generation: inner.generation,
            epoch: inner.epoch,
            changed_at: inner.changed_at,
        })
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
        self.update_where(id, None, quote)
    }

    fn update_if(
        &self,
        id: QuoteId,
        expected: &NewQuote,
        quote: NewQuote,
    ) -> Result<Quote, StoreError> {
        self.update_where(id, Some(expected), quote)
    }

    fn search(&self, query: &QuoteQuery, page: PageRequest) -> Result<Page<Quote>, StoreError> {
        let inner = self.read();
        let needle = query.contains.as_deref().map(str::to_lowercase);
        let mut found: Vec<&Quote> = inner
            .quotes
            .values()
            .filter(|q| matches(q, query, needle.as_deref()))
            .collect();
        // Strings compare lower-cased, code point by code point, as the PostgreSQL store's
        // `lower(…) COLLATE "C"` does; ties go by id; a missing source comes first.
        let lower = |s: &str| s.to_lowercase();
        match query.order {
            QuoteOrder::Id => {}
            QuoteOrder::Text => found.sort_by_cached_key(|q| (lower(q.text.as_str()), q.id)),
            QuoteOrder::Author => found.sort_by_cached_key(|q| (lower(q.author.as_str()), q.id)),
            QuoteOrder::Source => {
                found.sort_by_cached_key(|q| (q.source.as_ref().map(|s| lower(s.as_str())), q.id))
            }
            QuoteOrder::Created => found.sort_by_key(|q| (q.created_at, q.id)),
        }
        if query.descending {
            found.reverse();
        }
        let total = found.len() as u64;
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items = found
            .into_iter()
            .skip(skip)
            .take(page.per_page() as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            page: page.page(),
            per_page: page.per_page(),
            total,
        })
    }

    fn authors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(tally(
            self.read()
                .quotes
                .values()
                .map(|q| q.author.as_str().to_owned()),
        ))
    }

    fn sources(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(tally(self.read().quotes.values().filter_map(|q| {
            q.source.as_ref().map(|s| s.as_str().to_owned())
        })))
    }

    fn delete(&self, id: QuoteId) -> Result<(), StoreError> {
        let mut inner = self.write();
        let removed = inner.quotes.remove(&id).ok_or(StoreError::NotFound)?;
        inner.by_key.remove(&removed.content().same_key());
        inner.changed();
        Ok(())
    }

    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError> {
        // A point in the range of ids, and the first quote at or after it, as the
        // PostgreSQL store picks: no walk through the quotes before it.
        let inner = self.read();
        let (Some(lo), Some(hi)) = (inner.quotes.keys().next(), inner.quotes.keys().next_back())
        else {
            return Ok(None);
        };
        let span = u64::try_from(i128::from(hi.0) - i128::from(lo.0) + 1).unwrap_or(u64::MAX);
        let point = QuoteId(lo.0.saturating_add_unsigned(seed % span));
        Ok(inner.quotes.range(point..).next().map(|(_, q)| q.clone()))
    }

    fn get_or_create_all(&self, batch: &[NewQuote]) -> Result<LoadReport, StoreError> {
        let mut inner = self.write();
        let mut report = LoadReport::default();
        for quote in batch {
            let key = quote.same_key();
            if inner.by_key.contains_key(&key) {
                report.existing += 1;
            } else {
                let added = inner.add(quote.clone(), key);
                report.new_quotes.push(added);
                report.added += 1;
            }
        }
        Ok(report)
    }
}

/// Whether `q` is what `query` asks for; `needle` is its `contains`, lower-cased.
fn matches(q: &Quote, query: &QuoteQuery, needle: Option<&str>) -> bool {
    let contains = needle.is_none_or(|n| {
        q.text.as_str().to_lowercase().contains(n)
            || q.author.as_str().to_lowercase().contains(n)
            || q.source
                .as_ref()
                .is_some_and(|s| s.as_str().to_lowercase().contains(n))
    });
    let author = query
        .author
        .as_deref()
        .is_none_or(|a| q.author.as_str() == a);
    let source = query
        .source
        .as_ref()
        .is_none_or(|s| q.source.as_ref().map(|x| x.as_str()) == s.as_deref());
    contains && author && source
}

/// Each distinct value with how often it comes, by value.
fn tally(values: impl Iterator<Item = String>) -> Vec<(String, u64)> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0u64) += 1;
    }
    counts.into_iter().collect()
}

impl MemoryStore {
    /// `update`, and with `expected` `update_if`: checked and written under one lock.
    fn update_where(
        &self,
        id: QuoteId,
        expected: Option<&NewQuote>,
        quote: NewQuote,
    ) -> Result<Quote, StoreError> {
        let key = quote.same_key();
        let mut inner = self.write();
        if let (Some(expected), Some(now)) = (expected, inner.quotes.get(&id)) {
            if &now.content() != expected {
                return Err(StoreError::Stale);
            }
        }
        let old_key = match inner.quotes.get(&id) {
            Some(old) => old.content().same_key(),
            None => return Err(StoreError::NotFound),
        };
        if inner.by_key.get(&key).is_some_and(|&other| other != id) {
            return Err(conflict());
        }
        inner.by_key.remove(&old_key);
        inner.by_key.insert(key, id);
        inner.changed();
        let stored = inner.quotes.get_mut(&id).expect("checked above");
        stored.text = quote.text;
        stored.author = quote.author;
        stored.source = quote.source;
        Ok(stored.clone())
    }
}
