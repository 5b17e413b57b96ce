//! `cargo xtask deploy --docker`: the same site through deploy/compose.yaml (PostgreSQL, a
//! prepare job, the cache's Redis, the web replicas, nginx), for machines with a Docker
//! engine. Without one it
//! stops at once and says so: a Docker client alone cannot run containers.

use std::{
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::{layout::Layout, postgres, release, state::State, Options, Store};
use crate::{cmd, steps::Steps};

/// The compose project name: containers, network and volume are called `quotes-…`.
const PROJECT: &str = "quotes";

/// The first build of the image compiles everything inside it, which is slow on two cores.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub fn deploy(layout: &Layout, opts: &Options) -> Result<()> {
    let mut steps = Steps::new("deploy --docker");
    let result = deploy_steps(layout, opts, &mut steps);
    let url = format!("http://127.0.0.1:{}/", opts.port);
    steps.finish(result)?;
    println!();
    println!(
        "quotes is up at {url} (Docker: {} web replica(s) behind nginx, PostgreSQL in a volume, cache: {})",
        opts.replicas,
        opts.cache.as_str()
    );
    println!("    logs:  cargo xtask logs --follow (docker compose logs)");
    println!("    admin: none exists yet (quotes has no admin accounts)");
    println!("    stop:  cargo xtask stop (the database volume stays)");
    Ok(())
}

fn deploy_steps(layout: &Layout, opts: &Options, steps: &mut Steps) -> Result<()> {
    steps.run("docker engine", engine_answers)?;
    if opts.memory {
        bail!("--store memory applies to the deploy without Docker; compose.yaml runs PostgreSQL");
    }
    if opts.db_port.is_some() {
        bail!("--db-port applies to the deploy without Docker; compose keeps PostgreSQL inside its network");
    }
    let _lock = super::Lock::acquire(layout, "deploy")?;
    if let Some(state) = State::read(layout)?.filter(|s| s.is_running() && !s.docker) {
        bail!(
            "a deployment without Docker (release {}) runs from {}: `{}` first",
            state.release,
            layout.base.display(),
            super::hint(layout, "stop")
        );
    }
    let id = release::release_id(&layout.root)?;
    steps.run_logged("compose up", &layout.log("docker.log"), || {
        let mut up = compose(layout, &id, opts.port)?;
        // compose.yaml always runs its Redis; the replicas use it with `--cache redis`.
        up.env("QUOTES_CACHE_BACKEND", opts.cache.as_str())
            .args(["up", "-d", "--build", "--remove-orphans", "--scale"])
            .arg(format!("web={}", opts.replicas));
        cmd::stream_logged(&mut up, &layout.log("docker.log"))
    })?;
    steps.run("ready", || {
        let url = format!("http://127.0.0.1:{}/readyz", opts.port);
        let agent = super::agent(Duration::from_secs(3));
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = super::get(&agent, &url) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("{url} did not answer 200 within {READY_TIMEOUT:?}; see `cargo xtask logs`");
            }
            thread::sleep(Duration::from_secs(1));
        }
    })?;
    State {
        release: id,
        store: Store::External,
        cache: opts.cache,
        public_port: opts.port,
        proxy: true,
        scale: opts.replicas,
        docker: true,
        nginx: None,
        replicas: Vec::new(),
    }
    .write(layout)
}

/// `docker info` succeeds only when an engine answers; the client alone is not enough.
fn engine_answers() -> Result<()> {
    let Some(docker) = cmd::which("docker") else {
        bail!("no `docker` program: install Docker (Debian: `apt-get install docker.io`), or deploy without --docker");
    };
    match cmd::output(Command::new(&docker).args(["info", "--format", "{{.ServerVersion}}"])) {
        Ok(version) => {
            println!("    Docker engine {}", version.trim());
            Ok(())
        }
        Err(err) => bail!(
            "no Docker engine answers (`docker info` failed: {}): this machine has the Docker client \
             only, or the daemon is stopped. Start one (e.g. `systemctl start docker`), point \
             DOCKER_HOST at one, or deploy without --docker",
            first_line(&format!("{err:#}"))
        ),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

/// `docker compose` (the plugin) when there is one, else Debian's `docker-compose` (v1),
/// with the project's file and name and what it interpolates.
fn compose(layout: &Layout, commit: &str, port: u16) -> Result<Command> {
    let plugin = cmd::output(Command::new("docker").args(["compose", "version"])).is_ok();
    let mut command = if plugin {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else if let Some(v1) = cmd::which("docker-compose") {
        Command::new(v1)
    } else {
        bail!("neither `docker compose` nor `docker-compose` is installed (Debian: `apt-get install docker-compose`)");
    };
    let password = postgres::password(&layout.docker_password_file())?;
    let redis_password = postgres::password(&layout.docker_redis_password_file())?;
    // The same kept key as the deploy without Docker; one in the environment wins.
    let secret_key = match std::env::var("SECRET_KEY") {
        Ok(key) if !key.is_empty() => key,
        _ => postgres::secret(&layout.secret_key_file(), 32)?,
    };
    command
        .env("SECRET_KEY", secret_key)
        .current_dir(&layout.root)
        .arg("-f")
        .arg(layout.root.join("deploy").join("compose.yaml"))
        .args(["-p", PROJECT])
        .env("POSTGRES_PASSWORD", password)
        .env("REDIS_PASSWORD", redis_password)
        .env("QUOTES_BUILD_COMMIT", commit)
        .env("QUOTES_PORT", port.to_string());
    Ok(command)
}

pub fn stop(layout: &Layout, state: &State) -> Result<()> {
    let mut down = compose(layout, &state.release, state.public_port)?;
    down.arg("down");
    cmd::stream(&mut down)?;
    println!("xtask stop: the compose project `{PROJECT}` is down; its database volume stays");
    Ok(())
}

pub fn status(layout: &Layout, state: &State) -> Result<()> {
    println!(
        "release:    {} (Docker, compose project `{PROJECT}`)",
        state.release
    );
    println!("url:        http://127.0.0.1:{}/", state.public_port);
    let mut ps = compose(layout, &state.release, state.public_port)?;
    ps.arg("ps");
    cmd::stream(&mut ps)
}

pub fn logs(layout: &Layout, state: &State, lines: usize, follow: bool) -> Result<()> {
    let mut logs = compose(layout, &state.release, state.public_port)?;
    logs.args(["logs", "--tail", &lines.to_string()]);
    if follow {
        logs.arg("--follow");
    }
    cmd::stream(&mut logs).context("docker compose logs")
}
