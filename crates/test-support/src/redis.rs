//! A throwaway Redis for tests: Debian's `redis-server` on a free port of 127.0.0.1, with a
//! generated password, in a temporary directory of its own, keeping nothing on disk; killed
//! and removed when the guard drops. A test can stop it and start it again on the same port
//! and password, to see what its code does while the cache is away.
//!
//! The program is `REDIS_SERVER_BIN` (which `cargo xtask test` sets to the one its
//! preflight checked), else `redis-server` on `PATH`, else `/usr/bin/redis-server`; without
//! one, [`RedisServer::start`] fails naming the package: a cache test never passes by
//! skipping its server.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;
use xtask::{redis, sys};

/// Temporary directories are `quotes-test-redis-<owner pid>-<random>`, so that a later run
/// can tell the leftover of a killed test process from a server another process still uses.
const PREFIX: &str = "quotes-test-redis-";

/// How long a server may take to answer PING after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How often a start is tried again on a new port when the free one was taken meanwhile.
const PORT_TRIES: usize = 3;

/// A running `redis-server` of the test's own.
#[derive(Debug)]
pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    password: String,
    child: Option<Child>,
    // Last, so that it is removed after the server is gone (see `Drop`).
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING with its password.
    pub fn start() -> Result<RedisServer> {
        let bin = redis::server()?;
        sweep_leftovers();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .context("could not create a temporary directory for redis-server")?;
        let password: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(32)
            .collect();
        let mut server = RedisServer {
            bin,
            port: 0,
            password,
            child: None,
            dir,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            server.port = crate::free_port();
            match server.spawn_ready() {
                Ok(()) => return Ok(server),
                // Another process may take the port between our look and the server's bind.
                Err(err) if tries < PORT_TRIES && server.log_says("Address already in use") => {
                    eprintln!(
                        "redis-server could not bind port {} ({err:#}); trying another",
                        server.port
                    );
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        redis::url(&self.password, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's log, for a test that wants to show it.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown) and waits until it is gone, so
    /// that a connection is refused from now on. A server already stopped stays so.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            // Only an exited child cannot be killed; `wait` reaps it either way.
            let _ = child.kill();
            child
                .wait()
                .context("could not wait for redis-server to exit")?;
        }
        Ok(())
    }

    /// Starts the server again on the same port with the same password, after [`stop`],
    /// empty (it keeps nothing), and waits until it answers. A running server is stopped
    /// first.
    ///
    /// [`stop`]: RedisServer::stop
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.spawn_ready()
            .with_context(|| format!("redis-server did not start again on port {}", self.port))
    }

    /// Writes the configuration for the current port, starts the server and waits until it
    /// answers; a server that does not is killed, and the error carries its log's end.
    fn spawn_ready(&mut self) -> Result<()> {
        let dir = self.dir.path();
        let conf = dir.join("redis.conf");
        let log = self.log();
        let text = redis::Config {
            header: "A throwaway server of test-support (crates/test-support/src/redis.rs).",
            port: self.port,
            password: &self.password,
            dir,
            log: &log,
            pid_file: &dir.join("redis.pid"),
            daemonize: false,
            max_memory: None,
        }
        .render();
        fs::write(&conf, text).with_context(|| format!("could not write {}", conf.display()))?;
        let out = xtask::cmd::append_to(&log)?;
        let mut command = Command::new(&self.bin);
        command
            .arg(&conf)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = command
            .spawn()
            .with_context(|| format!("could not start {}", self.bin.display()))?;
        let child = self.child.insert(child);
        let waited =
            redis::wait_answering(self.port, &self.password, READY_TIMEOUT, || {
                match child.try_wait()? {
                    Some(status) => bail!("redis-server exited while starting ({status})"),
                    None => Ok(()),
                }
            });
        if let Err(err) = waited {
            self.stop()?;
            bail!(
                "{err:#}\n--- the end of {} ---\n{}",
                log.display(),
                tail(&log, 15)
            );
        }
        Ok(())
    }

    fn log_says(&self, text: &str) -> bool {
        fs::read_to_string(self.log()).is_ok_and(|log| log.contains(text))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("warning: {err:#}");
        }
    }
}

/// The last `n` lines of `log`.
fn tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Kills the servers of test processes that were killed before their guards ran (a child
/// lives on when its parent dies by a signal), and removes their directories. Only our own
/// directories, and only a server whose command line names the directory's configuration.
fn sweep_leftovers() {
    for dir in sys::orphaned_temp_dirs(PREFIX) {
        for pid in sys::find_ours(redis::PROGRAM, &dir.join("redis.conf")) {
            let _ = sys::signal(pid, "KILL");
            sys::wait_gone(pid, Duration::from_secs(5));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use std::{io::ErrorKind, net::TcpStream};

    use super::*;

    fn ping(server: &RedisServer) -> Result<()> {
        redis::ping(server.port(), server.password(), Duration::from_secs(5))
    }

    #[test]
    fn a_server_answers_goes_away_and_comes_back_on_the_same_port() {
        let mut server = RedisServer::start().unwrap_or_else(|err| panic!("{err:#}"));
        let port = server.port();
        assert_eq!(
            server.url(),
            format!("redis://:{}@127.0.0.1:{port}/0", server.password())
        );
        ping(&server).unwrap_or_else(|err| panic!("{err:#}"));
        let wrong = redis::ping(port, "not-the-password", Duration::from_secs(5)).unwrap_err();
        assert!(format!("{wrong:#}").contains("WRONGPASS"), "{wrong:#}");

        server.stop().unwrap();
        let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
        server.stop().unwrap();

        server.restart().unwrap_or_else(|err| panic!("{err:#}"));
        assert_eq!(server.port(), port);
        ping(&server).unwrap_or_else(|err| panic!("{err:#}"));
    }

    #[test]
    fn a_dropped_server_leaves_nothing_behind() {
        let server = RedisServer::start().unwrap_or_else(|err| panic!("{err:#}"));
        let dir = server.dir.path().to_path_buf();
        let port = server.port();
        let conf = dir.join("redis.conf");
        let pids = sys::find_ours(redis::PROGRAM, &conf);
        assert_eq!(pids.len(), 1, "one server names {}", conf.display());
        let text = fs::read_to_string(&conf).unwrap();
        assert!(text.contains("bind 127.0.0.1\n") && text.contains("save \"\"\n"));
        drop(server);
        assert!(!sys::is_alive(pids[0]), "redis-server {} lives on", pids[0]);
        assert!(!dir.exists(), "{} is still there", dir.display());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn two_servers_run_side_by_side() {
        let a = RedisServer::start().unwrap_or_else(|err| panic!("{err:#}"));
        let b = RedisServer::start().unwrap_or_else(|err| panic!("{err:#}"));
        assert_ne!(a.port(), b.port());
        assert_ne!(a.password(), b.password());
        ping(&a).unwrap();
        ping(&b).unwrap();
    }
}
