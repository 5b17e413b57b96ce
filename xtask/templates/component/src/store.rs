//! The __name__ component's data: an item, the store trait every backend implements, and its
//! errors. No web, database or other crate of the site here.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The longest item text, in characters (the migration's CHECK says the same).
pub const MAX_TEXT: usize = 500;

/// One stored item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: i64,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// What can go wrong, named by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is refused; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The backend is down; try again later.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Checks an item's text once, at the edge: 1 to [`MAX_TEXT`] characters after trimming.
pub fn parse_text(raw: &str) -> Result<String, StoreError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(StoreError::Invalid("text must not be empty".into()));
    }
    if chars > MAX_TEXT {
        return Err(StoreError::Invalid(format!(
            "text must be at most {MAX_TEXT} characters, not {chars}"
        )));
    }
    Ok(text.to_owned())
}

/// Where items live. Object-safe: hold it as `Arc<dyn ItemStore>`.
pub trait ItemStore: Send + Sync {
    /// Adds an item whose text [`parse_text`] accepts, and returns it.
    fn add(&self, text: &str) -> Result<Item, StoreError>;

    /// The newest `limit` items, the newest first.
    fn recent(&self, limit: usize) -> Result<Vec<Item>, StoreError>;

    /// How many items there are.
    fn count(&self) -> Result<u64, StoreError>;

    /// Answers when the store can serve requests (readiness).
    fn ping(&self) -> Result<(), StoreError> {
        self.count().map(drop)
    }
}
