//! The site: the components that run, in registry order, checked as they join: unique
//! names, routes under their own prefixes and claimed once, templates in their own folder.

use std::sync::Arc;

use anyhow::{bail, ensure, Context as _};

use crate::component::{Backend, Context, Resources, Routes, Running};
use crate::security::Security;
use crate::Component;

/// What the binary was built from, shown by `/healthz` and in the footer.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// The site's name, in the layout's header and titles.
    pub name: &'static str,
    pub version: &'static str,
    pub commit: String,
}

/// A started component.
#[derive(Clone)]
pub(crate) struct Part {
    pub name: &'static str,
    pub running: Arc<dyn Running>,
}

/// Names a component may not take: the site's own paths and prefixes, and the binary's own
/// settings sections (a component reads the section of its name).
pub const RESERVED_NAMES: [&str; 11] = [
    "static",
    "api",
    "healthz",
    "readyz",
    "favicon",
    "metrics",
    "server",
    "store",
    "database",
    "log",
    "components",
];

/// Paths the site serves itself, whatever the components.
pub(crate) const SITE_PATHS: [&str; 5] = [
    "/healthz",
    "/readyz",
    "/static/style.css",
    "/static/favicon.svg",
    "/favicon.ico",
];

/// The components that make up a site; the binary assembles it, then serves it or runs a
/// component's command on it.
pub struct Site {
    pub(crate) info: BuildInfo,
    backend: Backend,
    settings: config::Config,
    resources: Resources,
    pub(crate) parts: Vec<Part>,
    /// Every path a component claimed, with its owner.
    claims: Vec<(String, &'static str)>,
    pub(crate) overrides: Vec<(String, String)>,
    pub(crate) security: Security,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("info", &self.info)
            .field("backend", &self.backend)
            .field("components", &self.names())
            .finish_non_exhaustive()
    }
}

impl Site {
    /// An empty site on the memory backend with no settings; see [`Site::backend`] and
    /// [`Site::settings`].
    pub fn new(info: BuildInfo) -> Self {
        Self {
            info,
            backend: Backend::Memory,
            settings: config::Config::default(),
            resources: Resources::default(),
            parts: Vec::new(),
            claims: Vec::new(),
            overrides: Vec::new(),
            security: Security::default(),
        }
        .with_security_resource()
    }

    fn with_security_resource(mut self) -> Self {
        self.resources.insert(self.security.clone());
        // Every site has a history slot; the component that keeps a history fills it.
        self.resources
            .insert(crate::admin::HistoryHandle::default());
        self
    }

    /// The secret key, the trusted proxies and the cookie policy; components see them as
    /// the `Security` resource.
    pub fn security(mut self, security: Security) -> Self {
        self.resources.insert(security.clone());
        self.security = security;
        self
    }

    /// The backend every component opens its store on.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The layered settings; each component reads its own section.
    pub fn settings(mut self, settings: config::Config) -> Self {
        self.settings = settings;
        self
    }

    /// Shares a value (such as the `db::Database` pool) with every component's `start`.
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.resources.insert(value);
    }

    /// A shared value by type.
    pub fn resource<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.resources.get()
    }

    pub fn backend_kind(&self) -> Backend {
        self.backend
    }

    /// Starts `component` and adds it. Components start in the order they are added; routes
    /// of earlier ones are matched first. A component refused here may already have done
    /// what its `start` does (registered migrations, provided resources): stop on the error.
    pub fn start(&mut self, component: &dyn Component) -> anyhow::Result<()> {
        let name = component.name();
        check_name(name)?;
        ensure!(
            !self.parts.iter().any(|p| p.name == name),
            "two components are named {name}"
        );
        let mut ctx = Context {
            component: name,
            backend: self.backend,
            settings: &self.settings,
            resources: &mut self.resources,
        };
        let running = component
            .start(&mut ctx)
            .with_context(|| format!("starting the {name} component"))?;
        self.mount(name, running)
    }

    /// Adds a component that is already running (tests make one by hand). Checks everything
    /// before adding anything, so a refused component leaves the site as it was.
    pub fn mount(&mut self, name: &'static str, running: Box<dyn Running>) -> anyhow::Result<()> {
        check_name(name)?;
        ensure!(
            !self.parts.iter().any(|p| p.name == name),
            "two components are named {name}"
        );
        let mut routes = Routes::new();
        running.routes(&mut routes);
        for (i, path) in routes.claims.iter().enumerate() {
            self.check_claim(name, path)?;
            ensure!(
                !routes.claims[..i].contains(path),
                "component {name} claims {path} twice"
            );
        }
        for (template, _) in running.templates() {
            ensure!(
                template.starts_with(&format!("{name}/")),
                "component {name}'s template {template} must be named {name}/…"
            );
        }
        for file in running.static_files() {
            ensure!(
                !file.path.is_empty()
                    && !file.path.starts_with('/')
                    && !file
                        .path
                        .split('/')
                        .any(|s| s.is_empty() || s == "." || s == "..")
                    && !file.path.contains(['?', '#']),
                "component {name}'s static file {:?} needs a relative path such as style.css",
                file.path
            );
        }
        self.claims
            .extend(routes.claims.into_iter().map(|path| (path, name)));
        self.parts.push(Part {
            name,
            running: Arc::from(running),
        });
        Ok(())
    }

    /// Adds a started component; panics on a clash. For tests and examples.
    pub fn with(mut self, name: &'static str, running: impl Running) -> Self {
        if let Err(e) = self.mount(name, Box::new(running)) {
            panic!("{e:#}");
        }
        self
    }

    /// Serves `source` in place of the template `name` (the site's own or a component's), as
    /// a Django project's template folder overrides an app's. Checked when serving starts.
    pub fn override_template(&mut self, name: impl Into<String>, source: impl Into<String>) {
        self.overrides.push((name.into(), source.into()));
    }

    /// The running components' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.parts.iter().map(|p| p.name).collect()
    }

    /// A running component by name.
    pub fn component(&self, name: &str) -> Option<&dyn Running> {
        self.parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| &*p.running)
    }

    fn check_claim(&self, name: &str, path: &str) -> anyhow::Result<()> {
        if SITE_PATHS.contains(&path) || path.starts_with("/static/") {
            bail!("component {name} claims {path}, which the site serves itself");
        }
        let under = |prefix: String| path == prefix || path.starts_with(&format!("{prefix}/"));
        ensure!(
            path == "/" || under(format!("/{name}")) || under(format!("/api/{name}")),
            "component {name} claims {path}, outside its prefixes /{name} and /api/{name}"
        );
        if let Some((_, owner)) = self.claims.iter().find(|(p, _)| p == path) {
            bail!("components {owner} and {name} both claim {path}");
        }
        Ok(())
    }

    /// Compiles every template (the site's, the components', the overrides) as serving
    /// would, so that a broken or misnamed one stops start-up before anything waits.
    pub fn check_templates(&self) -> anyhow::Result<()> {
        crate::Templates::new(self).map(drop)
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    ensure!(
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "component name {name:?} must be lowercase letters and digits, starting with a letter"
    );
    ensure!(
        !RESERVED_NAMES.contains(&name),
        "component name {name} is taken by the site itself"
    );
    Ok(())
}
