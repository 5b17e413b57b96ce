//! The end-to-end deploy check of `cargo xtask test`: the real `cargo xtask deploy`, run as
//! a user runs it (this very binary, as a subprocess), into a temporary deploy directory on
//! free ports, so a deployment the user has running is never touched.
//!
//! The directory is private (mode 700), as a root user's home is: as root, PostgreSQL runs as
//! `postgres`, which cannot enter it, so deploy must put the cluster elsewhere and link it.
//!
//! It deploys one process on the managed PostgreSQL (with a superuser from
//! `QUOTES_SUPERUSER_*`), restarts the cluster by hand (`pg_ctl restart`, then a plain
//! `pg_ctl stop` and `start` as after a reboot) and sees the site recover, adds a quote with
//! `manage` and counts them with `manage dbshell`, deploys three replicas behind nginx with
//! the cache in a managed Redis (`--cache redis`; the superuser is left as it is, and deploy
//! says so), logs in through nginx and sees the sign-in hold on every replica, saves a wiki
//! page through one replica's own port and sees it (page and JSON, with its revision)
//! through the other two and nginx, edits it through the second and sees the edit through
//! the third and the first, then redeploys (reusing that Redis) and rolls back while a
//! bounded keep-alive load that never resends runs through nginx and counts every failed
//! request of any kind (there must be none), then stops everything, starts it again with
//! `start` (Redis too), and stops it, checking that none of its processes is left. A guard
//! stops and removes the directory (and a cluster linked from it) whatever happens, keeping
//! the logs under `target/xtask/deploy-e2e-logs/`.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, ensure, Context, Result};

use crate::{
    cmd,
    deploy::{Cache, History, Layout, State, SYSTEM_DIR},
    pg::{self, Bins, RunAs},
    steps::format_duration,
    sys,
};

/// Temporary deploy directories are `quotes-xtask-deploy-<owner pid>-<nanos>`, so a later run
/// can clean up after one that was killed.
const PREFIX: &str = "quotes-xtask-deploy-";
/// The load stops at the latest after this long, whatever the deploys do.
const LOAD_LIMIT: Duration = Duration::from_secs(120);
const LOAD_THREADS: usize = 4;
/// The fixtures hold this many quotes.
const FIXTURE_QUOTES: u64 = 17;
/// What the fabricated previous release is called, for the rollback.
const PREVIOUS: &str = "e2e-previous";
/// The superuser every deploy of the test is given (name, password).
const SUPERUSER: (&str, &str) = ("boss", "Tr0ub4dor&3-horse");
/// The wiki page the replica check saves and edits (`/wiki/e2e-replicas/`).
const WIKI_PAGE: &str = "e2e-replicas";

pub fn run(root: &Path) -> Result<()> {
    sweep_leftovers();
    let mut sandbox = Sandbox::create(root)?;
    let port = sys::pick_free_port()?;
    let site = Site::new(port);
    let layout = Layout::new(root, Some(&sandbox.dir));
    let port_arg = port.to_string();

    println!(
        "--- e2e: deploy (one process on PostgreSQL) into {}",
        sandbox.dir.display()
    );
    sandbox.stream(&["deploy", "--port", &port_arg])?;
    let state = read_state(&layout)?;
    ensure!(
        !state.proxy && state.nginx.is_none(),
        "one replica deploys without nginx"
    );
    ensure!(
        state.replicas.len() == 1 && state.replicas[0].port == port,
        "one process on the public port: {state:?}"
    );
    site.expect_page("/", "Sun Tzu")?;
    ensure!(
        site.total()? == FIXTURE_QUOTES,
        "the fixtures are loaded once"
    );
    let health = site.get_ok("/healthz")?;
    ensure!(
        health.contains(&format!("\"commit\":\"{}\"", state.release)),
        "/healthz names the release {}: {health}",
        state.release
    );

    let linked = layout.postgres_is_linked();
    ensure!(
        linked == sys::is_root(),
        "as root (only) the cluster lives outside the private deploy directory: linked = {linked}"
    );
    if linked {
        ensure!(
            layout.postgres_dir().starts_with(SYSTEM_DIR),
            "the cluster is linked to {}",
            layout.postgres_dir().display()
        );
        println!(
            "    the cluster lives in {}, linked from the deploy directory",
            layout.postgres_dir().display()
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&sandbox.dir)?.permissions().mode() & 0o777;
    ensure!(
        mode == 0o700,
        "deploy left the deploy directory private: {mode:o}"
    );

    println!("--- e2e: PostgreSQL restarted by hand; the site recovers without a redeploy");
    let db_port = pg::postmaster_port(&layout.postgres_data()).context("no postmaster.pid")?;
    // The server's output goes to its log (`-l`), not to a pipe of ours that it would hold.
    let log = layout.postgres_log().display().to_string();
    pg_ctl(
        &layout,
        &["-l", &log, "-m", "fast", "-w", "-t", "30", "restart"],
    )?;
    site.wait_for_total(FIXTURE_QUOTES)?;
    pg_ctl(&layout, &["-m", "fast", "-w", "-t", "30", "stop"])?;
    // No options at all, as a service manager or a reboot would start it.
    pg_ctl(&layout, &["-l", &log, "-w", "-t", "30", "start"])?;
    ensure!(
        pg::postmaster_port(&layout.postgres_data()) == Some(db_port),
        "a plain `pg_ctl start` brings the cluster back on port {db_port}"
    );
    let took = site.wait_for_total(FIXTURE_QUOTES)?;
    println!(
        "    pg_ctl restart, then stop and a plain start: back on port {db_port}, the site answered again after {}",
        format_duration(took)
    );

    println!("--- e2e: manage load-quotes (one new quote)");
    let extra = sandbox.dir.join("extra-quotes.txt");
    fs::write(
        &extra,
        "Know the enemy and know yourself; in a hundred battles you will never be in peril.\n\
         — Sun Tzu (xtask e2e)\n",
    )?;
    let said = sandbox.output(&["manage", "load-quotes", &extra.display().to_string()])?;
    ensure!(
        said.contains("1 added, 0 already there"),
        "manage load-quotes said: {said}"
    );
    ensure!(
        site.total()? == FIXTURE_QUOTES + 1,
        "manage reached the deployed database"
    );
    let count = sandbox.output(&[
        "manage",
        "dbshell",
        "--",
        "-tA",
        "-c",
        "select count(*) from quotes",
    ])?;
    ensure!(
        count.trim() == (FIXTURE_QUOTES + 1).to_string(),
        "manage dbshell opened psql on the deployed database: {count}"
    );

    println!("--- e2e: deploy --replicas 3 --cache redis (nginx in front, a shared cache)");
    let said = sandbox.output(&[
        "deploy",
        "--port",
        &port_arg,
        "--replicas",
        "3",
        "--cache",
        "redis",
    ])?;
    ensure!(
        said.contains(&format!("admin:    {} (log in at", SUPERUSER.0)),
        "the summary names the superuser"
    );
    let state = read_state(&layout)?;
    ensure!(
        state.proxy && state.nginx.is_some(),
        "three replicas get nginx: {state:?}"
    );
    ensure!(state.replicas.len() == 3, "three replicas run: {state:?}");
    let redis_pid = expect_redis(&layout, &state)?;
    for r in &state.replicas {
        ensure!(r.port != port, "replicas use internal ports: {state:?}");
        Site::new(r.port).get_ok("/readyz")?;
    }
    ensure!(
        site.total()? == FIXTURE_QUOTES + 1,
        "a second deploy keeps the data and adds no duplicates"
    );
    let prepare = fs::read_to_string(layout.log("prepare.log")).unwrap_or_default();
    ensure!(
        prepare.contains(&format!("0 added, {FIXTURE_QUOTES} already there")),
        "the second prepare loaded nothing new (see {})",
        layout.log("prepare.log").display()
    );
    ensure!(
        prepare.contains("superuser boss created")
            && prepare.contains("a user named boss exists already; nothing changed"),
        "the first deploy made the superuser and the second left it as it was (see {})",
        layout.log("prepare.log").display()
    );

    println!("--- e2e: log in through nginx; the sign-in holds on every replica");
    let session = site.login(SUPERUSER.0, SUPERUSER.1)?;
    let mut seen = 0;
    for _ in 0..20 {
        ensure!(
            site.signed_in_as(&session, SUPERUSER.0)?,
            "a request through nginx after the login did not see the user"
        );
        seen += 1;
    }
    for r in &state.replicas {
        ensure!(
            Site::new(r.port).signed_in_as(&session, SUPERUSER.0)?,
            "the replica on port {} does not see the sign-in",
            r.port
        );
    }
    println!(
        "    {seen} requests through nginx and one to each of the {} replicas saw {} signed in",
        state.replicas.len(),
        SUPERUSER.0
    );

    println!("--- e2e: a wiki save through one replica is seen through the others and nginx");
    let ports: Vec<u16> = state.replicas.iter().map(|r| r.port).collect();
    println!("    {}", wiki_across_replicas(port, &ports, &session)?);

    println!("--- e2e: redeploy and rollback under a keep-alive load that never resends");
    fabricate_previous(&layout, &state.release)?;
    let load = Load::start(port);
    let rolled = sandbox
        .stream(&[
            "deploy",
            "--port",
            &port_arg,
            "--replicas",
            "3",
            "--cache",
            "redis",
        ])
        .and_then(|()| sandbox.stream(&["rollback"]));
    let report = load.finish();
    rolled?;
    println!(
        "    load through nginx: {} requests on {} kept-alive connection(s) in {}, {} failed",
        report.total,
        LOAD_THREADS,
        format_duration(report.took),
        report.failed.len(),
    );
    if !report.failed.is_empty() {
        bail!(
            "{} of {} requests failed during the redeploy and rollback, e.g. {}",
            report.failed.len(),
            report.total,
            report
                .failed
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    ensure!(
        report.total >= 50,
        "the load ran only {} requests",
        report.total
    );
    let state = read_state(&layout)?;
    ensure!(
        state.replicas.len() == 3 && state.replicas.iter().all(|r| r.release == PREVIOUS),
        "the rollback runs the previous release on three replicas: {state:?}"
    );
    ensure!(
        History::read(&layout)?.current() == Some(PREVIOUS),
        "the history ends with the release rolled back to"
    );
    ensure!(
        site.total()? == FIXTURE_QUOTES + 1,
        "data survives redeploy and rollback"
    );
    ensure!(
        expect_redis(&layout, &state)? == redis_pid,
        "the redeploy and the rollback reuse the running Redis (pid {redis_pid})"
    );

    println!("--- e2e: status, logs, stop, start, stop");
    let status = sandbox.output(&["status"])?;
    ensure!(
        status.contains("3 running"),
        "status shows the replicas:\n{status}"
    );
    ensure!(
        status.contains(&format!("redis:      running (pid {redis_pid})"))
            && status.contains("answers PING"),
        "status shows Redis answering:\n{status}"
    );
    sandbox.output(&["logs", "--lines", "3"])?;
    stop_all(&sandbox, &layout, &state, port)?;
    sandbox.stream(&["start"])?;
    let state = read_state(&layout)?;
    ensure!(
        state.replicas.len() == 3 && state.replicas.iter().all(|r| r.release == PREVIOUS),
        "start brings back the three replicas of the current release: {state:?}"
    );
    expect_redis(&layout, &state)?;
    ensure!(
        site.total()? == FIXTURE_QUOTES + 1,
        "the data is there after stop and start"
    );
    ensure!(
        site.signed_in_as(&session, SUPERUSER.0)?,
        "the sign-in survives stop and start (sessions in the database, the key kept)"
    );
    stop_all(&sandbox, &layout, &state, port)?;
    let again = sandbox.output(&["stop"])?;
    ensure!(
        again.contains("nothing was running"),
        "a second stop has nothing to do: {again}"
    );
    sandbox.stopped();
    Ok(())
}

/// `xtask stop`, then nothing of the deployment runs and the public port is free.
fn stop_all(sandbox: &Sandbox, layout: &Layout, state: &State, port: u16) -> Result<()> {
    let ours = processes(layout, state);
    sandbox.stream(&["stop"])?;
    let started = Instant::now();
    while ours.iter().any(|&pid| sys::is_alive(pid)) && started.elapsed() < Duration::from_secs(10)
    {
        thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<u32> = ours.into_iter().filter(|&pid| sys::is_alive(pid)).collect();
    ensure!(left.is_empty(), "still running after stop: {left:?}");
    ensure!(
        sys::port_is_free(port),
        "port {port} is still taken after stop"
    );
    Ok(())
}

/// `pg_ctl -D <the managed cluster> <args>`, as the user that runs the server: what an
/// operator does by hand.
fn pg_ctl(layout: &Layout, args: &[&str]) -> Result<()> {
    let bins = Bins::find().context("PostgreSQL's programs were not found")?;
    let mut command = RunAs::detect()?.command(&bins.tool("pg_ctl"));
    command
        .arg("-D")
        .arg(layout.postgres_data())
        .args(args)
        .current_dir(layout.postgres_dir());
    cmd::output(&mut command).map(drop)
}

fn read_state(layout: &Layout) -> Result<State> {
    State::read(layout)?.context("deploy wrote no state file")
}

/// The managed Redis runs, the state and the app's environment say so, and it answers
/// PING with the password of the URL the replicas got; returns its pid.
fn expect_redis(layout: &Layout, state: &State) -> Result<u32> {
    ensure!(
        state.cache == Cache::Redis,
        "the state keeps the cache: {state:?}"
    );
    let env = fs::read_to_string(layout.app_env())?;
    ensure!(
        env.lines().any(|l| l == "QUOTES__CACHE__BACKEND=redis"),
        "app.env sets the cache to redis"
    );
    let url = env
        .lines()
        .find_map(|l| l.strip_prefix("QUOTES__CACHE__REDIS_URL="))
        .context("app.env has no QUOTES__CACHE__REDIS_URL")?;
    let (password, port) = redis_url_parts(url).context("app.env's Redis URL is not ours")?;
    crate::redis::ping(port, &password, Duration::from_secs(3))?;
    let pid = redis_pid(layout).context("redis.pid names no process")?;
    ensure!(
        sys::is_alive(pid),
        "redis-server (pid {pid}) is not running"
    );
    Ok(pid)
}

/// The password and port of `redis://:PASSWORD@127.0.0.1:PORT/0`.
fn redis_url_parts(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("redis://:")?;
    let (password, rest) = rest.rsplit_once('@')?;
    let port = rest.strip_prefix("127.0.0.1:")?.strip_suffix("/0")?;
    Some((password.to_owned(), port.parse().ok()?))
}

fn redis_pid(layout: &Layout) -> Option<u32> {
    fs::read_to_string(layout.redis_pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Every process of the deployment, children included: nginx's workers and PostgreSQL's
/// background processes carry neither the deploy directory nor a pid file of their own.
fn processes(layout: &Layout, state: &State) -> Vec<u32> {
    let mut pids: Vec<u32> = state.replicas.iter().map(|r| r.pid).collect();
    pids.extend(redis_pid(layout));
    let postmaster = fs::read_to_string(layout.postgres_data().join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse().ok());
    for parent in state.nginx.into_iter().chain(postmaster) {
        pids.push(parent);
        pids.extend(sys::children(parent));
    }
    pids
}

/// A second release for the rollback to go to: a copy of the current one under another
/// name, listed before it in the history, as an earlier deploy would have left it.
fn fabricate_previous(layout: &Layout, current: &str) -> Result<()> {
    cmd::output(
        Command::new("cp")
            .arg("-a")
            .arg(layout.release(current))
            .arg(layout.release(PREVIOUS)),
    )?;
    let history = History {
        ids: vec![PREVIOUS.to_owned(), current.to_owned()],
    };
    history.write(layout)
}

/// Saves a wiki page through the first replica's own port and reads it through the other
/// two and through nginx, then edits it through the second (from revision 1) and reads the
/// edit through the third and the first: the replicas share the wiki's store, none keeps a
/// copy of its own. Reads go without the session, as anyone reads the wiki. Returns the
/// summary line.
fn wiki_across_replicas(public: u16, ports: &[u16], session: &str) -> Result<String> {
    let &[p1, p2, p3] = ports else {
        bail!("the wiki check needs three replicas, not {}", ports.len());
    };
    let replica = |port: u16| (Site::new(port), format!("the replica on port {port}"));
    let through_nginx = (Site::new(public), format!("nginx (port {public})"));

    let first = format!("Saved through the replica on port {p1} by the deploy e2e.");
    Site::new(p1).save_wiki(session, WIKI_PAGE, None, &first)?;
    for (reader, name) in [replica(p2), replica(p3), through_nginx] {
        reader
            .expect_wiki(WIKI_PAGE, 1, &first)
            .with_context(|| format!("{name} after a save through the replica on port {p1}"))?;
    }

    let second = format!("Edited through the replica on port {p2} from revision 1.");
    Site::new(p2).save_wiki(session, WIKI_PAGE, Some(1), &second)?;
    for (reader, name) in [replica(p3), replica(p1)] {
        reader
            .expect_wiki(WIKI_PAGE, 2, &second)
            .with_context(|| format!("{name} after an edit through the replica on port {p2}"))?;
    }
    Ok(format!(
        "a wiki page saved through replica :{p1} was seen through :{p2}, :{p3} and nginx; \
         an edit through :{p2} was seen through :{p3} and :{p1}"
    ))
}

/// The temporary deploy directory, and the xtask binary that deploys into it.
struct Sandbox {
    dir: PathBuf,
    xtask: PathBuf,
    keep_logs: PathBuf,
    stopped: bool,
}

impl Sandbox {
    fn create(root: &Path) -> Result<Sandbox> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = env::temp_dir().join(format!("{PREFIX}{}-{nanos}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        // Private whatever the umask, as a root user's home is (see the module's doc).
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        Ok(Sandbox {
            dir,
            xtask: env::current_exe().context("could not find the xtask binary")?,
            keep_logs: crate::xtask_dir(root).join("deploy-e2e-logs"),
            stopped: false,
        })
    }

    /// `xtask <task> --dir <sandbox> <rest>` with none of the deploying shell's settings for
    /// the app or the deploy: the test must not depend on them.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.xtask);
        command
            .arg(args[0])
            .arg("--dir")
            .arg(&self.dir)
            .args(&args[1..]);
        for (key, _) in env::vars() {
            if key.starts_with("QUOTES") || key == "DATABASE_URL" || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        // Bounded drains keep a stuck replica from stretching the test.
        command.env("QUOTES__SERVER__SHUTDOWN_TIMEOUT_SECS", "10");
        command
            .env("QUOTES_SUPERUSER_USERNAME", SUPERUSER.0)
            .env("QUOTES_SUPERUSER_PASSWORD", SUPERUSER.1);
        command
    }

    fn stream(&self, args: &[&str]) -> Result<()> {
        cmd::stream(&mut self.command(args))
    }

    fn output(&self, args: &[&str]) -> Result<String> {
        let out = cmd::output(&mut self.command(args))?;
        for line in out.lines() {
            println!("    | {line}");
        }
        Ok(out)
    }

    fn stopped(&mut self) {
        self.stopped = true;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.stopped {
            eprintln!(
                "    e2e: stopping what the test deployed in {}",
                self.dir.display()
            );
            if let Err(err) = cmd::output(&mut self.command(&["stop"])) {
                eprintln!("warning: {err:#}");
            }
        }
        let logs = self.dir.join("logs");
        let _ = fs::remove_dir_all(&self.keep_logs);
        let kept = fs::create_dir_all(&self.keep_logs).and_then(|()| {
            for entry in fs::read_dir(&logs)?.flatten() {
                fs::copy(entry.path(), self.keep_logs.join(entry.file_name()))?;
            }
            Ok(())
        });
        if let Err(err) = kept {
            eprintln!("warning: could not keep the e2e logs: {err}");
        }
        remove_linked_cluster(&self.dir);
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => println!(
                "    removed {} (its logs are kept in {})",
                self.dir.display(),
                self.keep_logs.display()
            ),
            Err(err) => eprintln!("warning: could not remove {}: {err}", self.dir.display()),
        }
    }
}

/// Removes the cluster a test deploy directory links to (as root, under [`SYSTEM_DIR`]):
/// only a directory right inside it, named by a link we own.
fn remove_linked_cluster(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let link = dir.join("postgres");
    let ours = fs::symlink_metadata(&link).is_ok_and(|m| m.uid() == sys::euid());
    let Some(target) = fs::read_link(&link)
        .ok()
        .filter(|_| ours)
        .and_then(|t| fs::canonicalize(t).ok())
    else {
        return;
    };
    if target.parent() != Some(Path::new(SYSTEM_DIR)) {
        return;
    }
    match fs::remove_dir_all(&target) {
        Ok(()) => println!("    removed {}", target.display()),
        Err(err) => eprintln!("warning: could not remove {}: {err}", target.display()),
    }
}

/// Stops and removes the sandboxes of runs that were killed before their guard ran (only
/// our own: another user's directory is theirs to remove).
fn sweep_leftovers() {
    let Ok(xtask) = env::current_exe() else {
        return;
    };
    for dir in sys::orphaned_temp_dirs(PREFIX) {
        let _ = cmd::output(Command::new(&xtask).arg("stop").arg("--dir").arg(&dir));
        remove_linked_cluster(&dir);
        match fs::remove_dir_all(&dir) {
            Ok(()) => println!(
                "    removed {}, left over from an interrupted run",
                dir.display()
            ),
            Err(err) => eprintln!("warning: could not remove {}: {err}", dir.display()),
        }
    }
}

/// HTTP checks against one port.
struct Site {
    base: String,
    agent: ureq::Agent,
}

impl Site {
    fn new(port: u16) -> Site {
        Site {
            base: format!("http://127.0.0.1:{port}"),
            agent: agent(),
        }
    }

    /// GET `path` (with the `session` cookie, if any): the status and the body.
    fn get(&self, path: &str, session: Option<&str>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let mut request = self.agent.get(&url);
        if let Some(cookie) = session {
            request = request.header("cookie", cookie);
        }
        let mut response = request.call().with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        Ok((
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        ))
    }

    fn get_ok(&self, path: &str) -> Result<String> {
        let (status, body) = self.get(path, None)?;
        ensure!(
            status == 200,
            "GET {}{path}: {status} {}",
            self.base,
            body.trim()
        );
        Ok(body)
    }

    fn expect_page(&self, path: &str, text: &str) -> Result<()> {
        let body = self.get_ok(path)?;
        ensure!(body.contains(text), "GET {path} does not show {text:?}");
        Ok(())
    }

    /// Logs in as a browser does (the form's token and cookie, then the post); returns the
    /// session cookie (`quotes_session=…`). Cookies are carried by hand: the deployed site
    /// marks them Secure, which a cookie jar would not send over plain HTTP.
    fn login(&self, user: &str, password: &str) -> Result<String> {
        let agent = form_agent();
        let url = format!("{}/accounts/login", self.base);
        let mut form = agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let csrf_cookie = set_cookie(&form, "quotes_csrf").context("no CSRF cookie")?;
        let page = form.body_mut().read_to_string()?;
        let token = hidden_field(&page, "csrf_token").context("no CSRF field on the login page")?;
        let body = form_body(&[
            ("username", user),
            ("password", password),
            ("csrf_token", token),
        ]);
        let done = agent
            .post(&url)
            .header("cookie", &csrf_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .with_context(|| format!("POST {url}"))?;
        ensure!(
            done.status().as_u16() == 303,
            "logging in as {user} answered {}",
            done.status()
        );
        set_cookie(&done, "quotes_session").context("no session cookie after the login")
    }

    /// Saves `content` as the wiki page `path` as a browser does, with `session`: the edit
    /// form's token, then the post (with an `Origin` naming this site) from revision `base`
    /// (`None`: a new page), which must land without a merge.
    fn save_wiki(&self, session: &str, path: &str, base: Option<u32>, content: &str) -> Result<()> {
        let agent = form_agent();
        let url = format!("{}/wiki/{path}/_edit/", self.base);
        let mut response = agent
            .get(&url)
            .header("cookie", session)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        let page = response.body_mut().read_to_string().unwrap_or_default();
        ensure!(
            status == 200,
            "GET {url} answered {status} for the signed-in user: {}",
            page_text(&page)
        );
        let action = format!("action=\"/wiki/{path}/_edit/\"");
        let form = page
            .find(&action)
            .map(|at| &page[at..])
            .with_context(|| format!("GET {url} shows no form that posts to it"))?;
        let token = hidden_field(form, "csrf_token")
            .with_context(|| format!("the edit form of {url} has no CSRF field"))?;
        let shown = hidden_field(form, "base")
            .with_context(|| format!("the edit form of {url} has no base revision"))?;
        let base = base.map(|n| n.to_string()).unwrap_or_default();
        ensure!(
            shown == base,
            "the edit form of {url} starts from revision {shown:?}, not {base:?}"
        );
        let body = form_body(&[
            ("csrf_token", token),
            ("base", &base),
            ("title", "E2E replicas"),
            ("content", content),
            ("message", "xtask check-deploy"),
            ("save", "1"),
        ]);
        let mut done = agent
            .post(&url)
            .header("cookie", session)
            .header("origin", &self.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .with_context(|| format!("POST {url}"))?;
        let status = done.status().as_u16();
        let location = done
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let answer = done.body_mut().read_to_string().unwrap_or_default();
        ensure!(
            status == 303 && location == format!("/wiki/{path}/"),
            "saving the wiki page through POST {url} (base {base:?}) answered {status} \
             (location {location:?}) instead of 303 to the page: {}",
            page_text(&answer)
        );
        Ok(())
    }

    /// The wiki page `path` is at `revision` with `content`, in its JSON
    /// (`/api/wiki/pages/<path>/`) and on its page.
    fn expect_wiki(&self, path: &str, revision: u64, content: &str) -> Result<()> {
        let url = format!("{}/api/wiki/pages/{path}/", self.base);
        let (status, body) = self.get(&format!("/api/wiki/pages/{path}/"), None)?;
        ensure!(
            status == 200,
            "GET {url} answered {status}: {}",
            body.trim()
        );
        let json: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON: {body}"))?;
        ensure!(
            json["revision"].as_u64() == Some(revision),
            "GET {url} shows revision {}, not {revision}",
            json["revision"]
        );
        ensure!(
            json["markdown"].as_str() == Some(content),
            "GET {url} shows the Markdown {}, not {content:?}",
            json["markdown"]
        );
        let url = format!("{}/wiki/{path}/", self.base);
        let (status, page) = self.get(&format!("/wiki/{path}/"), None)?;
        ensure!(
            status == 200 && page.contains(content),
            "GET {url} answered {status} without {content:?}: {}",
            page_text(&page)
        );
        Ok(())
    }

    /// Whether `/` shows `user` signed in for a request with `session`.
    fn signed_in_as(&self, session: &str, user: &str) -> Result<bool> {
        let (_, body) = self.get("/", Some(session))?;
        Ok(body.contains(&format!("data-nav=\"{user}\">{user}</a>")))
    }

    /// Waits (bounded) until `/api/quotes` answers with `total` quotes; how long it took.
    fn wait_for_total(&self, total: u64) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let last = match self.total() {
                Ok(n) if n == total => return Ok(started.elapsed()),
                Ok(n) => format!("{n} quotes"),
                Err(err) => format!("{err:#}"),
            };
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the site did not answer with {total} quotes within 30 s (last: {last})");
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `total` of `/api/quotes`.
    fn total(&self) -> Result<u64> {
        let body = self.get_ok("/api/quotes?per_page=1")?;
        json_number(&body, "total").with_context(|| format!("no total in {body}"))
    }
}

/// `name=value` of the cookie `name` that a response sets.
fn set_cookie(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// An agent that hands back redirects instead of following them, for forms: a post's 303
/// is the answer to check, and cookies are carried by hand (see [`Site::login`]).
fn form_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .into()
}

/// The value of the first field `name` in `html` (`name="…" value="…"`, as the site's
/// templates write hidden fields).
fn hidden_field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    let end = at + html[at..].find('"')?;
    Some(&html[at..end])
}

/// `fields` as `application/x-www-form-urlencoded`: every byte but letters, digits and
/// `-._~` percent-encoded.
fn form_body(fields: &[(&str, &str)]) -> String {
    use std::fmt::Write as _;
    let mut body = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push('&');
        }
        for (j, part) in [name, value].into_iter().enumerate() {
            if j > 0 {
                body.push('=');
            }
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    body.push(char::from(b));
                } else {
                    let _ = write!(body, "%{b:02X}");
                }
            }
        }
    }
    body
}

/// What a page says, for an error message: the text of its `<main>` (or of all of it),
/// without tags, on one line, at most 300 characters.
fn page_text(html: &str) -> String {
    let main = html
        .split_once("<main>")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or(html, |(main, _)| main);
    let mut text = String::new();
    let mut in_tag = false;
    for c in main.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut line = words.join(" ");
    if let Some((cut, _)) = line.char_indices().nth(300) {
        line.truncate(cut);
        line.push('…');
    }
    line
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

/// A top-level number field of a JSON object, e.g. `total` of `/api/quotes`.
fn json_number(body: &str, key: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get(key)?
        .as_u64()
}

/// A few threads GETting pages through nginx until told to stop (or [`LOAD_LIMIT`]), each
/// on one kept-alive connection, as a browser or an HTTP library keeps it, and none ever
/// sending a request again: every transport error (refused, reset, closed before the answer,
/// cut off), every status but 200 counts as failed.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<u64>>,
    failed: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

struct LoadReport {
    total: u64,
    failed: Vec<String>,
    took: Duration,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let threads = (0..LOAD_THREADS)
            .map(|n| {
                let stop = Arc::clone(&stop);
                let failed = Arc::clone(&failed);
                thread::spawn(move || {
                    let agent = agent();
                    let paths = ["/", "/api/quotes", "/api/quotes/random", "/quotes"];
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < LOAD_LIMIT {
                        let path = paths[(count as usize + n) % paths.len()];
                        let url = format!("http://127.0.0.1:{port}{path}");
                        let outcome = match agent.get(&url).call() {
                            Ok(mut r) => {
                                let status = r.status().as_u16();
                                let body = r.body_mut().read_to_string();
                                match (status, body) {
                                    (200, Ok(_)) => None,
                                    (200, Err(err)) => Some(format!("GET {path}: body: {err}")),
                                    (status, _) => Some(format!("GET {path}: {status}")),
                                }
                            }
                            Err(err) => Some(format!("GET {path}: {err}")),
                        };
                        if let Some(what) = outcome {
                            failed.lock().unwrap_or_else(|p| p.into_inner()).push(what);
                        }
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        Load {
            stop,
            threads,
            failed,
            started,
        }
    }

    fn finish(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        let total = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap_or(0))
            .sum();
        let failed = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        LoadReport {
            total,
            failed,
            took: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_number_from_json() {
        let body = r#"{"items":[{"id":1}],"page":1,"per_page":1,"total":17,"num_pages":17}"#;
        assert_eq!(json_number(body, "total"), Some(17));
        assert_eq!(json_number(body, "page"), Some(1));
        assert_eq!(json_number(body, "missing"), None);
        assert_eq!(json_number(r#"{"total": 3}"#, "total"), Some(3));
    }

    #[test]
    fn encodes_a_form() {
        assert_eq!(
            form_body(&[("password", "Tr0ub4dor&3-horse"), ("csrf_token", "0a1b")]),
            "password=Tr0ub4dor%263-horse&csrf_token=0a1b"
        );
        assert_eq!(
            form_body(&[("content", "Saved on port 1.\nA+b=c é")]),
            "content=Saved%20on%20port%201.%0AA%2Bb%3Dc%20%C3%A9"
        );
        assert_eq!(form_body(&[("base", "")]), "base=");
    }

    #[test]
    fn reads_hidden_fields_and_page_text() {
        let page = r#"<nav><a href="/">Quotes</a></nav><main><h1>Editing</h1>
            <form action="/wiki/x/_edit/"><input type="hidden" name="csrf_token" value="ab12">
            <input type="hidden" name="base" value=""></form><p>CSRF   verification failed.</p></main>"#;
        assert_eq!(hidden_field(page, "csrf_token"), Some("ab12"));
        assert_eq!(hidden_field(page, "base"), Some(""));
        assert_eq!(hidden_field(page, "title"), None);
        assert_eq!(page_text(page), "Editing CSRF verification failed.");
        assert_eq!(page_text("no tags"), "no tags");
        assert_eq!(page_text(&"a".repeat(400)).chars().count(), 301);
    }

    #[test]
    fn reads_the_password_and_port_of_a_redis_url() {
        assert_eq!(
            redis_url_parts("redis://:f00d@127.0.0.1:6390/0"),
            Some(("f00d".to_owned(), 6390))
        );
        assert_eq!(redis_url_parts("redis://elsewhere:6379/0"), None);
        assert_eq!(redis_url_parts("redis://:x@127.0.0.1:port/0"), None);
    }
}
