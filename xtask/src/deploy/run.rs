//! The run stage: `quotes serve` replicas on internal ports with nginx in front, or one
//! process on the public port, and the rolling replacement of one set by another.
//!
//! With nginx, a redeploy replaces replicas one at a time: the new one starts and answers
//! `/readyz`, nginx reloads with it added, then reloads with an old one removed, and only then
//! does that old one get SIGTERM and drain. No request is sent to a process that is leaving.
//! Without nginx the one process holds the public port, so the new one can only start once the
//! old one has stopped: a moment of downtime, said as it happens.

use std::{
    env,
    io::Write,
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};

use super::{
    layout::Layout,
    nginx::{self, Nginx},
    release::Release,
    state::{AppEnv, Replica, State, Store},
};
use crate::{cmd, steps::format_duration, steps::print_tail, sys};

/// How long a new replica may take to answer `/readyz` with 200. `quotes serve` itself waits
/// up to 30 s for the database before it binds, so this is longer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(100);

/// The variables a replica keeps from our own environment; everything else it gets is in
/// `run/app.env`, so the app runs the same whoever's shell deployed it.
pub const INHERITED: [&str; 6] = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ"];

/// What should run once this stage is done.
pub struct Target<'a> {
    pub release: &'a Release,
    pub replicas: usize,
    pub proxy: bool,
    pub public_port: u16,
    pub store: Store,
    pub env: &'a AppEnv,
    pub nginx: Option<&'a Path>,
    /// How long a replica may drain after SIGTERM before it is killed.
    pub grace: Duration,
}

impl Target<'_> {
    fn nginx<'b>(&'b self, layout: &'b Layout) -> Result<Nginx<'b>> {
        let bin = self.nginx.context("nginx is needed but was not found")?;
        Ok(Nginx { bin, layout })
    }
}

/// A command for the release's binary with the app's environment and nothing else of ours.
pub fn app_command(release: &Release, env: &AppEnv) -> Command {
    let mut command = Command::new(release.binary());
    command.env_clear();
    for key in INHERITED {
        if let Some(value) = env::var_os(key) {
            command.env(key, value);
        }
    }
    command.envs(env.vars.iter().map(|(k, v)| (k, v)));
    command.env("QUOTES_CONFIG_DIR", release.config_dir());
    command
}

/// Forgets processes that are gone (or whose pid now belongs to someone else).
pub fn forget_the_dead(layout: &Layout, state: &mut State) {
    let marker = layout.quotes_marker();
    state
        .replicas
        .retain(|r| sys::is_ours(r.pid, "quotes", &marker));
    if let Some(pid) = state.nginx {
        if !nginx::is_ours(layout, pid) {
            state.nginx = None;
        }
    }
}

/// Brings what runs (`state`, kept up to date on disk after every change) to `target`.
pub fn roll(layout: &Layout, state: &mut State, target: &Target) -> Result<()> {
    forget_the_dead(layout, state);
    state.release = target.release.id.clone();
    state.store = target.store;
    state.docker = false;
    let rolling = target.proxy
        && state.proxy
        && state.public_port == target.public_port
        && state.nginx.is_some();
    if rolling {
        rolling_update(layout, state, target)
    } else if target.proxy {
        cold_start_with_proxy(layout, state, target)
    } else {
        cold_start_direct(layout, state, target)
    }
}

fn rolling_update(layout: &Layout, state: &mut State, target: &Target) -> Result<()> {
    let nginx = target.nginx(layout)?;
    let nginx_pid = state.nginx.context("nginx is not running")?;
    let old = state.replicas.clone();
    println!(
        "    rolling: {} old replica(s) out, {} new in, one at a time behind nginx (pid {nginx_pid})",
        old.len(),
        target.replicas
    );
    for i in 0..target.replicas.max(old.len()) {
        if i < target.replicas {
            let new = start_ready(layout, target, None)?;
            let mut ports = ports(&state.replicas);
            ports.push(new.port);
            state.replicas.push(new.clone());
            state.write(layout)?;
            nginx.reload(nginx_pid, target.public_port, &ports)?;
            println!(
                "    + pid {} on port {}: ready, in nginx",
                new.pid, new.port
            );
        }
        if let Some(leaving) = old.get(i) {
            let rest: Vec<Replica> = state
                .replicas
                .iter()
                .filter(|r| r.pid != leaving.pid)
                .cloned()
                .collect();
            nginx.reload(nginx_pid, target.public_port, &ports(&rest))?;
            state.replicas = rest;
            state.write(layout)?;
            let said = stop_replica(layout, leaving, target.grace)?;
            println!(
                "    - pid {} on port {}: out of nginx, {said}",
                leaving.pid, leaving.port
            );
        }
    }
    state.proxy = true;
    state.write(layout)
}

fn cold_start_with_proxy(layout: &Layout, state: &mut State, target: &Target) -> Result<()> {
    let nginx = target.nginx(layout)?;
    let old = state.replicas.clone();
    let mut fresh = Vec::new();
    for _ in 0..target.replicas {
        let new = start_ready(layout, target, None)?;
        println!("    + pid {} on port {}: ready", new.pid, new.port);
        state.replicas.push(new.clone());
        state.write(layout)?;
        fresh.push(new);
    }
    // What of the old set holds the public port must go before nginx can bind it. An old
    // nginx goes in any case: a new one takes over its config and pid file.
    if let Some(pid) = state.nginx.take() {
        println!("    the old nginx (pid {pid}) stops first and a new one takes its place: a moment of downtime");
        println!("    {}", nginx::stop(layout, pid)?);
        state.write(layout)?;
    }
    for leaving in old.iter().filter(|r| r.port == target.public_port) {
        println!("    the old process on port {} goes first: nginx needs its port, so there is a moment of downtime", leaving.port);
        println!(
            "    - pid {}: {}",
            leaving.pid,
            stop_replica(layout, leaving, target.grace)?
        );
        state.replicas.retain(|r| r.pid != leaving.pid);
        state.write(layout)?;
    }
    if !sys::port_is_free(target.public_port) {
        bail!(super::port_taken(target.public_port));
    }
    nginx.configure(target.public_port, &ports(&fresh))?;
    let pid = nginx.start(target.public_port)?;
    state.nginx = Some(pid);
    state.proxy = true;
    state.public_port = target.public_port;
    state.write(layout)?;
    stop_the_rest(layout, state, &old, target.grace)
}

fn cold_start_direct(layout: &Layout, state: &mut State, target: &Target) -> Result<()> {
    let old = state.replicas.clone();
    let holds_port = (state.nginx.is_some() && state.public_port == target.public_port)
        || old.iter().any(|r| r.port == target.public_port);
    if holds_port {
        println!(
            "    without nginx the new process needs the port the old one holds: stopping the old \
             one first, so the site is down until the new one is ready (deploy with --proxy for \
             zero-downtime redeploys)"
        );
        if let Some(pid) = state.nginx.take() {
            println!("    {}", nginx::stop(layout, pid)?);
            state.write(layout)?;
        }
        stop_the_rest(layout, state, &old, target.grace)?;
    }
    if !sys::port_is_free(target.public_port) {
        bail!(super::port_taken(target.public_port));
    }
    let new = start_ready(layout, target, Some(target.public_port))?;
    println!("    + pid {} on port {}: ready", new.pid, new.port);
    state.replicas.push(new);
    state.proxy = false;
    state.public_port = target.public_port;
    state.write(layout)?;
    if let Some(pid) = state.nginx.take() {
        println!("    {}", nginx::stop(layout, pid)?);
        state.write(layout)?;
    }
    stop_the_rest(layout, state, &old, target.grace)
}

/// Stops each of `old` that still runs, keeping the state file true after each.
fn stop_the_rest(
    layout: &Layout,
    state: &mut State,
    old: &[Replica],
    grace: Duration,
) -> Result<()> {
    for leaving in old {
        if state.replicas.iter().any(|r| r.pid == leaving.pid) {
            let said = stop_replica(layout, leaving, grace)?;
            println!("    - pid {} on port {}: {said}", leaving.pid, leaving.port);
            state.replicas.retain(|r| r.pid != leaving.pid);
            state.write(layout)?;
        }
    }
    Ok(())
}

fn ports(replicas: &[Replica]) -> Vec<u16> {
    replicas.iter().map(|r| r.port).collect()
}

/// SIGTERM, then up to `grace` for in-flight requests to finish, then SIGKILL. A pid that is
/// not our `quotes` any more is left alone.
pub fn stop_replica(layout: &Layout, replica: &Replica, grace: Duration) -> Result<String> {
    if !sys::is_ours(replica.pid, "quotes", &layout.quotes_marker()) {
        return Ok("already gone".into());
    }
    let started = Instant::now();
    let how = match sys::terminate(replica.pid, grace)? {
        sys::Stopped::Gracefully => "drained and stopped".to_owned(),
        sys::Stopped::Killed => format!(
            "killed after {} without exiting on SIGTERM",
            format_duration(grace)
        ),
    };
    Ok(format!("{how} in {}", format_duration(started.elapsed())))
}

/// Starts one replica (on `port`, else on a free one) and waits until it is ready. A port
/// picked free can be taken before the server binds it; that costs one more try.
fn start_ready(layout: &Layout, target: &Target, port: Option<u16>) -> Result<Replica> {
    let mut tries = if port.is_some() { 1 } else { 2 };
    loop {
        let port = match port {
            Some(port) => port,
            None => sys::pick_free_port()?,
        };
        let mut child = spawn(layout, target, port)?;
        let pid = child.id();
        match wait_ready(layout, &mut child, port) {
            Ok(()) => {
                return Ok(Replica {
                    pid,
                    port,
                    release: target.release.id.clone(),
                })
            }
            Err(err) => {
                let _ = sys::terminate(pid, Duration::from_secs(5));
                let _ = child.wait();
                tries -= 1;
                if tries == 0 || sys::port_is_free(port) {
                    return Err(err);
                }
                println!("    port {port} was taken meanwhile; trying another");
            }
        }
    }
}

/// Starts `quotes serve` in its own process group, so it lives on after xtask exits and a
/// Ctrl-C in this terminal does not reach it. Its output is appended to `logs/quotes.log`.
fn spawn(layout: &Layout, target: &Target, port: u16) -> Result<Child> {
    let log_path = layout.log("quotes.log");
    let mut log = cmd::append_to(&log_path)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    writeln!(
        log,
        "==> xtask deploy: release {} on 127.0.0.1:{port} (unix time {now})",
        target.release.id
    )?;
    let mut server = app_command(target.release, target.env);
    server.arg("serve");
    if target.store == Store::Memory {
        server.arg("--load-quotes").arg(target.release.fixtures());
        if target.env.get("QUOTES_SUPERUSER_USERNAME").is_some() {
            server.arg("--create-superuser");
        }
    }
    server
        .env("PORT", port.to_string())
        .current_dir(&target.release.dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    server
        .spawn()
        .with_context(|| format!("could not start `{}`", cmd::display(&server)))
}

/// Polls `/readyz` until it answers 200, bounded; a server that exits first is reported with
/// the end of its log.
fn wait_ready(layout: &Layout, child: &mut Child, port: u16) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let agent = super::agent(Duration::from_secs(2));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            print_tail(&layout.log("quotes.log"), 15);
            bail!(
                "quotes (pid {}) exited while starting on port {port} ({status})",
                child.id()
            );
        }
        let last = match super::get(&agent, &url) {
            Ok((200, _)) => return Ok(()),
            Ok((status, body)) => format!("{status} {}", body.trim()),
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= READY_TIMEOUT {
            bail!(
                "{url} did not answer 200 within {} (last: {last}), so that process was stopped",
                format_duration(READY_TIMEOUT)
            );
        }
        thread::sleep(READY_POLL);
    }
}
