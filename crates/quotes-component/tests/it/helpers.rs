//! `spawn_app`: a real server on a free port with a fresh store.

use std::net::TcpListener;
use std::sync::Arc;

use quotes_component::{QuotesSettings, QuotesSite};
use quotes_core::{NewQuote, Page, PageRequest, Quote, QuoteId, QuoteStore, StoreError};
use quotes_store_memory::MemoryStore;
use quotes_store_pg::testing::TestDatabase;
use web::{BuildInfo, ServerOptions, Site};

/// The site under test (its HTTP methods come from `test_support::Http`) and its store.
pub struct TestApp {
    http: test_support::Http,
    pub store: Arc<dyn QuoteStore>,
    /// Keeps a PostgreSQL test database alive as long as the app.
    _db: Option<TestDatabase>,
}

impl std::ops::Deref for TestApp {
    type Target = test_support::Http;

    fn deref(&self) -> &test_support::Http {
        &self.http
    }
}

/// The stores every page test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    Postgres,
}

impl Backend {
    fn fresh(self) -> (Arc<dyn QuoteStore>, Option<TestDatabase>) {
        match self {
            Backend::Memory => (Arc::new(MemoryStore::default()), None),
            Backend::Postgres => {
                let db = TestDatabase::new();
                let store = (*db).clone();
                (Arc::new(store), Some(db))
            }
        }
    }
}

/// Expands `async fn case(b: Backend)` functions into one test per store:
/// `memory::case` and `postgres::case`.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $( #[actix_web::test] async fn $case() { super::$case($crate::helpers::Backend::Memory).await } )*
        }
        mod postgres {
            $( #[actix_web::test] async fn $case() { super::$case($crate::helpers::Backend::Postgres).await } )*
        }
    };
}
pub(crate) use on_both_stores;

pub fn info() -> BuildInfo {
    BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

/// Starts a site with the quotes component on `store`.
fn spawn(store: Arc<dyn QuoteStore>, db: Option<TestDatabase>) -> TestApp {
    spawn_with(store, db, QuotesSettings::default())
}

/// Starts a site with the quotes component on `store` with `settings`.
pub fn spawn_with(
    store: Arc<dyn QuoteStore>,
    db: Option<TestDatabase>,
    settings: QuotesSettings,
) -> TestApp {
    spawn_cached(store, db, settings, None)
}

/// Starts a site with the quotes component on `store`, keeping its pages in `cache`.
pub fn spawn_cached(
    store: Arc<dyn QuoteStore>,
    db: Option<TestDatabase>,
    settings: QuotesSettings,
    cache: Option<web::CacheHandle>,
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let quotes = QuotesSite::new(store.clone(), settings).with_cache(cache);
    let site = Site::new(info()).with("quotes", quotes);
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    let server = web::serve(listener, site, &options).expect("server starts");
    actix_web::rt::spawn(server);
    TestApp {
        http: test_support::Http::on_port(port),
        store,
        _db: db,
    }
}

fn numbered(n: usize) -> Vec<NewQuote> {
    (1..=n)
        .map(|i| NewQuote::parse(&format!("Quote {i}"), "Author", None).unwrap())
        .collect()
}

/// The site on a fresh `backend` store holding `n` quotes "Quote 1" … "Quote n" by "Author".
pub fn spawn_app(backend: Backend, n: usize) -> TestApp {
    let (store, db) = backend.fresh();
    store.get_or_create_all(&numbered(n)).unwrap();
    spawn(store, db)
}

/// The site on `store` (for stores made by the test itself).
pub fn spawn_on(store: Arc<dyn QuoteStore>) -> TestApp {
    spawn(store, None)
}

/// A memory store holding "Quote 1" … "Quote n".
pub fn memory_with(n: usize) -> Arc<dyn QuoteStore> {
    let store = Arc::new(MemoryStore::default());
    store.get_or_create_all(&numbered(n)).unwrap();
    store
}

/// A store whose every call fails with the error its function makes.
pub struct FailingStore(pub fn() -> StoreError);

/// The backend is down: try again later.
pub fn down() -> StoreError {
    StoreError::unavailable("connection refused (password=hunter2)")
}

/// A fault retrying will not mend, such as a row the domain refuses.
pub fn fault() -> StoreError {
    StoreError::internal("row 7: source has unbalanced parentheses (password=hunter2)")
}

impl QuoteStore for FailingStore {
    fn get(&self, _: QuoteId) -> Result<Quote, StoreError> {
        Err((self.0)())
    }
    fn list(&self, _: PageRequest) -> Result<Page<Quote>, StoreError> {
        Err((self.0)())
    }
    fn list_from(&self, _: quotes_core::Cursor, _: u32) -> Result<Vec<Quote>, StoreError> {
        Err((self.0)())
    }
    fn stats(&self) -> Result<quotes_core::StoreStats, StoreError> {
        Err((self.0)())
    }
    fn insert(&self, _: NewQuote) -> Result<Quote, StoreError> {
        Err((self.0)())
    }
    fn update(&self, _: QuoteId, _: NewQuote) -> Result<Quote, StoreError> {
        Err((self.0)())
    }
    fn delete(&self, _: QuoteId) -> Result<(), StoreError> {
        Err((self.0)())
    }
    fn pick(&self, _: u64) -> Result<Option<Quote>, StoreError> {
        Err((self.0)())
    }
    fn get_or_create_all(&self, _: &[NewQuote]) -> Result<quotes_core::LoadReport, StoreError> {
        Err((self.0)())
    }
    fn update_if(&self, _: QuoteId, _: &NewQuote, _: NewQuote) -> Result<Quote, StoreError> {
        Err((self.0)())
    }
    fn search(
        &self,
        _: &quotes_core::QuoteQuery,
        _: PageRequest,
    ) -> Result<Page<Quote>, StoreError> {
        Err((self.0)())
    }
    fn authors(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Err((self.0)())
    }
    fn sources(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Err((self.0)())
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
