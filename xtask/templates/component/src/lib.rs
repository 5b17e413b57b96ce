//! The __name__ component: `/__name__` lists its items, `/api/__name__` gives them as JSON,
//! `quotes __name__-add TEXT` adds one, and `[__name__] title` names the page. Made by
//! `cargo xtask new-component __name__`; make it yours (see docs/components.md).
//!
//! Architecture invariant: handlers see `Arc<dyn ItemStore>` only; `open_store` is the one
//! place that names a concrete store or checks this crate's `memory` and `pg` features.

#[cfg(feature = "contract-tests")]
pub mod contract;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "pg")]
pub mod pg;
mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use web::actix_web::web::{block, Data};
use web::actix_web::{HttpRequest, HttpResponse};
use web::clap::{Arg, ArgMatches, Command};
use web::{
    AppError, CommandContext, Component, Context, ErrorChain, NavLink, Routes, Running,
    StaticFile, Templates,
};

pub use store::{parse_text, Item, ItemStore, StoreError, MAX_TEXT};

/// The component, as the registry in `cli` lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct __Name__Component;

/// `[__name__]` in the settings (`QUOTES____NAME____TITLE=…`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The page's heading and its link in the navigation.
    pub title: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            title: "__Name__".to_owned(),
        }
    }
}

impl Component for __Name__Component {
    fn name(&self) -> &'static str {
        "__name__"
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command::new("__name__-add")
            .about("Add an item to the __name__ component")
            .arg(Arg::new("text").value_name("TEXT").required(true))]
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: Settings = ctx.settings()?;
        Ok(Box::new(Pages::new(open_store(ctx)?, settings)))
    }
}

/// The store for the site's backend.
fn open_store(ctx: &Context<'_>) -> anyhow::Result<Arc<dyn ItemStore>> {
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
        backend => anyhow::bail!("this build of the __name__ component has no {backend} store"),
    }
}

/// How many items the page and the API show.
const SHOWN: usize = 50;

/// The running component. Tests make one directly.
pub struct Pages {
    state: Arc<State>,
}

struct State {
    store: Arc<dyn ItemStore>,
    settings: Settings,
}

impl Pages {
    pub fn new(store: Arc<dyn ItemStore>, settings: Settings) -> Self {
        Self {
            state: Arc::new(State { store, settings }),
        }
    }
}

impl Running for Pages {
    fn routes(&self, routes: &mut Routes) {
        routes
            .data(Data::from(self.state.clone()))
            .get("/__name__", index)
            .get("/api/__name__", api);
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "__name__/index.html",
            include_str!("../templates/__name__/index.html"),
        )]
    }

    fn static_files(&self) -> Vec<StaticFile> {
        vec![StaticFile::css("style.css", include_str!("../static/style.css"))]
    }

    fn nav(&self, _req: &HttpRequest) -> Vec<NavLink> {
        vec![NavLink::new(self.state.settings.title.clone(), "/__name__")]
    }

    fn check_ready(&self) -> Result<(), String> {
        self.state.store.ping().map_err(|e| format!("{e:#}"))
    }

    fn run_command(
        &self,
        name: &str,
        args: &ArgMatches,
        ctx: &CommandContext<'_>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            name == "__name__-add",
            "the __name__ component has no command {name}"
        );
        let text = args.get_one::<String>("text").map_or("", String::as_str);
        // Check the input before waiting for a database: bad input fails at once.
        parse_text(text)?;
        ctx.wait_until_ready()?;
        let item = self.state.store.add(text)?;
        println!("added item {}", item.id);
        if !ctx.backend().is_persistent() {
            eprintln!("note: the memory store forgets it when this command exits");
        }
        Ok(())
    }
}

async fn index(
    req: HttpRequest,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let store = state.store.clone();
    let (items, count) = block(move || Ok::<_, StoreError>((store.recent(SHOWN)?, store.count()?)))
        .await?
        .map_err(store_error)?;
    let mut ctx = t.context(&req);
    ctx.insert("title", &state.settings.title);
    ctx.insert("items", &items);
    ctx.insert("count", &count);
    t.render("__name__/index.html", &ctx)
}

#[derive(Serialize)]
struct ApiItems {
    items: Vec<Item>,
}

async fn api(state: Data<State>) -> Result<HttpResponse, AppError> {
    let store = state.store.clone();
    let items = block(move || store.recent(SHOWN))
        .await?
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(ApiItems { items }))
}

/// What a client sees of a store's error; statuses are decided by `web::AppError`.
fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Invalid(why) => AppError::bad_request(why),
        StoreError::Unavailable(source) => {
            AppError::unavailable(format!("{:#}", ErrorChain(&*source)))
        }
    }
}
