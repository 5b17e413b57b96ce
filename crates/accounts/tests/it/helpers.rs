//! A site with the accounts component (and a page that says who is signed in) on a fresh
//! store, and a client that keeps cookies like a browser.

use std::net::TcpListener;
use std::sync::Arc;

use accounts::{AccountStore, Accounts, AccountsSettings, Email, Flags, NewUser, Username};
use web::actix_web::{HttpRequest, HttpResponse};
use web::{BuildInfo, Routes, Running, Security, ServerOptions, Site};

/// The stores every test runs against.
pub const BOTH: [web::Backend; 2] = [web::Backend::Memory, web::Backend::Postgres];

/// A password that passes every rule.
pub const GOOD: &str = "Vq7!rmT2#pLx";

pub struct TestSite {
    pub base: String,
    pub store: Arc<dyn AccountStore>,
    _db: Option<db::testing::TestDatabase>,
}

/// Says who the request is from (a made-up component, to see the accounts middleware's
/// work from another component).
struct Whoami;

async fn whoami(req: HttpRequest) -> HttpResponse {
    let who = web::identity(&req).map_or("anonymous".to_owned(), |i| {
        format!(
            "{} staff={} superuser={}",
            i.username, i.is_staff, i.is_superuser
        )
    });
    HttpResponse::Ok().body(who)
}

impl Running for Whoami {
    fn routes(&self, routes: &mut Routes) {
        routes.get("/whoami", whoami);
    }
}

fn info() -> BuildInfo {
    BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

/// A site on a fresh `backend` store holding the user `ada` (password [`GOOD`]).
pub fn site(backend: web::Backend, settings: AccountsSettings) -> TestSite {
    let (store, db): (Arc<dyn AccountStore>, _) = match backend {
        web::Backend::Memory => (Arc::new(accounts::memory::MemoryStore::default()), None),
        web::Backend::Postgres => {
            let db = db::testing::TestDatabase::migrated(&[accounts::pg::MIGRATIONS]);
            let store = accounts::pg::PgStore::new(db.database()).unwrap();
            (Arc::new(store), Some(db))
        }
    };
    add_user(
        &*store,
        "ada",
        GOOD,
        Flags {
            is_active: true,
            ..Flags::default()
        },
    );
    let security = Security {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Security::default()
    };
    let accounts = Accounts::new(store.clone(), settings, &security);
    let site = Site::new(info())
        .security(security)
        .with("accounts", accounts)
        .with("whoami", Whoami);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    actix_web::rt::spawn(web::serve(listener, site, &options).unwrap());
    TestSite {
        base,
        store,
        _db: db,
    }
}

pub fn add_user(store: &dyn AccountStore, name: &str, password: &str, flags: Flags) {
    store
        .create(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse_optional(&format!("{name}@example.org")).unwrap(),
            password_hash: accounts::password::hash(password),
            flags,
        })
        .unwrap();
}

pub use test_support::{Browser, Page};

/// What only these tests ask of a browser.
pub trait AsVisitor {
    fn of(site: &TestSite) -> Self;
    async fn whoami(&self) -> String;
    async fn whoami_with(&self, session: &str) -> String;
}

impl AsVisitor for Browser {
    fn of(site: &TestSite) -> Self {
        Browser::new(&site.base)
    }

    async fn whoami(&self) -> String {
        self.get("/whoami").await.body
    }

    /// Who the site sees for a request carrying only `session` as its session cookie.
    async fn whoami_with(&self, session: &str) -> String {
        reqwest::Client::new()
            .get(format!("{}/whoami", self.base))
            .header("cookie", format!("quotes_session={session}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}
