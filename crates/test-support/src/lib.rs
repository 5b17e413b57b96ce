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

/// Every file under `dir` (hidden ones too): its path relative to `dir`, with `/` between
/// folders → its content. For comparing two folders in one `assert_eq!`.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("a readable folder").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).expect("below dir");
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let content = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            files.insert(name.join("/"), content);
        }
    }
    files
}
