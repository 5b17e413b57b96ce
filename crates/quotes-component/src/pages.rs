//! The quotes pages: home, the paged list with the quote of the day, one quote.

use chrono::{Datelike, Utc};
use quotes_core::{Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError};
use serde::Deserialize;
use web::actix_web::web::{block, Data, Path, Query};
use web::actix_web::{HttpRequest, HttpResponse};
use web::{AppError, Pager, Templates};

use crate::{store_error, State};

/// Runs a store call on the blocking pool: stores may do synchronous I/O.
pub(crate) async fn blocking<T, F>(state: &Data<State>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn QuoteStore) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = state.store.clone();
    block(move || f(&*store)).await?.map_err(store_error)
}

/// `?page=N&per_page=M`, read as text so that a bad value gets a helpful 400.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
}

impl PageQuery {
    /// The page asked for; `default_per_page` when the request names none.
    pub(crate) fn parse(&self, default_per_page: u32) -> Result<PageRequest, AppError> {
        fn number(name: &str, raw: Option<&str>, default: u32) -> Result<u32, AppError> {
            match raw.map(str::trim) {
                None | Some("") => Ok(default),
                Some(s) => s.parse::<u32>().map_err(|_| {
                    AppError::bad_request(format!(
                        "{name} must be a positive whole number, not {s:?}"
                    ))
                }),
            }
        }
        let page = number("page", self.page.as_deref(), 1)?;
        let per_page = number("per_page", self.per_page.as_deref(), default_per_page)?;
        PageRequest::new(page, per_page).map_err(|e| AppError::bad_request(e.to_string()))
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

pub(crate) async fn home(
    req: HttpRequest,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    let (quote, count) = blocking(&state, move |s| Ok((s.pick(seed)?, s.count()?))).await?;
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

pub(crate) async fn list(
    req: HttpRequest,
    query: Query<PageQuery>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let default_per_page = state.settings.per_page;
    let request = query.parse(default_per_page)?;
    let seed = day_seed();
    // One trip to the blocking pool for both store calls.
    let (page, featured) = blocking(&state, move |s| Ok((s.list(request)?, s.pick(seed)?))).await?;
    let page = in_range(page)?;
    let mut ctx = t.context(&req);
    let pager = Pager::new(
        "/quotes",
        page.page,
        page.per_page,
        page.total,
        default_per_page,
    );
    ctx.insert("pager", &pager);
    ctx.insert("quotes", &page.items);
    ctx.insert("featured", &featured);
    t.render("quotes/list.html", &ctx)
}

pub(crate) async fn detail(
    req: HttpRequest,
    id: Path<String>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let quote = get_quote(&state, parse_id(&id)?).await?;
    let mut ctx = t.context(&req);
    ctx.insert(
        "added",
        &quote.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    ctx.insert("quote", &quote);
    t.render("quotes/detail.html", &ctx)
}
