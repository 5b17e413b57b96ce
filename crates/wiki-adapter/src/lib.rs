//! wiki-adapter: the wiki component. Pages in a hierarchy of slugs (`/wiki/`,
//! `/wiki/tactics/terrain/`), Markdown rendered and sanitised once per revision, wiki links
//! that show red when their page is missing, every save a revision, a diff between any two,
//! revert, and edits that never lose text: an edit made from an old revision is merged
//! three-way with what was saved meanwhile, or shown as a conflict to resolve. Anyone
//! reads; signed-in users write (`[wiki] anonymous_write = true` lets anyone, recording
//! their address). `GET /api/wiki/pages/{path}` gives a page as JSON.
//!
//! Architecture invariant: handlers see `Arc<dyn WikiStore>` only; `open_store` is the one
//! place that names a concrete store or checks this crate's `memory` and `pg` features.

pub mod admin;
#[cfg(feature = "contract-tests")]
pub mod contract;
pub mod files;
pub mod markdown;
#[cfg(feature = "memory")]
pub mod memory;
pub mod merge;
mod pages;
pub mod path;
#[cfg(feature = "pg")]
pub mod pg;
mod store;

use std::sync::Arc;

use serde::Deserialize;
use web::actix_web::web::{get, post, Data};
use web::actix_web::HttpRequest;
use web::admin::LoginUrl;
use web::{Component, Context, NavLink, Routes, Running, StaticFile};

pub use path::WikiPath;
pub use store::{
    Change, HistoryEntry, Hit, Imported, NewRevision, PageFilter, PageInfo, PageState, Revision,
    WikiError, WikiStore, MAX_CONTENT, MAX_MESSAGE, MAX_TITLE,
};

/// The component, as the registry in `cli` lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct WikiComponent;

/// `[wiki]` in the settings (`QUOTES__WIKI__ANONYMOUS_WRITE=true`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WikiSettings {
    /// Whether visitors who are not signed in may create and edit pages (their address is
    /// kept with each revision). Off by default, as django-wiki's `ANONYMOUS_WRITE`.
    pub anonymous_write: bool,
    /// How many revisions one user (or one address, for anonymous edits) may save in an
    /// hour; more get 429.
    pub edits_per_hour: u32,
}

impl Default for WikiSettings {
    fn default() -> Self {
        Self {
            anonymous_write: false,
            edits_per_hour: 30,
        }
    }
}

impl Component for WikiComponent {
    fn name(&self) -> &'static str {
        "wiki"
    }

    fn commands(&self) -> Vec<web::clap::Command> {
        use web::clap::{value_parser, Arg, Command};
        let dir = || {
            Arg::new("dir")
                .value_name("DIR")
                .required(true)
                .value_parser(value_parser!(std::path::PathBuf))
        };
        vec![
            Command::new("wiki-export")
                .about("Write every wiki page to DIR (new or empty) as Markdown files, folders for the hierarchy")
                .arg(dir()),
            Command::new("wiki-import")
                .about("Load the pages in DIR, all or nothing; pages already as the files have them are left alone")
                .arg(dir()),
        ]
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: WikiSettings = ctx.settings()?;
        let login_url = ctx.resource::<LoginUrl>().map(|l| l.0);
        Ok(Box::new(
            Wiki::new(open_store(ctx)?, settings).with_login(login_url),
        ))
    }
}

/// The store for the site's backend.
fn open_store(ctx: &Context<'_>) -> anyhow::Result<Arc<dyn WikiStore>> {
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
        backend => anyhow::bail!("this build of the wiki component has no {backend} store"),
    }
}

/// The running wiki. Tests make one directly.
pub struct Wiki {
    state: Arc<State>,
}

#[derive(Clone)]
pub(crate) struct State {
    pub store: Arc<dyn WikiStore>,
    pub settings: WikiSettings,
    pub login_url: Option<String>,
}

impl Wiki {
    pub fn new(store: Arc<dyn WikiStore>, settings: WikiSettings) -> Self {
        Self {
            state: Arc::new(State {
                store,
                settings,
                login_url: None,
            }),
        }
    }

    /// Where visitors who may not write are sent to sign in.
    pub fn with_login(mut self, login_url: Option<String>) -> Self {
        Arc::make_mut(&mut self.state).login_url = login_url;
        self
    }
}

impl Running for Wiki {
    fn routes(&self, routes: &mut Routes) {
        routes
            .data(Data::from(self.state.clone()))
            .get("/wiki", pages::to_root)
            .resource("/wiki/{tail:.*}", |r| {
                r.route(get().to(pages::show))
                    .route(web::actix_web::web::head().to(pages::show))
                    .route(post().to(pages::submit))
            })
            .get("/api/wiki/pages/{tail:.*}", pages::api_page)
            .get("/api/wiki/search", pages::api_search)
            .get("/api/wiki/recent", pages::api_recent);
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "wiki/page.html",
                include_str!("../templates/wiki/page.html"),
            ),
            (
                "wiki/edit.html",
                include_str!("../templates/wiki/edit.html"),
            ),
            (
                "wiki/history.html",
                include_str!("../templates/wiki/history.html"),
            ),
            (
                "wiki/diff.html",
                include_str!("../templates/wiki/diff.html"),
            ),
            (
                "wiki/search.html",
                include_str!("../templates/wiki/search.html"),
            ),
            (
                "wiki/recent.html",
                include_str!("../templates/wiki/recent.html"),
            ),
            (
                "wiki/delete.html",
                include_str!("../templates/wiki/delete.html"),
            ),
        ]
    }

    fn static_files(&self) -> Vec<StaticFile> {
        vec![StaticFile::css(
            "wiki.css",
            include_str!("../static/wiki.css"),
        )]
    }

    fn nav(&self, _req: &HttpRequest) -> Vec<NavLink> {
        vec![
            NavLink::new("Wiki", "/wiki/"),
            NavLink::footer("Recent wiki changes", "/wiki/_recent/"),
        ]
    }

    fn check_ready(&self) -> Result<(), String> {
        self.state.store.ping().map_err(|e| format!("{e:#}"))
    }

    fn admin_sections(&self) -> Vec<Arc<dyn web::admin::AdminSection>> {
        vec![Arc::new(admin::PagesAdmin::new(self.state.store.clone()))]
    }

    fn run_command(
        &self,
        name: &str,
        args: &web::clap::ArgMatches,
        ctx: &web::CommandContext<'_>,
    ) -> anyhow::Result<()> {
        let dir = args
            .get_one::<std::path::PathBuf>("dir")
            .ok_or_else(|| anyhow::anyhow!("{name} needs a folder"))?;
        let store = &*self.state.store;
        match name {
            "wiki-export" => {
                ctx.wait_until_ready()?;
                let n = files::export(store, dir)?;
                println!("{n} pages written to {}", dir.display());
            }
            "wiki-import" => {
                // Read and check every file before touching the store: a bad one loads nothing.
                let pages = files::read(dir)?;
                ctx.wait_until_ready()?;
                let done = store.import(pages).map_err(|e| match e {
                    WikiError::Invalid { field, reason } => {
                        anyhow::anyhow!("nothing imported: {field}: {reason}")
                    }
                    other => anyhow::Error::new(other).context("nothing imported"),
                })?;
                println!(
                    "{} pages created, {} changed, {} already as the files have them",
                    done.created, done.changed, done.unchanged
                );
                if !ctx.backend().is_persistent() {
                    eprintln!("note: the memory store forgets these when this command exits");
                }
            }
            other => anyhow::bail!("the wiki component has no command {other}"),
        }
        Ok(())
    }
}
