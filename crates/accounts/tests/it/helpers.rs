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

/// A browser: keeps cookies, posts forms with the page's CSRF token.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new(site: &TestSite) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Self {
            base: site.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_provider(jar.clone())
                .build()
                .unwrap(),
            jar,
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, retry_after) = (header("location"), header("retry-after"));
        Page {
            status: res.status().as_u16(),
            location,
            retry_after,
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The CSRF token of the page at `path`.
    pub async fn token(&self, path: &str) -> String {
        let body = self.get(path).await.body;
        let marker = "name=\"csrf_token\" value=\"";
        let at = body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on {path}: {body}"))
            + marker.len();
        let end = at + body[at..].find('"').unwrap();
        body[at..end].to_owned()
    }

    /// Posts `fields` (and the token of the page at `form_page`) to `path`.
    pub async fn post(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.token(form_page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        Self::page(res).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.post(
            "/accounts/login",
            "/accounts/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub async fn whoami(&self) -> String {
        self.get("/whoami").await.body
    }

    /// The session cookie's value, if the browser holds one.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap();
        let cookies = self.jar.cookies(&url)?;
        cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("quotes_session="))
            .map(str::to_owned)
    }

    /// Who the site sees for a request carrying only `session` as its session cookie.
    pub async fn whoami_with(&self, session: &str) -> String {
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

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
