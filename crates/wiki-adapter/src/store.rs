//! The wiki's data: pages, their revisions, the store trait every backend implements and its
//! errors. No web or database crate here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::path::WikiPath;

/// The longest page content, in bytes.
pub const MAX_CONTENT: usize = 500 * 1024;

/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;

/// The longest edit message, in characters.
pub const MAX_MESSAGE: usize = 500;

/// What staff set on a page, kept with each revision: a deleted page is hidden but kept
/// whole (restoring it is another revision); only staff edit a locked one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PageState {
    pub deleted: bool,
    pub locked: bool,
}

/// A page as it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageInfo {
    pub path: WikiPath,
    pub title: String,
    /// The current revision's number; revisions count from 1.
    pub revision: u32,
    pub updated_at: DateTime<Utc>,
    /// The current revision's state.
    #[serde(flatten)]
    pub state: PageState,
}

/// One saved version of a page. Every save makes one; nothing overwrites one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    pub number: u32,
    pub title: String,
    /// The Markdown as written.
    pub content: String,
    /// The Markdown rendered and sanitised when it was saved, shown as it is.
    pub html: String,
    /// Who saved it: a username, or `None` for an anonymous edit.
    pub author: Option<String>,
    /// The client's address, kept for anonymous edits only.
    pub address: Option<String>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// The page's state from this revision on.
    #[serde(flatten)]
    pub state: PageState,
}

/// What a save writes; the store adds the number and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevision {
    pub title: String,
    pub content: String,
    pub html: String,
    pub author: Option<String>,
    pub address: Option<String>,
    pub message: String,
    /// A new state for the page; `None` keeps the state of the revision this one follows
    /// (a new page: shown, unlocked). Rights are the caller's to check.
    pub state: Option<PageState>,
}

impl NewRevision {
    /// Checks every field against its limit, naming the one at fault.
    pub fn check(&self) -> Result<(), WikiError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(WikiError::invalid("title", "a page needs a title"));
        }
        let chars = title.chars().count();
        if chars > MAX_TITLE {
            return Err(WikiError::invalid(
                "title",
                format!("at most {MAX_TITLE} characters, not {chars}"),
            ));
        }
        if self.content.len() > MAX_CONTENT {
            return Err(WikiError::invalid(
                "content",
                format!(
                    "at most {} KB, not {} KB",
                    MAX_CONTENT / 1024,
                    self.content.len().div_ceil(1024)
                ),
            ));
        }
        let chars = self.message.chars().count();
        if chars > MAX_MESSAGE {
            return Err(WikiError::invalid(
                "message",
                format!("at most {MAX_MESSAGE} characters, not {chars}"),
            ));
        }
        for (field, text) in [
            ("title", &self.title),
            ("content", &self.content),
            ("message", &self.message),
        ] {
            if text.contains('\0') {
                return Err(WikiError::invalid(field, "may not hold a NUL character"));
            }
        }
        Ok(())
    }
}

/// Gives the page the state `change` makes of its current one, as a new revision holding
/// the current text, signed by `author`/`address` with `message`: what locking, deleting
/// and restoring save. A save landing meanwhile moves the page on, and the change is made
/// on top of it. Returns the new revision's number, or `None` when the state was so already.
pub fn restate(
    s: &dyn WikiStore,
    path: &WikiPath,
    change: impl Fn(PageState) -> PageState,
    author: Option<String>,
    address: Option<String>,
    message: &str,
) -> Result<Option<u32>, WikiError> {
    let mut last = WikiError::NotFound;
    for _ in 0..3 {
        let (info, current) = s.page(path)?.ok_or(WikiError::NotFound)?;
        let new = change(info.state);
        if new == info.state {
            return Ok(None);
        }
        let revision = NewRevision {
            title: current.title,
            content: current.content,
            html: current.html,
            author: author.clone(),
            address: address.clone(),
            message: message.to_owned(),
            state: Some(new),
        };
        match s.save(path, Some(info.revision), revision) {
            Err(stale @ WikiError::Stale { .. }) => last = stale,
            other => return other.map(Some),
        }
    }
    Err(last)
}

/// Checks a batch for [`WikiStore::import`] before anything is written: every revision
/// within its limits, no path twice.
#[cfg_attr(not(any(feature = "memory", feature = "pg")), allow(dead_code))]
pub(crate) fn check_import(pages: &[(WikiPath, NewRevision)]) -> Result<(), WikiError> {
    let mut seen = std::collections::BTreeSet::new();
    for (path, revision) in pages {
        revision.check().map_err(|e| match e {
            WikiError::Invalid { field, reason } => {
                WikiError::invalid(field, format!("{}: {reason}", path.url()))
            }
            other => other,
        })?;
        if !seen.insert(path) {
            return Err(WikiError::invalid(
                "path",
                format!("{} comes twice", path.url()),
            ));
        }
    }
    Ok(())
}

/// What an import does with one page, now at `current` (number, title, content, state), and
/// counts it in `done`: `Some(base)` to save it on `base` (`None` creates it), `None` to
/// leave it as it is.
#[cfg_attr(not(any(feature = "memory", feature = "pg")), allow(dead_code))]
pub(crate) fn import_step(
    current: Option<(u32, &str, &str, PageState)>,
    new: &NewRevision,
    done: &mut Imported,
) -> Option<Option<u32>> {
    match current {
        None => {
            done.created += 1;
            Some(None)
        }
        Some((number, title, content, state))
            if new.title.trim() != title
                || new.content != content
                || new.state.is_some_and(|s| s != state) =>
        {
            done.changed += 1;
            Some(Some(number))
        }
        Some(_) => {
            done.unchanged += 1;
            None
        }
    }
}

/// What can go wrong, named by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WikiError {
    #[error("no such page or revision")]
    NotFound,
    /// The page already exists (a create that lost a race, or a second create).
    #[error("the page already exists")]
    Exists,
    /// The page moved on since the revision the edit started from; nothing was written.
    #[error("the page has changed since revision {base}: it is at revision {current}")]
    Stale { base: u32, current: u32 },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The backend cannot answer now; trying again later may work.
    #[error("wiki store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl WikiError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        WikiError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// A line of a page's history: a revision without its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub number: u32,
    pub title: String,
    pub author: Option<String>,
    pub address: Option<String>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// The content's size in bytes, to show how much an edit changed.
    pub size: usize,
    #[serde(flatten)]
    pub state: PageState,
}

impl From<&Revision> for HistoryEntry {
    fn from(r: &Revision) -> Self {
        HistoryEntry {
            number: r.number,
            title: r.title.clone(),
            author: r.author.clone(),
            address: r.address.clone(),
            message: r.message.clone(),
            created_at: r.created_at,
            size: r.content.len(),
            state: r.state,
        }
    }
}

/// Where a match starts in a [`Hit`]'s snippet.
pub const MARK_START: char = '\u{2}';
/// Where a match ends in a [`Hit`]'s snippet.
pub const MARK_END: char = '\u{3}';

/// A page that matches a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub path: WikiPath,
    pub title: String,
    /// A stretch of the text around the matches, marked (see [`MARK_START`]).
    pub snippet: String,
    pub rank: f32,
}

/// One saved revision, for recent changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: WikiPath,
    pub title: String,
    pub number: u32,
    pub author: Option<String>,
    pub address: Option<String>,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// Which pages [`WikiStore::pages`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFilter {
    /// Case-insensitive, in the path or the title.
    pub contains: Option<String>,
    pub deleted: Option<bool>,
    pub locked: Option<bool>,
}

/// What [`WikiStore::import`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Pages that were not there.
    pub created: usize,
    /// Pages given a new revision, their title, content or state being different.
    pub changed: usize,
    /// Pages already as the import has them.
    pub unchanged: usize,
}

/// Where the wiki lives. Object-safe: hold it as `Arc<dyn WikiStore>`.
pub trait WikiStore: Send + Sync {
    /// The page at `path` and its current revision.
    fn page(&self, path: &WikiPath) -> Result<Option<(PageInfo, Revision)>, WikiError>;

    /// Saves a revision, all or nothing. `base: None` creates the page (`Exists` if it is
    /// there); `base: Some(n)` adds revision n + 1 only if the page is still at n, else
    /// `Stale` with nothing written. Returns the new revision's number. Of several saves on
    /// one page at once, each lands as the next revision or is told `Stale`/`Exists`.
    fn save(
        &self,
        path: &WikiPath,
        base: Option<u32>,
        revision: NewRevision,
    ) -> Result<u32, WikiError>;

    /// Revision `number` of the page.
    fn revision(&self, path: &WikiPath, number: u32) -> Result<Revision, WikiError>;

    /// The page's revisions, the newest first.
    fn history(&self, path: &WikiPath) -> Result<Vec<HistoryEntry>, WikiError>;

    /// The pages directly below `path`, by path; deleted pages are left out.
    fn children(&self, path: &WikiPath) -> Result<Vec<PageInfo>, WikiError>;

    /// Which of `paths` are pages, not deleted (for red links).
    fn existing(&self, paths: &[WikiPath]) -> Result<Vec<WikiPath>, WikiError>;

    /// The pages that match `query` (words, `"a phrase"`, `-not`, `or`: the syntax of web
    /// search engines), best first, at most `limit`. A match in the title ranks above one in
    /// the text. Deleted pages are never found. Each hit's snippet is plain text with the matches between [`MARK_START`] and
    /// [`MARK_END`], for the caller to escape and mark up.
    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, WikiError>;

    /// How many revisions `author` saved since `since`; for anonymous edits (`author`
    /// `None`), those from `address`. For the edit rate limit.
    fn revisions_since(
        &self,
        author: Option<&str>,
        address: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<u64, WikiError>;

    /// Every page's revisions, the newest first: `limit` of them after skipping `offset`.
    fn recent(&self, offset: usize, limit: usize) -> Result<Vec<Change>, WikiError>;

    /// The pages `filter` asks for, deleted ones too unless it says otherwise, by path:
    /// `limit` of them after skipping `offset`, and how many match in all.
    fn pages(
        &self,
        filter: &PageFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<PageInfo>, u64), WikiError>;

    /// Loads pages all or nothing: each page is created, given a new revision when its
    /// title, content or state (when given) differ from its current ones, or left as it is,
    /// so loading the same pages twice adds nothing. A refused page (a limit, a path twice)
    /// loads none.
    fn import(&self, pages: Vec<(WikiPath, NewRevision)>) -> Result<Imported, WikiError>;

    /// Answers when the store can serve requests (readiness).
    fn ping(&self) -> Result<(), WikiError> {
        self.page(&WikiPath::root()).map(drop)
    }
}
