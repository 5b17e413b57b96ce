//! The shell with no component at all: it still serves a home page, health, readiness,
//! static files, error pages and its headers.

use web::Site;

use crate::helpers::*;

#[actix_web::test]
async fn an_empty_site_serves_hello_health_and_static_files() {
    let app = spawn(Site::new(info()));
    let (status, html) = app.text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Hello, World!</h1>"), "{html}");
    let (status, body) = app.json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": "9.9.9", "commit": "abc123", "components": []})
    );
    assert_eq!(app.json("/readyz").await.0, 200);
    for path in ["/static/style.css", "/static/favicon.svg", "/favicon.ico"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

#[actix_web::test]
async fn unknown_pages_get_the_styled_404_with_headers() {
    let app = spawn(Site::new(info()));
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    for header in [
        "x-request-id",
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(res.headers().contains_key(header), "{header}");
    }
    let html = res.text().await.unwrap();
    assert!(
        html.contains("There is no page at /no/such/page."),
        "{html}"
    );
    assert!(html.contains(r#"href="/">Back to the home page"#), "{html}");
    let (status, body) = app.json("/api/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "There is no page at /api/nothing.");
}

#[actix_web::test]
async fn head_is_answered_like_get_and_other_methods_get_405() {
    let app = spawn(Site::new(info()));
    for path in ["/", "/healthz", "/readyz", "/static/style.css"] {
        let res = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
    }
    let res = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
}
