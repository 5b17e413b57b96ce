//! CSRF protection that every component gets: a token bound to the visitor (a cookie) or to
//! the session a component names, checked on every unsafe method of a route that takes one.

use actix_web::dev::ServiceRequest;
use actix_web::{web as aw, HttpMessage, HttpRequest, HttpResponse};
use web::{middleware_fn, AppError, Next, Routes, Running, SessionBinding, Site, Templates};

use crate::helpers::*;

/// A component with a form, and a middleware that binds a "session" named by a header.
struct Form;

async fn show(req: HttpRequest, t: aw::Data<Templates>) -> Result<HttpResponse, AppError> {
    t.render("form/page.html", &t.context(&req))
}

async fn post(body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("posted {body}"))
}

impl Running for Form {
    fn routes(&self, routes: &mut Routes) {
        routes
            .get("/form", show)
            .resource("/form/post", |r| r.route(aw::post().to(post)));
    }
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "form/page.html",
            r#"{% extends "base.html" %}{% block content %}<input name="csrf_token" value="{{ csrf_token }}">{% endblock content %}"#,
        )]
    }
    fn middleware(&self) -> Option<std::sync::Arc<dyn web::Middleware>> {
        Some(middleware_fn(
            |req: ServiceRequest, next: Next| async move {
                if let Some(s) = req.headers().get("x-session").and_then(|v| v.to_str().ok()) {
                    let binding = SessionBinding(s.to_owned());
                    req.extensions_mut().insert(binding);
                }
                next.call(req).await
            },
        ))
    }
}

fn site() -> TestApp {
    spawn(Site::new(info()).with("form", Form))
}

/// The page's token and the cookie it set.
async fn token_and_cookie(app: &TestApp, session: Option<&str>) -> (String, Option<String>) {
    let mut get = app.client.get(app.url("/form"));
    if let Some(s) = session {
        get = get.header("x-session", s);
    }
    let res = get.send().await.unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let html = res.text().await.unwrap();
    let at = html.find("value=\"").unwrap() + 7;
    let end = at + html[at..].find('"').unwrap();
    (html[at..end].to_owned(), cookie)
}

async fn post_form(
    app: &TestApp,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = app
        .client
        .post(app.url("/form/post"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[actix_web::test]
async fn a_form_posts_with_its_token_and_not_without() {
    let app = site();
    let (token, cookie) = token_and_cookie(&app, None).await;
    let cookie = cookie.expect("the first page sets the CSRF cookie");
    assert!(cookie.starts_with("quotes_csrf="), "{cookie}");

    let body = format!("a=1&csrf_token={token}");
    let (status, text) = post_form(&app, Some(&cookie), &[], &body).await;
    assert_eq!(
        (status, text),
        (200, format!("posted {body}")),
        "the handler sees the whole form"
    );

    let (status, html) = post_form(&app, Some(&cookie), &[], "a=1").await;
    assert_eq!(status, 403);
    assert!(
        html.contains("CSRF verification failed: the CSRF token is missing from the form."),
        "{html}"
    );
    let (status, html) = post_form(
        &app,
        Some(&cookie),
        &[],
        &format!("csrf_token={}", "0".repeat(128)),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        html.contains("the CSRF token is wrong or out of date."),
        "{html}"
    );
    let (status, html) = post_form(&app, None, &[], &body).await;
    assert_eq!(status, 403, "a token without its cookie");
    assert!(html.contains("the CSRF cookie is missing"), "{html}");
    let (status, _) = post_form(&app, Some(&cookie), &[("x-csrf-token", &token)], "a=1").await;
    assert_eq!(status, 200, "the header carries the token too");
}

#[actix_web::test]
async fn another_sites_origin_or_referer_is_refused() {
    let app = site();
    let (token, cookie) = token_and_cookie(&app, None).await;
    let cookie = cookie.unwrap();
    let body = format!("csrf_token={token}");
    let host = app.base.trim_start_matches("http://").to_owned();
    for (header, value, status) in [
        ("origin", "http://evil.example".to_owned(), 403),
        ("referer", "http://evil.example/page".to_owned(), 403),
        ("origin", "null".to_owned(), 403),
        ("origin", format!("http://{host}"), 200),
        ("referer", format!("http://{host}/form"), 200),
    ] {
        let (got, html) = post_form(&app, Some(&cookie), &[(header, &value)], &body).await;
        assert_eq!(got, status, "{header}: {value}: {html}");
    }
}

#[actix_web::test]
async fn a_session_binds_the_token_instead_of_the_cookie() {
    let app = site();
    let (anonymous, cookie) = token_and_cookie(&app, None).await;
    let cookie = cookie.unwrap();
    let (signed_in, set) = token_and_cookie(&app, Some("session-1")).await;
    assert_eq!(set, None, "no cookie for a request with a session");
    assert_ne!(anonymous, signed_in);
    let session = [("x-session", "session-1")];
    let (status, _) = post_form(
        &app,
        Some(&cookie),
        &session,
        &format!("csrf_token={anonymous}"),
    )
    .await;
    assert_eq!(
        status, 403,
        "the visitor's token does not pass for the session"
    );
    let (status, _) = post_form(&app, None, &session, &format!("csrf_token={signed_in}")).await;
    assert_eq!(status, 200);
    let other = [("x-session", "session-2")];
    let (status, _) = post_form(&app, None, &other, &format!("csrf_token={signed_in}")).await;
    assert_eq!(status, 403, "nor one session's token for another");
}

#[actix_web::test]
async fn however_the_path_is_spelt_the_check_runs() {
    let app = site();
    let (_, cookie) = token_and_cookie(&app, None).await;
    for path in ["/form/%70ost", "/%66orm/post", "/form/pos%74"] {
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie.clone().unwrap())
            .body("a=1")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            403,
            "{path} reached the handler without a token"
        );
    }
}

#[actix_web::test]
async fn each_page_masks_the_token_anew_and_every_mask_passes() {
    let app = site();
    let (first, cookie) = token_and_cookie(&app, None).await;
    let cookie = cookie.unwrap();
    let res = app
        .client
        .get(app.url("/form"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    let at = html.find("value=\"").unwrap() + 7;
    let second = html[at..at + 128].to_owned();
    assert_ne!(first, second, "a page never shows the same token twice");
    for token in [first, second] {
        let body = format!("csrf_token={token}");
        let (status, _) = post_form(&app, Some(&cookie), &[], &body).await;
        assert_eq!(status, 200);
    }
}

#[actix_web::test]
async fn unsafe_methods_elsewhere_get_their_405_or_404() {
    let app = site();
    assert_eq!(
        app.client
            .post(app.url("/form"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        app.client
            .post(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        app.client
            .post(app.url("/nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[actix_web::test]
async fn a_multipart_form_carries_its_token_too() {
    let app = site();
    let (token, cookie) = token_and_cookie(&app, None).await;
    let body = format!(
        "--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.txt\"\r\n\r\nhello\r\n--X--\r\n"
    );
    let res = app
        .client
        .post(app.url("/form/post"))
        .header("content-type", "multipart/form-data; boundary=X")
        .header("cookie", cookie.unwrap())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), format!("posted {body}"));
}
