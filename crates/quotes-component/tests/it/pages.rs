//! The HTML pages: home, list, detail, errors, headers, static files.

use std::sync::Arc;

use quotes_core::{NewQuote, QuoteStore};

use crate::helpers::*;

async fn home_says_hello_and_highlights_a_stored_quote(b: Backend) {
    let app = spawn_app(b, 3);
    let (status, html) = app.text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Hello, World!</h1>"), "{html}");
    let ids = highlighted_ids(&html);
    assert_eq!(ids.len(), 1, "exactly one highlighted quote: {html}");
    let quote = app.store.get(quotes_core::QuoteId(ids[0])).unwrap();
    assert!(
        html.contains(quote.text.as_str()),
        "the highlighted quote's text is on the page"
    );
}

async fn home_with_no_quotes_has_a_friendly_empty_state(b: Backend) {
    let app = spawn_app(b, 0);
    let (status, html) = app.text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Hello, World!"));
    assert!(html.contains("There are no quotes yet."));
    assert!(quote_ids(&html).is_empty());
}

async fn quotes_list_pages_with_links_and_a_featured_quote(b: Backend) {
    let app = spawn_app(b, 5);
    let (status, html) = app.text("/quotes?per_page=2").await;
    assert_eq!(status, 200);
    let ids = quote_ids(&html);
    // The featured quote comes first, then the page's two quotes.
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(highlighted_ids(&html), vec![ids[0]]);
    assert_eq!(&ids[1..], &[1, 2]);
    // The next page's link carries the id it starts after (a keyset cursor).
    assert!(
        html.contains(r#"href="/quotes?page=2&amp;per_page=2&amp;after=2""#),
        "next link: {html}"
    );
    assert!(!html.contains(r#"rel="prev""#));

    let (_, html) = app.text("/quotes?page=3&per_page=2").await;
    assert_eq!(&quote_ids(&html)[1..], &[5]);
    assert!(
        html.contains(r#"rel="prev" href="/quotes?page=2&amp;per_page=2&amp;before=5""#),
        "{html}"
    );
    assert!(!html.contains(r#"rel="next""#));
    // Following the links gives the same pages as their numbers do.
    let (_, html) = app.text("/quotes?page=2&per_page=2&before=5").await;
    assert_eq!(&quote_ids(&html)[1..], &[3, 4]);
    let (_, html) = app.text("/quotes?page=2&per_page=2&after=2").await;
    assert_eq!(&quote_ids(&html)[1..], &[3, 4]);
    assert!(html.contains("page 2 of 3"), "{html}");
}

async fn quotes_list_defaults_to_fifty_a_page(b: Backend) {
    let app = spawn_app(b, 51);
    let (_, html) = app.text("/quotes").await;
    assert_eq!(quote_ids(&html).len(), 1 + 50);
    assert!(html.contains(r#"href="/quotes?page=2&amp;after=50""#));
}

async fn bad_paging_is_a_clear_4xx_never_a_500(b: Backend) {
    let app = spawn_app(b, 3);
    for (path, status, message) in [
        (
            "/quotes?page=abc",
            400,
            "page must be a positive whole number, not &quot;abc&quot;",
        ),
        (
            "/quotes?page=0",
            400,
            "page is not valid: pages count from 1",
        ),
        (
            "/quotes?page=-1",
            400,
            "page must be a positive whole number",
        ),
        (
            "/quotes?per_page=1001",
            400,
            "per_page is not valid: must be between 1 and 1000",
        ),
        (
            "/quotes?page=99999999999",
            400,
            "page must be a positive whole number",
        ),
        (
            "/quotes?page=2",
            404,
            "Page 2 does not exist; the last page is 1.",
        ),
        (
            "/quotes/abc",
            404,
            "There is no quote with id &quot;abc&quot;.",
        ),
        ("/quotes/0", 404, "There is no quote with id"),
        ("/quotes/999", 404, "no such quote"),
    ] {
        let (got, html) = app.text(path).await;
        assert_eq!(got, status, "{path}");
        assert!(
            html.contains(message),
            "{path}: expected {message:?} in {html}"
        );
        assert!(
            html.contains(r#"href="/">Back to the home page"#),
            "{path}: a way home"
        );
    }
}

async fn quote_detail_shows_one_quote_with_a_way_back(b: Backend) {
    let app = spawn_app(b, 0);
    let q = app
        .store
        .insert(
            NewQuote::parse(
                "All warfare is based on deception.",
                "Sun Tzu",
                Some("The Art of War"),
            )
            .unwrap(),
        )
        .unwrap();
    let (status, html) = app.text(&format!("/quotes/{}", q.id)).await;
    assert_eq!(status, 200);
    assert_eq!(highlighted_ids(&html), vec![q.id.0]);
    assert!(html.contains("All warfare is based on deception."));
    assert!(html.contains("<cite class=\"quote-source\">The Art of War</cite>"));
    assert!(html.contains(r#"href="/quotes">&larr; All quotes"#));
}

async fn quote_text_is_escaped(b: Backend) {
    let app = spawn_app(b, 0);
    app.store
        .insert(NewQuote::parse("<script>alert('x')</script> & co", "<b>Bold</b>", None).unwrap())
        .unwrap();
    let (_, html) = app.text("/quotes").await;
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;Bold&lt;/b&gt;"));
}

async fn unknown_pages_get_the_styled_404(b: Backend) {
    let app = spawn_app(b, 1);
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>404 · Not Found</h1>"), "{html}");
    assert!(html.contains("There is no page at /no/such/page."));
    assert!(html.contains(r#"<link rel="stylesheet" href="/static/style.css"#));
}

async fn every_response_has_security_headers_and_a_request_id(b: Backend) {
    let app = spawn_app(b, 1);
    for path in [
        "/",
        "/quotes",
        "/nope",
        "/api/quotes",
        "/healthz",
        "/static/style.css",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-request-id"].len(), 16, "{path}");
    }
}

#[actix_web::test]
async fn stylesheet_and_favicon_are_served_from_the_binary() {
    let app = spawn_on(Arc::new(FailingStore(down)));
    let res = app.get("/static/quotes/style.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert!(res.text().await.unwrap().contains(".quote.highlight"));
    let (_, html) = spawn_app(Backend::Memory, 0).text("/").await;
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/static/quotes/style.css?v=9.9.9-abc123">"#),
        "{html}"
    );
    assert_eq!(
        app.get("/favicon.ico").await.headers()["content-type"],
        "image/svg+xml"
    );
}

async fn text_is_gzipped_for_clients_that_accept_it(b: Backend) {
    let app = spawn_app(b, 3);
    for path in ["/quotes", "/static/style.css", "/api/quotes"] {
        let res = app
            .client
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-encoding"], "gzip", "{path}");
    }
    let plain = app.get("/quotes").await;
    assert!(plain.headers().get("content-encoding").is_none());
}

async fn healthz_reports_version_and_commit(b: Backend) {
    let app = spawn_app(b, 0);
    let (status, body) = app.json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({
            "status": "ok",
            "version": "9.9.9",
            "commit": "abc123",
            "components": ["quotes"]
        })
    );
}

#[actix_web::test]
async fn readyz_follows_the_store() {
    let ok = spawn_app(Backend::Memory, 0);
    let (status, body) = ok.json("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));

    let down = spawn_on(Arc::new(FailingStore(down)));
    let res = down.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "unavailable"}),
        "which component is down goes to the log, not to clients"
    );
}

#[actix_web::test]
async fn a_store_outage_is_a_503_and_pages_without_the_store_still_work() {
    let app = spawn_on(Arc::new(FailingStore(down)));
    for path in ["/", "/quotes", "/quotes/1"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "5", "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("temporarily unavailable"), "{path}: {html}");
        assert!(
            !html.contains("hunter2") && !html.contains("connection refused"),
            "{path}: no internals"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/static/style.css").await.status(), 200);
}

on_both_stores!(
    home_says_hello_and_highlights_a_stored_quote,
    home_with_no_quotes_has_a_friendly_empty_state,
    quotes_list_pages_with_links_and_a_featured_quote,
    quotes_list_defaults_to_fifty_a_page,
    bad_paging_is_a_clear_4xx_never_a_500,
    quote_detail_shows_one_quote_with_a_way_back,
    quote_text_is_escaped,
    unknown_pages_get_the_styled_404,
    every_response_has_security_headers_and_a_request_id,
    healthz_reports_version_and_commit,
    text_is_gzipped_for_clients_that_accept_it,
);

/// The original project's question: does a long page cost a query per quote?
#[actix_web::test]
async fn a_thousand_quotes_render_in_a_constant_number_of_queries() {
    let db = quotes_store_pg::testing::TestDatabase::new();
    let store = Arc::new((*db).clone());
    let app = spawn_on(store.clone());
    let mut costs = Vec::new();
    for total in [10, 1000] {
        let batch: Vec<_> = (store.count().unwrap() as usize..total)
            .map(|i| NewQuote::parse(&format!("Quote {i}"), "Author", None).unwrap())
            .collect();
        store.get_or_create_all(&batch).unwrap();
        let before = store.queries_run();
        let (status, html) = app.text("/quotes?per_page=1000").await;
        assert_eq!(status, 200);
        assert_eq!(quote_ids(&html).len(), 1 + total);
        costs.push(store.queries_run() - before);
    }
    assert_eq!(
        costs[0], costs[1],
        "the same statements for 10 and for 1000 quotes: {costs:?}"
    );
    // One connection (its checkout ping), then the stats, the rows and the featured quote.
    assert_eq!(costs[1], 4, "{costs:?}");
}

#[actix_web::test]
async fn a_store_fault_is_a_500_with_a_request_id_and_no_internals() {
    let app = spawn_on(Arc::new(FailingStore(fault)));
    for path in ["/", "/quotes", "/quotes/7"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 500, "{path}");
        assert!(
            res.headers().get("retry-after").is_none(),
            "{path}: not a passing outage"
        );
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("Request id: <code>{id}</code>")),
            "{path}: {html}"
        );
        assert!(
            !html.contains("hunter2") && !html.contains("unbalanced"),
            "{path}: {html}"
        );
    }
}

#[actix_web::test]
async fn head_is_answered_like_get_and_other_methods_get_405() {
    let app = spawn_app(Backend::Memory, 2);
    for path in [
        "/",
        "/quotes",
        "/quotes/1",
        "/api/quotes",
        "/healthz",
        "/readyz",
        "/static/style.css",
    ] {
        let res = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
    }
    let res = app.client.post(app.url("/quotes")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("This address does not accept that method."));
    assert_eq!(
        app.client
            .delete(app.url("/api/quotes/1"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        app.client
            .head(app.url("/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[actix_web::test]
async fn the_per_page_setting_sets_the_default_page_size() {
    let settings = quotes_component::QuotesSettings {
        per_page: 10,
        ..Default::default()
    };
    let app = spawn_with(memory_with(25), None, settings);
    let (_, html) = app.text("/quotes").await;
    assert_eq!(quote_ids(&html).len(), 1 + 10, "the featured quote and ten");
    assert!(
        html.contains(r#"rel="next" href="/quotes?page=2&amp;after=10""#),
        "links leave the default size out: {html}"
    );
    let (_, body) = app.json("/api/quotes").await;
    assert_eq!(
        (body["per_page"].as_u64(), body["num_pages"].as_u64()),
        (Some(10), Some(3))
    );
    let (_, html) = app.text("/quotes?per_page=50").await;
    assert_eq!(quote_ids(&html).len(), 1 + 25);
}
