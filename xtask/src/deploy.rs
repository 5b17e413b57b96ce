//! `cargo xtask deploy` and its companions (`rollback`, `start`, `status`, `logs`, `stop`,
//! `manage`):
//! the site on this machine, on PostgreSQL, with as many replicas as asked behind nginx, and
//! the cache in each process or in one Redis beside them.
//!
//! A deploy runs these steps, each shown as it happens and named when it fails, with its log:
//!
//! 1. preflight: the public port, and the programs this deploy needs (installed with apt
//!    when we are root, else named);
//! 2. build: `cargo build --release -p cli --bin quotes`, stamped with the commit;
//! 3. release: binary, config and fixtures copied into `releases/<commit>[-dirty]/`;
//! 4. backing services: the managed PostgreSQL cluster (or `DATABASE_URL`, or none);
//! 5. cache: the managed Redis with `--cache redis` (see `redis`);
//! 6. prepare: wait for the database, `quotes migrate`, `quotes load-quotes`, and
//!    `quotes createsuperuser --no-input` when `QUOTES_SUPERUSER_*` are set;
//! 7. run: the replicas, rolled one at a time when nginx is in front (see `run`).
//!
//! Everything lives in one deploy directory (see `layout` and docs/deploy.md), and deploy
//! only ever signals processes it started: a pid is checked against the program's name and
//! a path of the deploy directory in its command line first.

mod docker;
mod layout;
mod nginx;
mod ops;
mod postgres;
mod redis;
mod release;
mod run;
mod state;

use std::{
    env,
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

pub use layout::{Layout, SYSTEM_DIR};
pub use ops::{logs, manage, status, stop, LogKind};
pub use release::release_id;
pub use state::{Cache, History, Replica, State, Store};

use crate::{
    pg::Bins,
    preflight::{self, Missing},
    steps::{format_duration, Steps},
    sys,
};
use release::Release;
use run::Target;
use state::AppEnv;

/// What `cargo xtask deploy` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub replicas: usize,
    /// nginx in front even of one replica, for zero-downtime redeploys.
    pub proxy: bool,
    pub memory: bool,
    /// The app's cache; `Redis` runs one for it.
    pub cache: Cache,
    pub docker: bool,
    /// The public port, where the site is served.
    pub port: u16,
    /// The managed PostgreSQL's port; a free one when unsaid.
    pub db_port: Option<u16>,
}

/// Environment variables of ours that the app gets as they are, besides every
/// `QUOTES__SECTION__KEY` (which the app's settings read).
const PASSED_ON: [&str; 6] = [
    "QUOTES_ENV",
    "QUOTES_LOG_FORMAT",
    "RUST_LOG",
    "SECRET_KEY",
    "SENTRY_DSN",
    "SENTRY_ENVIRONMENT",
];

/// What `createsuperuser --no-input` reads: given to the command that makes the superuser
/// (and, on the memory store, to the replicas that each make it), never kept in app.env
/// otherwise.
const SUPERUSER_VARS: [&str; 3] = [
    "QUOTES_SUPERUSER_USERNAME",
    "QUOTES_SUPERUSER_EMAIL",
    "QUOTES_SUPERUSER_PASSWORD",
];

/// The superuser variables of the deploying shell, when a name and a password are given.
fn superuser_vars() -> Option<Vec<(&'static str, String)>> {
    let vars: Vec<(&'static str, String)> = SUPERUSER_VARS
        .iter()
        .filter_map(|k| Some((*k, env::var(k).ok().filter(|v| !v.is_empty())?)))
        .collect();
    let has = |k: &str| vars.iter().any(|(key, _)| *key == k);
    (has("QUOTES_SUPERUSER_USERNAME") && has("QUOTES_SUPERUSER_PASSWORD")).then_some(vars)
}

/// The app's settings for its cache, which deploy always sets: `--cache` decides.
const CACHE_BACKEND: &str = "QUOTES__CACHE__BACKEND";
const CACHE_REDIS_URL: &str = "QUOTES__CACHE__REDIS_URL";

/// What the public URL must answer within, once every replica is ready.
const PUBLIC_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// `cargo build --release -p cli --bin quotes`, stamped with the release `id`, as deploy
/// builds it (`dist` shares the build).
pub fn build_release(root: &Path, id: &str, log: &Path) -> Result<()> {
    release::build(&Layout::new(root, None), id, log)
}

pub fn deploy(root: &Path, dir: Option<&Path>, opts: &Options) -> Result<()> {
    let layout = Layout::new(root, dir);
    if opts.docker {
        return docker::deploy(&layout, opts);
    }
    let mut steps = Steps::new("deploy");
    let result = deploy_steps(&layout, opts, &mut steps);
    finish(&layout, steps, result)
}

/// Closes the step table, then prints where the site is when every step passed.
fn finish(layout: &Layout, steps: Steps, result: Result<Summary>) -> Result<()> {
    let (result, summary) = match result {
        Ok(summary) => (Ok(()), Some(summary)),
        Err(err) => (Err(err), None),
    };
    steps.finish(result)?;
    if let Some(summary) = summary {
        summary.print(layout);
    }
    Ok(())
}

fn deploy_steps(layout: &Layout, opts: &Options, steps: &mut Steps) -> Result<Summary> {
    let _lock = Lock::acquire(layout, "deploy")?;
    let url = env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let store = match (opts.memory, &url) {
        (true, Some(_)) => {
            println!("note: --store memory: DATABASE_URL is set but not used");
            Store::Memory
        }
        (true, None) => Store::Memory,
        (false, Some(_)) => Store::External,
        (false, None) => Store::Managed,
    };
    let proxy = opts.proxy || opts.replicas > 1;
    let mut state = State::read(layout)?;
    if let Some(state) = &mut state {
        run::forget_the_dead(layout, state);
    }

    // apt-get's failures name their own log; the other checks have none.
    let tools = steps.run("preflight", || {
        preflight_checks(layout, store, proxy, opts.cache, state.as_ref(), opts.port)
    })?;
    let id = steps.run_logged("build", &layout.log("build.log"), || {
        let id = release::release_id(&layout.root)?;
        println!("    release {id}");
        release::build(layout, &id, &layout.log("build.log"))?;
        Ok(id)
    })?;
    let release = steps.run("release", || release::install(layout, &id))?;
    let mut env = steps.run_logged("backing services", &layout.postgres_log(), || {
        let database_url = match store {
            Store::Managed => {
                let bins = tools
                    .pg
                    .as_ref()
                    .context("PostgreSQL's programs were not found")?;
                Some(postgres::ensure_managed(layout, bins, opts.db_port)?)
            }
            Store::External => {
                println!(
                    "    using DATABASE_URL from the environment: {}",
                    postgres::public_address(url.as_deref().unwrap_or_default())
                );
                url.clone()
            }
            Store::Memory => {
                println!("    none: the memory store keeps each process's quotes in that process");
                None
            }
        };
        let secret_key = postgres::secret(&layout.secret_key_file(), 32)?;
        Ok(app_env(store, database_url.as_deref(), &secret_key, proxy))
    })?;
    let redis_url = match opts.cache {
        Cache::Redis => Some(steps.run_logged("cache", &layout.redis_log(), || {
            let bin = tools
                .redis
                .as_deref()
                .context("redis-server was not found")?;
            redis::ensure_managed(layout, bin)
        })?),
        Cache::Memory => {
            steps.skip(
                "cache",
                "--cache memory: each process caches in its own memory",
            );
            None
        }
        Cache::None => {
            steps.skip("cache", "--cache none: the app caches nothing");
            None
        }
    };
    for key in cache_env(&mut env, opts.cache, redis_url.as_deref()) {
        println!(
            "note: {key} from the environment is replaced: --cache {} decides",
            opts.cache.as_str()
        );
    }
    if store == Store::Memory {
        steps.skip(
            "prepare",
            "the memory store has no schema; each process loads the fixtures as it starts",
        );
    } else {
        steps.run_logged("prepare", &layout.log("prepare.log"), || {
            prepare(layout, &release, &env)
        })?;
    }
    let mut state = state.unwrap_or_else(|| State {
        release: id.clone(),
        store,
        cache: opts.cache,
        public_port: opts.port,
        proxy: false,
        scale: opts.replicas,
        docker: false,
        nginx: None,
        replicas: Vec::new(),
    });
    if state.store != store && !state.replicas.is_empty() {
        println!(
            "note: the running release uses {}; the new one uses {}",
            state.store.describe(),
            store.describe()
        );
    }
    if state.cache != opts.cache && !state.replicas.is_empty() {
        println!(
            "note: the running release caches in {}; the new one in {}",
            state.cache.describe(),
            opts.cache.describe()
        );
    }
    state.scale = opts.replicas;
    let target = Target {
        release: &release,
        replicas: opts.replicas,
        proxy,
        public_port: opts.port,
        store,
        cache: opts.cache,
        env: &env,
        nginx: tools.nginx.as_deref(),
        grace: grace(&env),
    };
    steps.run_logged("run", &layout.log("quotes.log"), || {
        run::roll(layout, &mut state, &target)?;
        wait_public(opts.port)
    })?;
    if opts.cache != Cache::Redis {
        // No replica uses it any more.
        if let Some(said) = redis::stop_managed(layout)? {
            println!(
                "{said}: the release runs with --cache {}",
                opts.cache.as_str()
            );
        }
    }

    // Kept only now that the release runs with it: `manage` and `rollback` use it, and a
    // deploy that failed must not leave them a setting the running processes never had.
    env.write(layout)?;
    let mut history = History::read(layout)?;
    history.push(&id);
    history.write(layout)?;
    let in_use: Vec<&str> = state.replicas.iter().map(|r| r.release.as_str()).collect();
    let pruned = release::prune(layout, &history, &in_use)?;
    if !pruned.is_empty() {
        println!("removed old releases: {}", pruned.join(", "));
    }
    let admins = admins(&release, &env, store);
    Ok(Summary {
        state,
        direct_note: !proxy,
        admins,
    })
}

pub fn rollback(root: &Path, dir: Option<&Path>) -> Result<()> {
    let layout = Layout::new(root, dir);
    let mut steps = Steps::new("rollback");
    let result = resume_steps(&layout, &mut steps, Resume::Previous);
    finish(&layout, steps, result)
}

/// `cargo xtask start`: brings back what the last deploy or rollback left running, after a
/// `stop` or a reboot: the managed cluster, the replicas of the current release with the kept
/// settings, and nginx. Builds nothing; what still runs is replaced the rolling way.
pub fn start(root: &Path, dir: Option<&Path>) -> Result<()> {
    let layout = Layout::new(root, dir);
    let mut steps = Steps::new("start");
    let result = resume_steps(&layout, &mut steps, Resume::Current);
    finish(&layout, steps, result)
}

/// Which kept release [`resume_steps`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// The one before the current: rollback.
    Previous,
    /// The current one: start.
    Current,
}

fn resume_steps(layout: &Layout, steps: &mut Steps, which: Resume) -> Result<Summary> {
    let task = match which {
        Resume::Previous => "rollback",
        Resume::Current => "start",
    };
    let _lock = Lock::acquire(layout, task)?;
    let Some(mut state) = State::read(layout)? else {
        bail!(
            "nothing deployed from {}: nothing to {task} (`{}` first)",
            layout.base.display(),
            hint(layout, "deploy")
        );
    };
    if state.docker {
        bail!("{task} is for the deploy without Docker; with Docker, run `cargo xtask deploy --docker` again");
    }
    run::forget_the_dead(layout, &mut state);
    let mut history = History::read(layout)?;
    let target_id = match which {
        Resume::Previous => history
            .previous(|id| Release::open(layout, id).is_ok())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "no earlier release to roll back to (deployed: {})",
                    if history.ids.is_empty() {
                        "none".to_owned()
                    } else {
                        history.ids.join(", ")
                    }
                )
            })?,
        Resume::Current => history.current().unwrap_or(&state.release).to_owned(),
    };
    let release = Release::open(layout, &target_id)?;
    let mut env = AppEnv::read(layout)?
        .with_context(|| format!("{} is missing: deploy again", layout.app_env().display()))?;
    match which {
        Resume::Previous => println!(
            "rolling back from {} to {target_id} (the schema stays as it is: migrations are written so the previous release runs on it)",
            state.release
        ),
        Resume::Current => println!(
            "starting release {target_id}: {} replica(s){}, store {}, cache {}",
            state.scale,
            if state.proxy { " behind nginx" } else { "" },
            state.store.describe(),
            state.cache.describe()
        ),
    }
    let proxy = state.proxy;
    let nginx_bin = if proxy { preflight::find_nginx() } else { None };
    steps.run_logged("backing services", &layout.postgres_log(), || {
        match state.store {
            Store::Managed => {
                let bins = Bins::find().context("PostgreSQL's programs were not found")?;
                let url = postgres::ensure_managed(layout, &bins, None)?;
                env.set("DATABASE_URL", &url);
                env.write(layout)
            }
            Store::External => {
                let url = env.get("DATABASE_URL").unwrap_or_default().to_owned();
                postgres::wait_accepting(&url, postgres::WAIT_TIMEOUT)
            }
            Store::Memory => Ok(()),
        }
    })?;
    let cache = state.cache;
    let redis_url = match cache {
        Cache::Redis => Some(steps.run_logged("cache", &layout.redis_log(), || {
            let bin = crate::redis::server()?;
            redis::ensure_managed(layout, &bin)
        })?),
        Cache::Memory | Cache::None => None,
    };
    // Also for an app.env written before deploy set the cache: the state says which it is.
    cache_env(&mut env, cache, redis_url.as_deref());
    env.write(layout)?;
    let target = Target {
        release: &release,
        replicas: state.scale,
        proxy,
        public_port: state.public_port,
        store: state.store,
        cache,
        env: &env,
        nginx: nginx_bin.as_deref(),
        grace: grace(&env),
    };
    let public_port = state.public_port;
    steps.run_logged("run", &layout.log("quotes.log"), || {
        run::roll(layout, &mut state, &target)?;
        wait_public(public_port)
    })?;
    if which == Resume::Previous {
        history.roll_back_to(&target_id);
        history.write(layout)?;
    }
    let admins = admins(&release, &env, state.store);
    Ok(Summary {
        state,
        direct_note: !proxy,
        admins,
    })
}

/// Checks what can fail fast, before a build of minutes: the fixtures, the public port, the
/// programs this deploy needs (PostgreSQL's server, redis-server, nginx), installing what is
/// missing.
fn preflight_checks(
    layout: &Layout,
    store: Store,
    proxy: bool,
    cache: Cache,
    state: Option<&State>,
    port: u16,
) -> Result<Tools> {
    println!("    deploy directory: {}", layout.base.display());
    let fixtures = layout.project_fixtures();
    if !fixtures.is_file() {
        bail!("{} not found: every release carries it", fixtures.display());
    }
    if let Some(state) = state.filter(|s| s.docker) {
        bail!(
            "a Docker deployment (release {}) runs from {}: `{}` first",
            state.release,
            layout.base.display(),
            hint(layout, "stop")
        );
    }
    // The single-process deploy that came before this one kept its state here; what it
    // started is long gone or shows up below as a port in use.
    let _ = fs::remove_file(layout.run_dir().join("quotes.state"));
    let ours = state.is_some_and(|s| {
        (s.public_port == port && s.nginx.is_some()) || s.replicas.iter().any(|r| r.port == port)
    });
    if !ours && !sys::port_is_free(port) {
        bail!(port_taken(port));
    }
    let find = || -> Result<Tools> {
        Ok(Tools {
            pg: (store == Store::Managed).then(Bins::find).flatten(),
            redis: match cache {
                Cache::Redis => crate::redis::find()?,
                Cache::Memory | Cache::None => None,
            },
            nginx: proxy.then(preflight::find_nginx).flatten(),
        })
    };
    let mut tools = find()?;
    let missing = tools.missing(store, proxy, cache);
    if !missing.is_empty() {
        preflight::install(&layout.log("apt.log"), &missing)?;
        tools = find()?;
        let still = tools.missing(store, proxy, cache);
        if !still.is_empty() {
            bail!(
                "still missing after apt-get install: {}",
                preflight::describe(&still)
            );
        }
    }
    if let Some(pg) = &tools.pg {
        // As root the server runs as `postgres`: fail now, not after the build, without it
        // or when a cluster made earlier is out of its reach; say where the data goes.
        let placed = postgres::describe_placement(layout)?;
        println!("    postgresql: {}", pg.dir.display());
        println!("    data:       {placed}");
    }
    if let Some(redis) = &tools.redis {
        let version = crate::redis::check_version(redis)?;
        println!("    redis:      {} ({version})", redis.display());
    }
    if let Some(nginx) = &tools.nginx {
        println!("    nginx:      {}", nginx.display());
    }
    Ok(tools)
}

struct Tools {
    pg: Option<Bins>,
    redis: Option<PathBuf>,
    nginx: Option<PathBuf>,
}

impl Tools {
    fn missing(&self, store: Store, proxy: bool, cache: Cache) -> Vec<Missing> {
        let mut missing = Vec::new();
        if store == Store::Managed && self.pg.is_none() {
            missing.push(Missing {
                what: "the PostgreSQL server (initdb, pg_ctl, postgres)",
                package: "postgresql",
            });
        }
        if cache == Cache::Redis && self.redis.is_none() {
            missing.push(Missing {
                what: "redis-server",
                package: crate::redis::PACKAGE,
            });
        }
        if proxy && self.nginx.is_none() {
            missing.push(Missing {
                what: "nginx",
                package: "nginx",
            });
        }
        missing
    }
}

/// The app's environment: what the deploying shell says about the app (`QUOTES__*`,
/// `QUOTES_ENV`, `QUOTES_LOG_FORMAT`, `RUST_LOG`), then deploy's own settings, which win.
fn app_env(store: Store, database_url: Option<&str>, secret_key: &str, proxy: bool) -> AppEnv {
    let mut app = AppEnv::default();
    let mut inherited: Vec<(String, String)> = env::vars()
        .filter(|(k, v)| {
            !v.is_empty() && (k.starts_with("QUOTES__") || PASSED_ON.contains(&k.as_str()))
        })
        .collect();
    inherited.sort();
    for (key, value) in inherited {
        app.set(&key, &value);
    }
    if app.get("QUOTES_ENV").is_none() {
        // Production settings (JSON logs), as a deployed Django or Loco app runs.
        app.set("QUOTES_ENV", "production");
    }
    app.set("QUOTES__SERVER__HOST", "127.0.0.1");
    // The key kept in the deploy directory, so that a redeploy keeps everyone signed in;
    // one the operator gives wins.
    if app.get("QUOTES__SECRET_KEY").is_none() && app.get("SECRET_KEY").is_none() {
        app.set("QUOTES__SECRET_KEY", secret_key);
    }
    // This deploy serves plain HTTP on 127.0.0.1; with TLS in front, set it to true.
    if app.get("QUOTES__SERVER__SECURE_COOKIES").is_none() {
        app.set("QUOTES__SERVER__SECURE_COOKIES", "false");
    }
    if proxy && app.get("QUOTES__SERVER__TRUSTED_PROXIES").is_none() {
        // nginx connects from here; its X-Forwarded-For names the client.
        app.set("QUOTES__SERVER__TRUSTED_PROXIES", "127.0.0.1");
    }
    match database_url {
        Some(url) => {
            app.set("QUOTES_STORE", "postgres");
            app.set("DATABASE_URL", url);
        }
        None => {
            app.set("QUOTES_STORE", "memory");
            // Each memory replica makes the superuser as it starts (`serve --create-superuser`).
            for (key, value) in superuser_vars().unwrap_or_default() {
                app.set(key, &value);
            }
        }
    }
    debug_assert!(store == Store::Memory || database_url.is_some());
    app
}

/// Sets the app's cache, always and explicitly (`QUOTES__CACHE__BACKEND`), with the URL of
/// the managed Redis for `Redis`; any URL from the deploying shell goes otherwise, so that
/// app.env says one thing. Returns the keys whose value from the shell was replaced.
fn cache_env(app: &mut AppEnv, cache: Cache, redis_url: Option<&str>) -> Vec<&'static str> {
    let before: Vec<Option<String>> = [CACHE_BACKEND, CACHE_REDIS_URL]
        .iter()
        .map(|k| app.get(k).map(str::to_owned))
        .collect();
    app.set(CACHE_BACKEND, cache.as_str());
    match (cache, redis_url) {
        (Cache::Redis, Some(url)) => app.set(CACHE_REDIS_URL, url),
        _ => app.remove(CACHE_REDIS_URL),
    }
    debug_assert!(cache != Cache::Redis || redis_url.is_some());
    [CACHE_BACKEND, CACHE_REDIS_URL]
        .into_iter()
        .zip(before)
        .filter(|(key, before)| before.as_deref().is_some_and(|b| app.get(key) != Some(b)))
        .map(|(key, _)| key)
        .collect()
}

/// How long a replica may drain after SIGTERM: the app's own shutdown timeout, and a little.
fn grace(env: &AppEnv) -> Duration {
    let secs = env
        .get("QUOTES__SERVER__SHUTDOWN_TIMEOUT_SECS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(30u64);
    Duration::from_secs(secs + 5)
}

/// Wait (bounded) for the database, migrate, confirm, load the fixtures. Each command's
/// answer is shown; its logs go to `logs/prepare.log`.
fn prepare(layout: &Layout, release: &Release, env: &AppEnv) -> Result<()> {
    let log = layout.log("prepare.log");
    let url = env
        .get("DATABASE_URL")
        .context("no DATABASE_URL for prepare")?;
    postgres::wait_accepting(url, postgres::WAIT_TIMEOUT)?;
    let quotes = |args: &[&str]| -> Result<()> {
        let mut command = run::app_command(release, env);
        command.args(args).current_dir(&release.dir);
        let out = crate::cmd::output_logged(&mut command, &log)?;
        for line in out.lines() {
            println!("    quotes {}: {line}", args[0]);
        }
        Ok(())
    };
    quotes(&["migrate"])?;
    quotes(&["wait-for-db", "--timeout", "30s"])?;
    let fixtures = release.fixtures().display().to_string();
    quotes(&["load-quotes", &fixtures])?;
    if let Some(vars) = superuser_vars() {
        // Safe on every deploy: a superuser that exists is left as it is.
        let mut command = run::app_command(release, env);
        command
            .args(["createsuperuser", "--no-input"])
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(&release.dir);
        let out = crate::cmd::output_logged(&mut command, &log)?;
        for line in out.lines() {
            println!("    quotes createsuperuser: {line}");
        }
    }
    Ok(())
}

/// The active superusers of the deployed site (for the summary); none when it cannot say.
fn admins(release: &Release, env: &AppEnv, store: Store) -> Vec<String> {
    if store == Store::Memory {
        return env
            .get("QUOTES_SUPERUSER_USERNAME")
            .map(|u| vec![u.to_owned()])
            .unwrap_or_default();
    }
    let mut command = run::app_command(release, env);
    command
        .args(["users", "--superusers"])
        .current_dir(&release.dir);
    crate::cmd::output(&mut command)
        .map(|out| out.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The site through its public port answers `/readyz` with 200, bounded.
fn wait_public(port: u16) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let agent = agent(Duration::from_secs(3));
    let started = Instant::now();
    loop {
        let last = match get(&agent, &url) {
            Ok((200, _)) => {
                println!("    {url}: 200");
                return Ok(());
            }
            Ok((status, body)) => format!("{status} {}", body.trim()),
            Err(err) => err.to_string(),
        };
        if started.elapsed() > PUBLIC_READY_TIMEOUT {
            bail!(
                "{url} did not answer 200 within {} (last: {last})",
                format_duration(PUBLIC_READY_TIMEOUT)
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// What a deploy or rollback prints once it is done.
struct Summary {
    state: State,
    /// No nginx: the next deploy costs a moment of downtime.
    direct_note: bool,
    /// The active superusers.
    admins: Vec<String>,
}

impl Summary {
    fn print(&self, layout: &Layout) {
        let s = &self.state;
        let how = if s.proxy {
            format!("{} replica(s) behind nginx", s.replicas.len())
        } else {
            "one process, no proxy".to_owned()
        };
        println!();
        println!("quotes is up at http://127.0.0.1:{}/", s.public_port);
        println!(
            "    release:  {} ({how}; store: {}; cache: {})",
            s.release,
            s.store.describe(),
            s.cache.as_str()
        );
        println!(
            "    logs:     {} (`{}`)",
            layout.logs().display(),
            hint(layout, "logs --follow")
        );
        if self.admins.is_empty() {
            println!(
                "    admin:    none yet: set QUOTES_SUPERUSER_USERNAME and QUOTES_SUPERUSER_PASSWORD and deploy again, or `{}`",
                hint(layout, "manage createsuperuser")
            );
        } else {
            println!(
                "    admin:    {} (log in at http://127.0.0.1:{}/accounts/login)",
                self.admins.join(", "),
                s.public_port
            );
        }
        println!(
            "    manage:   `{}` (any quotes command, with the deployed settings)",
            hint(layout, "manage export-quotes")
        );
        println!(
            "    then:     `{}`, `{}`, `{}`",
            hint(layout, "status"),
            hint(layout, "rollback"),
            hint(layout, "stop")
        );
        println!(
            "    restart:  `{}` after a stop or a reboot",
            hint(layout, "start")
        );
        if self.direct_note {
            println!(
                "    note:     without nginx a redeploy hands the port over, but a client's kept-alive or \
                 queued connection to the old process may close under it; `--proxy` or `--replicas 2` \
                 or more put nginx in front, which its clients never see"
            );
        }
    }
}

/// `cargo xtask <task>`, with `--dir` when the deploy directory is not the default.
fn hint(layout: &Layout, task: &str) -> String {
    if layout.base == layout.root.join(".deploy") {
        format!("cargo xtask {task}")
    } else {
        let (name, rest) = task.split_once(' ').unwrap_or((task, ""));
        let sep = if rest.is_empty() { "" } else { " " };
        format!(
            "cargo xtask {name} --dir {}{sep}{rest}",
            layout.base.display()
        )
    }
}

fn port_taken(port: u16) -> String {
    format!("port {port} is in use by another program: stop it, or deploy on another port with --port N")
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A proxy from the environment has no business with our own loopback server.
        .proxy(None)
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

/// One deploy, rollback or stop at a time per deploy directory: two would fight over the
/// same processes and files. The file names the holder; a holder that is gone is ignored.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn acquire(layout: &Layout, task: &str) -> Result<Lock> {
        let path = layout.lock_file();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        let me = std::process::id();
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{me} {task}")?;
                    return Ok(Lock { path });
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    let holder = text
                        .split_whitespace()
                        .next()
                        .and_then(|p| p.parse::<u32>().ok());
                    if let Some(pid) =
                        holder.filter(|&pid| sys::is_alive(pid) && sys::comm(pid) == sys::comm(me))
                    {
                        bail!(
                            "another `cargo xtask {}` (pid {pid}) is at work on {}: wait for it to finish",
                            text.split_whitespace().nth(1).unwrap_or("deploy"),
                            layout.base.display()
                        );
                    }
                    let _ = fs::remove_file(&path);
                }
                Err(err) => {
                    return Err(err).with_context(|| format!("could not create {}", path.display()))
                }
            }
        }
        bail!("could not take {}", path.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_gets_production_settings_and_our_url() {
        let env = app_env(Store::External, Some("postgres://u:p@h/db"), "k3y", true);
        assert_eq!(env.get("QUOTES_STORE"), Some("postgres"));
        assert_eq!(env.get("DATABASE_URL"), Some("postgres://u:p@h/db"));
        assert_eq!(env.get("QUOTES__SERVER__HOST"), Some("127.0.0.1"));
        assert_eq!(env.get("QUOTES__SECRET_KEY"), Some("k3y"));
        assert_eq!(
            env.get("QUOTES__SERVER__TRUSTED_PROXIES"),
            Some("127.0.0.1")
        );
        assert!(env.get("QUOTES_ENV").is_some());
        let env = app_env(Store::Memory, None, "k3y", false);
        assert_eq!(
            env.get("QUOTES__SERVER__TRUSTED_PROXIES"),
            None,
            "no proxy, no trust"
        );
        assert_eq!(env.get("QUOTES_STORE"), Some("memory"));
        assert_eq!(env.get("DATABASE_URL"), None);
        assert_eq!(grace(&env), Duration::from_secs(35));
    }

    #[test]
    fn the_cache_is_always_said_and_only_redis_gets_a_url() {
        let url = "redis://:pw@127.0.0.1:6390/0";
        let mut env = AppEnv::default();
        assert!(cache_env(&mut env, Cache::Redis, Some(url)).is_empty());
        assert_eq!(env.get("QUOTES__CACHE__BACKEND"), Some("redis"));
        assert_eq!(env.get("QUOTES__CACHE__REDIS_URL"), Some(url));
        assert!(
            cache_env(&mut env, Cache::Redis, Some(url)).is_empty(),
            "same again"
        );
        for cache in [Cache::Memory, Cache::None] {
            let mut env = AppEnv::default();
            env.set("QUOTES__CACHE__REDIS_URL", "redis://elsewhere");
            let replaced = cache_env(&mut env, cache, None);
            assert_eq!(replaced, ["QUOTES__CACHE__REDIS_URL"]);
            assert_eq!(env.get("QUOTES__CACHE__BACKEND"), Some(cache.as_str()));
            assert_eq!(env.get("QUOTES__CACHE__REDIS_URL"), None);
        }
        let mut env = AppEnv::default();
        env.set("QUOTES__CACHE__BACKEND", "none");
        assert_eq!(
            cache_env(&mut env, Cache::Memory, None),
            ["QUOTES__CACHE__BACKEND"]
        );
    }

    #[test]
    fn hints_name_the_directory_only_when_it_is_not_the_default() {
        let default = Layout::new(Path::new("/p"), None);
        assert_eq!(hint(&default, "logs --follow"), "cargo xtask logs --follow");
        let other = Layout::new(Path::new("/p"), Some(Path::new("/srv/d")));
        assert_eq!(
            hint(&other, "logs --follow"),
            "cargo xtask logs --dir /srv/d --follow"
        );
        assert_eq!(hint(&other, "stop"), "cargo xtask stop --dir /srv/d");
    }

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken() {
        let base = std::env::temp_dir().join(format!("xtask-lock-test-{}", std::process::id()));
        let layout = Layout::new(Path::new("/p"), Some(&base));
        let first = Lock::acquire(&layout, "deploy").unwrap();
        let err = Lock::acquire(&layout, "stop").err().unwrap();
        assert!(err.to_string().contains("is at work on"), "{err}");
        drop(first);
        fs::write(layout.lock_file(), "999999999 deploy\n").unwrap();
        let again = Lock::acquire(&layout, "stop").unwrap();
        drop(again);
        assert!(!layout.lock_file().exists());
        fs::remove_dir_all(&base).unwrap();
    }
}
