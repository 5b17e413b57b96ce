//! Items in memory: complete and fast, gone when the process ends.

use std::sync::{PoisonError, RwLock};

use chrono::Utc;

use crate::{parse_text, Item, ItemStore, StoreError};

/// Items in a vector behind one lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: RwLock<Vec<Item>>,
}

impl ItemStore for MemoryStore {
    fn add(&self, text: &str) -> Result<Item, StoreError> {
        let text = parse_text(text)?;
        let mut items = self.items.write().unwrap_or_else(PoisonError::into_inner);
        let item = Item {
            id: items.last().map_or(1, |last| last.id + 1),
            text,
            created_at: Utc::now(),
        };
        items.push(item.clone());
        Ok(item)
    }

    fn recent(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        Ok(items.iter().rev().take(limit).cloned().collect())
    }

    fn count(&self) -> Result<u64, StoreError> {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        Ok(items.len() as u64)
    }
}
