//! The quotes pages and the read-only JSON API, as a component.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Utc};
use quotes_core::{Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::{get_or_head, AppError, Component, NavLink, Templates};

/// Serves `/` (Hello, World! and a highlighted quote), `/quotes`, `/quotes/{id}` and
/// `/api/quotes…` from any [`QuoteStore`].
pub struct QuotesComponent {
    store: Arc<dyn QuoteStore>,
}

impl QuotesComponent {
    pub fn new(store: Arc<dyn QuoteStore>) -> Self {
        Self { store }
    }
}

struct Store(Arc<dyn QuoteStore>);

impl Component for QuotesComponent {
    fn name(&self) -> &'static str {
        "quotes"
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "quotes/home.html",
                include_str!("../templates/quotes/home.html"),
            ),
            (
                "quotes/list.html",
                include_str!("../templates/quotes/list.html"),
            ),
            (
                "quotes/detail.html",
                include_str!("../templates/quotes/detail.html"),
            ),
        ]
    }

    fn nav(&self) -> Vec<NavLink> {
        vec![NavLink::new("Home", "/"), NavLink::new("Quotes", "/quotes")]
    }

    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(Store(self.store.clone())))
            .service(get_or_head("/", home))
            .service(get_or_head("/quotes", list))
            .service(get_or_head("/quotes/{id}", detail))
            .service(get_or_head("/api/quotes", api_list))
            .service(get_or_head("/api/quotes/random", api_random))
            .service(get_or_head("/api/quotes/{id}", api_get));
    }

    fn check_ready(&self) -> Result<(), String> {
        self.store.ping().map_err(|e| format!("{e:#}"))
    }
}

/// Runs a store call on the blocking pool: stores may do synchronous I/O.
async fn blocking<T, F>(store: &web::Data<Store>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn QuoteStore) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = store.0.clone();
    Ok(web::block(move || f(&*store)).await??)
}

/// `?page=N&per_page=M`, read as text so that a bad value gets a helpful 400.
#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
}

impl PageQuery {
    fn parse(&self) -> Result<PageRequest, AppError> {
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
        let per_page = number(
            "per_page",
            self.per_page.as_deref(),
            PageRequest::DEFAULT_PER_PAGE,
        )?;
        PageRequest::new(page, per_page).map_err(|e| AppError::bad_request(e.to_string()))
    }
}

fn parse_id(raw: &str) -> Result<QuoteId, AppError> {
    raw.parse()
        .map_err(|_| AppError::not_found(format!("There is no quote with id {raw:?}.")))
}

/// The quote of the day changes at midnight UTC.
fn day_seed() -> u64 {
    u64::try_from(Utc::now().date_naive().num_days_from_ce()).unwrap_or_default()
}

async fn home(
    req: HttpRequest,
    store: web::Data<Store>,
    t: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    let (quote, count) = blocking(&store, move |s| Ok((s.pick(seed)?, s.count()?))).await?;
    let mut ctx = t.context(req.path());
    ctx.insert("quote", &quote);
    ctx.insert("count", &count);
    t.render("quotes/home.html", &ctx)
}

/// Page links for the templates.
#[derive(Serialize)]
struct Pager {
    page: u32,
    per_page: u32,
    num_pages: u32,
    total: u64,
    previous: Option<String>,
    next: Option<String>,
}

impl Pager {
    fn new(p: &Page<Quote>, base: &str) -> Self {
        let link = |n: u32| {
            if p.per_page == PageRequest::DEFAULT_PER_PAGE {
                format!("{base}?page={n}")
            } else {
                format!("{base}?page={n}&per_page={}", p.per_page)
            }
        };
        Self {
            page: p.page,
            per_page: p.per_page,
            num_pages: p.num_pages(),
            total: p.total,
            previous: p.has_previous().then(|| link(p.page - 1)),
            next: p.has_next().then(|| link(p.page + 1)),
        }
    }
}

/// Refuses a page past the end, as Django's paginator does.
fn in_range(page: Page<Quote>) -> Result<Page<Quote>, AppError> {
    if page.is_out_of_range() {
        return Err(AppError::not_found(format!(
            "Page {} does not exist; the last page is {}.",
            page.page,
            page.num_pages()
        )));
    }
    Ok(page)
}

async fn list(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    store: web::Data<Store>,
    t: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let request = query.parse()?;
    let seed = day_seed();
    // One trip to the blocking pool for both store calls.
    let (page, featured) = blocking(&store, move |s| Ok((s.list(request)?, s.pick(seed)?))).await?;
    let page = in_range(page)?;
    let mut ctx = t.context(req.path());
    ctx.insert("pager", &Pager::new(&page, "/quotes"));
    ctx.insert("quotes", &page.items);
    ctx.insert("featured", &featured);
    t.render("quotes/list.html", &ctx)
}

async fn detail(
    req: HttpRequest,
    id: web::Path<String>,
    store: web::Data<Store>,
    t: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    let quote = blocking(&store, move |s| s.get(id)).await?;
    let mut ctx = t.context(req.path());
    ctx.insert(
        "added",
        &quote.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    ctx.insert("quote", &quote);
    t.render("quotes/detail.html", &ctx)
}

#[derive(Serialize)]
struct ApiPage {
    items: Vec<Quote>,
    page: u32,
    per_page: u32,
    total: u64,
    num_pages: u32,
}

async fn api_list(
    query: web::Query<PageQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AppError> {
    let request = query.parse()?;
    let page = in_range(blocking(&store, move |s| s.list(request)).await?)?;
    let num_pages = page.num_pages();
    Ok(HttpResponse::Ok().json(ApiPage {
        items: page.items,
        page: page.page,
        per_page: page.per_page,
        total: page.total,
        num_pages,
    }))
}

async fn api_get(id: web::Path<String>, store: web::Data<Store>) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    let quote = blocking(&store, move |s| s.get(id)).await?;
    Ok(HttpResponse::Ok().json(quote))
}

async fn api_random(store: web::Data<Store>) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    match blocking(&store, move |s| s.pick(seed)).await? {
        Some(quote) => Ok(HttpResponse::Ok().json(quote)),
        None => Err(AppError::not_found("There are no quotes yet.")),
    }
}
