//! The run stage: `quotes serve` replicas on internal ports with nginx in front, or one
//! process on the public port, and the replacement of one set by another.
//!
//! Every replica listens with SO_REUSEPORT, so a redeploy hands each port over: the new
//! process binds the same port beside the old one and says it listens (its ready file), then
//! the old one gets SIGTERM, stops accepting and drains. The port never stops answering, and
//! nginx's configuration does not change, so nginx is not reloaded and its clients' kept-alive
//! connections stay open. Only a change in the number of replicas reloads nginx, and a port
//! that cannot be handed over (an old process that did not listen with SO_REUSEPORT) gets a
//! replica on a new port, added to nginx before the old one leaves it.
//! Without nginx the one process on the public port is handed over the same way; when that
//! cannot be done, the old one stops before the new one starts: a moment of downtime, said.

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
    state::{AppEnv, Cache, Replica, State, Store},
};
use crate::{cmd, steps::format_duration, steps::print_tail, sys};

/// How long a new replica may take to say it listens. `quotes serve` itself waits up to 30 s
/// for the database before it binds, so this is longer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(100);
/// `quotes serve`'s exit code when its port is held by another program.
const PORT_IN_USE: i32 = 98;

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
    /// Kept in the state, for `start` and `rollback`; the app learns it from `env`.
    pub cache: Cache,
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

/// Stops `quotes serve` processes of this deploy directory that the state does not name: a
/// deploy interrupted while a new replica started leaves one, and with SO_REUSEPORT it
/// would go on taking a share of its port's connections. (Other commands of a release, a
/// `manage dbshell` say, are left alone.)
fn stop_strays(layout: &Layout, state: &State, grace: Duration) -> Result<()> {
    for pid in sys::find_ours("quotes", &layout.quotes_marker()) {
        let serves = std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|raw| raw.split(|b| *b == 0).nth(1) == Some(b"serve".as_slice()));
        if !serves || state.replicas.iter().any(|r| r.pid == pid) {
            continue;
        }
        let stray = Replica {
            pid,
            port: 0,
            release: "?".into(),
        };
        let said = stop_replica(layout, &stray, grace)?;
        println!("    - pid {pid}, a replica no state named (an interrupted deploy's): {said}");
    }
    Ok(())
}

/// Brings what runs (`state`, kept up to date on disk after every change) to `target`.
pub fn roll(layout: &Layout, state: &mut State, target: &Target) -> Result<()> {
    forget_the_dead(layout, state);
    stop_strays(layout, state, target.grace)?;
    state.release = target.release.id.clone();
    state.store = target.store;
    state.cache = target.cache;
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
    let kept = target.replicas.min(old.len());
    println!(
        "    rolling behind nginx (pid {nginx_pid}): {kept} port(s) handed over one at a time{}",
        match target.replicas.cmp(&old.len()) {
            std::cmp::Ordering::Greater => format!(", {} replica(s) added", target.replicas - kept),
            std::cmp::Ordering::Less => format!(", {} replica(s) removed", old.len() - kept),
            std::cmp::Ordering::Equal => String::new(),
        }
    );
    let mut reload = false;
    for leaving in &old[..kept] {
        match hand_over(layout, state, target, leaving) {
            Ok(said) => println!("    ~ {said}"),
            Err(err) => {
                // The old process still serves its port; a new one gets a port of its own.
                println!(
                    "    port {} could not be handed over ({err:#}); the new process gets a port of its own",
                    leaving.port
                );
                let new = start_ready(layout, target, None)?;
                state.replicas.push(new.clone());
                state.write(layout)?;
                let mut ports = ports(&state.replicas);
                nginx.reload(nginx_pid, target.public_port, &ports)?;
                println!(
                    "    + pid {} on port {}: ready, in nginx",
                    new.pid, new.port
                );
                ports.retain(|&p| p != leaving.port);
                nginx.reload(nginx_pid, target.public_port, &ports)?;
                let said = stop_replica(layout, leaving, target.grace)?;
                state.replicas.retain(|r| r.pid != leaving.pid);
                state.write(layout)?;
                println!(
                    "    - pid {} on port {}: out of nginx, {said}",
                    leaving.pid, leaving.port
                );
            }
        }
    }
    for _ in old.len()..target.replicas {
        let new = start_ready(layout, target, None)?;
        println!("    + pid {} on port {}: ready", new.pid, new.port);
        state.replicas.push(new);
        state.write(layout)?;
        reload = true;
    }
    if reload {
        nginx.reload(nginx_pid, target.public_port, &ports(&state.replicas))?;
        println!("    nginx reloaded with the new replicas");
    } else if old.len() <= target.replicas
        && !nginx.is_current(target.public_port, &ports(&state.replicas))
    {
        // The config deploy writes has changed (a newer xtask): worth one reload.
        nginx.reload(nginx_pid, target.public_port, &ports(&state.replicas))?;
        println!("    nginx reloaded: its configuration has changed");
    }
    if old.len() > target.replicas {
        let leaving = &old[kept..];
        let rest: Vec<Replica> = state
            .replicas
            .iter()
            .filter(|r| !leaving.iter().any(|l| l.pid == r.pid))
            .cloned()
            .collect();
        nginx.reload(nginx_pid, target.public_port, &ports(&rest))?;
        for r in leaving {
            let said = stop_replica(layout, r, target.grace)?;
            println!(
                "    - pid {} on port {}: out of nginx, {said}",
                r.pid, r.port
            );
            state.replicas.retain(|x| x.pid != r.pid);
            state.write(layout)?;
        }
    }
    state.proxy = true;
    state.write(layout)
}

/// Starts the new release on `leaving`'s port beside it, waits until it listens, then stops
/// `leaving`; the state names both while both run. On failure `leaving` still serves.
fn hand_over(
    layout: &Layout,
    state: &mut State,
    target: &Target,
    leaving: &Replica,
) -> Result<String> {
    let new = start_on(layout, target, leaving.port, Port::Shared)?;
    state.replicas.push(new.clone());
    state.write(layout)?;
    let said = stop_replica(layout, leaving, target.grace)?;
    state.replicas.retain(|r| r.pid != leaving.pid);
    state.write(layout)?;
    Ok(format!(
        "port {}: pid {} took over from pid {}, which {said}",
        leaving.port, new.pid, leaving.pid
    ))
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
    let holder = old
        .iter()
        .find(|r| r.port == target.public_port && state.nginx.is_none())
        .cloned();
    if let (Some(leaving), true) = (&holder, old.len() == 1) {
        match hand_over(layout, state, target, leaving) {
            Ok(said) => {
                println!("    ~ {said}");
                state.proxy = false;
                state.public_port = target.public_port;
                return state.write(layout);
            }
            // The old process listens without SO_REUSEPORT (a release from before it): it
            // must go before the new one can bind.
            Err(err) if err.is::<PortHeld>() => println!(
                "    port {} could not be handed over ({err:#})",
                leaving.port
            ),
            // Anything else is the new release's failure: the old process goes on serving.
            Err(err) => {
                return Err(err.context(format!(
                    "the new release did not start; pid {} still serves port {}",
                    leaving.pid, leaving.port
                )))
            }
        }
    }
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

/// Starts one replica on `port`, else on a port the kernel finds free, and waits until it
/// is ready. A port picked free can be taken before the server binds it; that costs one
/// more try.
fn start_ready(layout: &Layout, target: &Target, port: Option<u16>) -> Result<Replica> {
    if let Some(port) = port {
        return start_on(layout, target, port, Port::Own);
    }
    let port = sys::pick_free_port()?;
    match start_on(layout, target, port, Port::Own) {
        Err(err) if err.is::<PortHeld>() => {
            println!("    port {port} was taken meanwhile; trying another");
            start_on(layout, target, sys::pick_free_port()?, Port::Own)
        }
        done => done,
    }
}

/// Whether a new process has its port to itself, or shares it with the one it replaces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    Own,
    Shared,
}

/// A new process could not bind its port: another holds it without SO_REUSEPORT (`quotes
/// serve` exits with 98, `EADDRINUSE`, then).
#[derive(Debug)]
pub struct PortHeld(u16);

impl std::fmt::Display for PortHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "port {} is held by a process that does not share it (no SO_REUSEPORT)",
            self.0
        )
    }
}

impl std::error::Error for PortHeld {}

/// Starts one replica on `port` (beside a process that listens there with SO_REUSEPORT, if
/// `Shared`) and waits until it listens; a process that does not is stopped.
fn start_on(layout: &Layout, target: &Target, port: u16, shared: Port) -> Result<Replica> {
    let ready = layout.run_dir().join(format!(
        "ready-{port}-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    let mut child = spawn(layout, target, port, &ready)?;
    let pid = child.id();
    let waited = wait_ready(layout, &mut child, port, &ready, shared);
    let _ = std::fs::remove_file(&ready);
    match waited {
        Ok(()) => Ok(Replica {
            pid,
            port,
            release: target.release.id.clone(),
        }),
        Err(err) => {
            let _ = sys::terminate(pid, Duration::from_secs(5));
            let _ = child.wait();
            Err(err)
        }
    }
}

/// Starts `quotes serve` in its own process group, so it lives on after xtask exits and a
/// Ctrl-C in this terminal does not reach it. Its output is appended to `logs/quotes.log`.
fn spawn(layout: &Layout, target: &Target, port: u16, ready: &Path) -> Result<Child> {
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
        // The next release takes this port over while this process still serves it.
        .env("QUOTES__SERVER__REUSE_PORT", "true")
        .env("QUOTES__SERVER__READY_FILE", ready)
        .current_dir(&target.release.dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    server
        .spawn()
        .with_context(|| format!("could not start `{}`", cmd::display(&server)))
}

/// Waits, bounded, until the server writes its ready file: it has prepared, found its
/// database and listens. On a port of its own `/readyz` answering 200 counts too (a release
/// from before ready files); on a shared port only the file does, since `/readyz` could be
/// answered by the old process. A server that exits first is reported with the end of its
/// log, as [`PortHeld`] when it could not bind.
fn wait_ready(
    layout: &Layout,
    child: &mut Child,
    port: u16,
    ready: &Path,
    shared: Port,
) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let agent = super::agent(Duration::from_secs(2));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            print_tail(&layout.log("quotes.log"), 15);
            let exited = anyhow::anyhow!(
                "quotes (pid {}) exited while starting on port {port} ({status})",
                child.id()
            );
            if status.code() == Some(PORT_IN_USE) {
                return Err(anyhow::Error::new(PortHeld(port)).context(exited.to_string()));
            }
            return Err(exited);
        }
        if ready.is_file() {
            return Ok(());
        }
        if shared == Port::Own && matches!(super::get(&agent, &url), Ok((200, _))) {
            return Ok(());
        }
        if started.elapsed() >= READY_TIMEOUT {
            bail!(
                "quotes (pid {}) did not listen on port {port} within {}, so it was stopped",
                child.id(),
                format_duration(READY_TIMEOUT)
            );
        }
        thread::sleep(READY_POLL);
    }
}
