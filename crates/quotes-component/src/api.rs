//! The read-only JSON API: `/api/quotes` (paged), `/api/quotes/{id}`, `/api/quotes/random`.

use quotes_core::Quote;
use serde::Serialize;
use web::actix_web::web::{Data, Path, Query};
use web::actix_web::HttpResponse;
use web::AppError;

use crate::pages::{blocking, get_quote, in_range, parse_id, PageQuery};
use crate::State;

#[derive(Serialize)]
struct ApiPage {
    items: Vec<Quote>,
    page: u32,
    per_page: u32,
    total: u64,
    num_pages: u32,
}

pub(crate) async fn list(
    query: Query<PageQuery>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let request = query.parse(state.settings.per_page)?;
    let page = in_range(blocking(&state, move |s| s.list(request)).await?)?;
    let num_pages = page.num_pages();
    Ok(HttpResponse::Ok().json(ApiPage {
        items: page.items,
        page: page.page,
        per_page: page.per_page,
        total: page.total,
        num_pages,
    }))
}

pub(crate) async fn get(id: Path<String>, state: Data<State>) -> Result<HttpResponse, AppError> {
    let quote = get_quote(&state, parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(quote))
}

pub(crate) async fn random(state: Data<State>) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    match blocking(&state, move |s| s.pick(seed)).await? {
        Some(quote) => Ok(HttpResponse::Ok().json(quote)),
        None => Err(AppError::not_found("There are no quotes yet.")),
    }
}
