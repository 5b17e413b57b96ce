//! test-support: what the workspace's tests share, and nothing a program ships. A
//! dev-dependency only; `cargo xtask test` checks that no crate depends on it otherwise.

mod browser;
mod http;
pub mod redis;
mod sentry;

pub use browser::{Browser, Page};
pub use http::Http;
pub use sentry::{envelope_events, Received, SentryStandIn};

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A throwaway PostgreSQL cluster of a test's own (on a free port, removed on drop), for
/// tests that stop and start the database; the one `cargo xtask test` starts is shared
/// through `TEST_DATABASE_URL` instead.
pub mod cluster {
    pub use xtask::pg::{Bins, Throwaway};
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}
