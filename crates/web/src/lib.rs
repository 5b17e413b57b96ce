//! web: HTTP for quotes. actix-web handlers, tera templates, static assets, and the seam
//! through which components (the quotes pages, the wiki, …) plug into the site.
//!
//! Architecture invariant: this crate knows the `QuoteStore` trait but no concrete store;
//! the binary hands it an `Arc<dyn QuoteStore>`.

mod component;
mod error;
pub mod quotes;
mod server;
mod templates;

pub use component::{get_or_head, Component, NavLink};
pub use error::AppError;
pub use server::{serve, BuildInfo, ServerOptions, Site};
pub use templates::Templates;

/// Re-exported so that components need not pin their own actix-web and tera versions.
pub use actix_web;
pub use tera;
