//! A site with accounts, the admin, quotes and the wiki on a fresh store, its stores at hand, and
//! users of each kind.

use std::net::TcpListener;
use std::sync::Arc;

use accounts::{AccountStore, Accounts, AccountsSettings, Email, Flags, NewUser, Username};
use admin::{Admin, AdminSettings};
use quotes_component::{QuotesSettings, QuotesSite};
use quotes_core::{NewQuote, QuoteStore};
use web::admin::{History, HistoryHandle};
use web::{BuildInfo, Security, ServerOptions, Site};

pub use test_support::Browser;

/// The stores every test runs against.
pub const BOTH: [web::Backend; 2] = [web::Backend::Memory, web::Backend::Postgres];

/// A password that passes every rule; every test user has it.
pub const GOOD: &str = "Vq7!rmT2#pLx";

pub struct TestSite {
    pub base: String,
    pub accounts: Arc<dyn AccountStore>,
    pub quotes: Arc<dyn QuoteStore>,
    pub wiki: Arc<dyn wiki_adapter::WikiStore>,
    pub history: Arc<dyn History>,
    _db: Option<db::testing::TestDatabase>,
}

impl TestSite {
    /// A browser signed in as `user` (one of `boss`, `staff`, `visitor`).
    pub async fn as_user(&self, user: &str) -> Browser {
        let b = Browser::new(&self.base);
        let page = b.login(user, GOOD).await;
        assert_eq!(page.status, 303, "{user} signs in: {}", page.body);
        b
    }

    pub fn add_quote(&self, text: &str, author: &str, source: Option<&str>) -> i64 {
        self.quotes
            .insert(NewQuote::parse(text, author, source).unwrap())
            .unwrap()
            .id
            .0
    }
}

fn info() -> BuildInfo {
    BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

type Stores = (
    Arc<dyn AccountStore>,
    Arc<dyn QuoteStore>,
    Arc<dyn wiki_adapter::WikiStore>,
    Arc<dyn History>,
    Option<db::testing::TestDatabase>,
);

/// A site on a fresh `backend` store with a superuser `boss`, a staff user `staff` and a
/// plain user `visitor`, and no quote; list pages of `per_page` rows.
pub fn site(backend: web::Backend, per_page: u32) -> TestSite {
    let (accounts, quotes, wiki, history, db): Stores = match backend {
        web::Backend::Memory => (
            Arc::new(accounts::memory::MemoryStore::default()),
            Arc::new(quotes_store_memory::MemoryStore::default()),
            Arc::new(wiki_adapter::memory::MemoryStore::default()),
            Arc::new(admin::history::MemoryHistory::default()),
            None,
        ),
        web::Backend::Postgres => {
            let db = db::testing::TestDatabase::migrated(&[
                accounts::pg::MIGRATIONS,
                admin::history::MIGRATIONS,
                quotes_store_pg::MIGRATIONS,
                wiki_adapter::pg::MIGRATIONS,
            ]);
            (
                Arc::new(accounts::pg::PgStore::new(db.database()).unwrap()),
                Arc::new(quotes_store_pg::PgStore::new(db.database()).unwrap()),
                Arc::new(wiki_adapter::pg::PgStore::new(db.database()).unwrap()),
                Arc::new(admin::history::PgHistory::new(db.database()).unwrap()),
                Some(db),
            )
        }
    };
    for (name, is_staff, is_superuser) in [
        ("boss", true, true),
        ("staff", true, false),
        ("visitor", false, false),
    ] {
        add_user(
            &*accounts,
            name,
            Flags {
                is_active: true,
                is_staff,
                is_superuser,
            },
        );
    }
    let security = Security::default();
    let site = Site::new(info())
        .security(security.clone())
        .with(
            "accounts",
            Accounts::new(accounts.clone(), AccountsSettings::default(), &security),
        )
        .with(
            "admin",
            Admin::new(
                history.clone(),
                Some(accounts::LOGIN_URL.to_owned()),
                AdminSettings {
                    per_page,
                    ..AdminSettings::default()
                },
            ),
        )
        .with(
            "quotes",
            QuotesSite::new(quotes.clone(), QuotesSettings::default())
                .with_history(Some(HistoryHandle::of(history.clone()))),
        )
        .with(
            "wiki",
            wiki_adapter::Wiki::new(wiki.clone(), wiki_adapter::WikiSettings::default()),
        );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    actix_web::rt::spawn(web::serve(listener, site, &options).unwrap());
    TestSite {
        base,
        accounts,
        quotes,
        wiki,
        history,
        _db: db,
    }
}

pub fn add_user(store: &dyn AccountStore, name: &str, flags: Flags) {
    store
        .create(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse_optional(&format!("{name}@example.org")).unwrap(),
            password_hash: accounts::password::hash(GOOD),
            flags,
        })
        .unwrap();
}

/// The `data-field` errors of a form page, as `(field, message)`.
pub fn field_errors(body: &str) -> Vec<(String, String)> {
    let marker = "<span class=\"field-error\" data-field=\"";
    body.match_indices(marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            let field = &rest[..rest.find('"').unwrap()];
            let text = &rest[rest.find('>').unwrap() + 1..rest.find("</span>").unwrap()];
            (field.to_owned(), text.to_owned())
        })
        .collect()
}

/// The `data-id`s of a list page's rows, in order.
pub fn row_ids(body: &str) -> Vec<String> {
    let marker = "<tr data-id=\"";
    body.match_indices(marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The hidden `version` of a change form.
pub fn version(body: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let at = body.find(marker).expect("a version field") + marker.len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}
