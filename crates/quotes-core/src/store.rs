//! The `QuoteStore` trait: what every storage backend promises.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Invalid, NewQuote, Quote, QuoteId};

/// The most quotes one page may hold.
pub const MAX_PER_PAGE: u32 = 1000;

/// What went wrong in a store, named by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// Another quote already has this text and author.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The quote is no longer what the caller based its change on (see
    /// [`QuoteStore::update_if`]); nothing was written.
    #[error("the quote has changed since it was read")]
    Stale,
    #[error("invalid: {0}")]
    Invalid(#[from] Invalid),
    /// The backend cannot answer now; trying again later may work.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A fault that retrying will not mend, such as a stored row the domain refuses.
    #[error("store fault")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Unavailable(e.into())
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Internal(e.into())
    }
}

/// A page of a listing, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 50;

    /// `page` counts from 1; `per_page` is 1 to [`MAX_PER_PAGE`].
    pub fn new(page: u32, per_page: u32) -> Result<Self, Invalid> {
        if page == 0 {
            return Err(Invalid::Other {
                field: "page",
                reason: "pages count from 1".into(),
            });
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(Invalid::Other {
                field: "per_page",
                reason: format!("must be between 1 and {MAX_PER_PAGE}"),
            });
        }
        Ok(Self { page, per_page })
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// One page of items and where it stands in the whole listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

impl<T> Page<T> {
    /// The number of pages; an empty listing still has one (empty) page.
    pub fn num_pages(&self) -> u32 {
        let pages = self.total.div_ceil(u64::from(self.per_page)).max(1);
        u32::try_from(pages).unwrap_or(u32::MAX)
    }

    pub fn has_previous(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.num_pages()
    }

    /// True when the page asked for lies beyond the last page.
    pub fn is_out_of_range(&self) -> bool {
        self.page > self.num_pages()
    }
}

/// What a store holds, read at a constant cost whatever its size: how many quotes, and a
/// version that moves with every write, to key caches and HTTP validators by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub count: u64,
    /// Grows with every write that changes a quote (insert, update, delete, a load that
    /// adds); a write that changes nothing (a load of quotes already there, a stale update)
    /// leaves it. The same `(epoch, generation)` means the same quotes.
    pub generation: u64,
    /// Tells apart stores whose generations would otherwise collide: each PostgreSQL
    /// database draws one when migrated, each memory store when made.
    pub epoch: u64,
    /// When the last write happened; `None` before the first.
    pub changed_at: Option<DateTime<Utc>>,
}

/// Where a keyset page starts: right after a quote's id, or right before it. Such a page
/// costs the same wherever it lies in the listing, where an offset walks every quote before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After(QuoteId),
    Before(QuoteId),
}

/// What a listing page shows, read together: the store's stats, a page of quotes, and
/// the quote a seed picks (the quote of the day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub stats: StoreStats,
    pub page: Page<Quote>,
    pub featured: Option<Quote>,
}

/// What loading a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Quotes that were not there before.
    pub added: usize,
    /// Quotes whose text and author were already there (left as they were).
    pub existing: usize,
    /// The quotes added, as stored, in batch order (for the change history).
    pub new_quotes: Vec<Quote>,
}

/// What a search orders by; ties are broken by id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuoteOrder {
    #[default]
    Id,
    Text,
    Author,
    Source,
    Created,
}

/// A search of the quotes, as an admin list asks for one; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuoteQuery {
    /// Quotes whose text, author or source contain this, ignoring case.
    pub contains: Option<String>,
    /// Quotes by exactly this author.
    pub author: Option<String>,
    /// Quotes from exactly this source; `Some(None)`: quotes without a source.
    pub source: Option<Option<String>>,
    pub order: QuoteOrder,
    pub descending: bool,
}

/// Where quotes live. Object-safe: hold it as `Arc<dyn QuoteStore>`.
///
/// Listings are ordered by id, oldest first. Two quotes with the same text and author
/// (white space normalised, see [`NewQuote::same_key`]) cannot both be stored.
pub trait QuoteStore: Send + Sync {
    fn get(&self, id: QuoteId) -> Result<Quote, StoreError>;

    /// A page of the listing in id order and the total. The first and the last pages cost
    /// the same however many quotes there are; a page in the middle walks from the nearer
    /// end (for paging on from a page, [`QuoteStore::list_from`] walks nothing).
    fn list(&self, page: PageRequest) -> Result<Page<Quote>, StoreError>;

    /// Up to `per_page` quotes in id order next to `cursor`: the first ones after it, or
    /// the last ones before it. Its cost does not depend on where the cursor lies.
    fn list_from(&self, cursor: Cursor, per_page: u32) -> Result<Vec<Quote>, StoreError>;

    /// A listing page in one go: the stats, the page after `cursor` when there is one and
    /// it lands inside the listing (else the page by its number; the total is the stats'
    /// count), and the quote `featured` picks. A store that can answer on one connection
    /// overrides it.
    fn listing(
        &self,
        page: PageRequest,
        cursor: Option<Cursor>,
        featured: u64,
    ) -> Result<Listing, StoreError> {
        Ok(Listing {
            stats: self.stats()?,
            page: self.page_from(page, cursor)?,
            featured: self.pick(featured)?,
        })
    }

    /// The page after `cursor` when there is one and it lands inside the listing (its
    /// total from the stats), else the page by its number, as [`QuoteStore::list`] reads it.
    fn page_from(
        &self,
        page: PageRequest,
        cursor: Option<Cursor>,
    ) -> Result<Page<Quote>, StoreError> {
        if let Some(cursor) = cursor {
            let items = self.list_from(cursor, page.per_page())?;
            if !items.is_empty() {
                return Ok(Page {
                    items,
                    page: page.page(),
                    per_page: page.per_page(),
                    total: self.stats()?.count,
                });
            }
        }
        self.list(page)
    }

    /// How many quotes there are and the store's version, without counting them.
    fn stats(&self) -> Result<StoreStats, StoreError>;

    fn count(&self) -> Result<u64, StoreError> {
        self.stats().map(|s| s.count)
    }

    /// Stores a new quote; `Conflict` when its text and author are already there.
    fn insert(&self, quote: NewQuote) -> Result<Quote, StoreError>;

    /// Replaces a quote's content, keeping its id and creation time.
    fn update(&self, id: QuoteId, quote: NewQuote) -> Result<Quote, StoreError>;

    /// Replaces a quote's content only if it is still `expected` (text, author and source
    /// as they are stored): `Stale`, with nothing written, when someone changed it since.
    fn update_if(
        &self,
        id: QuoteId,
        expected: &NewQuote,
        quote: NewQuote,
    ) -> Result<Quote, StoreError>;

    /// The quotes `query` matches, a page of them, and how many match in all.
    fn search(&self, query: &QuoteQuery, page: PageRequest) -> Result<Page<Quote>, StoreError>;

    /// Every author, with how many quotes each has, by author.
    fn authors(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Every source, with how many quotes each has, by source.
    fn sources(&self) -> Result<Vec<(String, u64)>, StoreError>;

    fn delete(&self, id: QuoteId) -> Result<(), StoreError>;

    /// A quote chosen by `seed`: the same seed picks the same quote while the store is
    /// unchanged; `None` when the store is empty. Pass a random seed for a random quote,
    /// the day's number for a quote of the day. The seed picks a point in the range of ids
    /// and the quote is the first at or after it, so the pick neither counts nor scans;
    /// a quote after a gap in the ids is picked more often than its neighbours.
    fn pick(&self, seed: u64) -> Result<Option<Quote>, StoreError>;

    /// Django's `get_or_create` for a whole batch, all or nothing: adds each quote whose
    /// text and author are not there yet and leaves existing ones untouched, so loading the
    /// same batch twice adds nothing. On error nothing is added.
    fn get_or_create_all(&self, batch: &[NewQuote]) -> Result<LoadReport, StoreError>;

    /// Answers when the store can serve requests (readiness).
    fn ping(&self) -> Result<(), StoreError> {
        self.count().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, per_page: u32, total: u64) -> Page<()> {
        Page {
            items: vec![],
            page,
            per_page,
            total,
        }
    }

    #[test]
    fn page_requests_are_bounded() {
        assert!(PageRequest::new(0, 10).is_err());
        assert!(PageRequest::new(1, 0).is_err());
        assert!(PageRequest::new(1, MAX_PER_PAGE + 1).is_err());
        assert_eq!(PageRequest::new(3, 10).unwrap().offset(), 20);
        assert_eq!(
            PageRequest::new(u32::MAX, MAX_PER_PAGE).unwrap().offset(),
            4_294_967_294_000
        );
    }

    #[test]
    fn page_arithmetic() {
        let check = |p: Page<()>, pages, prev, next, out| {
            assert_eq!(
                (
                    p.num_pages(),
                    p.has_previous(),
                    p.has_next(),
                    p.is_out_of_range()
                ),
                (pages, prev, next, out),
                "{p:?}"
            );
        };
        check(page(1, 50, 0), 1, false, false, false);
        check(page(1, 50, 50), 1, false, false, false);
        check(page(1, 50, 51), 2, false, true, false);
        check(page(2, 50, 51), 2, true, false, false);
        check(page(3, 50, 51), 2, true, false, true);
    }
}
