//! The wiki over HTTP on a real server, on each store: reading, creating, red links,
//! editing with merges and conflicts, history, diff, revert, rights, limits and the API.

use std::net::TcpListener;
use std::sync::Arc;

use web::actix_web::dev::ServiceRequest;
use web::actix_web::HttpMessage;
use web::{middleware_fn, BuildInfo, Identity, Next, Running, ServerOptions, Site};
use wiki_adapter::{Wiki, WikiSettings, WikiStore};

mod pages;
mod staff;

/// The stores every test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    Postgres,
}

/// Expands `async fn case(b: Backend)` into `memory::case` and `postgres::case`.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $( #[actix_web::test] async fn $case() { super::$case($crate::Backend::Memory).await } )*
        }
        mod postgres {
            $( #[actix_web::test] async fn $case() { super::$case($crate::Backend::Postgres).await } )*
        }
    };
}
pub(crate) use on_both_stores;

/// Signs in whoever the `x-user` header names (staff when it ends in `!`), as the accounts
/// component would: the wiki only reads `web::identity`.
struct SignIn;

impl Running for SignIn {
    fn middleware(&self) -> Option<Arc<dyn web::Middleware>> {
        Some(middleware_fn(
            |req: ServiceRequest, next: Next| async move {
                if let Some(user) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
                    let is_staff = user.ends_with('!');
                    let identity = Identity {
                        user_id: 1,
                        username: user.trim_end_matches('!').to_owned(),
                        is_staff,
                        is_superuser: false,
                    };
                    req.extensions_mut().insert(identity);
                }
                next.call(req).await
            },
        ))
    }
}

/// A site with the wiki on a fresh store, and a client that keeps cookies.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn WikiStore>,
    _db: Option<db::testing::TestDatabase>,
}

pub fn spawn(b: Backend, settings: WikiSettings) -> TestApp {
    let (store, db): (Arc<dyn WikiStore>, _) = match b {
        Backend::Memory => (Arc::new(wiki_adapter::memory::MemoryStore::default()), None),
        Backend::Postgres => {
            let db = db::testing::TestDatabase::migrated(&[wiki_adapter::pg::MIGRATIONS]);
            let store = wiki_adapter::pg::PgStore::new(db.database()).unwrap();
            (Arc::new(store), Some(db))
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let info = BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    };
    let site = Site::new(info).with("signin", SignIn).with(
        "wiki",
        Wiki::new(store.clone(), settings).with_login(Some("/accounts/login".into())),
    );
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    let server = web::serve(listener, site, &options).expect("server starts");
    web::actix_web::rt::spawn(server);
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store,
        _db: db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET as `user` (or anonymously): status and body.
    pub async fn get(&self, path: &str, user: Option<&str>) -> (u16, String) {
        let mut req = self.client.get(self.url(path));
        if let Some(u) = user {
            req = req.header("x-user", u);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// The CSRF token of a page's form.
    pub async fn token(&self, path: &str, user: Option<&str>) -> String {
        let (_, html) = self.get(path, user).await;
        let needle = "name=\"csrf_token\" value=\"";
        let at = html
            .find(needle)
            .unwrap_or_else(|| panic!("no form on {path}: {html}"))
            + needle.len();
        html[at..at + html[at..].find('"').unwrap()].to_owned()
    }

    /// POSTs a form as `user`, with the token of `form_page`: status, Location and body.
    pub async fn post(
        &self,
        path: &str,
        form_page: &str,
        user: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let token = self.token(form_page, user).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        let mut req = self
            .client
            .post(self.url(path))
            .header("origin", &self.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&all));
        if let Some(u) = user {
            req = req.header("x-user", u);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, res.text().await.unwrap())
    }

    /// Saves `content` at `page` (`tactics/`) from revision `base` as `user`.
    pub async fn save(
        &self,
        page: &str,
        user: &str,
        base: &str,
        title: &str,
        content: &str,
    ) -> (u16, Option<String>, String) {
        let edit = format!("/wiki/{page}_edit/");
        self.post(
            &edit,
            &edit,
            Some(user),
            &[
                ("title", title),
                ("content", content),
                ("base", base),
                ("message", ""),
            ],
        )
        .await
    }
}

/// A form's fields, URL-encoded.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}
