//! The wiki in memory: complete and fast, gone when the process ends.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use chrono::Utc;

use crate::path::WikiPath;
use crate::store::{HistoryEntry, NewRevision, PageInfo, Revision, WikiError, WikiStore};

/// Every page's revisions, oldest first, behind one lock: each method is atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    pages: RwLock<BTreeMap<WikiPath, Vec<Revision>>>,
}

fn info(path: &WikiPath, revisions: &[Revision]) -> Option<PageInfo> {
    let last = revisions.last()?;
    Some(PageInfo {
        path: path.clone(),
        title: last.title.clone(),
        revision: last.number,
        updated_at: last.created_at,
    })
}

impl WikiStore for MemoryStore {
    fn page(&self, path: &WikiPath) -> Result<Option<(PageInfo, Revision)>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        Ok(pages
            .get(path)
            .and_then(|revisions| Some((info(path, revisions)?, revisions.last()?.clone()))))
    }

    fn save(
        &self,
        path: &WikiPath,
        base: Option<u32>,
        revision: NewRevision,
    ) -> Result<u32, WikiError> {
        revision.check()?;
        let mut pages = self.pages.write().unwrap_or_else(PoisonError::into_inner);
        let current = pages.get(path).and_then(|r| r.last()).map(|r| r.number);
        let number = match (base, current) {
            (None, None) => 1,
            (None, Some(_)) => return Err(WikiError::Exists),
            (Some(_), None) => return Err(WikiError::NotFound),
            (Some(base), Some(current)) if base != current => {
                return Err(WikiError::Stale { base, current })
            }
            (Some(_), Some(current)) => current + 1,
        };
        pages.entry(path.clone()).or_default().push(Revision {
            number,
            title: revision.title.trim().to_owned(),
            content: revision.content,
            html: revision.html,
            author: revision.author,
            address: revision.address,
            message: revision.message.trim().to_owned(),
            created_at: Utc::now(),
        });
        Ok(number)
    }

    fn revision(&self, path: &WikiPath, number: u32) -> Result<Revision, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        pages
            .get(path)
            .and_then(|r| r.iter().find(|r| r.number == number))
            .cloned()
            .ok_or(WikiError::NotFound)
    }

    fn history(&self, path: &WikiPath) -> Result<Vec<HistoryEntry>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let revisions = pages.get(path).ok_or(WikiError::NotFound)?;
        Ok(revisions.iter().rev().map(HistoryEntry::from).collect())
    }

    fn children(&self, path: &WikiPath) -> Result<Vec<PageInfo>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        Ok(pages
            .iter()
            .filter(|(p, _)| p.parent().as_ref() == Some(path))
            .filter_map(|(p, r)| info(p, r))
            .collect())
    }

    fn existing(&self, paths: &[WikiPath]) -> Result<Vec<WikiPath>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        Ok(paths
            .iter()
            .filter(|p| pages.contains_key(p))
            .cloned()
            .collect())
    }
}
