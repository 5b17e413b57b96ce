//! `spawn_app`: a real server on a free port with a fresh store.

use std::net::TcpListener;
use std::sync::Arc;

use quotes_core::{NewQuote, Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError};
use quotes_store_memory::MemoryStore;
use web::quotes::QuotesComponent;
use web::{BuildInfo, Component, ServerOptions, Site};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the server")
    }

    /// GET `path` and return (status, body).
    pub async fn text(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }
}

pub fn info() -> BuildInfo {
    BuildInfo {
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

/// Starts a site with the quotes component on `store`, plus `extra` components.
pub fn spawn_site(
    store: Arc<dyn QuoteStore>,
    extra: Vec<Box<dyn FnOnce(Site) -> Site>>,
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let mut site = Site::new(info()).with(QuotesComponent::new(store));
    for add in extra {
        site = add(site);
    }
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    let server = web::serve(listener, site, &options).expect("server starts");
    actix_web::rt::spawn(server);
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

pub fn spawn_app(store: Arc<dyn QuoteStore>) -> TestApp {
    spawn_site(store, Vec::new())
}

pub fn with_component(c: impl Component) -> Box<dyn FnOnce(Site) -> Site> {
    Box::new(move |site| site.with(c))
}

/// A memory store holding `n` quotes "Quote 1" … "Quote n" by "Author".
pub fn store_with(n: usize) -> Arc<MemoryStore> {
    let store = MemoryStore::default();
    let batch: Vec<_> = (1..=n)
        .map(|i| NewQuote::parse(&format!("Quote {i}"), "Author", None).unwrap())
        .collect();
    store.get_or_create_all(&batch).unwrap();
    Arc::new(store)
}

/// A store whose backend is down: every call is `Unavailable`.
pub struct DownStore;

fn down() -> StoreError {
    StoreError::unavailable("connection refused (password=hunter2)")
}

impl QuoteStore for DownStore {
    fn get(&self, _: QuoteId) -> Result<Quote, StoreError> {
        Err(down())
    }
    fn list(&self, _: PageRequest) -> Result<Page<Quote>, StoreError> {
        Err(down())
    }
    fn count(&self) -> Result<u64, StoreError> {
        Err(down())
    }
    fn insert(&self, _: NewQuote) -> Result<Quote, StoreError> {
        Err(down())
    }
    fn update(&self, _: QuoteId, _: NewQuote) -> Result<Quote, StoreError> {
        Err(down())
    }
    fn delete(&self, _: QuoteId) -> Result<(), StoreError> {
        Err(down())
    }
    fn pick(&self, _: u64) -> Result<Option<Quote>, StoreError> {
        Err(down())
    }
    fn get_or_create_all(&self, _: &[NewQuote]) -> Result<quotes_core::LoadReport, StoreError> {
        Err(down())
    }
}

/// The `data-quote-id` values in a page, in order.
pub fn quote_ids(html: &str) -> Vec<i64> {
    html.split("data-quote-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The ids of elements that carry the `highlight` class.
pub fn highlighted_ids(html: &str) -> Vec<i64> {
    html.split("<figure class=\"quote highlight\" data-quote-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}
