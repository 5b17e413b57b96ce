//! Serving a [`Site`]: the routes every deployment has (health, readiness, static files),
//! the middleware stack around the components' own, and the HTTP server.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, ContentType, HeaderValue};
use actix_web::middleware::{self, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;
use tracing::Instrument;

use crate::component::{Middleware, Next, Routes, StaticFile};
use crate::error::{PublicMessage, RETRY_AFTER_SECS};
use crate::metrics::{self, MetricsOptions};
use crate::reports;
use crate::security::{ClientAddr, Security, SecurityData};
use crate::site::Part;
use crate::{get_or_head, AppError, BuildInfo, Site, Templates};

/// How the HTTP server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `/metrics` and the request metrics, when on.
    pub metrics: Option<MetricsOptions>,
    /// A listener of its own for `/metrics` (which the site's listener then refuses).
    pub metrics_listener: Option<Arc<TcpListener>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            workers: 0,
            shutdown_timeout: Duration::from_secs(30),
            metrics: None,
            metrics_listener: None,
        }
    }
}

/// Shared by every worker.
struct SiteState {
    info: BuildInfo,
    security: Arc<Security>,
    parts: Vec<Part>,
    /// `/static/<component>/<path>` → the file.
    files: HashMap<String, StaticFile>,
    has_home: bool,
}

const STYLESHEET: &str = include_str!("../static/style.css");
const FAVICON: &str = include_str!("../static/favicon.svg");
const CSP: &str = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Starts serving `site` on `listener`. Await the returned server; it stops gracefully on
/// SIGTERM, letting in-flight requests finish within `shutdown_timeout`; SIGINT (Ctrl-C)
/// and SIGQUIT stop it at once, as actix-server does.
pub fn serve(
    listener: TcpListener,
    site: Site,
    options: &ServerOptions,
) -> std::io::Result<Server> {
    let templates = Templates::new(&site)
        .map_err(|e| std::io::Error::other(format!("loading templates: {e:#}")))?;
    let templates = web::Data::new(templates);
    let mut files = HashMap::new();
    for part in &site.parts {
        for file in part.running.static_files() {
            files.insert(format!("/static/{}/{}", part.name, file.path), file);
        }
    }
    let has_home = site.parts.iter().any(|p| {
        let mut routes = Routes::new();
        p.running.routes(&mut routes);
        routes.claims.iter().any(|c| c == "/")
    });
    let chain: Arc<[Arc<dyn Middleware>]> = site
        .parts
        .iter()
        .filter_map(|p| p.running.middleware())
        .collect();
    let metrics_port = match &options.metrics_listener {
        Some(l) => Some(l.local_addr()?.port()),
        None => None,
    };
    let metrics_state = match &options.metrics {
        Some(metrics) => Some(web::Data::new(metrics::state(
            metrics,
            &site.info,
            metrics_port,
        )?)),
        None => None,
    };
    let sections = web::Data::new(crate::admin::Sections(
        site.parts
            .iter()
            .flat_map(|p| {
                p.running
                    .admin_sections()
                    .into_iter()
                    .map(move |s| (p.name, s))
            })
            .collect(),
    ));
    let security = Arc::new(site.security.clone());
    let security_data = web::Data::new(SecurityData(security.clone()));
    let state = web::Data::new(SiteState {
        info: site.info,
        security: security.clone(),
        parts: site.parts,
        files,
        has_home,
    });

    let reporting = reports::enabled();
    let mut server = HttpServer::new(move || {
        let state = state.clone();
        let chain = chain.clone();
        let security = security.clone();
        let app = App::new()
            .app_data(templates.clone())
            .app_data(state.clone())
            .app_data(security_data.clone())
            .app_data(sections.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| AppError::bad_request(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| AppError::not_found(e.to_string()).into()),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(crate::security::FORM_LIMIT)
                    .error_handler(|e, _| AppError::bad_request(e.to_string()).into()),
            )
            .wrap(middleware::from_fn(move |req, end| {
                run_chain(chain.clone(), security.clone(), req, end)
            }))
            .wrap(middleware::Condition::new(
                reporting,
                middleware::from_fn(reports::tag_request),
            ))
            .wrap(middleware::Condition::new(reporting, reports::middleware()))
            .wrap(middleware::Condition::new(
                metrics_port.is_some(),
                middleware::from_fn(metrics::split_ports),
            ))
            .wrap(ErrorHandlers::new().default_handler(render_error))
            .wrap(
                middleware::DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::CONTENT_SECURITY_POLICY, CSP)),
            )
            .wrap(middleware::Compress::default())
            .wrap(middleware::Condition::new(
                metrics_state.is_some(),
                middleware::from_fn(metrics::record),
            ))
            .wrap(middleware::from_fn(log_request))
            .configure(|cfg| {
                for part in &state.parts {
                    let mut routes = Routes::new();
                    part.running.routes(&mut routes);
                    for apply in routes.apply {
                        apply(cfg);
                    }
                }
            })
            .service(get_or_head("/healthz", healthz))
            .service(get_or_head("/readyz", readyz))
            .service(get_or_head("/static/style.css", stylesheet))
            .service(get_or_head("/static/favicon.svg", favicon))
            .service(get_or_head("/favicon.ico", favicon))
            .service(get_or_head("/static/{component}/{path:.*}", static_file));
        let app = if state.has_home {
            app
        } else {
            app.service(get_or_head("/", index))
        };
        let app = match &metrics_state {
            Some(data) => app
                .app_data(data.clone())
                .service(get_or_head("/metrics", metrics::render)),
            None => app,
        };
        app.default_service(web::to(not_found))
    })
    .listen(listener)?
    .shutdown_timeout(options.shutdown_timeout.as_secs());
    if let (Some(l), true) = (&options.metrics_listener, options.metrics.is_some()) {
        server = server.listen(l.try_clone()?)?;
    }
    if options.workers > 0 {
        server = server.workers(options.workers);
    }
    Ok(server.run())
}

/// Runs the components' middleware in registry order, then gives the request its CSRF
/// token, then the routes.
async fn run_chain(
    chain: Arc<[Arc<dyn Middleware>]>,
    security: Arc<Security>,
    req: ServiceRequest,
    end: middleware::Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let next = Next {
        chain,
        index: 0,
        security,
        end,
    };
    // The router needs the only handle on the request, so none is kept here to make a page
    // of an `Err`; middleware refuses a request with `Ok(req.error_response(..))` instead.
    next.call(req).await.inspect_err(|e| {
        tracing::error!(error = %e, "a component's middleware failed without a response");
    })
}

/// A request's id (a request extension): in the log line, the `X-Request-Id` header and a 500 page.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Logs one line per request: its id, method, path, route pattern, status, latency and the
/// signed-in user's id, if any.
async fn log_request(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", fastrand::u64(..)));
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(state) = req.app_data::<web::Data<SiteState>>() {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        if let Some(client) = state.security.client_of(peer, forwarded) {
            req.extensions_mut().insert(ClientAddr(client));
        }
    }
    let method = req.method().clone();
    let path = req.path().to_owned();
    let start = Instant::now();
    // Everything logged while serving the request carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let result = next.call(req).instrument(span).await;
    // A number (for log tools to sum and sort), rounded to 0.1 ms so lines stay short.
    let latency_ms = (start.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let (status, route, user) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request().match_pattern(),
            crate::identity(res.request()).map(|i| i.user_id),
        ),
        Err(e) => (e.as_response_error().status_code().as_u16(), None, None),
    };
    // The route's pattern groups lines by page (`/quotes/{id}`); absent when none matched.
    let route = route.unwrap_or_default();
    match user {
        Some(user) => tracing::info!(
            request_id = %id, %method, %path, %route, status, latency_ms, user, "request"
        ),
        None => {
            tracing::info!(request_id = %id, %method, %path, %route, status, latency_ms, "request")
        }
    }
    result.map(|mut res| {
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("x-request-id"), value);
        }
        res
    })
}

fn default_message(status: actix_web::http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request was not understood.",
        403 => "You may not do that here.",
        404 => "There is no page at this address.",
        405 => "This address does not accept that method.",
        503 => "The service is temporarily unavailable, please try again shortly.",
        s if s >= 500 => "Something went wrong on our side.",
        _ => "The request could not be served.",
    }
}

/// Turns every 4xx and 5xx into the site's error page, or a JSON body under `/api/`.
fn render_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    // A body the handler wrote itself (such as /readyz's JSON) is already what it means.
    let public = res
        .response()
        .extensions()
        .get::<PublicMessage>()
        .map(|m| m.0.clone());
    let has_own_body = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| {
            let ct = ct.to_str().unwrap_or_default();
            ct.starts_with("application/json") || ct.starts_with("text/html")
        });
    if public.is_none() && has_own_body {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    // A 5xx never shows what went wrong inside, whatever the handler put in the message.
    let message = match public {
        Some(m) if !status.is_server_error() || status == 503 => m,
        _ => default_message(status).to_owned(),
    };
    let is_api = res.request().path().starts_with("/api/");
    let (req, response) = res.into_parts();
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.insert_header((name.clone(), value.clone()));
        }
    }
    let body = if is_api {
        builder.content_type(ContentType::json());
        json!({ "error": message, "status": status.as_u16(), "request_id": request_id }).to_string()
    } else {
        builder.content_type(ContentType::html());
        error_page(&req, status, &message, &request_id)
    };
    let res = ServiceResponse::new(req, builder.body(body));
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}

fn error_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    message: &str,
    request_id: &str,
) -> String {
    let Some(templates) = req.app_data::<web::Data<Templates>>() else {
        return format!("{status}: {message}");
    };
    let mut ctx = templates.context(req);
    ctx.insert("status", &status.as_u16());
    ctx.insert("title", status.canonical_reason().unwrap_or("Error"));
    ctx.insert("message", message);
    ctx.insert("request_id", request_id);
    ctx.insert("server_error", &status.is_server_error());
    templates
        .render_to_string("error.html", &ctx)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the error page itself failed to render");
            format!("{status}: {message}")
        })
}

async fn healthz(state: web::Data<SiteState>) -> HttpResponse {
    let components: Vec<_> = state.parts.iter().map(|p| p.name).collect();
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": state.info.version,
        "commit": state.info.commit,
        "components": components,
    }))
}

/// 200 when every component is ready, else 503. Which component is not ready, and why,
/// goes to the log only.
async fn readyz(state: web::Data<SiteState>) -> HttpResponse {
    let parts = state.parts.clone();
    let checks = web::block(move || {
        parts
            .iter()
            .map(|p| (p.name, p.running.check_ready()))
            .collect::<Vec<_>>()
    })
    .await;
    let ready = match checks {
        Ok(checks) => {
            let mut ready = true;
            for (name, result) in checks {
                if let Err(e) = result {
                    tracing::warn!(component = name, error = %e, "not ready");
                    ready = false;
                }
            }
            ready
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness checks failed to run");
            false
        }
    };
    if ready {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            .json(json!({ "status": "unavailable" }))
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// A component's static file, cached for an hour (pages link them with a version).
async fn static_file(
    req: HttpRequest,
    state: web::Data<SiteState>,
) -> Result<HttpResponse, AppError> {
    let Some(file) = state.files.get(req.path()) else {
        return Err(AppError::not_found(format!(
            "There is no file at {}.",
            req.path()
        )));
    };
    Ok(HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.body))
}

/// The home page when no component claims `/`.
async fn index(
    req: HttpRequest,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    templates.render("index.html", &templates.context(&req))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::not_found(format!(
        "There is no page at {}.",
        req.path()
    )))
}
