//! The component seam: what a feature crate implements to plug into the site.
//!
//! A component comes in two parts, as a Django app has its `AppConfig` and its views:
//! - [`Component`], what the registry in `cli` lists: a name, the management commands and
//!   `serve` options it adds (known before settings are read, so `--help` always
//!   works), and [`Component::start`], which reads its settings section, opens its store on
//!   the site's backend and returns the running part;
//! - [`Running`], what the site serves: routes under the component's prefix, templates,
//!   static files, navigation per request, readiness, middleware, and the commands' bodies.
//!
//! Everything but a name and `start` has a default, so a small component stays small.
//! Migrations: a component's PostgreSQL store registers its embedded migrations with the
//! shared `db::Database` (a [`Context::resource`]) when `start` makes it, so the `migrate`
//! command applies every started component's migrations in one run.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, HttpRequest, Resource, Responder};
use anyhow::Context as _;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// A boxed future for the server's single-threaded workers.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Which kind of store the whole site runs on; each component opens its own store of that
/// kind. Chosen once, in `cli`, by Cargo feature and settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Data lives in the process and goes with it.
    Memory,
    /// Data lives in PostgreSQL; the pool is the `db::Database` resource.
    Postgres,
}

impl Backend {
    /// True when the data outlives this process.
    pub fn is_persistent(self) -> bool {
        self == Backend::Postgres
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Memory => "memory",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Values shared between components by type: the `db::Database` pool, and whatever an
/// earlier component provides for later ones (the registry's order is the start order).
#[derive(Default)]
pub struct Resources(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resources")
            .field("count", &self.0.len())
            .finish()
    }
}

impl Resources {
    /// Adds `value`, replacing one of the same type.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A clone of the value of type `T`, if one was provided.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }
}

/// What [`Component::start`] gets: the backend, the settings, and the shared resources.
pub struct Context<'a> {
    pub(crate) component: &'static str,
    pub(crate) backend: Backend,
    pub(crate) settings: &'a config::Config,
    pub(crate) resources: &'a mut Resources,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("component", &self.component)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Context<'_> {
    /// The kind of store to open.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The component's own settings section (`[wiki]`, set by `QUOTES__WIKI__KEY`
    /// variables too), or `T::default()` when the section is absent. Give `T`
    /// `#[serde(default, deny_unknown_fields)]` so that a misspelt key is an error that
    /// names it.
    pub fn settings<T: DeserializeOwned + Default>(&self) -> anyhow::Result<T> {
        // Through the whole tree rather than `Config::get`, so that an error names the
        // field (`wiki.page_size`), not only the section.
        let section = SectionOf::<T> {
            name: self.component,
            wanted: PhantomData,
        };
        section
            .deserialize(self.settings.clone())
            .map(Option::unwrap_or_default)
            .with_context(|| format!("reading the [{}] settings", self.component))
    }

    /// A shared value by type, e.g. `ctx.resource::<db::Database>()`.
    pub fn resource<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.resources.get()
    }

    /// Shares `value` with the components started after this one.
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.resources.insert(value);
    }
}

/// Deserializes one section of a settings tree, passing over the others.
struct SectionOf<T> {
    name: &'static str,
    wanted: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SectionOf<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "settings with an optional [{}] section", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for SectionOf<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// What a component's commands and `serve` hooks get from the binary.
pub struct CommandContext<'a> {
    backend: Backend,
    wait: &'a (dyn Fn() -> anyhow::Result<()> + 'a),
}

impl fmt::Debug for CommandContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandContext")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl<'a> CommandContext<'a> {
    pub fn new(backend: Backend, wait: &'a (dyn Fn() -> anyhow::Result<()> + 'a)) -> Self {
        Self { backend, wait }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits, bounded by the database settings, until the backend is up and every
    /// component's migrations are applied. Call it after checking the command's input, so
    /// that bad input fails at once. Returns at once on the memory backend.
    pub fn wait_until_ready(&self) -> anyhow::Result<()> {
        (self.wait)()
    }
}

/// A component as the registry in `cli` lists it: Django's `AppConfig`, Loco's `Hooks`.
pub trait Component: Send + Sync + 'static {
    /// Lowercase letters and digits, unique in the site: the component's URL prefix
    /// (`/<name>`, `/api/<name>`), template folder (`<name>/…`), static folder
    /// (`/static/<name>/…`), settings section (`[<name>]`) and table prefix.
    fn name(&self) -> &'static str;

    /// Management commands it adds to the binary (run by [`Running::run_command`]).
    fn commands(&self) -> Vec<clap::Command> {
        Vec::new()
    }

    /// Options it adds to the `serve` command (read by [`Running::prepare`]).
    fn serve_args(&self) -> Vec<clap::Arg> {
        Vec::new()
    }

    /// Reads the settings and opens the store on `ctx.backend()`. Must not wait for a
    /// database: `serve` waits afterwards, for every component at once.
    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>>;
}

/// A started component: what the site serves and what its commands run on. Shared between
/// the server's worker threads, hence `Send + Sync`.
pub trait Running: Send + Sync + 'static {
    /// Registers routes; called once at start-up (to check them) and once per worker.
    fn routes(&self, routes: &mut Routes) {
        let _ = routes;
    }

    /// Templates as `(name, source)`, each named `<component>/…`; names ending in `.html` are
    /// auto-escaped. They may extend `base.html` and import `macros.html`; the site may
    /// override any of them.
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// Files served under `/static/<component>/`; stylesheets among them are linked from
    /// every page.
    fn static_files(&self) -> Vec<StaticFile> {
        Vec::new()
    }

    /// Links for this request (a link may depend on who is signed in).
    fn nav(&self, req: &HttpRequest) -> Vec<NavLink> {
        let _ = req;
        Vec::new()
    }

    /// What staff may manage of this component's data in the admin site, served at
    /// `/admin/<component>/<slug>/` (see `admin`).
    fn admin_sections(&self) -> Vec<Arc<dyn crate::admin::AdminSection>> {
        Vec::new()
    }

    /// Whether the component can serve requests now (for `/readyz`). Runs on a blocking
    /// thread, so it may do I/O. The error is logged, never shown to clients.
    fn check_ready(&self) -> Result<(), String> {
        Ok(())
    }

    /// Middleware for every request of the site (sessions, metrics, caching); components'
    /// middleware runs in registry order, inside the site's error pages and request log.
    fn middleware(&self) -> Option<Arc<dyn Middleware>> {
        None
    }

    /// Runs before the `serve` command binds, with its options (see [`Component::serve_args`]).
    fn prepare(&self, args: &clap::ArgMatches, ctx: &CommandContext<'_>) -> anyhow::Result<()> {
        let _ = (args, ctx);
        Ok(())
    }

    /// Runs one of the component's [`Component::commands`].
    fn run_command(
        &self,
        name: &str,
        args: &clap::ArgMatches,
        ctx: &CommandContext<'_>,
    ) -> anyhow::Result<()> {
        let _ = (args, ctx);
        anyhow::bail!("this component has no command {name}")
    }
}

/// Where a link goes in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NavArea {
    /// The navigation bar at the top.
    Main,
    /// The footer.
    Footer,
    /// The right end of the navigation bar: who is signed in, log in and out.
    Account,
}

/// A link in the site's navigation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NavLink {
    pub label: String,
    pub href: String,
    pub area: NavArea,
    /// A button that posts to `href` (with the CSRF token), for actions such as logging out.
    pub post: bool,
}

impl NavLink {
    /// A link in the navigation bar.
    pub fn new(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            href: href.into(),
            area: NavArea::Main,
            post: false,
        }
    }

    /// The same link at the account end of the navigation bar.
    pub fn in_account_area(self) -> Self {
        Self {
            area: NavArea::Account,
            ..self
        }
    }

    /// A button in the navigation bar that posts to `href`.
    pub fn post(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            post: true,
            ..Self::new(label, href)
        }
    }

    /// A link in the footer.
    pub fn footer(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            area: NavArea::Footer,
            ..Self::new(label, href)
        }
    }
}

/// A file embedded in the binary, served under `/static/<component>/<path>`.
#[derive(Debug, Clone, Copy)]
pub struct StaticFile {
    pub path: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

impl StaticFile {
    pub fn css(path: &'static str, body: &'static str) -> Self {
        Self {
            path,
            body: body.as_bytes(),
            content_type: "text/css; charset=utf-8",
        }
    }

    pub fn js(path: &'static str, body: &'static str) -> Self {
        Self {
            path,
            body: body.as_bytes(),
            content_type: "text/javascript; charset=utf-8",
        }
    }

    pub fn svg(path: &'static str, body: &'static str) -> Self {
        Self {
            path,
            body: body.as_bytes(),
            content_type: "image/svg+xml",
        }
    }
}

type Apply = Box<dyn FnOnce(&mut ServiceConfig)>;

/// A component's routes, each under its prefix: `/<name>`, `/<name>/…`, `/api/<name>…`,
/// or the home page `/`. Paths are actix patterns (`/wiki/{path}`); two components claiming
/// one stop start-up with a message naming both.
pub struct Routes {
    pub(crate) claims: Vec<String>,
    pub(crate) apply: Vec<Apply>,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl Routes {
    pub(crate) fn new() -> Self {
        Self {
            claims: Vec::new(),
            apply: Vec::new(),
        }
    }

    /// A page: GET and HEAD run `handler`, as Django's views do; other methods get 405.
    /// A handler that panics answers the site's 500 page (see `reports`).
    pub fn get<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.claims.push(path.to_owned());
        let resource = get_or_head(path, handler)
            .wrap(actix_web::middleware::from_fn(crate::reports::catch_panic));
        self.apply.push(Box::new(move |cfg| {
            cfg.service(resource);
        }));
        self
    }

    /// Any resource: `routes.resource("/notes/new", |r| r.route(web::post().to(add)))`.
    /// Unsafe methods on it pass the site's CSRF check first.
    pub fn resource(&mut self, path: &str, build: impl FnOnce(Resource) -> Resource) -> &mut Self {
        self.claims.push(path.to_owned());
        let resource = build(web::resource(path))
            .wrap(actix_web::middleware::from_fn(crate::security::check))
            .wrap(actix_web::middleware::from_fn(crate::reports::catch_panic));
        self.apply.push(Box::new(move |cfg| {
            cfg.service(resource);
        }));
        self
    }

    /// Data for the component's handlers (`web::Data<T>` extractors). Use a type of the
    /// component's own: the data is visible site-wide.
    pub fn data<T: 'static>(&mut self, data: web::Data<T>) -> &mut Self {
        self.apply.push(Box::new(move |cfg| {
            cfg.app_data(data);
        }));
        self
    }
}

/// A resource that answers GET and HEAD with `handler`, as Django's views do; any other
/// method gets 405 (with `Allow`) rather than falling through to "not found".
pub fn get_or_head<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

/// A component's middleware: sees every request and its response. To refuse a request,
/// answer `Ok(req.error_response(AppError::forbidden(..)))`: the site renders that as its
/// error page. An `Err` gets no page (the request is gone by then), so keep it for bugs.
pub trait Middleware: Send + Sync + 'static {
    fn call(
        self: Arc<Self>,
        req: ServiceRequest,
        next: Next,
    ) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>;
}

/// The rest of the chain after a component's middleware.
pub struct Next {
    pub(crate) chain: Arc<[Arc<dyn Middleware>]>,
    pub(crate) index: usize,
    pub(crate) security: Arc<crate::Security>,
    pub(crate) end: actix_web::middleware::Next<BoxBody>,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("remaining", &(self.chain.len() - self.index))
            .finish()
    }
}

impl Next {
    /// Passes the request on: to the next component's middleware, or (through the CSRF
    /// check) to the routes.
    pub async fn call(
        self,
        req: ServiceRequest,
    ) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
        match self.chain.get(self.index).cloned() {
            Some(middleware) => {
                let next = Next {
                    index: self.index + 1,
                    ..self
                };
                middleware.call(req, next).await
            }
            None => crate::security::bind(self.security, req, self.end).await,
        }
    }
}

/// Middleware from an async function or closure:
/// `middleware_fn(|req, next| async move { next.call(req).await })`.
pub fn middleware_fn<F, Fut>(f: F) -> Arc<dyn Middleware>
where
    F: Fn(ServiceRequest, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + 'static,
{
    struct FnMiddleware<F>(F);
    impl<F, Fut> Middleware for FnMiddleware<F>
    where
        F: Fn(ServiceRequest, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + 'static,
    {
        fn call(
            self: Arc<Self>,
            req: ServiceRequest,
            next: Next,
        ) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>> {
            Box::pin((self.0)(req, next))
        }
    }
    Arc::new(FnMiddleware(f))
}
