//! The wiki's pages: `/wiki/<path>/` shows a page (or offers to create it),
//! `<path>/_edit/` edits it, `<path>/_history/` lists its revisions, `<path>/_diff/` compares
//! two, `<path>/_revert/` (POST) brings an old one back as a new revision; and
//! `/api/wiki/pages/<path>` gives it as JSON. Staff delete (`_delete/`, with a confirmation),
//! restore, lock and unlock a page; each is a revision of its own, so nothing is lost and the
//! history says who did it. Views are words starting with `_`, which no slug can, so no page
//! hides a view.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};
use web::actix_web::http::{header, StatusCode};
use web::actix_web::web::{block, Data, Form, Path, Query};
use web::actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use web::{identity, AppError, ErrorChain, Templates};

use crate::markdown::{self, linked_paths, mark_missing};
use crate::merge::{self, has_markers, three_way, Merged};
use crate::path::WikiPath;
use crate::store::{
    restate, Change, Hit, NewRevision, PageInfo, PageState, Revision, WikiError, WikiStore,
    MARK_END, MARK_START,
};
use crate::State;

/// What a wiki address asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Page,
    Edit,
    History,
    Diff,
    Revert,
    Search,
    Recent,
    /// An Atom feed: of the whole wiki's recent changes at the root, else of the page's.
    Feed,
    /// Staff only; the rest take a POST.
    Delete,
    Restore,
    Lock,
    Unlock,
}

/// `tactics/terrain/_edit/` → the page and the view.
fn split(tail: &str) -> Result<(WikiPath, View), AppError> {
    let trimmed = tail.trim_matches('/');
    let (page, view) = match trimmed.rsplit_once('/') {
        Some((page, last)) if last.starts_with('_') => (page, last),
        None if trimmed.starts_with('_') => ("", trimmed),
        _ => (trimmed, ""),
    };
    let view = match view {
        "" => View::Page,
        "_edit" => View::Edit,
        "_history" => View::History,
        "_diff" => View::Diff,
        "_revert" => View::Revert,
        "_delete" => View::Delete,
        "_restore" => View::Restore,
        "_lock" => View::Lock,
        "_unlock" => View::Unlock,
        "_search" if page.is_empty() => View::Search,
        "_recent" if page.is_empty() => View::Recent,
        "_feed" => View::Feed,
        other => {
            return Err(AppError::not_found(format!(
                "The wiki has no view {other:?}."
            )))
        }
    };
    let path = WikiPath::parse(page).map_err(|e| AppError::not_found(e.to_string()))?;
    Ok((path, view))
}

fn wiki_error(e: WikiError) -> AppError {
    match e {
        WikiError::NotFound => AppError::not_found("There is no such page or revision."),
        WikiError::Invalid { field, reason } => AppError::bad_request(format!("{field}: {reason}")),
        WikiError::Unavailable(source) => {
            AppError::unavailable(format!("{:#}", ErrorChain(&*source)))
        }
        other => AppError::conflict(other.to_string()),
    }
}

async fn run<T, F>(state: &Data<State>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn WikiStore) -> Result<T, WikiError> + Send + 'static,
    T: Send + 'static,
{
    let store = state.store.clone();
    block(move || f(&*store)).await?.map_err(wiki_error)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Who writes: a signed-in user, or an anonymous visitor by address when the settings allow.
struct Writer {
    author: Option<String>,
    address: Option<String>,
    /// Staff lock, delete and restore pages, and edit locked ones.
    staff: bool,
}

fn writer(req: &HttpRequest, state: &State) -> Option<Writer> {
    match identity(req) {
        Some(who) => Some(Writer {
            author: Some(who.username),
            address: None,
            staff: who.is_staff || who.is_superuser,
        }),
        None if state.settings.anonymous_write => Some(Writer {
            author: None,
            address: web::client_addr(req).map(|a| a.to_string()),
            staff: false,
        }),
        None => None,
    }
}

fn is_staff(req: &HttpRequest) -> bool {
    identity(req).is_some_and(|who| who.is_staff || who.is_superuser)
}

/// Why `state` keeps an edit out, if it does: a deleted page is restored first, a locked
/// one is edited by staff only.
fn refusal(state: PageState, staff: bool) -> Option<AppError> {
    if state.deleted {
        Some(AppError::conflict(
            "This page was deleted: it must be restored before it is edited.",
        ))
    } else if state.locked && !staff {
        Some(AppError::forbidden(
            "This page is locked: only staff may edit it.",
        ))
    } else {
        None
    }
}

/// A deleted page, to anyone but staff: 404, saying so.
fn hidden(info: &PageInfo, req: &HttpRequest) -> Result<(), AppError> {
    if info.state.deleted && !is_staff(req) {
        return Err(AppError::not_found("This page was deleted."));
    }
    Ok(())
}

/// The sign-in page, coming back here after.
fn sign_in(req: &HttpRequest, state: &State) -> HttpResponse {
    match &state.login_url {
        Some(login) => {
            let here = req.uri().path_and_query().map_or("/wiki/", |p| p.as_str());
            let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
            see_other(&format!("{login}?next={next}"))
        }
        None => AppError::forbidden("Sign in to edit the wiki.").error_response(),
    }
}

#[derive(Serialize)]
struct Crumb {
    url: String,
    label: String,
}

fn crumbs(path: &WikiPath) -> Vec<Crumb> {
    path.ancestors()
        .into_iter()
        .map(|p| Crumb {
            url: p.url(),
            label: if p.is_root() {
                "Wiki".to_owned()
            } else {
                p.slug().to_owned()
            },
        })
        .collect()
}

fn page_context(
    req: &HttpRequest,
    t: &Templates,
    path: &WikiPath,
    state: &State,
) -> web::tera::Context {
    let mut ctx = t.context(req);
    ctx.insert("path", path.as_str());
    ctx.insert("url", &path.url());
    ctx.insert("crumbs", &crumbs(path));
    ctx.insert("slug", path.slug());
    ctx.insert("can_write", &writer(req, state).is_some());
    ctx.insert("staff", &is_staff(req));
    ctx
}

/// `/wiki` → `/wiki/`.
pub(crate) async fn to_root() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/wiki/"))
        .finish()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    q: Option<String>,
    page: Option<String>,
    revision: Option<String>,
    from: Option<String>,
    to: Option<String>,
    merged: Option<String>,
}

fn revision_number(name: &str, raw: Option<&str>) -> Result<Option<u32>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<u32>().map(Some).map_err(|_| {
            AppError::bad_request(format!("{name} must be a revision number, not {s:?}"))
        }),
    }
}

pub(crate) async fn show(
    req: HttpRequest,
    tail: Path<String>,
    query: Query<ShowQuery>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let (path, view) = split(&tail)?;
    if !req.path().ends_with('/') {
        let mut to = format!("{}/", req.path());
        if let Some(q) = req.uri().query() {
            to = format!("{to}?{q}");
        }
        return Ok(HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, to))
            .finish());
    }
    match view {
        View::Page => page(&req, path, &query, &state, &t).await,
        View::Edit => match writer(&req, &state) {
            Some(_) => edit_form(&req, path, &state, &t).await,
            None => Ok(sign_in(&req, &state)),
        },
        View::History => history(&req, path, &state, &t).await,
        View::Diff => diff(&req, path, &query, &state, &t).await,
        View::Delete if is_staff(&req) => confirm_delete(&req, path, &state, &t).await,
        View::Revert | View::Delete | View::Restore | View::Lock | View::Unlock => Err(
            AppError::not_found("That is done from the page's buttons: it takes a POST."),
        ),
        View::Search => search(&req, &query, &state, &t).await,
        View::Recent => recent(&req, &query, &state, &t).await,
        View::Feed => feed(&req, path, &state).await,
    }
}

async fn page(
    req: &HttpRequest,
    path: WikiPath,
    query: &ShowQuery,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let wanted = revision_number("revision", query.revision.as_deref())?;
    let look = path.clone();
    let found = run(state, move |s| {
        let Some(shown) = Shown::read(s, &look, wanted)? else {
            return Ok(None);
        };
        Ok(Some((shown, s.children(&look)?)))
    })
    .await?;
    let mut ctx = page_context(req, t, &path, state);
    let Some((shown, children)) = found else {
        ctx.insert("missing", &true);
        ctx.insert("title", &title_from_slug(&path));
        return Ok(html(
            StatusCode::NOT_FOUND,
            t.render_to_string("wiki/page.html", &ctx)?,
        ));
    };
    let body = shown.body();
    let Shown {
        info,
        revision: shown,
        ..
    } = shown;
    if info.state.deleted && !is_staff(req) {
        ctx.insert("missing", &false);
        ctx.insert("deleted", &true);
        ctx.insert("title", &info.title);
        return Ok(html(
            StatusCode::NOT_FOUND,
            t.render_to_string("wiki/page.html", &ctx)?,
        ));
    }
    ctx.insert("missing", &false);
    ctx.insert("deleted", &false);
    ctx.insert("info", &info);
    ctx.insert("title", &shown.title);
    ctx.insert("body", &body);
    ctx.insert("revision", &shown);
    ctx.insert("current", &info.revision);
    ctx.insert("old", &(shown.number != info.revision));
    ctx.insert("children", &children);
    ctx.insert(
        "merged",
        &revision_number("merged", query.merged.as_deref()).unwrap_or(None),
    );
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/page.html", &ctx)?,
    ))
}

/// A page's revision as it is shown, with which of the pages it links to exist.
struct Shown {
    info: PageInfo,
    revision: Revision,
    links: Vec<WikiPath>,
    existing: Vec<WikiPath>,
}

impl Shown {
    /// The page at `path` with its revision `wanted` (the current one by default); `None`
    /// when there is no such page.
    fn read(
        s: &dyn WikiStore,
        path: &WikiPath,
        wanted: Option<u32>,
    ) -> Result<Option<Shown>, WikiError> {
        let Some((info, current)) = s.page(path)? else {
            return Ok(None);
        };
        let revision = match wanted {
            Some(n) if n != current.number => s.revision(path, n)?,
            _ => current,
        };
        let links = linked_paths(&revision.html);
        let existing = s.existing(&links)?;
        Ok(Some(Shown {
            info,
            revision,
            links,
            existing,
        }))
    }

    /// The revision's kept HTML, its links to missing pages marked.
    fn body(&self) -> String {
        mark_missing(&self.revision.html, &self.links, &self.existing)
    }
}

/// A title for a page that does not exist yet: its slug in words.
fn title_from_slug(path: &WikiPath) -> String {
    if path.is_root() {
        return "Wiki".to_owned();
    }
    let words = path.slug().replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// What the edit form shows.
#[derive(Default, Serialize)]
struct EditPage {
    title: String,
    content: String,
    message: String,
    /// The revision the edit starts from; `None` for a new page.
    base: Option<u32>,
    preview: Option<String>,
    /// A field at fault and why.
    error: Option<(String, String)>,
    /// After a conflict: the editor's text and the page's, beside the draft.
    conflict: Option<Conflict>,
}

#[derive(Serialize)]
struct Conflict {
    mine: String,
    theirs: String,
    revision: u32,
}

async fn edit_form(
    req: &HttpRequest,
    path: WikiPath,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let look = path.clone();
    let current = run(state, move |s| s.page(&look)).await?;
    if let Some((info, _)) = &current {
        hidden(info, req)?;
        if let Some(refused) = refusal(info.state, is_staff(req)) {
            return Err(refused);
        }
    }
    let form = match current {
        Some((_, rev)) => EditPage {
            title: rev.title,
            content: rev.content,
            base: Some(rev.number),
            ..EditPage::default()
        },
        None => EditPage {
            title: title_from_slug(&path),
            ..EditPage::default()
        },
    };
    render_edit(req, t, &path, state, StatusCode::OK, &form)
}

fn render_edit(
    req: &HttpRequest,
    t: &Templates,
    path: &WikiPath,
    state: &State,
    status: StatusCode,
    form: &EditPage,
) -> Result<HttpResponse, AppError> {
    let mut ctx = page_context(req, t, path, state);
    ctx.insert("form", form);
    Ok(html(status, t.render_to_string("wiki/edit.html", &ctx)?))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    base: String,
    /// Set by the preview button.
    preview: Option<String>,
    /// For a revert: the revision to bring back.
    revision: Option<String>,
}

pub(crate) async fn submit(
    req: HttpRequest,
    tail: Path<String>,
    form: Form<EditForm>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let (path, view) = split(&tail)?;
    let Some(who) = writer(&req, &state) else {
        return Err(AppError::forbidden("Sign in to edit the wiki."));
    };
    let is_save = matches!(view, View::Edit if form.preview.is_none()) || view == View::Revert;
    if is_save {
        rate_limited(&who, &state).await?;
    }
    let change = |deleted: Option<bool>, locked: Option<bool>, verb: &'static str| StateChange {
        deleted,
        locked,
        verb,
    };
    let change =
        match view {
            View::Edit => return save(&req, path, form.into_inner(), who, &state, &t).await,
            View::Revert => return revert(path, form.into_inner(), who, &state).await,
            View::Delete => change(Some(true), None, "Deleted"),
            View::Restore => change(Some(false), None, "Restored"),
            View::Lock => change(None, Some(true), "Locked"),
            View::Unlock => change(None, Some(false), "Unlocked"),
            _ => return Err(AppError::not_found(
                "Only a page's edit, revert, delete, restore, lock and unlock views take a POST.",
            )),
        };
    if !who.staff {
        return Err(AppError::forbidden(
            "Only staff may delete, restore, lock or unlock a page.",
        ));
    }
    set_state(path, change, form.into_inner(), who, &state).await
}

/// A 429 when `who` has saved `[wiki] edits_per_hour` revisions in the last hour.
async fn rate_limited(who: &Writer, state: &Data<State>) -> Result<(), AppError> {
    let limit = u64::from(state.settings.edits_per_hour);
    let (author, address) = (who.author.clone(), who.address.clone());
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let saved = run(state, move |s| {
        s.revisions_since(author.as_deref(), address.as_deref(), since)
    })
    .await?;
    if saved < limit {
        return Ok(());
    }
    Err(AppError::too_many(
        format!(
            "You have saved {saved} revisions in the last hour, the most this wiki takes ({limit} an hour). Nothing was saved; try again later."
        ),
        3600,
    ))
}

/// What a save came to.
enum Saved {
    Landed {
        merged_with: Option<u32>,
    },
    Conflict {
        draft: String,
        theirs: String,
        revision: u32,
    },
    /// The page is deleted, or locked to this writer.
    Refused(PageState),
}

async fn save(
    req: &HttpRequest,
    path: WikiPath,
    mut form: EditForm,
    who: Writer,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let base = revision_number("base", Some(&form.base))?;
    form.content = merge::from_textarea(&form.content);
    let mut page = EditPage {
        title: form.title.clone(),
        content: form.content.clone(),
        message: form.message.clone(),
        base,
        ..EditPage::default()
    };
    if form.preview.is_some() {
        page.preview = Some(markdown::render(&form.content).html);
        return render_edit(req, t, &path, state, StatusCode::OK, &page);
    }
    if has_markers(&form.content) {
        page.error = Some((
            "content".into(),
            "still holds conflict markers (<<<<<<< and >>>>>>>): keep what should stay and remove them".into(),
        ));
        return render_edit(req, t, &path, state, StatusCode::BAD_REQUEST, &page);
    }
    let store = state.store.clone();
    let target = path.clone();
    let mine = form.content.clone();
    let outcome = block(move || save_merging(&*store, &target, base, form, who)).await?;
    match outcome {
        Ok(Saved::Landed {
            merged_with: Some(n),
        }) => Ok(see_other(&format!("{}?merged={n}", path.url()))),
        Ok(Saved::Landed { .. }) => Ok(see_other(&path.url())),
        Ok(Saved::Refused(now)) => {
            Err(refusal(now, false).unwrap_or_else(|| AppError::forbidden("Refused.")))
        }
        Ok(Saved::Conflict {
            draft,
            theirs,
            revision,
        }) => {
            page.content = draft;
            page.base = Some(revision);
            page.conflict = Some(Conflict {
                mine,
                theirs,
                revision,
            });
            render_edit(req, t, &path, state, StatusCode::CONFLICT, &page)
        }
        Err(WikiError::Invalid { field, reason }) => {
            page.error = Some((field.to_owned(), reason));
            render_edit(req, t, &path, state, StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(wiki_error(e)),
    }
}

/// Saves the edit; if the page moved on since its base, merges the edit with what was
/// saved meanwhile and saves that, or gives the conflict. Nothing the editor typed is lost:
/// a conflict saves nothing and hands their text back.
fn save_merging(
    s: &dyn WikiStore,
    path: &WikiPath,
    mut base: Option<u32>,
    form: EditForm,
    who: Writer,
) -> Result<Saved, WikiError> {
    let mut content = form.content;
    let mut merged_with = None;
    // The state checked is the one the save lands on: a save from revision n lands only
    // while the page is at n, and a newer revision is read again below.
    if let Some((info, _)) = s.page(path)? {
        if refusal(info.state, who.staff).is_some() {
            return Ok(Saved::Refused(info.state));
        }
    }
    // Each round either lands, conflicts, or merges with a newer revision; three rounds
    // lose only to a page saved three times during one request.
    for _ in 0..3 {
        let mut message = form.message.trim().to_owned();
        if let Some(n) = merged_with {
            message = format!("{message} (merged with revision {n})")
                .trim()
                .to_owned();
        }
        let revision = NewRevision {
            title: form.title.clone(),
            html: markdown::render(&content).html,
            content: content.clone(),
            author: who.author.clone(),
            address: who.address.clone(),
            message,
            state: None,
        };
        let base_text = match s.save(path, base, revision) {
            Ok(_) => return Ok(Saved::Landed { merged_with }),
            Err(WikiError::Stale { base: b, .. }) => s.revision(path, b)?.content,
            // Created by someone else meanwhile: both started from nothing.
            Err(WikiError::Exists) => String::new(),
            Err(e) => return Err(e),
        };
        let (info, now) = s.page(path)?.ok_or(WikiError::NotFound)?;
        if refusal(info.state, who.staff).is_some() {
            return Ok(Saved::Refused(info.state));
        }
        match three_way(&base_text, &content, &now.content) {
            Merged::Clean(merged) => {
                content = merged;
                base = Some(now.number);
                merged_with = Some(now.number);
            }
            Merged::Conflict(draft) => {
                return Ok(Saved::Conflict {
                    draft,
                    theirs: now.content,
                    revision: now.number,
                })
            }
        }
    }
    let current = s.page(path)?.map_or(0, |(info, _)| info.revision);
    Err(WikiError::Stale {
        base: base.unwrap_or(0),
        current,
    })
}

async fn revert(
    path: WikiPath,
    form: EditForm,
    who: Writer,
    state: &Data<State>,
) -> Result<HttpResponse, AppError> {
    let wanted = revision_number("revision", form.revision.as_deref())?
        .ok_or_else(|| AppError::bad_request("revision: which revision to bring back?"))?;
    let base = revision_number("base", Some(&form.base))?
        .ok_or_else(|| AppError::bad_request("base: the revision the page is at"))?;
    let target = path.clone();
    let staff = who.staff;
    let refused = run(state, move |s| {
        let (info, _) = s.page(&target)?.ok_or(WikiError::NotFound)?;
        if info.revision == base {
            if let Some(refused) = refusal(info.state, staff) {
                return Ok(Some(refused));
            }
        }
        let old = s.revision(&target, wanted)?;
        s.save(
            &target,
            Some(base),
            NewRevision {
                title: old.title,
                content: old.content,
                html: old.html,
                author: who.author,
                address: who.address,
                message: format!("Reverted to revision {wanted}"),
                state: None,
            },
        )?;
        Ok(None)
    })
    .await?;
    match refused {
        Some(refused) => Err(refused),
        None => Ok(see_other(&path.url())),
    }
}

/// What a staff action sets; `None` keeps that part of the state.
struct StateChange {
    deleted: Option<bool>,
    locked: Option<bool>,
    /// The revision's message: "Deleted".
    verb: &'static str,
}

/// `_delete/`: what deleting means, and the button.
async fn confirm_delete(
    req: &HttpRequest,
    path: WikiPath,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let look = path.clone();
    let (info, children) = run(state, move |s| {
        let (info, _) = s.page(&look)?.ok_or(WikiError::NotFound)?;
        Ok((info, s.children(&look)?))
    })
    .await?;
    let mut ctx = page_context(req, t, &path, state);
    ctx.insert("title", &info.title);
    ctx.insert("info", &info);
    ctx.insert("children", &children);
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/delete.html", &ctx)?,
    ))
}

/// Deletes, restores, locks or unlocks: a new revision with the current text and the new
/// state, so the history shows who did it and when, and nothing is lost.
async fn set_state(
    path: WikiPath,
    change: StateChange,
    form: EditForm,
    who: Writer,
    state: &Data<State>,
) -> Result<HttpResponse, AppError> {
    let target = path.clone();
    let message = match form.message.trim() {
        "" => change.verb.to_owned(),
        why => format!("{}: {why}", change.verb),
    };
    let new_state = move |now: PageState| PageState {
        deleted: change.deleted.unwrap_or(now.deleted),
        locked: change.locked.unwrap_or(now.locked),
    };
    run(state, move |s| {
        restate(s, &target, new_state, who.author, who.address, &message)
    })
    .await?;
    Ok(see_other(&path.url()))
}

async fn history(
    req: &HttpRequest,
    path: WikiPath,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let look = path.clone();
    let (info, entries) = run(state, move |s| {
        let (info, _) = s.page(&look)?.ok_or(WikiError::NotFound)?;
        Ok((info, s.history(&look)?))
    })
    .await?;
    hidden(&info, req)?;
    let mut ctx = page_context(req, t, &path, state);
    ctx.insert("title", &info.title);
    ctx.insert("current", &info.revision);
    ctx.insert("info", &info);
    ctx.insert("entries", &with_when(&entries, |e| e.created_at));
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/history.html", &ctx)?,
    ))
}

/// A line of a diff, with the words that changed in it marked.
#[derive(Serialize)]
struct DiffLine {
    tag: &'static str,
    parts: Vec<(bool, String)>,
}

/// Line by line, and word by word inside a changed line (similar).
fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let diff = TextDiff::from_lines(old, new);
    let mut lines = Vec::new();
    for op in diff.ops() {
        for change in diff.iter_inline_changes(op) {
            let tag = match change.tag() {
                ChangeTag::Equal => "equal",
                ChangeTag::Delete => "delete",
                ChangeTag::Insert => "insert",
            };
            let parts = change
                .iter_strings_lossy()
                .map(|(emphasized, text)| (emphasized, text.trim_end_matches('\n').to_owned()))
                .collect();
            lines.push(DiffLine { tag, parts });
        }
    }
    lines
}

async fn diff(
    req: &HttpRequest,
    path: WikiPath,
    query: &ShowQuery,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let from = revision_number("from", query.from.as_deref())?;
    let to = revision_number("to", query.to.as_deref())?;
    let look = path.clone();
    let (info, older, newer): (PageInfo, Revision, Revision) = run(state, move |s| {
        let (info, current) = s.page(&look)?.ok_or(WikiError::NotFound)?;
        let newer = match to {
            Some(n) if n != current.number => s.revision(&look, n)?,
            _ => current,
        };
        let older = s.revision(&look, from.unwrap_or(newer.number.saturating_sub(1).max(1)))?;
        Ok((info, older, newer))
    })
    .await?;
    hidden(&info, req)?;
    let mut ctx = page_context(req, t, &path, state);
    ctx.insert("title", &info.title);
    ctx.insert("older", &older);
    ctx.insert("newer", &newer);
    ctx.insert("title_changed", &(older.title != newer.title));
    ctx.insert("lines", &diff_lines(&older.content, &newer.content));
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/diff.html", &ctx)?,
    ))
}

#[derive(Serialize)]
struct ApiPage {
    path: String,
    url: String,
    title: String,
    markdown: String,
    html: String,
    revision: u32,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// Only staff may edit it.
    locked: bool,
    /// Shown to staff only; anyone else gets 404.
    deleted: bool,
}

/// `GET /api/wiki/pages/<path>`: the page's title, Markdown, rendered HTML and revision.
pub(crate) async fn api_page(
    req: HttpRequest,
    tail: Path<String>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let path = WikiPath::parse(&tail).map_err(|e| AppError::not_found(e.to_string()))?;
    let look = path.clone();
    let found = run(&state, move |s| Shown::read(s, &look, None)).await?;
    let Some(shown) = found else {
        return Err(AppError::not_found(format!(
            "There is no page at {:?}.",
            path.as_str()
        )));
    };
    hidden(&shown.info, &req)?;
    let html = shown.body();
    let Shown {
        info,
        revision: current,
        ..
    } = shown;
    Ok(HttpResponse::Ok().json(ApiPage {
        path: path.to_string(),
        url: path.url(),
        title: info.title,
        html,
        markdown: current.content,
        revision: current.number,
        updated_at: info.updated_at,
        locked: info.state.locked,
        deleted: info.state.deleted,
    }))
}

/// Hits a page shows at most.
const HITS: usize = 50;

/// Changes a page of recent changes shows.
const CHANGES: usize = 50;

/// A hit as a page shows it: the snippet escaped, its matches in `<mark>`.
#[derive(Serialize)]
struct ShownHit {
    path: String,
    url: String,
    title: String,
    snippet: String,
}

impl From<Hit> for ShownHit {
    fn from(h: Hit) -> Self {
        let escaped = markdown::escape(&h.snippet);
        ShownHit {
            url: h.path.url(),
            path: h.path.to_string(),
            title: h.title,
            snippet: escaped
                .replace(MARK_START, "<mark>")
                .replace(MARK_END, "</mark>"),
        }
    }
}

async fn find(state: &Data<State>, q: &str) -> Result<Vec<ShownHit>, AppError> {
    let q = q.trim().to_owned();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    if q.chars().count() > 200 {
        return Err(AppError::bad_request("q: at most 200 characters"));
    }
    let hits = run(state, move |s| s.search(&q, HITS)).await?;
    Ok(hits.into_iter().map(ShownHit::from).collect())
}

async fn search(
    req: &HttpRequest,
    query: &ShowQuery,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let q = query.q.clone().unwrap_or_default();
    let hits = find(state, &q).await?;
    let mut ctx = page_context(req, t, &WikiPath::root(), state);
    ctx.insert("title", "Search");
    ctx.insert("q", q.trim());
    ctx.insert("hits", &hits);
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/search.html", &ctx)?,
    ))
}

fn page_number(raw: Option<&str>) -> Result<usize, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(1),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=100_000).contains(&n))
            .ok_or_else(|| AppError::bad_request(format!("page must be a page number, not {s:?}"))),
    }
}

/// A page of recent changes and whether there is a next one.
async fn changes(state: &Data<State>, page: usize) -> Result<(Vec<Change>, bool), AppError> {
    let offset = (page - 1) * CHANGES;
    let mut changes = run(state, move |s| s.recent(offset, CHANGES + 1)).await?;
    let more = changes.len() > CHANGES;
    changes.truncate(CHANGES);
    Ok((changes, more))
}

async fn recent(
    req: &HttpRequest,
    query: &ShowQuery,
    state: &Data<State>,
    t: &Templates,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.page.as_deref())?;
    let (changes, more) = changes(state, page).await?;
    let mut ctx = page_context(req, t, &WikiPath::root(), state);
    ctx.insert("title", "Recent changes");
    ctx.insert("changes", &with_when(&changes, |c| c.created_at));
    ctx.insert("page", &page);
    ctx.insert(
        "previous",
        &(page > 1).then(|| format!("/wiki/_recent/?page={}", page - 1)),
    );
    ctx.insert(
        "next",
        &more.then(|| format!("/wiki/_recent/?page={}", page + 1)),
    );
    Ok(html(
        StatusCode::OK,
        t.render_to_string("wiki/recent.html", &ctx)?,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApiQuery {
    q: Option<String>,
    page: Option<String>,
}

/// `GET /api/wiki/search?q=`: the matching pages, best first, with marked snippets.
pub(crate) async fn api_search(
    query: Query<ApiQuery>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.clone().unwrap_or_default();
    let hits = find(&state, &q).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "query": q.trim(), "hits": hits })))
}

/// `GET /api/wiki/recent?page=N`: every page's revisions, the newest first.
pub(crate) async fn api_recent(
    query: Query<ApiQuery>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.page.as_deref())?;
    let (changes, more) = changes(&state, page).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "page": page, "changes": changes, "has_next": more })))
}

/// How many changes a feed carries.
const FEED_ENTRIES: usize = 50;

/// `_feed/`: the latest changes as Atom (RFC 4287), of the whole wiki at the root (as recent
/// changes) and of one page elsewhere (as its history). Each entry links to its diff.
async fn feed(
    req: &HttpRequest,
    path: WikiPath,
    state: &Data<State>,
) -> Result<HttpResponse, AppError> {
    let look = path.clone();
    let (page, changes) = run(state, move |s| {
        if look.is_root() {
            return Ok((None, s.recent(0, FEED_ENTRIES)?));
        }
        let (info, _) = s.page(&look)?.ok_or(WikiError::NotFound)?;
        let changes = s
            .history(&look)?
            .into_iter()
            .take(FEED_ENTRIES)
            .map(|h| Change {
                path: look.clone(),
                title: h.title,
                number: h.number,
                author: h.author,
                address: h.address,
                message: h.message,
                created_at: h.created_at,
            })
            .collect();
        Ok((Some(info), changes))
    })
    .await?;
    if let Some(info) = &page {
        hidden(info, req)?;
    }
    let title = page.map_or_else(|| "Recent changes".to_owned(), |p| p.title);
    let site = {
        let conn = req.connection_info();
        format!("{}://{}", conn.scheme(), conn.host())
    };
    let xml = atom(&site, &path, &title, &changes);
    Ok(HttpResponse::Ok()
        .content_type("application/atom+xml; charset=utf-8")
        .body(xml))
}

/// The feed's XML. Every address in it is absolute, as feed readers need.
fn atom(site: &str, path: &WikiPath, title: &str, changes: &[Change]) -> String {
    use atom_syndication::{Entry, Feed, Link, Person, Text};
    let link = |href: String, rel: &str| Link {
        href,
        rel: rel.to_owned(),
        ..Link::default()
    };
    let (feed_title, alternate) = if path.is_root() {
        (
            "Wiki: recent changes".to_owned(),
            "/wiki/_recent/".to_owned(),
        )
    } else {
        (format!("Wiki: {title}"), format!("{}_history/", path.url()))
    };
    let entries = changes
        .iter()
        .map(|c| {
            let page = c.path.url();
            let href = if c.number > 1 {
                format!("{site}{page}_diff/?from={}&to={}", c.number - 1, c.number)
            } else {
                format!("{site}{page}?revision=1")
            };
            let who = c
                .author
                .clone()
                .or_else(|| c.address.clone())
                .unwrap_or_else(|| "anonymous".to_owned());
            let summary = match c.message.as_str() {
                "" if c.number == 1 => "Created".to_owned(),
                "" => format!("Revision {}", c.number),
                message => message.to_owned(),
            };
            Entry {
                title: Text::plain(format!("{} (revision {})", c.title, c.number)),
                id: format!("{site}{page}?revision={}", c.number),
                updated: c.created_at.fixed_offset(),
                authors: vec![Person {
                    name: who,
                    ..Person::default()
                }],
                links: vec![link(href, "alternate")],
                summary: Some(Text::plain(summary)),
                ..Entry::default()
            }
        })
        .collect::<Vec<_>>();
    let updated = changes
        .first()
        .map_or_else(|| chrono::DateTime::UNIX_EPOCH, |c| c.created_at);
    let feed = Feed {
        title: Text::plain(feed_title),
        id: format!("{site}{}_feed/", path.url()),
        updated: updated.fixed_offset(),
        links: vec![
            link(format!("{site}{}_feed/", path.url()), "self"),
            link(format!("{site}{alternate}"), "alternate"),
        ],
        entries,
        ..Feed::default()
    };
    feed.to_string()
}

/// A time as the pages show it: to the minute for people, to the second for machines.
#[derive(Serialize)]
struct When {
    /// `2026-11-29T15:48:43Z`, for `<time datetime>`.
    iso: String,
    /// `2026-11-29 15:48 UTC`.
    shown: String,
}

impl From<chrono::DateTime<chrono::Utc>> for When {
    fn from(at: chrono::DateTime<chrono::Utc>) -> Self {
        When {
            iso: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            shown: at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// A store's row with its time made readable: the row's own fields, and `when`. Tera 2 has
/// no date filter, and the store's types stay as the API gives them.
#[derive(Serialize)]
struct WithWhen<'a, T> {
    #[serde(flatten)]
    row: &'a T,
    when: When,
}

fn with_when<T>(
    rows: &[T],
    at: impl Fn(&T) -> chrono::DateTime<chrono::Utc>,
) -> Vec<WithWhen<'_, T>> {
    rows.iter()
        .map(|row| WithWhen {
            row,
            when: at(row).into(),
        })
        .collect()
}
