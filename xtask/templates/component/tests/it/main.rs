//! The __name__ component in a real site on port 0, on each store, driven over HTTP.

use std::net::TcpListener;
use std::sync::Arc;

use __name__::{ItemStore, Pages, Settings, __Name__Component};
use web::{Backend, BuildInfo, ServerOptions, Site};

struct TestApp {
    base: String,
    /// Keeps a PostgreSQL test database alive as long as the app.
    _db: Option<db::testing::TestDatabase>,
}

impl TestApp {
    async fn get(&self, path: &str) -> (u16, String) {
        let res = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request reaches the server");
        (res.status().as_u16(), res.text().await.expect("a body"))
    }
}

fn info() -> BuildInfo {
    BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

fn serve(site: Site, db: Option<db::testing::TestDatabase>) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    actix_web::rt::spawn(web::serve(listener, site, &options).unwrap());
    TestApp { base, _db: db }
}

/// A site with this component started as `quotes serve` starts it: on `backend`, with
/// `settings` (TOML).
fn started(backend: Backend, settings: &str) -> TestApp {
    let settings = config::Config::builder()
        .add_source(config::File::from_str(settings, config::FileFormat::Toml))
        .build()
        .unwrap();
    let mut site = Site::new(info()).backend(backend).settings(settings);
    let db = (backend == Backend::Postgres)
        .then(|| db::testing::TestDatabase::migrated(&[__name__::pg::MIGRATIONS]));
    if let Some(db) = &db {
        site.provide(db.database().clone());
    }
    site.start(&__Name__Component).unwrap();
    serve(site, db)
}

/// A site with this component on a fresh `backend` store holding `items` (oldest first).
fn holding(backend: Backend, items: &[&str]) -> TestApp {
    let (store, db): (Arc<dyn ItemStore>, _) = match backend {
        Backend::Memory => (Arc::new(__name__::memory::MemoryStore::default()), None),
        Backend::Postgres => {
            let db = db::testing::TestDatabase::migrated(&[__name__::pg::MIGRATIONS]);
            let store = __name__::pg::PgStore::new(db.database()).unwrap();
            (Arc::new(store), Some(db))
        }
    };
    for text in items {
        store.add(text).unwrap();
    }
    let site = Site::new(info()).with("__name__", Pages::new(store, Settings::default()));
    serve(site, db)
}

const BOTH: [Backend; 2] = [Backend::Memory, Backend::Postgres];

#[actix_web::test]
async fn the_page_shows_an_empty_state() {
    // Each app (its server and database) lives to the end of the test.
    let mut apps = Vec::new();
    for backend in BOTH {
        let app = started(backend, "");
        let (status, html) = app.get("/__name__").await;
        assert_eq!(status, 200, "{backend}");
        assert!(
            html.contains(r#"<h1 class="__name__-title">__Name__</h1>"#),
            "{html}"
        );
        assert!(html.contains("Nothing here yet."), "{html}");
        assert!(
            html.contains(r#"<link rel="stylesheet" href="/static/__name__/style.css"#),
            "{html}"
        );
        let (status, json) = app.get("/api/__name__").await;
        assert_eq!((status, json.as_str()), (200, r#"{"items":[]}"#));
        apps.push(app);
    }
}

#[actix_web::test]
async fn stored_items_are_listed_newest_first_as_text() {
    let mut apps = Vec::new();
    for backend in BOTH {
        let app = holding(backend, &["first", "<b>second</b>"]);
        let (_, html) = app.get("/__name__").await;
        let second = html.find("&lt;b&gt;second&lt;/b&gt;");
        let first = html.find(">first<");
        assert!(
            matches!((second, first), (Some(s), Some(f)) if s < f),
            "{backend}: newest first, markup as text: {html}"
        );
        assert!(html.contains("2 in all"), "{html}");
        let (_, json) = app.get("/api/__name__").await;
        let body: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(body["items"][0]["text"], "<b>second</b>", "{backend}");
        apps.push(app);
    }
}

#[actix_web::test]
async fn the_title_setting_names_the_page_and_its_link() {
    let app = started(Backend::Memory, "[__name__]\ntitle = \"Our list\"\n");
    let (_, html) = app.get("/__name__").await;
    assert!(html.contains(">Our list</h1>"), "{html}");
    assert!(
        html.contains(r#"data-nav="our list">Our list</a>"#),
        "{html}"
    );
}
