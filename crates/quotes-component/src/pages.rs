//! The quotes pages: home, the paged list with the quote of the day, one quote.
//!
//! What a page costs does not grow with the quotes: the version and the count come from
//! the store's stats, the pick is one index lookup, pages are read from the nearer end or
//! after a keyset cursor. The body of `/quotes` is the same for every visitor, so it is
//! rendered once per version of the quotes and kept in the site's cache (when one runs);
//! pages and API answers carry an ETag and a Last-Modified, and a client that has the
//! current version gets 304.

use std::time::{Duration, SystemTime};

use chrono::{Datelike, Utc};
use quotes_core::{Cursor, Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError, StoreStats};
use serde::{Deserialize, Serialize};
use web::actix_web::http::header::ContentType;
use web::actix_web::web::{block, Bytes, Data, Path, Query};
use web::actix_web::{HttpRequest, HttpResponse};
use web::cache::{digest, viewer, Validators};
use web::{AppError, Pager, Templates};

use crate::{store_error, State};

/// The template of the cached body of `/quotes`; its digest is part of the cache keys, so
/// that two releases sharing a cache never take each other's pages.
pub(crate) const LIST_BODY: &str = include_str!("../templates/quotes/list_body.html");

/// Runs a store call on the blocking pool: stores may do synchronous I/O.
pub(crate) async fn blocking<T, F>(state: &Data<State>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn QuoteStore) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = state.store.clone();
    block(move || f(&*store)).await?.map_err(store_error)
}

/// `?page=N&per_page=M` (and the pager's `after=ID` / `before=ID`), read as text so that
/// a bad value gets a helpful 400.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

fn number<T: std::str::FromStr>(name: &str, raw: Option<&str>) -> Result<Option<T>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<T>().map(Some).map_err(|_| {
            AppError::bad_request(format!("{name} must be a positive whole number, not {s:?}"))
        }),
    }
}

impl PageQuery {
    /// The page asked for; `default_per_page` when the request names none.
    pub(crate) fn parse(&self, default_per_page: u32) -> Result<PageRequest, AppError> {
        let page = number::<u32>("page", self.page.as_deref())?.unwrap_or(1);
        let per_page =
            number::<u32>("per_page", self.per_page.as_deref())?.unwrap_or(default_per_page);
        PageRequest::new(page, per_page).map_err(|e| AppError::bad_request(e.to_string()))
    }

    /// The keyset cursor of a pager's link, if the request has one.
    pub(crate) fn cursor(&self) -> Result<Option<Cursor>, AppError> {
        let after = number::<i64>("after", self.after.as_deref())?;
        let before = number::<i64>("before", self.before.as_deref())?;
        match (after, before) {
            (Some(_), Some(_)) => Err(AppError::bad_request(
                "a page starts after one quote or ends before one, not both",
            )),
            (Some(id), None) => Ok(Some(Cursor::After(QuoteId(id)))),
            (None, Some(id)) => Ok(Some(Cursor::Before(QuoteId(id)))),
            (None, None) => Ok(None),
        }
    }
}

/// `after-ID`, `before-ID` or `-`: for cache keys.
pub(crate) fn cursor_key(cursor: Option<Cursor>) -> String {
    match cursor {
        Some(Cursor::After(id)) => format!("after-{}", id.0),
        Some(Cursor::Before(id)) => format!("before-{}", id.0),
        None => "-".into(),
    }
}

pub(crate) fn parse_id(raw: &str) -> Result<QuoteId, AppError> {
    raw.parse()
        .map_err(|_| AppError::not_found(format!("There is no quote with id {raw:?}.")))
}

/// The quote `id`, or a 404.
pub(crate) async fn get_quote(state: &Data<State>, id: QuoteId) -> Result<Quote, AppError> {
    blocking(state, move |s| s.get(id)).await
}

/// The quote of the day changes at midnight UTC.
fn day_seed() -> u64 {
    u64::try_from(Utc::now().date_naive().num_days_from_ce()).unwrap_or_default()
}

/// The store's version, remembered for `[quotes] recheck_ms` (see `watched.rs`).
pub(crate) async fn version(state: &Data<State>) -> Result<StoreStats, AppError> {
    if let Some(stats) = state.store.remembered() {
        return Ok(stats);
    }
    let store = state.store.clone();
    block(move || store.version()).await?.map_err(store_error)
}

/// `epoch.generation`: names one version of the quotes.
pub(crate) fn version_tag(v: &StoreStats) -> String {
    format!("{:x}.{}", v.epoch, v.generation)
}

/// When the quotes last changed, for Last-Modified.
pub(crate) fn changed_at(v: &StoreStats) -> Option<SystemTime> {
    v.changed_at.map(SystemTime::from)
}

impl State {
    /// The cached value under `key`, if the site has a cache and holds it.
    pub(crate) async fn cached(&self, key: &str) -> Option<Bytes> {
        let cache = self.cache.clone()?;
        if !cache.blocks() {
            return cache.get(key);
        }
        let key = key.to_owned();
        block(move || cache.get(&key)).await.ok().flatten()
    }

    /// Keeps `value` under `key` for `[quotes] cache_ttl_secs`.
    pub(crate) async fn keep(&self, key: String, value: Bytes) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let ttl = Duration::from_secs(self.settings.cache_ttl_secs);
        if cache.blocks() {
            let _ = block(move || cache.set(&key, value, ttl)).await;
        } else {
            cache.set(&key, value, ttl);
        }
    }
}

pub(crate) async fn home(
    req: HttpRequest,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    let store = state.store.clone();
    let (quote, count) = blocking(&state, move |s| {
        let count = store.version()?.count;
        Ok((s.pick(seed)?, count))
    })
    .await?;
    let mut ctx = t.context(&req);
    ctx.insert("quote", &quote);
    ctx.insert("count", &count);
    t.render("quotes/home.html", &ctx)
}

/// Refuses a page past the end, as Django's paginator does.
pub(crate) fn in_range(page: Page<Quote>) -> Result<Page<Quote>, AppError> {
    if page.is_out_of_range() {
        return Err(AppError::not_found(format!(
            "Page {} does not exist; the last page is {}.",
            page.page,
            page.num_pages()
        )));
    }
    Ok(page)
}

/// What a row of the list shows: borrowed, so that a long page is not copied to render it.
#[derive(Serialize)]
struct Row<'a> {
    id: i64,
    text: &'a str,
    author: &'a str,
    source: Option<&'a str>,
}

impl<'a> From<&'a Quote> for Row<'a> {
    fn from(q: &'a Quote) -> Self {
        Row {
            id: q.id.0,
            text: q.text.as_str(),
            author: q.author.as_str(),
            source: q.source.as_ref().map(|s| s.as_str()),
        }
    }
}

pub(crate) async fn list(
    req: HttpRequest,
    query: Query<PageQuery>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let default_per_page = state.settings.per_page;
    let request = query.parse(default_per_page)?;
    let cursor = query.cursor()?;
    let day = day_seed();
    // The version first when it can spare the work: a client's copy may be current, or
    // the cache may hold the body. Otherwise the listing brings it along.
    let known = if state.cache.is_some() || Validators::asked(&req) {
        Some(version(&state).await?)
    } else {
        None
    };
    let key = |v: &StoreStats| {
        format!(
            "quotes:list:{:x}:{}:{day}:{}:{}:{}",
            digest([LIST_BODY.as_bytes(), t.release().as_bytes()]),
            version_tag(v),
            request.page(),
            request.per_page(),
            cursor_key(cursor),
        )
    };
    let mut body = None;
    if let Some(v) = &known {
        let validators = list_validators(&req, &t, v, day);
        if validators.fresh(&req) {
            return Ok(validators.not_modified(true));
        }
        body = state.cached(&key(v)).await;
    }
    let (version, body) = match (known, body) {
        (Some(v), Some(body)) => (v, body),
        (known, _) => {
            let listing = blocking(&state, move |s| s.listing(request, cursor, day)).await?;
            let version = known.unwrap_or(listing.stats);
            let page = in_range(listing.page)?;
            let mut pager = Pager::new(
                "/quotes",
                page.page,
                page.per_page,
                page.total,
                default_per_page,
            );
            if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
                pager = pager.with_keyset(first.id.0, last.id.0);
            }
            let rows: Vec<Row<'_>> = page.items.iter().map(Row::from).collect();
            let mut ctx = web::tera::Context::new();
            ctx.insert("pager", &pager);
            ctx.insert("quotes", &rows);
            ctx.insert("featured", &listing.featured);
            let body = Bytes::from(t.render_to_string("quotes/list_body.html", &ctx)?);
            state.keep(key(&version), body.clone()).await;
            (version, body)
        }
    };
    let mut ctx = t.context(&req);
    let page = t.render_around("quotes/list.html", &mut ctx, "body", body)?;
    let mut response = HttpResponse::Ok();
    list_validators(&req, &t, &version, day).apply(&mut response, true);
    Ok(response.content_type(ContentType::html()).body(page))
}

/// The page shows the quotes, the quote of the day, who it is for and the release.
fn list_validators(req: &HttpRequest, t: &Templates, version: &StoreStats, day: u64) -> Validators {
    Validators::new(
        [
            b"quotes/list".as_slice(),
            version_tag(version).as_bytes(),
            &day.to_le_bytes(),
            &viewer(req).to_le_bytes(),
            t.release().as_bytes(),
        ],
        changed_at(version).max(Some(day_start())),
    )
}

/// Midnight UTC today: the quote of the day changed then.
fn day_start() -> SystemTime {
    let midnight = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    SystemTime::from(midnight)
}

pub(crate) async fn detail(
    req: HttpRequest,
    id: Path<String>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    let version = version(&state).await?;
    let validators = Validators::new(
        [
            b"quotes/detail".as_slice(),
            &id.0.to_le_bytes(),
            version_tag(&version).as_bytes(),
            &viewer(&req).to_le_bytes(),
            t.release().as_bytes(),
        ],
        changed_at(&version),
    );
    if validators.fresh(&req) {
        return Ok(validators.not_modified(true));
    }
    let quote = get_quote(&state, id).await?;
    let mut ctx = t.context(&req);
    ctx.insert(
        "added",
        &quote.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    ctx.insert("quote", &quote);
    let body = t.render_to_string("quotes/detail.html", &ctx)?;
    let mut response = HttpResponse::Ok();
    validators.apply(&mut response, true);
    Ok(response.content_type(ContentType::html()).body(body))
}
