//! The component seam: what a feature crate implements to plug into the site.

use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, Resource, Responder};

/// A link in the site's navigation bar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NavLink {
    pub label: String,
    pub href: String,
}

impl NavLink {
    pub fn new(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            href: href.into(),
        }
    }
}

/// A feature of the site: its routes, its templates, its links and its readiness.
///
/// Components are added to a [`crate::Site`] by the binary; they are shared between the
/// server's worker threads, hence `Send + Sync`. Handlers render pages through the
/// [`crate::Templates`] app data and report failures as [`crate::AppError`], so every
/// component's pages share one layout and one error page.
pub trait Component: Send + Sync + 'static {
    /// A short, unique name, used in logs and readiness reports.
    fn name(&self) -> &'static str;

    /// Templates as `(name, source)`; names ending in `.html` are auto-escaped. A component's
    /// templates may extend `base.html` and import `macros.html`.
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// Links this component adds to the navigation bar.
    fn nav(&self) -> Vec<NavLink> {
        Vec::new()
    }

    /// Registers routes; called once per server worker.
    fn routes(&self, cfg: &mut ServiceConfig);

    /// Whether the component can serve requests now (for `/readyz`). Runs on a blocking
    /// thread, so it may do I/O. The error is logged, never shown to clients.
    fn check_ready(&self) -> Result<(), String> {
        Ok(())
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
