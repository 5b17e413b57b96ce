//! HTTP validators (ETag, Last-Modified, 304) on both stores, and the site's cache on both
//! of its backends: a page is rendered once per version of the quotes, a write anywhere
//! shows at once, and a Redis that goes away means uncached pages, then the cache again.

use std::sync::Arc;
use std::time::Duration;

use quotes_component::QuotesSettings;
use quotes_core::{NewQuote, QuoteStore};
use quotes_store_pg::testing::TestDatabase;
use reqwest::header;
use test_support::redis::RedisServer;

use crate::helpers::{on_both_stores, quote_ids, spawn_app, spawn_cached, Backend, TestApp};

on_both_stores!(a_client_with_the_current_version_gets_304);

async fn a_client_with_the_current_version_gets_304(b: Backend) {
    let app = spawn_app(b, 3);
    // A page's ETag names its visitor (the CSRF token in its forms), so the client keeps
    // its cookies, as a browser does.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let get = |path: &str| client.get(app.url(path)).send();
    for path in [
        "/quotes",
        "/quotes?page=1&per_page=2",
        "/quotes/2",
        "/api/quotes",
        "/api/quotes/2",
    ] {
        let first = get(path).await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let modified = first.headers()[header::LAST_MODIFIED]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        assert!(
            first.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("no-cache"),
            "{path}"
        );
        let again = |name: header::HeaderName, value: String| {
            let (app, client) = (&app, &client);
            async move {
                client
                    .get(app.url(path))
                    .header(name, value)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let not_modified = again(header::IF_NONE_MATCH, etag.clone()).await;
        assert_eq!(not_modified.status(), 304, "{path}");
        assert_eq!(not_modified.headers()[header::ETAG], etag.as_str());
        assert!(not_modified.text().await.unwrap().is_empty());
        let by_date = again(header::IF_MODIFIED_SINCE, modified.clone()).await;
        assert_eq!(
            by_date.status(),
            304,
            "{path}: If-Modified-Since {modified}"
        );
        let other = again(header::IF_NONE_MATCH, "W/\"0\"".into()).await;
        assert_eq!(other.status(), 200, "{path}");
    }
    // A write moves every ETag.
    let before = get("/quotes").await.unwrap().headers()[header::ETAG].clone();
    app.store
        .insert(NewQuote::parse("New", "Author", None).unwrap())
        .unwrap();
    let after = client
        .get(app.url("/quotes"))
        .header(header::IF_NONE_MATCH, before.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()[header::ETAG], before);
    assert!(after.text().await.unwrap().contains(">New<"));
    // Another visitor's copy is not this one's.
    let stranger = app
        .client
        .get(app.url("/quotes"))
        .header(header::IF_NONE_MATCH, before)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 200);
}

/// A PostgreSQL store holding "Quote 1" … "Quote n", served with `cache`.
fn cached_app(n: usize, cache: web::CacheHandle) -> (TestApp, Arc<quotes_store_pg::PgStore>) {
    let db = TestDatabase::new();
    let store = Arc::new((*db).clone());
    let batch: Vec<_> = (1..=n)
        .map(|i| NewQuote::parse(&format!("Quote {i}"), "Author", None).unwrap())
        .collect();
    store.get_or_create_all(&batch).unwrap();
    let app = spawn_cached(
        store.clone(),
        Some(db),
        QuotesSettings::default(),
        Some(cache),
    );
    (app, store)
}

/// Statements the store ran for a GET of `path`, and its body.
async fn cost(app: &TestApp, store: &quotes_store_pg::PgStore, path: &str) -> (u64, String) {
    let before = store.queries_run();
    let (status, body) = app.text(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    (store.queries_run() - before, body)
}

/// Reading the version: one statement and its checkout ping.
const VERSION_ONLY: u64 = 2;

async fn pages_are_kept_until_the_quotes_change(cache: web::CacheHandle) {
    let (app, store) = cached_app(30, cache);
    for path in ["/quotes?per_page=20", "/api/quotes?per_page=20"] {
        let (first, page) = cost(&app, &store, path).await;
        assert!(
            first > VERSION_ONLY,
            "{path}: the first answer reads the quotes"
        );
        let (second, again) = cost(&app, &store, path).await;
        assert_eq!(
            second, VERSION_ONLY,
            "{path}: the second comes from the cache"
        );
        assert_eq!(again, page, "{path}");
    }
    // A write that bypasses this site (as another replica or `quotes load-quotes` would).
    store
        .insert(NewQuote::parse("Quote 31", "Author", None).unwrap())
        .unwrap();
    let (n, html) = cost(&app, &store, "/quotes?per_page=50").await;
    assert!(n > VERSION_ONLY);
    assert_eq!(
        quote_ids(&html).len(),
        1 + 31,
        "the new quote shows at once"
    );
    let (_, json) = cost(&app, &store, "/api/quotes?per_page=50").await;
    assert!(json.contains("Quote 31"), "{json}");
}

#[actix_web::test]
async fn the_memory_cache_keeps_pages_until_the_quotes_change() {
    let cache = cache::open(&cache::CacheSettings::default())
        .unwrap()
        .unwrap();
    assert_eq!(cache.backend(), "memory");
    pages_are_kept_until_the_quotes_change(cache).await;
}

fn redis_cache(server: &RedisServer) -> web::CacheHandle {
    let settings = cache::CacheSettings {
        backend: cache::BackendKind::Redis,
        redis_url: Some(server.url()),
        ..Default::default()
    };
    let cache = cache::open(&settings).unwrap().unwrap();
    assert_eq!(cache.backend(), "redis");
    cache
}

#[actix_web::test]
async fn the_redis_cache_keeps_pages_until_the_quotes_change() {
    let server = RedisServer::start().unwrap();
    pages_are_kept_until_the_quotes_change(redis_cache(&server)).await;
}

#[actix_web::test]
async fn two_replicas_share_the_redis_cache() {
    let server = RedisServer::start().unwrap();
    let (one, store) = cached_app(10, redis_cache(&server));
    let other = spawn_cached(
        store.clone(),
        None,
        QuotesSettings::default(),
        Some(redis_cache(&server)),
    );
    let (_, page) = cost(&one, &store, "/quotes").await;
    let (n, same) = cost(&other, &store, "/quotes").await;
    assert_eq!(n, VERSION_ONLY, "rendered by one, served by the other");
    assert_eq!(quote_ids(&same), quote_ids(&page));
}

#[actix_web::test]
async fn without_redis_pages_are_served_uncached_then_cached_again() {
    let mut server = RedisServer::start().unwrap();
    let (app, store) = cached_app(10, redis_cache(&server));
    let (_, page) = cost(&app, &store, "/quotes").await;
    assert_eq!(cost(&app, &store, "/quotes").await.0, VERSION_ONLY);

    server.stop().unwrap();
    for _ in 0..3 {
        let (n, html) = cost(&app, &store, "/quotes").await;
        assert!(n > VERSION_ONLY, "rendered from the store");
        assert_eq!(quote_ids(&html), quote_ids(&page));
    }
    assert_eq!(app.get("/api/quotes").await.status(), 200);

    server.restart().unwrap();
    // The backend rests a second after a failure, then tries the server again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (n, _) = cost(&app, &store, "/quotes").await;
    assert!(n > VERSION_ONLY, "the restarted server is empty");
    assert_eq!(
        cost(&app, &store, "/quotes").await.0,
        VERSION_ONLY,
        "cached again, with no restart of the site"
    );
}
