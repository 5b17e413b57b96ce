//! web: the HTTP shell and the component seam. It serves a [`Site`] made of components
//! (a wiki, accounts, an admin, …): the layout and the macros any component may
//! use, error pages, security headers, request ids and the request log, `/healthz`,
//! `/readyz` and static files.
//!
//! Architecture invariant: this crate knows no component and no store. Components plug in
//! through [`Component`] and [`Running`]; the binary (`cli`) lists them and picks the
//! backend.

pub mod admin;
pub mod cache;
mod component;
mod error;
pub mod metrics;
mod pager;
pub mod reports;
pub mod security;
mod server;
mod site;
mod templates;

pub use cache::{Cache, CacheHandle};
pub use component::{
    get_or_head, middleware_fn, Backend, CommandContext, Component, Context, LocalBoxFuture,
    Middleware, NavArea, NavLink, Next, Resources, Routes, Running, StaticFile,
};
pub use error::{AppError, ErrorChain};
pub use metrics::MetricsOptions;
pub use pager::Pager;
pub use security::{client_addr, identity, Identity, SecretKey, Security, SessionBinding};
pub use server::{serve, RequestId, ServerOptions};
pub use site::{BuildInfo, Site, RESERVED_NAMES};
pub use templates::{Spliced, Templates};

/// Re-exported so that components need not pin their own versions of the seam's crates.
pub use actix_web;
pub use clap;
pub use sentry;
pub use tera;
