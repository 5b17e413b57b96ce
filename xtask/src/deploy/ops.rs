//! The companions of deploy: `status`, `logs`, `stop` and `manage`, all reading what deploy
//! left in the deploy directory.

use std::{
    fs::{self, File},
    io::{self, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::{
    docker, get, grace, layout::Layout, nginx, postgres, redis, release::Release, run,
    state::AppEnv, Cache, History, Lock, State, Store,
};
use crate::sys;

/// Which log `cargo xtask logs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogKind {
    /// The app's output: every replica's log lines (JSON in production).
    App,
    /// nginx's access and error logs.
    Nginx,
    /// The managed PostgreSQL cluster's server log.
    Postgres,
    /// The managed Redis's log (`--cache redis`).
    Redis,
    /// What `quotes migrate` and `quotes load-quotes` said at the last deploys.
    Prepare,
    /// cargo's output from the release builds.
    Build,
    /// apt-get's output, when deploy installed something.
    Apt,
}

impl LogKind {
    fn files(self, layout: &Layout) -> Vec<PathBuf> {
        let names: &[&str] = match self {
            LogKind::App => &["quotes.log"],
            LogKind::Nginx => &["nginx-error.log", "nginx-access.log"],
            LogKind::Postgres => &["postgres.log"],
            LogKind::Redis => &["redis.log"],
            LogKind::Prepare => &["prepare.log"],
            LogKind::Build => &["build.log"],
            LogKind::Apt => &["apt.log"],
        };
        names.iter().map(|n| layout.log(n)).collect()
    }
}

pub fn status(root: &Path, dir: Option<&Path>) -> Result<()> {
    let layout = Layout::new(root, dir);
    println!("deploy dir: {}", layout.base.display());
    let Some(mut state) = State::read(&layout)? else {
        println!(
            "release:    none (nothing deployed yet; run `{}`)",
            super::hint(&layout, "deploy")
        );
        if let Some(pid) = postgres::running_pid(&layout) {
            println!("postgres:   running (pid {pid}), left from an earlier deploy");
        }
        if let Some(pid) = redis::running_pid(&layout) {
            println!("redis:      running (pid {pid}), left from an earlier deploy");
        }
        return Ok(());
    };
    if state.docker {
        return docker::status(&layout, &state);
    }
    run::forget_the_dead(&layout, &mut state);
    let history = History::read(&layout)?;
    let previous = history
        .previous(|id| Release::open(&layout, id).is_ok())
        .unwrap_or("none");
    println!(
        "release:    {} (rollback would go to: {previous})",
        state.release
    );
    match state.release.strip_suffix("-dirty") {
        Some(commit) => println!("commit:     {commit}, with changes not committed"),
        None => println!("commit:     {}", state.release),
    }
    println!("store:      {}", state.store.describe());
    let env = AppEnv::read(&layout)?.unwrap_or_default();
    match state.store {
        Store::Managed => {
            let (pid, port, data) = postgres::describe(&layout);
            let port = port.map_or("?".to_owned(), |p| p.to_string());
            match pid {
                Some(pid) => println!(
                    "postgres:   running (pid {pid}) on 127.0.0.1:{port}, data in {}",
                    data.display()
                ),
                None => println!(
                    "postgres:   stopped (port {port}), data in {}",
                    data.display()
                ),
            }
        }
        Store::External => println!(
            "database:   {}",
            postgres::public_address(env.get("DATABASE_URL").unwrap_or("?"))
        ),
        Store::Memory => {}
    }
    println!("cache:      {}", state.cache.describe());
    let redis = redis::describe(&layout);
    if state.cache == Cache::Redis || redis.pid.is_some() {
        let port = redis.port.map_or("?".to_owned(), |p| p.to_string());
        let answer = match &redis.answer {
            Ok(()) => "answers PING".to_owned(),
            Err(err) => format!("does not answer PING ({err})"),
        };
        match redis.pid {
            Some(pid) if state.cache == Cache::Redis => {
                println!("redis:      running (pid {pid}) on 127.0.0.1:{port}, {answer}")
            }
            Some(pid) => println!(
                "redis:      running (pid {pid}) on 127.0.0.1:{port}, which the release does not use"
            ),
            None => println!("redis:      stopped (port {port})"),
        }
    }
    match (state.proxy, state.nginx) {
        (true, Some(pid)) => println!(
            "nginx:      running (pid {pid}) on 127.0.0.1:{}",
            state.public_port
        ),
        (true, None) => println!("nginx:      not running"),
        (false, _) => println!("nginx:      none (one process serves the port itself)"),
    }
    println!(
        "replicas:   {} running, {} wanted",
        state.replicas.len(),
        state.scale
    );
    let agent = super::agent(Duration::from_secs(2));
    for r in &state.replicas {
        let ready = match get(&agent, &format!("http://127.0.0.1:{}/readyz", r.port)) {
            Ok((code, _)) => code.to_string(),
            Err(err) => format!("no answer ({err})"),
        };
        println!(
            "    pid {:>7}  port {:>5}  release {}  /readyz {ready}",
            r.pid, r.port, r.release
        );
    }
    let url = format!("http://127.0.0.1:{}/", state.public_port);
    if state.is_running() {
        match get(&agent, &format!("{url}healthz")) {
            Ok((code, body)) => println!("healthz:    {code} {}", body.trim()),
            Err(err) => println!("healthz:    no answer from {url}healthz ({err})"),
        }
        println!("url:        {url}");
    } else {
        println!(
            "url:        {url} (stopped; `{}` starts it again)",
            super::hint(&layout, "deploy")
        );
    }
    println!("logs:       {}", layout.logs().display());
    Ok(())
}

/// Stops everything of this deploy directory: nginx first (no new requests), then each
/// replica (SIGTERM, drain, exit), then Redis and PostgreSQL. Processes of ours the state file has
/// lost track of are found by name and path and stopped too, so none is left.
pub fn stop(root: &Path, dir: Option<&Path>) -> Result<()> {
    let layout = Layout::new(root, dir);
    let _lock = Lock::acquire(&layout, "stop")?;
    let mut state = State::read(&layout)?;
    if let Some(s) = state.as_ref().filter(|s| s.docker) {
        docker::stop(&layout, s)?;
        let mut s = s.clone();
        s.docker = false;
        s.replicas.clear();
        s.write(&layout)?;
        return Ok(());
    }
    let env = AppEnv::read(&layout)?.unwrap_or_default();
    let grace = grace(&env);
    let mut said = Vec::new();

    let mut nginx_pids: Vec<u32> = state.iter().filter_map(|s| s.nginx).collect();
    nginx_pids.extend(sys::find_ours("nginx", &layout.nginx_marker()));
    nginx_pids.sort_unstable();
    nginx_pids.dedup();
    for pid in nginx_pids
        .into_iter()
        .filter(|&pid| nginx::is_ours(&layout, pid))
    {
        said.push(nginx::stop(&layout, pid)?);
    }

    let mut replicas: Vec<super::Replica> = state.iter().flat_map(|s| s.replicas.clone()).collect();
    for pid in sys::find_ours("quotes", &layout.quotes_marker()) {
        if !replicas.iter().any(|r| r.pid == pid) {
            replicas.push(super::Replica {
                pid,
                port: 0,
                release: "?".into(),
            });
        }
    }
    // SIGTERM to all first: they drain side by side, not one after another.
    let marker = layout.quotes_marker();
    let running: Vec<_> = replicas
        .iter()
        .filter(|r| sys::is_ours(r.pid, "quotes", &marker))
        .collect();
    for r in &running {
        sys::signal(r.pid, "TERM")?;
    }
    let started = Instant::now();
    for r in &running {
        let left = grace.saturating_sub(started.elapsed());
        let how = if sys::wait_gone(r.pid, left) {
            "drained and stopped"
        } else {
            sys::signal(r.pid, "KILL")?;
            sys::wait_gone(r.pid, Duration::from_secs(5));
            "killed: it had not exited in time after SIGTERM"
        };
        said.push(format!(
            "stopped quotes (pid {}, port {}): {how} ({})",
            r.pid,
            r.port,
            crate::steps::format_duration(started.elapsed())
        ));
    }

    if let Some(redis) = redis::stop_managed(&layout)? {
        said.push(redis);
    }
    if let Some(pg) = postgres::stop_managed(&layout)? {
        said.push(pg);
    }
    if let Some(state) = &mut state {
        state.nginx = None;
        state.replicas.clear();
        state.write(&layout)?;
    }
    if said.is_empty() {
        println!(
            "xtask stop: nothing was running from {}",
            layout.base.display()
        );
    } else {
        for line in &said {
            println!("    {line}");
        }
        println!(
            "xtask stop: stopped; the data and releases stay in {}",
            layout.base.display()
        );
    }
    Ok(())
}

/// Prints the last `lines` lines of each log of `kind`; with `follow`, keeps printing what
/// is appended until interrupted (Ctrl-C), like `tail -F`.
pub fn logs(
    root: &Path,
    dir: Option<&Path>,
    kind: LogKind,
    lines: usize,
    follow: bool,
) -> Result<()> {
    let layout = Layout::new(root, dir);
    if let Some(state) = State::read(&layout)?.filter(|s| s.docker) {
        return docker::logs(&layout, &state, lines, follow);
    }
    let files = kind.files(&layout);
    let many = files.len() > 1;
    let mut offsets = Vec::new();
    for file in &files {
        if many {
            println!("==> {} <==", file.display());
        }
        match fs::read(file) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                for line in &all[all.len().saturating_sub(lines)..] {
                    println!("{line}");
                }
                offsets.push(bytes.len() as u64);
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                println!("({} does not exist yet)", file.display());
                offsets.push(0);
            }
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", file.display()))
            }
        }
    }
    if !follow {
        return Ok(());
    }
    let mut out = io::stdout();
    loop {
        for (file, offset) in files.iter().zip(offsets.iter_mut()) {
            let Ok(mut f) = File::open(file) else {
                continue;
            };
            let len = f.metadata()?.len();
            // A log that shrank was truncated or replaced: start again from its beginning.
            if len < *offset {
                *offset = 0;
            }
            if len > *offset {
                f.seek(SeekFrom::Start(*offset))?;
                let mut buf = Vec::new();
                f.take(len - *offset).read_to_end(&mut buf)?;
                *offset = len;
                out.write_all(&buf)?;
                out.flush()?;
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
}

/// Runs `quotes <args>` as the deployed release, with the deployed environment (its store,
/// `DATABASE_URL`, `QUOTES_ENV`, config), from the current directory so that file arguments
/// mean what they say.
pub fn manage(root: &Path, dir: Option<&Path>, args: &[String]) -> Result<()> {
    let layout = Layout::new(root, dir);
    let Some(state) = State::read(&layout)? else {
        bail!(
            "nothing deployed from {}: run `{}` first",
            layout.base.display(),
            super::hint(&layout, "deploy")
        );
    };
    if state.docker {
        bail!(
            "this deployment runs under Docker: use `docker compose -f deploy/compose.yaml -p quotes run --rm web {}`",
            args.join(" ")
        );
    }
    let env = AppEnv::read(&layout)?
        .with_context(|| format!("{} is missing: deploy again", layout.app_env().display()))?;
    let release = Release::open(&layout, &state.release)?;
    match state.store {
        Store::Memory => eprintln!(
            "note: the deployed processes keep their quotes in memory; this command gets an empty store of its own and cannot reach theirs"
        ),
        Store::Managed if postgres::running_pid(&layout).is_none() => eprintln!(
            "note: the managed PostgreSQL is not running (stopped with `cargo xtask stop`?); `{}` starts it",
            super::hint(&layout, "deploy")
        ),
        _ => {}
    }
    if state.cache == Cache::Redis && redis::running_pid(&layout).is_none() {
        eprintln!(
            "note: the managed Redis is not running (stopped with `cargo xtask stop`?); `{}` starts it",
            super::hint(&layout, "start")
        );
    }
    let mut command = run::app_command(&release, &env);
    command.args(args);
    let status = command
        .status()
        .with_context(|| format!("could not start {}", release.binary().display()))?;
    if !status.success() {
        bail!("`quotes {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment whose replicas are gone but whose Redis runs: status reads it, stop
    /// stops it and keeps the state's choice of cache for `start`.
    #[test]
    fn stop_stops_the_managed_redis() {
        let bin = crate::redis::server().unwrap_or_else(|err| panic!("{err:#}"));
        let base = std::env::temp_dir().join(format!("xtask-ops-test-{}", std::process::id()));
        let layout = Layout::new(Path::new("/p"), Some(&base));
        let state = State {
            release: "r".into(),
            store: Store::Memory,
            cache: Cache::Redis,
            public_port: 1,
            proxy: false,
            scale: 1,
            docker: false,
            nginx: None,
            replicas: Vec::new(),
        };
        state.write(&layout).unwrap();
        let stopped = (|| -> Result<()> {
            redis::ensure_managed(&layout, &bin)?;
            let pid = redis::running_pid(&layout).context("no redis after ensure_managed")?;
            status(Path::new("/p"), Some(&base))?;
            stop(Path::new("/p"), Some(&base))?;
            assert!(!sys::is_alive(pid), "redis (pid {pid}) outlived stop");
            Ok(())
        })();
        let _ = redis::stop_managed(&layout);
        let kept = State::read(&layout).unwrap().unwrap();
        fs::remove_dir_all(&base).unwrap();
        stopped.unwrap_or_else(|err| panic!("{err:#}"));
        assert_eq!(kept.cache, Cache::Redis);
    }
}
