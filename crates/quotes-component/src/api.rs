//! The read-only JSON API: `/api/quotes` (paged), `/api/quotes/{id}`, `/api/quotes/random`.
//! Pages and quotes carry an ETag and a Last-Modified (the same for every client), and a
//! page's JSON is kept in the site's cache per version of the quotes.

use quotes_core::Quote;
use serde::Serialize;
use web::actix_web::http::header::ContentType;
use web::actix_web::web::{Bytes, Data, Path, Query};
use web::actix_web::{HttpRequest, HttpResponse};
use web::cache::Validators;
use web::AppError;

use crate::pages::{
    blocking, changed_at, cursor_key, get_quote, in_range, parse_id, version, version_tag,
    PageQuery,
};
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
    req: HttpRequest,
    query: Query<PageQuery>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let request = query.parse(state.settings.per_page)?;
    let cursor = query.cursor()?;
    let version = version(&state).await?;
    let tag = version_tag(&version);
    let validators = Validators::new(
        [b"api/quotes".as_slice(), tag.as_bytes()],
        changed_at(&version),
    );
    if validators.fresh(&req) {
        return Ok(validators.not_modified(false));
    }
    let key = format!(
        "quotes:api-list:{tag}:{}:{}:{}",
        request.page(),
        request.per_page(),
        cursor_key(cursor),
    );
    let body = match state.cached(&key).await {
        Some(body) => body,
        None => {
            let page = in_range(blocking(&state, move |s| s.page_from(request, cursor)).await?)?;
            let num_pages = page.num_pages();
            let json = serde_json::to_vec(&ApiPage {
                items: page.items,
                page: page.page,
                per_page: page.per_page,
                total: page.total,
                num_pages,
            })
            .map_err(|e| AppError::internal(format!("writing a page of quotes: {e}")))?;
            let body = Bytes::from(json);
            state.keep(key, body.clone()).await;
            body
        }
    };
    let mut response = HttpResponse::Ok();
    validators.apply(&mut response, false);
    Ok(response.content_type(ContentType::json()).body(body))
}

pub(crate) async fn get(
    req: HttpRequest,
    id: Path<String>,
    state: Data<State>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    let version = version(&state).await?;
    let validators = Validators::new(
        [
            b"api/quote".as_slice(),
            &id.0.to_le_bytes(),
            version_tag(&version).as_bytes(),
        ],
        changed_at(&version),
    );
    if validators.fresh(&req) {
        return Ok(validators.not_modified(false));
    }
    let quote = get_quote(&state, id).await?;
    let mut response = HttpResponse::Ok();
    validators.apply(&mut response, false);
    Ok(response.json(quote))
}

pub(crate) async fn random(state: Data<State>) -> Result<HttpResponse, AppError> {
    let seed = fastrand::u64(..);
    match blocking(&state, move |s| s.pick(seed)).await? {
        Some(quote) => Ok(HttpResponse::Ok().json(quote)),
        None => Err(AppError::not_found("There are no quotes yet.")),
    }
}
