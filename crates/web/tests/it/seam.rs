//! The component seam: a component's routes, templates and links join the site, and its
//! failures get the site's error handling.

use actix_web::{web as aw, HttpRequest, HttpResponse};
use web::{AppError, Component, NavLink, Templates};

use crate::helpers::*;

struct Hello;

async fn hello(req: HttpRequest, t: aw::Data<Templates>) -> Result<HttpResponse, AppError> {
    let mut ctx = t.context(req.path());
    ctx.insert("who", "<component>");
    t.render("hello/page.html", &ctx)
}

async fn broken() -> Result<HttpResponse, AppError> {
    Err(AppError::internal("secret detail: password=hunter2"))
}

impl Component for Hello {
    fn name(&self) -> &'static str {
        "hello"
    }
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "hello/page.html",
            r#"{% extends "base.html" %}{% block content %}<p id="hi">Hi {{ who }}</p>{% endblock content %}"#,
        )]
    }
    fn nav(&self) -> Vec<NavLink> {
        vec![NavLink::new("Hello", "/hello")]
    }
    fn routes(&self, cfg: &mut aw::ServiceConfig) {
        cfg.route("/hello", aw::get().to(hello))
            .route("/broken", aw::get().to(broken));
    }
    fn check_ready(&self) -> Result<(), String> {
        Err("not today".into())
    }
}

#[actix_web::test]
async fn a_component_adds_routes_templates_links_and_readiness() {
    let app = spawn_site(1, vec![with_component(Hello)]);
    let (status, html) = app.text("/hello").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<p id="hi">Hi &lt;component&gt;</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/hello" aria-current="page" data-nav="hello">Hello</a>"#),
        "{html}"
    );
    let (_, home) = app.text("/").await;
    assert!(
        home.contains(r#"href="/hello""#),
        "the link is on every page"
    );
    let (status, body) = app.json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(
        body["components"],
        serde_json::json!({"quotes": "ok", "hello": "unavailable"})
    );
}

#[actix_web::test]
async fn a_500_shows_a_request_id_and_never_internals() {
    let app = spawn_site(0, vec![with_component(Hello)]);
    let res = app.get("/broken").await;
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
