//! The accounts component: users (argon2id hashes, Django's password rules), server-side
//! sessions behind a signed cookie that hold on every replica sharing the store, login and
//! logout, changing one's password, login throttling, and the `createsuperuser`,
//! `changepassword` and `users` commands. It tells the rest of the site who is signed in
//! (`web::Identity`) and binds the site's CSRF tokens to the session; the CSRF check itself
//! is the shell's.
//!
//! Architecture invariant: handlers see `Arc<dyn AccountStore>` only; `open_store` is the
//! one place that names a concrete store or checks this crate's `memory` and `pg` features.

mod admin;
mod commands;
#[cfg(feature = "contract-tests")]
pub mod contract;
#[cfg(feature = "memory")]
pub mod memory;
mod pages;
pub mod password;
#[cfg(feature = "pg")]
pub mod pg;
mod session;
mod store;
mod throttle;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use web::actix_web::web::{get, head, post, Data};
use web::actix_web::HttpRequest;
use web::clap::{Arg, ArgMatches, Command};
use web::{
    middleware_fn, CommandContext, Component, Context, Middleware, NavLink, Routes, Running,
    Security,
};

pub use commands::{EMAIL_VAR, PASSWORD_VAR, USERNAME_VAR};
pub use session::SESSION_COOKIE;
pub use store::{
    AccountStore, AccountsError, AttemptStore, Email, Flags, Invalid, NewUser, Profile, Session,
    SessionStore, User, UserId, UserStore, Username,
};

/// The login page.
pub const LOGIN_URL: &str = "/accounts/login";

/// The component, as the registry in `cli` lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccountsComponent;

/// `[accounts]` in the settings (`QUOTES__ACCOUNTS__MIN_PASSWORD_LENGTH=12`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// The shortest password accepted.
    pub min_password_length: usize,
    /// A session ends after this long unused (Django's default: two weeks).
    pub session_idle_secs: u64,
    /// A session ends this long after login, however much it is used.
    pub session_absolute_secs: u64,
    /// Failed logins within the window, per username or client address, before further
    /// tries wait.
    pub throttle_failures: u32,
    pub throttle_window_secs: u64,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        Self {
            min_password_length: 10,
            session_idle_secs: 14 * 24 * 3600,
            session_absolute_secs: 14 * 24 * 3600,
            throttle_failures: 5,
            throttle_window_secs: 15 * 60,
        }
    }
}

/// The longest lifetime or window a setting may ask for.
const TEN_YEARS: u64 = 10 * 366 * 24 * 3600;

fn seconds(secs: u64) -> Duration {
    Duration::seconds(i64::try_from(secs.min(TEN_YEARS)).unwrap_or(0))
}

impl Component for AccountsComponent {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn commands(&self) -> Vec<Command> {
        commands::definitions()
    }

    fn serve_args(&self) -> Vec<Arg> {
        vec![commands::serve_arg()]
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: AccountsSettings = ctx.settings()?;
        anyhow::ensure!(
            settings.throttle_failures >= 1,
            "[accounts] throttle_failures must be at least 1"
        );
        for (name, value) in [
            ("session_idle_secs", settings.session_idle_secs),
            ("session_absolute_secs", settings.session_absolute_secs),
            ("throttle_window_secs", settings.throttle_window_secs),
        ] {
            anyhow::ensure!(
                (1..=TEN_YEARS).contains(&value),
                "[accounts] {name} must be between 1 and {TEN_YEARS} seconds, not {value}"
            );
        }
        let security = ctx
            .resource::<Security>()
            .ok_or_else(|| anyhow::anyhow!("the site provides no security settings"))?;
        let store = open_store(ctx)?;
        // Where the admin (or any component) sends a visitor to sign in.
        ctx.provide(web::admin::LoginUrl(LOGIN_URL.to_owned()));
        let history = ctx
            .resource::<web::admin::HistoryHandle>()
            .unwrap_or_default();
        Ok(Box::new(
            Accounts::new(store, settings, &security).with_history(history),
        ))
    }
}

/// The store for the site's backend.
fn open_store(ctx: &Context<'_>) -> anyhow::Result<Arc<dyn AccountStore>> {
    match ctx.backend() {
        #[cfg(feature = "memory")]
        web::Backend::Memory => Ok(Arc::new(memory::MemoryStore::default())),
        #[cfg(feature = "pg")]
        web::Backend::Postgres => {
            let db = ctx
                .resource::<db::Database>()
                .ok_or_else(|| anyhow::anyhow!("the site provides no PostgreSQL pool"))?;
            Ok(Arc::new(pg::PgStore::new(&db)?))
        }
        // Reached only in a build that left this backend out.
        #[allow(unreachable_patterns)]
        backend => anyhow::bail!("this build of the accounts component has no {backend} store"),
    }
}

/// What the handlers share.
pub(crate) struct State {
    pub store: Arc<dyn AccountStore>,
    pub sessions: Arc<session::Sessions>,
    pub throttle: throttle::Throttle,
    pub settings: AccountsSettings,
    /// The site's change history, where the commands record what they do to users.
    pub history: web::admin::HistoryHandle,
    /// When this process last dropped dead sessions and old attempts (unix seconds).
    last_purge: AtomicI64,
}

/// How often a process drops dead sessions and old login attempts, at the most.
const PURGE_EVERY: i64 = 300;

impl State {
    /// Drops expired and idle sessions and attempts older than the window, at most once
    /// every [`PURGE_EVERY`] seconds per process (`quotes clearsessions` does it at once).
    pub(crate) fn purge_now_and_then(&self, now: DateTime<Utc>) -> Result<(), AccountsError> {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.timestamp() - last < PURGE_EVERY
            || self
                .last_purge
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        self.purge(now).map(drop)
    }

    /// Drops expired and idle sessions and old attempts; returns how many of each.
    pub(crate) fn purge(&self, now: DateTime<Utc>) -> Result<(u64, u64), AccountsError> {
        let sessions = self.store.purge_sessions(now, now - self.sessions.idle)?;
        let attempts = self.store.purge_attempts(now - self.throttle.window)?;
        Ok((sessions, attempts))
    }
}

/// The running component. Tests make one directly.
pub struct Accounts {
    state: Arc<State>,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn AccountStore>,
        settings: AccountsSettings,
        security: &Security,
    ) -> Self {
        let sessions = session::Sessions::new(
            store.clone(),
            &security.key,
            security.secure_cookies,
            seconds(settings.session_idle_secs),
            seconds(settings.session_absolute_secs),
        );
        let throttle = throttle::Throttle {
            store: store.clone(),
            limit: settings.throttle_failures,
            window: seconds(settings.throttle_window_secs),
        };
        Self {
            state: Arc::new(State {
                store,
                sessions: Arc::new(sessions),
                throttle,
                settings,
                history: web::admin::HistoryHandle::default(),
                last_purge: AtomicI64::new(0),
            }),
        }
    }

    /// Records what the commands change in the site's `history`.
    pub fn with_history(mut self, history: web::admin::HistoryHandle) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.history = history;
        }
        self
    }

    /// The store it keeps accounts in.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.state.store
    }

    fn commands(&self) -> commands::Commands<'_> {
        commands::Commands {
            state: &self.state,
            store: &*self.state.store,
            min_password_length: self.state.settings.min_password_length,
            var: |name| std::env::var(name).ok(),
        }
    }
}

impl Running for Accounts {
    fn admin_sections(&self) -> Vec<Arc<dyn web::admin::AdminSection>> {
        vec![Arc::new(admin::UsersAdmin::new(
            self.state.store.clone(),
            self.state.settings.min_password_length,
        ))]
    }

    fn routes(&self, routes: &mut Routes) {
        routes
            .data(Data::from(self.state.clone()))
            .resource("/accounts/login", |r| {
                r.route(get().to(pages::login_form))
                    .route(head().to(pages::login_form))
                    .route(post().to(pages::login))
            })
            .resource("/accounts/logout", |r| r.route(post().to(pages::logout)))
            .resource("/accounts/password", |r| {
                r.route(get().to(pages::password_form))
                    .route(head().to(pages::password_form))
                    .route(post().to(pages::change_password))
            });
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "accounts/login.html",
                include_str!("../templates/accounts/login.html"),
            ),
            (
                "accounts/password.html",
                include_str!("../templates/accounts/password.html"),
            ),
        ]
    }

    fn nav(&self, req: &HttpRequest) -> Vec<NavLink> {
        match web::identity(req) {
            Some(user) => vec![
                NavLink::new(user.username, "/accounts/password").in_account_area(),
                NavLink::post("Log out", "/accounts/logout").in_account_area(),
            ],
            // Back to this page after logging in (the login page itself goes home).
            None if req.path().starts_with("/accounts/") => {
                vec![NavLink::new("Log in", "/accounts/login").in_account_area()]
            }
            None => vec![NavLink::new(
                "Log in",
                format!("/accounts/login?next={}", pages::query_value(req.path())),
            )
            .in_account_area()],
        }
    }

    fn check_ready(&self) -> Result<(), String> {
        self.state.store.ping().map_err(|e| format!("{e:#}"))
    }

    fn middleware(&self) -> Option<Arc<dyn Middleware>> {
        let sessions = self.state.sessions.clone();
        Some(middleware_fn(move |req, next| {
            session::middleware(sessions.clone(), req, next)
        }))
    }

    fn prepare(&self, args: &ArgMatches, ctx: &CommandContext<'_>) -> anyhow::Result<()> {
        if args.try_get_one::<bool>("create-superuser").ok().flatten() == Some(&true) {
            self.commands().createsuperuser(true, false, ctx)?;
        }
        Ok(())
    }

    fn run_command(
        &self,
        name: &str,
        args: &ArgMatches,
        ctx: &CommandContext<'_>,
    ) -> anyhow::Result<()> {
        self.commands().run(name, args, ctx)
    }
}
