//! quotes-core: the words of the quotes domain and the traits that components speak.
//!
//! Architecture invariant: this crate knows nothing of HTTP, SQL, templates or files on
//! disk. It depends on no crate of ours; every other crate depends on it.

mod quote;
pub mod quotes_file;
mod store;

#[cfg(feature = "contract-tests")]
pub mod contract;

pub use quote::{
    normalize_whitespace, Author, Invalid, NewQuote, Quote, QuoteId, QuoteText, Source,
};
pub use store::{
    Cursor, Listing, LoadReport, Page, PageRequest, QuoteOrder, QuoteQuery, QuoteStore, StoreError,
    StoreStats, MAX_PER_PAGE,
};
