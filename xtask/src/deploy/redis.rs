//! The cache's Redis (`--cache redis`): Debian's `redis-server`, kept by deploy in its
//! directory the way nginx is (`redis/redis.conf`, `redis/redis.pid`, `logs/redis.log`),
//! started when it is not running, reused by every later deploy, stopped by `stop`.
//!
//! It listens on 127.0.0.1 only, on a port chosen once (`run/redis.port`), and asks for a
//! generated password kept in `secrets/redis-password` (0600). It is a cache: nothing is
//! written to disk (no snapshots, no append-only file), it evicts the least recently used
//! keys at its memory limit, and a restart starts empty. It runs as whoever deploys: unlike
//! PostgreSQL it does not refuse root, and it reaches nothing but its own directory, so a
//! private deploy directory is no obstacle.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::{layout::Layout, postgres, state::write_atomically};
use crate::{cmd, redis, steps::format_duration, steps::print_tail, sys};

/// How long the server may take to answer after it starts.
const WAIT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a stopping server may take before it is killed; with nothing to save it exits
/// at once.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Enough for a small site's pages and lookups; past it the oldest unused keys go.
const MAX_MEMORY: &str = "64mb";

/// Makes sure the server runs and answers with the kept password; returns the app's
/// `QUOTES__CACHE__REDIS_URL`. A running server is reused, one that does not answer with
/// the kept password is replaced.
pub fn ensure_managed(layout: &Layout, bin: &Path) -> Result<String> {
    let dir = layout.redis_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    // The configuration holds the password.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    let password = postgres::password(&layout.redis_password_file())?;
    if let Some(pid) = running_pid(layout) {
        let answered = recorded_port(layout)
            .context("its port is not recorded")
            .and_then(|port| {
                redis::ping(port, &password, Duration::from_secs(3))?;
                Ok(port)
            });
        match answered {
            Ok(port) => {
                println!("    redis already runs (pid {pid}) on 127.0.0.1:{port}");
                return Ok(redis::url(&password, port));
            }
            Err(err) => {
                println!(
                    "    redis (pid {pid}) does not answer with the kept password ({err:#}); starting it again"
                );
                sys::terminate(pid, STOP_GRACE)?;
            }
        }
    }
    let port = choose_port(layout)?;
    write_atomically(
        &layout.redis_conf(),
        &config(layout, port, &password),
        0o600,
    )?;
    let pid = start(layout, bin, port, &password)?;
    write_atomically(&layout.redis_port_file(), &format!("{port}\n"), 0o644)?;
    println!(
        "    started redis (pid {pid}) on 127.0.0.1:{port} (password in {}; a cache: nothing kept on disk)",
        layout.redis_password_file().display()
    );
    Ok(redis::url(&password, port))
}

/// The server's configuration in this deploy directory.
fn config(layout: &Layout, port: u16, password: &str) -> String {
    redis::Config {
        header: "Written by cargo xtask deploy each time it starts this server; the cache's Redis.",
        port,
        password,
        dir: &layout.redis_dir(),
        log: &layout.redis_log(),
        pid_file: &layout.redis_pid_file(),
        daemonize: true,
        max_memory: Some(MAX_MEMORY),
    }
    .render()
}

/// `redis-server redis.conf`: it forks into the background (its own session, its output on
/// /dev/null, its log in `logs/redis.log`) and this one exits. Errors before the fork, a bad
/// configuration say, go to the log too. Returns the server's pid once it answers.
fn start(layout: &Layout, bin: &Path, port: u16, password: &str) -> Result<u32> {
    let log = layout.redis_log();
    let out = cmd::append_to(&log)?;
    let _ = fs::remove_file(layout.redis_pid_file());
    let mut server = Command::new(bin);
    server
        .arg(layout.redis_conf())
        .current_dir(layout.redis_dir())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let shown = cmd::display(&server);
    let status = server
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        print_tail(&log, 15);
        bail!("`{shown}` failed ({status})");
    }
    let started = Instant::now();
    let waited = redis::wait_answering(port, password, WAIT_TIMEOUT, || {
        // The server writes its pid file as it starts; gone, or never written after a
        // while, it has exited.
        if running_pid(layout).is_none() && started.elapsed() > Duration::from_secs(2) {
            bail!("redis-server exited while starting");
        }
        Ok(())
    });
    if let Err(err) = waited {
        print_tail(&log, 15);
        if let Some(pid) = running_pid(layout) {
            let _ = sys::terminate(pid, STOP_GRACE);
        }
        return Err(err);
    }
    running_pid(layout).context("redis answers, but its pid file names no server of ours")
}

/// The server of this deploy directory, if it runs: the pid in its pid file, checked to be
/// `redis-server` with our configuration on its command line.
pub fn running_pid(layout: &Layout) -> Option<u32> {
    let text = fs::read_to_string(layout.redis_pid_file()).ok()?;
    let pid = text.trim().parse().ok()?;
    sys::is_ours(pid, redis::PROGRAM, &layout.redis_marker()).then_some(pid)
}

fn recorded_port(layout: &Layout) -> Option<u16> {
    fs::read_to_string(layout.redis_port_file())
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

/// The recorded port, unless something else took it meanwhile; else one the kernel finds
/// free. The app's URL is written at each deploy and start, so a new port costs nothing.
fn choose_port(layout: &Layout) -> Result<u16> {
    match recorded_port(layout) {
        Some(port) if sys::port_is_free(port) => Ok(port),
        Some(port) => {
            let new = sys::pick_free_port()?;
            println!(
                "    port {port} (redis's last time) is taken by another program; using {new}"
            );
            Ok(new)
        }
        None => sys::pick_free_port(),
    }
}

/// Stops the server if it runs, and any other of this directory the pid file lost track of
/// (SIGTERM: with nothing to save it exits at once).
pub fn stop_managed(layout: &Layout) -> Result<Option<String>> {
    let mut pids: Vec<u32> = running_pid(layout).into_iter().collect();
    pids.extend(sys::find_ours(redis::PROGRAM, &layout.redis_marker()));
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    for &pid in &pids {
        sys::terminate(pid, STOP_GRACE)?;
    }
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    Ok(Some(format!(
        "stopped redis (pid {}) in {}",
        pids.join(", "),
        format_duration(started.elapsed())
    )))
}

/// What status shows: the pid when it runs, its port, and whether it answers PING with the
/// kept password (or what went wrong).
pub struct Described {
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub answer: Result<(), String>,
}

pub fn describe(layout: &Layout) -> Described {
    let pid = running_pid(layout);
    let port = recorded_port(layout);
    let password = fs::read_to_string(layout.redis_password_file());
    let answer = match (port, password) {
        (Some(port), Ok(password)) => {
            redis::ping(port, password.trim(), Duration::from_secs(2)).map_err(|e| format!("{e:#}"))
        }
        (None, _) => Err("no port recorded".to_owned()),
        (_, Err(err)) => Err(format!(
            "could not read {}: {err}",
            layout.redis_password_file().display()
        )),
    };
    Described { pid, port, answer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_everything_in_the_deploy_directory() {
        let layout = Layout::new(Path::new("/p"), Some(Path::new("/srv/d")));
        let text = config(&layout, 6400, "feedface");
        for line in [
            "port 6400",
            "bind 127.0.0.1",
            "requirepass \"feedface\"",
            "daemonize yes",
            "dir \"/srv/d/redis\"",
            "pidfile \"/srv/d/redis/redis.pid\"",
            "logfile \"/srv/d/logs/redis.log\"",
            "save \"\"",
            "appendonly no",
            "maxmemory 64mb",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert_eq!(redis::config_port(&text), Some(6400));
    }

    /// Stops the test's server and removes its directory, whatever the test did.
    struct Cleanup(Layout);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = stop_managed(&self.0);
            let _ = fs::remove_dir_all(&self.0.base);
        }
    }

    /// The real thing, in a directory of its own: started, reused by a second call, found
    /// by status, stopped, and started again on the same port with the same password.
    #[test]
    fn a_managed_server_starts_is_reused_and_stops() {
        let bin = redis::server().unwrap_or_else(|err| panic!("{err:#}"));
        let base = std::env::temp_dir().join(format!("xtask-redis-test-{}", std::process::id()));
        let layout = Layout::new(Path::new("/p"), Some(&base));
        let _cleanup = Cleanup(layout.clone());
        let url = ensure_managed(&layout, &bin).unwrap_or_else(|err| panic!("{err:#}"));
        let pid = running_pid(&layout).expect("a pid of ours");
        let port = recorded_port(&layout).expect("a recorded port");
        let password = postgres::password(&layout.redis_password_file()).unwrap();
        assert_eq!(url, redis::url(&password, port));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&layout.redis_conf()), 0o600);
        assert_eq!(mode(&layout.redis_dir()), 0o700);

        assert_eq!(ensure_managed(&layout, &bin).unwrap(), url, "reused");
        assert_eq!(running_pid(&layout), Some(pid), "the same server");
        let described = describe(&layout);
        assert_eq!((described.pid, described.port), (Some(pid), Some(port)));
        assert_eq!(described.answer, Ok(()));

        let said = stop_managed(&layout).unwrap().expect("it was running");
        assert!(said.contains(&pid.to_string()), "{said}");
        assert!(!sys::is_alive(pid));
        assert!(describe(&layout).answer.is_err());
        assert_eq!(stop_managed(&layout).unwrap(), None);

        assert_eq!(
            ensure_managed(&layout, &bin).unwrap(),
            url,
            "same port and password"
        );
        stop_managed(&layout).unwrap();
        let log = fs::read_to_string(layout.redis_log()).unwrap();
        assert!(log.contains("Ready to accept connections"), "{log}");
    }
}
