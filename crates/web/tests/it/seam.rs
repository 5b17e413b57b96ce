//! A component's routes, templates, static files, per-request links, middleware and
//! readiness join the site, and its failures get the site's error handling.

use actix_web::dev::ServiceRequest;
use actix_web::{web as aw, HttpMessage, HttpRequest, HttpResponse};
use web::{
    middleware_fn, AppError, Middleware, NavLink, Next, Routes, Running, Site, StaticFile,
    Templates,
};

use crate::helpers::*;

/// A made-up component.
pub struct Hello {
    pub ready: bool,
}

/// Who the middleware found in the request (request data for handlers and links).
#[derive(Clone)]
struct Visitor(String);

async fn page(req: HttpRequest, t: aw::Data<Templates>) -> Result<HttpResponse, AppError> {
    let mut ctx = t.context(&req);
    let who = req
        .extensions()
        .get::<Visitor>()
        .map_or("<stranger>".to_owned(), |v| v.0.clone());
    ctx.insert("who", &who);
    t.render("hello/page.html", &ctx)
}

async fn broken() -> Result<HttpResponse, AppError> {
    Err(AppError::internal("secret detail: password=hunter2"))
}

async fn api() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"hello": "world"}))
}

async fn visitors(
    req: ServiceRequest,
    next: Next,
) -> Result<actix_web::dev::ServiceResponse, actix_web::Error> {
    let name = req
        .headers()
        .get("x-visitor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if name.as_deref() == Some("blocked") {
        return Ok(req.error_response(AppError::forbidden("Visitors named blocked may not enter.")));
    }
    if let Some(name) = name {
        req.extensions_mut().insert(Visitor(name));
    }
    let mut res = next.call(req).await?;
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-hello-seen"),
        actix_web::http::header::HeaderValue::from_static("1"),
    );
    Ok(res)
}

impl Running for Hello {
    fn routes(&self, routes: &mut Routes) {
        routes
            .get("/hello", page)
            .get("/hello/broken", broken)
            .get("/api/hello", api);
    }
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "hello/page.html",
            r#"{% extends "base.html" %}{% block content %}<p id="hi">Hi {{ who }}</p>{% endblock content %}"#,
        )]
    }
    fn static_files(&self) -> Vec<StaticFile> {
        vec![
            StaticFile::css("style.css", "#hi { color: rgb(1, 2, 3); }"),
            StaticFile::svg("img/dot.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        ]
    }
    fn nav(&self, req: &HttpRequest) -> Vec<NavLink> {
        let mut links = vec![
            NavLink::new("Hello", "/hello"),
            NavLink::footer("Hello API", "/api/hello"),
        ];
        if let Some(v) = req.extensions().get::<Visitor>() {
            links.push(NavLink::new(format!("Hi {}", v.0), "/hello"));
        }
        links
    }
    fn check_ready(&self) -> Result<(), String> {
        if self.ready {
            Ok(())
        } else {
            Err("not today".into())
        }
    }
    fn middleware(&self) -> Option<std::sync::Arc<dyn Middleware>> {
        Some(middleware_fn(visitors))
    }
}

fn hello_site(ready: bool) -> TestApp {
    spawn(Site::new(info()).with("hello", Hello { ready }))
}

#[actix_web::test]
async fn a_component_adds_routes_templates_static_files_and_links() {
    let app = hello_site(true);
    let (status, html) = app.text("/hello").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<p id="hi">Hi &lt;stranger&gt;</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/hello" aria-current="page" data-nav="hello">Hello</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/static/hello/style.css?v=9.9.9-abc123">"#),
        "a component's stylesheet is linked from every page: {html}"
    );
    assert!(
        html.contains(r#" · <a href="/api/hello">Hello API</a> · <a href="/healthz">health</a>"#),
        "footer links: {html}"
    );
    let res = app.get("/static/hello/style.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.text().await.unwrap(), "#hi { color: rgb(1, 2, 3); }");
    let res = app.get("/static/hello/img/dot.svg").await;
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/svg+xml")
    );
    let (status, html) = app.text("/static/hello/nope.css").await;
    assert_eq!(status, 404);
    assert!(
        html.contains("There is no file at /static/hello/nope.css."),
        "{html}"
    );
    let (status, body) = app.json("/api/hello").await;
    assert_eq!((status, body), (200, serde_json::json!({"hello": "world"})));
}

#[actix_web::test]
async fn middleware_adds_request_data_that_links_and_handlers_see() {
    let app = hello_site(true);
    let res = app
        .client
        .get(app.url("/hello"))
        .header("x-visitor", "Ada")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-hello-seen"], "1");
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<p id="hi">Hi Ada</p>"#), "{html}");
    assert!(
        html.contains(">Hi Ada</a>"),
        "a link for this request: {html}"
    );
    let (_, html) = app.text("/hello").await;
    assert!(
        !html.contains(">Hi Ada</a>"),
        "and not for the next: {html}"
    );
    let res = app.get("/no/such/page").await;
    assert_eq!(
        res.headers()["x-hello-seen"],
        "1",
        "middleware sees every request, routed or not"
    );
}

#[actix_web::test]
async fn an_error_from_middleware_is_the_sites_error_page() {
    let app = hello_site(true);
    let res = app
        .client
        .get(app.url("/hello"))
        .header("x-visitor", "blocked")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().contains_key("x-request-id"));
    let html = res.text().await.unwrap();
    assert!(html.contains("403 · Forbidden"), "{html}");
    assert!(
        html.contains("Visitors named blocked may not enter."),
        "{html}"
    );
}

#[actix_web::test]
async fn readiness_fails_without_naming_the_component_to_clients() {
    let app = hello_site(false);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "unavailable"}));
    let (status, body) = hello_site(true).json("/readyz").await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"status": "ready"}))
    );
}

#[actix_web::test]
async fn a_500_shows_a_request_id_and_never_internals() {
    let app = hello_site(true);
    let res = app.get("/hello/broken").await;
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong on our side."), "{html}");
    assert!(
        html.contains(&format!("Request id: <code>{id}</code>")),
        "{html}"
    );
    assert!(
        !html.contains("hunter2") && !html.contains("secret"),
        "{html}"
    );
}

#[actix_web::test]
async fn the_site_may_override_any_template() {
    let mut site = Site::new(info()).with("hello", Hello { ready: true });
    site.override_template(
        "hello/page.html",
        r#"{% extends "base.html" %}{% block content %}<p id="mine">Mine, {{ who }}</p>{% endblock content %}"#,
    );
    site.override_template(
        "index.html",
        r#"{% extends "base.html" %}{% block content %}<h1>Our own home</h1>{% endblock content %}"#,
    );
    let app = spawn(site);
    let (_, html) = app.text("/hello").await;
    assert!(
        html.contains(r#"<p id="mine">Mine, &lt;stranger&gt;</p>"#),
        "{html}"
    );
    let (_, html) = app.text("/").await;
    assert!(html.contains("<h1>Our own home</h1>"), "{html}");
}

#[test]
fn an_override_of_no_template_is_refused() {
    let mut site = Site::new(info()).with("hello", Hello { ready: true });
    site.override_template("hello/pgae.html", "typo");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let Err(err) = web::serve(listener, site, &web::ServerOptions::default()) else {
        panic!("served with a misspelt override");
    };
    assert!(
        err.to_string()
            .contains("the template override hello/pgae.html replaces no template"),
        "{err}"
    );
}
