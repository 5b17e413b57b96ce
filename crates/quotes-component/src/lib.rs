//! The quotes component: the pages (`/`, `/quotes`, `/quotes/{id}`), the read-only JSON API
//! (`/api/quotes…`), the `load-quotes` and `export-quotes` commands, `serve --load-quotes`,
//! and the `[quotes]` settings, on whichever store the site's backend names.
//!
//! Architecture invariant: handlers see `Arc<dyn QuoteStore>` only; `stores.rs` is the one
//! place that names a concrete store (behind this crate's `memory` and `pg` features).

pub mod admin;
mod api;
mod commands;
mod pages;
mod stores;
mod watched;

use std::sync::Arc;
use std::time::Duration;

use quotes_core::{QuoteStore, StoreError, MAX_PER_PAGE};
use serde::Deserialize;
use web::actix_web::web::Data;
use web::admin::HistoryHandle;
use web::{
    AppError, CacheHandle, Component, Context, ErrorChain, NavLink, Routes, Running, StaticFile,
};

use crate::watched::Watched;

pub use commands::{all_quotes, read_quotes_file, read_quotes_files};

/// The quotes component, as the registry lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quotes;

/// `[quotes]` in the settings (`QUOTES__QUOTES__PER_PAGE=20`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotesSettings {
    /// Quotes on a page of `/quotes` and `/api/quotes` when the request names no
    /// `per_page`.
    pub per_page: u32,
    /// How long a replica trusts the quotes' version it last read, in milliseconds. 0 (the
    /// default) reads it for every request: a write anywhere shows at once. More spares
    /// that read on pages served from the cache; writes through this replica still show at
    /// once, writes elsewhere (another replica, `quotes load-quotes`) within this time.
    pub recheck_ms: u64,
    /// How long a cached page lives, in seconds. Entries are keyed by the quotes' version,
    /// so a write makes them unreachable at once; this only bounds the memory they take.
    pub cache_ttl_secs: u64,
}

impl Default for QuotesSettings {
    fn default() -> Self {
        Self {
            per_page: quotes_core::PageRequest::DEFAULT_PER_PAGE,
            recheck_ms: 0,
            cache_ttl_secs: 600,
        }
    }
}

impl Component for Quotes {
    fn name(&self) -> &'static str {
        "quotes"
    }

    fn commands(&self) -> Vec<web::clap::Command> {
        commands::definitions()
    }

    fn serve_args(&self) -> Vec<web::clap::Arg> {
        vec![commands::load_on_serve_arg()]
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: QuotesSettings = ctx.settings()?;
        anyhow::ensure!(
            (1..=MAX_PER_PAGE).contains(&settings.per_page),
            "[quotes] per_page must be between 1 and {MAX_PER_PAGE}, not {}",
            settings.per_page
        );
        let store = stores::open(ctx)?;
        // The site's change history (kept by the admin, when it runs): what `load-quotes`
        // adds is recorded there.
        let history = ctx.resource::<HistoryHandle>();
        // The site's cache, when the cache component runs.
        let cache = ctx.resource::<CacheHandle>();
        Ok(Box::new(
            QuotesSite::new(store, settings)
                .with_history(history)
                .with_cache(cache),
        ))
    }
}

/// The running quotes component on a store. Tests make one directly.
pub struct QuotesSite {
    state: Arc<State>,
    store: Arc<dyn QuoteStore>,
}

/// What the handlers share.
pub(crate) struct State {
    pub store: Arc<Watched>,
    pub settings: QuotesSettings,
    pub history: Option<HistoryHandle>,
    pub cache: Option<CacheHandle>,
}

impl QuotesSite {
    pub fn new(store: Arc<dyn QuoteStore>, settings: QuotesSettings) -> Self {
        let watched = Arc::new(Watched::new(
            store,
            Duration::from_millis(settings.recheck_ms),
        ));
        Self {
            store: watched.clone(),
            state: Arc::new(State {
                store: watched,
                settings,
                history: None,
                cache: None,
            }),
        }
    }

    fn with_state(self, change: impl FnOnce(&mut State)) -> Self {
        let mut state = Arc::try_unwrap(self.state).unwrap_or_else(|shared| State {
            store: shared.store.clone(),
            settings: shared.settings.clone(),
            history: shared.history.clone(),
            cache: shared.cache.clone(),
        });
        change(&mut state);
        Self {
            state: Arc::new(state),
            store: self.store,
        }
    }

    /// Records what the commands change in `history`.
    pub fn with_history(self, history: Option<HistoryHandle>) -> Self {
        self.with_state(|s| s.history = history)
    }

    /// Keeps rendered pages in `cache`, keyed by the quotes' version.
    pub fn with_cache(self, cache: Option<CacheHandle>) -> Self {
        self.with_state(|s| s.cache = cache)
    }

    /// The store it serves (writes through it show on the pages at once).
    pub fn store(&self) -> &Arc<dyn QuoteStore> {
        &self.store
    }
}

impl Running for QuotesSite {
    fn routes(&self, routes: &mut Routes) {
        routes
            .data(Data::from(self.state.clone()))
            .get("/", pages::home)
            .get("/quotes", pages::list)
            .get("/quotes/{id}", pages::detail)
            .get("/api/quotes", api::list)
            .get("/api/quotes/random", api::random)
            .get("/api/quotes/{id}", api::get);
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "quotes/macros.html",
                include_str!("../templates/quotes/macros.html"),
            ),
            (
                "quotes/home.html",
                include_str!("../templates/quotes/home.html"),
            ),
            (
                "quotes/list.html",
                include_str!("../templates/quotes/list.html"),
            ),
            ("quotes/list_body.html", pages::LIST_BODY),
            (
                "quotes/detail.html",
                include_str!("../templates/quotes/detail.html"),
            ),
        ]
    }

    fn static_files(&self) -> Vec<StaticFile> {
        vec![StaticFile::css(
            "style.css",
            include_str!("../static/style.css"),
        )]
    }

    fn nav(&self, _req: &web::actix_web::HttpRequest) -> Vec<NavLink> {
        vec![
            NavLink::new("Home", "/"),
            NavLink::new("Quotes", "/quotes"),
            NavLink::footer("API", "/api/quotes"),
        ]
    }

    fn check_ready(&self) -> Result<(), String> {
        self.state.store.ping().map_err(|e| format!("{e:#}"))
    }

    fn admin_sections(&self) -> Vec<Arc<dyn web::admin::AdminSection>> {
        vec![Arc::new(admin::QuotesAdmin::new(self.store.clone()))]
    }

    fn prepare(
        &self,
        args: &web::clap::ArgMatches,
        ctx: &web::CommandContext<'_>,
    ) -> anyhow::Result<()> {
        commands::load_on_serve(&self.state, args, ctx)
    }

    fn run_command(
        &self,
        name: &str,
        args: &web::clap::ArgMatches,
        ctx: &web::CommandContext<'_>,
    ) -> anyhow::Result<()> {
        commands::run(&self.state, name, args, ctx)
    }
}

/// How a store's answer reaches the client: the statuses are decided by `web::AppError`.
pub(crate) fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::not_found("no such quote"),
        StoreError::Conflict(m) => AppError::conflict(m),
        StoreError::Invalid(i) => AppError::bad_request(i.to_string()),
        StoreError::Unavailable(source) => {
            AppError::unavailable(format!("{:#}", ErrorChain(&*source)))
        }
        StoreError::Internal(source) => AppError::internal(format!("{:#}", ErrorChain(&*source))),
        other => AppError::internal(other.to_string()),
    }
}
