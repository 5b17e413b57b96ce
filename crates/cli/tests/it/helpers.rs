//! Running the real `quotes` binary with a clean environment.

// A build that leaves a store or a component out runs fewer test modules, which leave some
// helpers unused.
#![cfg_attr(
    not(all(feature = "quotes", feature = "store-memory", feature = "store-pg")),
    allow(dead_code)
)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use test_support::{free_port, workspace_root};

pub fn fixtures() -> PathBuf {
    workspace_root().join("fixtures/quotes.txt")
}

/// Settings that pick a store this build has, without any database running: a command
/// that fails on its input must say so before it would need the store.
pub fn any_store() -> Vec<(&'static str, &'static str)> {
    if cfg!(feature = "store-memory") {
        vec![("QUOTES_STORE", "memory")]
    } else {
        vec![("DATABASE_URL", "postgres://quotes@127.0.0.1:1/none")]
    }
}

/// `quotes` with only the variables a test gives it (plus PATH), run from the workspace root.
pub fn quotes(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quotes"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(workspace_root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("quotes runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A `quotes serve` process, stopped (SIGKILL) on drop if still running. Its stdout goes to
/// a file: a pipe nobody reads would fill up and block the server's request log.
pub struct Server {
    pub child: Child,
    pub base: String,
    log: tempfile::NamedTempFile,
}

impl Server {
    /// Starts `quotes serve args…` on a free port and waits (bounded) for `/readyz`.
    pub fn start(env: &[(&str, &str)], args: &[&str]) -> Server {
        let port = free_port().to_string();
        let mut env = env.to_vec();
        env.push(("PORT", &port));
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = quotes(&env)
            .arg("serve")
            .args(args)
            .stdout(log.reopen().unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("quotes serve starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(res) = reqwest::blocking::get(format!("{}/readyz", server.base)) {
                if res.status() == 200 {
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("quotes serve did not become ready within 20 s");
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::get(format!("{}{path}", self.base)).expect("request reaches the server")
    }

    /// Sends SIGTERM and waits (bounded) for exit; returns the exit code and stdout.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "quotes serve did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (
            status.code(),
            std::fs::read_to_string(self.log.path()).unwrap(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database of a test's own for the whole site: `quotes migrate` has applied every
/// component's migrations this build has (unless made [`SiteDb::empty`]).
#[cfg(feature = "store-pg")]
pub struct SiteDb {
    db: db::testing::TestDatabase,
}

#[cfg(feature = "store-pg")]
impl SiteDb {
    /// A copy of a template migrated with the migrations of every component this build
    /// starts (as `quotes migrate` would apply them).
    pub fn migrated() -> Self {
        Self {
            db: db::testing::TestDatabase::migrated(&registry_migrations()),
        }
    }

    /// The names of every migration the build's components bring.
    pub fn migrated_names() -> Vec<String> {
        registry_migrations()
            .iter()
            .flat_map(db::Migrations::names)
            .collect()
    }

    /// No migration applied yet.
    pub fn empty() -> Self {
        Self {
            db: db::testing::TestDatabase::empty(&[]),
        }
    }

    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// Runs `sql` on this database through psql; its output, trimmed (`-tA`: values only).
    pub fn sql(&self, sql: &str) -> String {
        let psql = test_support::cluster::Bins::find()
            .and_then(|b| b.client("psql"))
            .expect("psql (it comes with PostgreSQL)");
        let out = std::process::Command::new(psql)
            .args([self.url(), "-X", "-tA", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `DATABASE_URL` for `quotes`.
    pub fn env(&self) -> Vec<(&'static str, &str)> {
        vec![("DATABASE_URL", self.db.url())]
    }

    /// The accounts store on this database, to check what commands did.
    #[cfg(feature = "accounts")]
    pub fn accounts(&self) -> accounts::pg::PgStore {
        accounts::pg::PgStore::new(self.db.database()).expect("the accounts migrations register")
    }

    /// The quote store on this database, to check what commands did.
    #[cfg(feature = "quotes")]
    pub fn quotes(&self) -> quotes_store_pg::PgStore {
        quotes_store_pg::PgStore::new(self.db.database()).expect("the quotes migrations register")
    }
}

/// The migrations of every component the registry starts, read by starting them on
/// PostgreSQL settings (which connects to nothing).
#[cfg(feature = "store-pg")]
fn registry_migrations() -> Vec<db::Migrations> {
    let vars = [(
        "DATABASE_URL",
        "postgres://127.0.0.1:1/only-to-read-the-registry",
    )]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = cli::settings::Settings::from_vars(vars).unwrap();
    let (_, backend) = cli::commands::assemble(&settings, &cli::registry::installed()).unwrap();
    backend.migrations()
}
