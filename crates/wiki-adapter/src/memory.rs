//! The wiki in memory: complete and fast, gone when the process ends.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use chrono::Utc;

use crate::path::WikiPath;
use crate::store::{
    check_import, import_step, Change, HistoryEntry, Hit, Imported, NewRevision, PageFilter,
    PageInfo, Revision, WikiError, WikiStore, MARK_END, MARK_START,
};

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
        state: last.state,
    })
}

/// Whether the page is there and not deleted.
fn live(revisions: &[Revision]) -> bool {
    revisions.last().is_some_and(|r| !r.state.deleted)
}

type Pages = BTreeMap<WikiPath, Vec<Revision>>;

/// Adds a checked revision on top of `base` (see [`WikiStore::save`]).
fn push(
    pages: &mut Pages,
    path: &WikiPath,
    base: Option<u32>,
    revision: NewRevision,
) -> Result<u32, WikiError> {
    let current = pages.get(path).and_then(|r| r.last());
    let number = match (base, current.map(|r| r.number)) {
        (None, None) => 1,
        (None, Some(_)) => return Err(WikiError::Exists),
        (Some(_), None) => return Err(WikiError::NotFound),
        (Some(base), Some(current)) if base != current => {
            return Err(WikiError::Stale { base, current })
        }
        (Some(_), Some(current)) => current + 1,
    };
    let state = revision
        .state
        .or(current.map(|r| r.state))
        .unwrap_or_default();
    pages.entry(path.clone()).or_default().push(Revision {
        number,
        title: revision.title.trim().to_owned(),
        content: revision.content,
        html: revision.html,
        author: revision.author,
        address: revision.address,
        message: revision.message.trim().to_owned(),
        created_at: Utc::now(),
        state,
    });
    Ok(number)
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
        push(&mut pages, path, base, revision)
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
            .filter(|(p, r)| p.parent().as_ref() == Some(path) && live(r))
            .filter_map(|(p, r)| info(p, r))
            .collect())
    }

    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, WikiError> {
        let query = Query::parse(query);
        if query.groups.is_empty() {
            return Ok(Vec::new());
        }
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let mut hits: Vec<Hit> = pages
            .iter()
            .filter_map(|(path, revisions)| {
                let current = revisions.last().filter(|r| !r.state.deleted)?;
                let rank = query.rank(&current.title, &current.content)?;
                Some(Hit {
                    path: path.clone(),
                    title: current.title.clone(),
                    snippet: snippet(&current.content, &query.words()),
                    rank,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.path.cmp(&b.path)));
        hits.truncate(limit);
        Ok(hits)
    }

    fn revisions_since(
        &self,
        author: Option<&str>,
        address: Option<&str>,
        since: chrono::DateTime<Utc>,
    ) -> Result<u64, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let by = |r: &Revision| match author {
            Some(a) => r.author.as_deref() == Some(a),
            None => r.author.is_none() && r.address.as_deref() == address,
        };
        Ok(pages
            .values()
            .flatten()
            .filter(|r| r.created_at >= since && by(r))
            .count() as u64)
    }

    fn recent(&self, offset: usize, limit: usize) -> Result<Vec<Change>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Change> = pages
            .iter()
            .flat_map(|(path, revisions)| {
                revisions.iter().map(move |r| Change {
                    path: path.clone(),
                    title: r.title.clone(),
                    number: r.number,
                    author: r.author.clone(),
                    address: r.address.clone(),
                    message: r.message.clone(),
                    created_at: r.created_at,
                })
            })
            .collect();
        all.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.number.cmp(&a.number))
                .then_with(|| a.path.cmp(&b.path))
        });
        Ok(all.into_iter().skip(offset).take(limit).collect())
    }

    fn existing(&self, paths: &[WikiPath]) -> Result<Vec<WikiPath>, WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        Ok(paths
            .iter()
            .filter(|p| pages.get(*p).is_some_and(|r| live(r)))
            .cloned()
            .collect())
    }

    fn pages(
        &self,
        filter: &PageFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<PageInfo>, u64), WikiError> {
        let pages = self.pages.read().unwrap_or_else(PoisonError::into_inner);
        let needle = filter.contains.as_deref().map(str::to_lowercase);
        let matching: Vec<PageInfo> = pages
            .iter()
            .filter_map(|(p, r)| info(p, r))
            .filter(|i| {
                needle.as_deref().is_none_or(|n| {
                    i.path.as_str().contains(n) || i.title.to_lowercase().contains(n)
                }) && filter.deleted.is_none_or(|d| i.state.deleted == d)
                    && filter.locked.is_none_or(|l| i.state.locked == l)
            })
            .collect();
        let total = matching.len() as u64;
        Ok((
            matching.into_iter().skip(offset).take(limit).collect(),
            total,
        ))
    }

    fn import(&self, batch: Vec<(WikiPath, NewRevision)>) -> Result<Imported, WikiError> {
        check_import(&batch)?;
        let mut pages = self.pages.write().unwrap_or_else(PoisonError::into_inner);
        let mut done = Imported::default();
        // Checked whole before the first write, and under one lock: all or nothing.
        for (path, revision) in batch {
            let current = pages
                .get(&path)
                .and_then(|r| r.last())
                .map(|c| (c.number, c.title.as_str(), c.content.as_str(), c.state));
            let Some(base) = import_step(current, &revision, &mut done) else {
                continue;
            };
            push(&mut pages, &path, base, revision)?;
        }
        Ok(done)
    }
}

/// A search as web search engines read one: words that must all be there, `"a phrase"`,
/// `-word` that must not, `a or b` for either; case-insensitive substrings here (PostgreSQL's
/// store matches stemmed words).
struct Query {
    /// Each group must match; a group matches when any of its terms does.
    groups: Vec<Vec<String>>,
    excluded: Vec<String>,
}

impl Query {
    fn parse(raw: &str) -> Query {
        let mut tokens: Vec<(bool, String)> = Vec::new();
        let mut rest = raw;
        while let Some(c) = rest.chars().next() {
            if c.is_whitespace() {
                rest = &rest[c.len_utf8()..];
            } else if c == '"' {
                let end = rest[1..].find('"').map_or(rest.len(), |e| e + 1);
                tokens.push((false, rest[1..end].to_lowercase()));
                rest = rest.get(end + 1..).unwrap_or("");
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                tokens.push((true, rest[..end].to_lowercase()));
                rest = &rest[end..];
            }
        }
        let mut query = Query {
            groups: Vec::new(),
            excluded: Vec::new(),
        };
        let mut join_next = false;
        for (bare, token) in tokens {
            if bare && token == "or" {
                join_next = !query.groups.is_empty();
                continue;
            }
            if let Some(word) = token.strip_prefix('-').filter(|w| bare && !w.is_empty()) {
                query.excluded.push(word.to_owned());
                continue;
            }
            let token = token.trim().to_owned();
            if token.is_empty() {
                continue;
            }
            match (join_next, query.groups.last_mut()) {
                (true, Some(group)) => group.push(token),
                _ => query.groups.push(vec![token]),
            }
            join_next = false;
        }
        query
    }

    fn words(&self) -> Vec<&str> {
        self.groups.iter().flatten().map(String::as_str).collect()
    }

    /// The rank of a page, or `None` when it does not match: a match in the title counts
    /// more than any number in the text.
    fn rank(&self, title: &str, content: &str) -> Option<f32> {
        let (title, content) = (title.to_lowercase(), content.to_lowercase());
        if self
            .excluded
            .iter()
            .any(|w| title.contains(w.as_str()) || content.contains(w.as_str()))
        {
            return None;
        }
        let mut rank = 0.0;
        for group in &self.groups {
            let mut matched = false;
            for term in group {
                if title.contains(term.as_str()) {
                    rank += 1.0;
                    matched = true;
                }
                let n = content.matches(term.as_str()).count();
                if n > 0 {
                    rank += 0.1 * n.min(5) as f32;
                    matched = true;
                }
            }
            if !matched {
                return None;
            }
        }
        Some(rank)
    }
}

/// About 30 words of `content` around the first match, the matches marked.
fn snippet(content: &str, words: &[&str]) -> String {
    let lower = content.to_lowercase();
    // Lower-casing can change byte lengths; mark only where it did not.
    let same_length = lower.len() == content.len();
    let first = words
        .iter()
        .filter_map(|w| lower.find(w))
        .min()
        .filter(|_| same_length)
        .unwrap_or(0);
    let start = content[..first]
        .char_indices()
        .rev()
        .filter(|(_, c)| c.is_whitespace())
        .nth(8)
        .map_or(0, |(i, _)| i + 1);
    let end = content[first..]
        .char_indices()
        .filter(|(_, c)| c.is_whitespace())
        .nth(22)
        .map_or(content.len(), |(i, _)| first + i);
    let window = &content[start..end];
    if !same_length {
        return window.to_owned();
    }
    let lower_window = &lower[start..end];
    let mut out = String::with_capacity(window.len() + 8);
    let mut at = 0;
    while at < window.len() {
        let next = words
            .iter()
            .filter(|w| !w.is_empty())
            .filter_map(|w| lower_window[at..].find(w).map(|i| (at + i, w.len())))
            .min();
        match next {
            Some((i, len)) if window.is_char_boundary(i) && window.is_char_boundary(i + len) => {
                out.push_str(&window[at..i]);
                out.push(MARK_START);
                out.push_str(&window[i..i + len]);
                out.push(MARK_END);
                at = i + len;
            }
            _ => {
                out.push_str(&window[at..]);
                break;
            }
        }
    }
    out
}
