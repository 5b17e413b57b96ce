//! `cargo xtask deploy`, `stop` and `status`: one release of `quotes` on this machine, in the background.
//!
//! Everything lives under `.deploy/` (git-ignored):
//!
//! ```text
//! .deploy/releases/<commit>[-dirty]/   the binary and config/ of each release
//! .deploy/logs/quotes.log              the server's stdout and stderr, appended
//! .deploy/run/quotes.pid               the running server's pid
//! .deploy/run/quotes.state             which release runs, on which port
//! ```
//!
//! For now it runs one server on the memory store; PostgreSQL, replicas and nginx will join
//! as more steps and more processes under the same layout.

use std::{
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};

use crate::{
    cmd,
    steps::{format_duration, print_tail, Steps},
    sys,
};

/// How long the server has to exit on SIGTERM, and to become ready after starting.
const GRACE: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(200);

struct Layout {
    root: PathBuf,
    base: PathBuf,
}

impl Layout {
    fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
            base: root.join(".deploy"),
        }
    }

    fn releases(&self) -> PathBuf {
        self.base.join("releases")
    }

    fn log_file(&self) -> PathBuf {
        self.base.join("logs").join("quotes.log")
    }

    fn run_dir(&self) -> PathBuf {
        self.base.join("run")
    }

    fn pid_file(&self) -> PathBuf {
        self.run_dir().join("quotes.pid")
    }

    fn state_file(&self) -> PathBuf {
        self.run_dir().join("quotes.state")
    }

    fn fixtures(&self) -> PathBuf {
        self.root.join("fixtures").join("quotes.txt")
    }
}

/// What `deploy` leaves for `status`: the release that runs and its port.
#[derive(Debug, PartialEq)]
struct Deployed {
    release: PathBuf,
    port: u16,
}

impl Deployed {
    fn to_text(&self) -> String {
        format!("release={}\nport={}\n", self.release.display(), self.port)
    }

    fn parse(text: &str) -> Option<Deployed> {
        let value = |key: &str| {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.trim())
        };
        Some(Deployed {
            release: PathBuf::from(value("release")?),
            port: value("port")?.parse().ok()?,
        })
    }

    fn read(layout: &Layout) -> Result<Option<Deployed>> {
        let path = layout.state_file();
        match fs::read_to_string(&path) {
            Ok(text) => Deployed::parse(&text)
                .map(Some)
                .with_context(|| format!("{}: not a deploy state file", path.display())),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
        }
    }
}

/// What the pid file says about the server.
enum PidFile {
    Absent,
    /// The file names a pid that is gone, or that now belongs to some other program.
    Stale(String),
    Running(u32),
}

impl PidFile {
    fn read(layout: &Layout) -> Result<PidFile> {
        let path = layout.pid_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(PidFile::Absent),
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", path.display()))
            }
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return Ok(PidFile::Stale(format!("{:?}", text.trim())));
        };
        // A pid outlives reboots in the file, and the kernel reuses it: only a live process
        // that is still our binary is ours to signal.
        if sys::is_alive(pid) && sys::program_name(pid).as_deref() == Some("quotes") {
            Ok(PidFile::Running(pid))
        } else {
            Ok(PidFile::Stale(pid.to_string()))
        }
    }
}

pub fn deploy(root: &Path, port: u16) -> Result<()> {
    let layout = Layout::new(root);
    let mut steps = Steps::new("deploy");
    let result = deploy_steps(&layout, port, &mut steps);
    steps.finish(result)
}

fn deploy_steps(layout: &Layout, port: u16, steps: &mut Steps) -> Result<()> {
    let release = steps.run("build", || {
        let fixtures = layout.fixtures();
        if !fixtures.is_file() {
            bail!(
                "{} not found: deploy loads it into the memory store",
                fixtures.display()
            );
        }
        // Fail before building, and before stopping the running release, when something
        // else holds the port; our own server on it will be stopped and is no obstacle.
        let ours = matches!(PidFile::read(layout)?, PidFile::Running(_))
            && Deployed::read(layout)?.is_some_and(|d| d.port == port);
        if !ours && !sys::port_is_free(port) {
            bail!(port_taken(port));
        }
        cmd::stream(cmd::cargo().current_dir(&layout.root).args([
            "build",
            "--release",
            "-p",
            "cli",
            "--bin",
            "quotes",
        ]))?;
        // Named after the build, not before: a commit made while it compiled is in the binary
        // (build.rs stamps it), so the release name should say so too.
        let id = release_id(&layout.root)?;
        println!("    release {id}");
        Ok(layout.releases().join(id))
    })?;
    steps.run("release", || install_release(layout, &release))?;
    steps.run("stop previous", || {
        stop_quotes(layout).map(|said| println!("    {said}"))
    })?;
    let mut child = steps.run("start", || start(layout, &release, port))?;
    steps.run("ready", || wait_ready(layout, &mut child, port))?;

    println!();
    println!(
        "quotes is up at http://127.0.0.1:{port}/ (pid {})",
        child.id()
    );
    println!("    log:  {}", layout.log_file().display());
    println!("    stop: cargo xtask stop");
    Ok(())
}

/// The short commit, with `-dirty` when the work tree differs from it, untracked files
/// included: a new source file changes the build as much as an edited one.
fn release_id(root: &Path) -> Result<String> {
    let git = |args: &[&str]| cmd::output(Command::new("git").current_dir(root).args(args));
    let commit =
        git(&["rev-parse", "--short", "HEAD"]).context("could not read the current commit")?;
    let dirty = !git(&["status", "--porcelain"])?.trim().is_empty();
    Ok(release_name(commit.trim(), dirty))
}

fn release_name(commit: &str, dirty: bool) -> String {
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit.to_owned()
    }
}

/// Copies the binary and config/ into the release directory. It is assembled beside its
/// final place and renamed in, so a half-copied release never carries the real name.
fn install_release(layout: &Layout, release: &Path) -> Result<()> {
    let binary = crate::target_dir(&layout.root)
        .join("release")
        .join("quotes");
    let name = release
        .file_name()
        .context("release directory has no name")?;
    let staging = layout.releases().join(format!(
        ".{}.staging-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    remove_if_present(&staging)?;
    fs::create_dir_all(&staging)
        .with_context(|| format!("could not create {}", staging.display()))?;
    fs::copy(&binary, staging.join("quotes"))
        .with_context(|| format!("could not copy {}", binary.display()))?;
    copy_dir(&layout.root.join("config"), &staging.join("config"))?;
    // Redeploying the same commit replaces the release, even while its binary runs: Linux
    // keeps an unlinked executable alive for the process that has it open.
    remove_if_present(release)?;
    fs::rename(&staging, release).with_context(|| {
        format!(
            "could not move {} to {}",
            staging.display(),
            release.display()
        )
    })?;
    println!("    {}", release.display());
    Ok(())
}

fn remove_if_present(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(err).with_context(|| format!("could not remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    let entries =
        fs::read_dir(from).with_context(|| format!("could not read {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Stops the server the pid file names, if it runs; says what it did.
fn stop_quotes(layout: &Layout) -> Result<String> {
    let said = match PidFile::read(layout)? {
        PidFile::Absent => "quotes is not running".to_owned(),
        PidFile::Stale(pid) => {
            format!("quotes is not running (removed a stale pid file naming {pid})")
        }
        PidFile::Running(pid) => {
            let started = Instant::now();
            let how = match sys::terminate(pid, GRACE)? {
                sys::Stopped::Gracefully => "",
                sys::Stopped::Killed => ", killed after 30s without exiting on SIGTERM",
            };
            format!(
                "stopped quotes (pid {pid}) in {}{how}",
                format_duration(started.elapsed())
            )
        }
    };
    match fs::remove_file(layout.pid_file()) {
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(err).with_context(|| format!("could not remove {}", layout.pid_file().display()))
        }
        _ => Ok(said),
    }
}

fn port_taken(port: u16) -> String {
    format!("port {port} is already in use by another program: stop it, or deploy on another port with --port N")
}

/// Starts the server in its own process group, so it lives on after xtask exits and a
/// Ctrl-C in this terminal does not reach it.
fn start(layout: &Layout, release: &Path, port: u16) -> Result<Child> {
    if !sys::port_is_free(port) {
        bail!(port_taken(port));
    }
    for dir in [
        layout.run_dir(),
        layout
            .log_file()
            .parent()
            .unwrap_or(&layout.base)
            .to_path_buf(),
    ] {
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    let log_path = layout.log_file();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("could not open {}", log_path.display()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    writeln!(
        log,
        "==> xtask deploy: {} on port {port} (unix time {now})",
        release.display()
    )?;

    let mut server = Command::new(release.join("quotes"));
    server
        .arg("serve")
        .arg("--load-quotes")
        .arg(layout.fixtures())
        .current_dir(&layout.root)
        .env("QUOTES_STORE", "memory")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let child = server
        .spawn()
        .with_context(|| format!("could not start `{}`", cmd::display(&server)))?;
    fs::write(layout.pid_file(), format!("{}\n", child.id()))
        .with_context(|| format!("could not write {}", layout.pid_file().display()))?;
    let deployed = Deployed {
        release: release.to_path_buf(),
        port,
    };
    fs::write(layout.state_file(), deployed.to_text())
        .with_context(|| format!("could not write {}", layout.state_file().display()))?;
    println!("    pid {}: {}", child.id(), cmd::display(&server));
    Ok(child)
}

/// Polls `/readyz` until it answers 200. A server that exits or never gets ready is not
/// left behind half-deployed: it is stopped, and the end of its log is shown.
fn wait_ready(layout: &Layout, child: &mut Child, port: u16) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let agent = agent();
    let started = Instant::now();
    let log = || {
        let path = layout.log_file();
        print_tail(&path, 20);
        format!("its log is {}", path.display())
    };
    loop {
        if let Some(status) = child.try_wait()? {
            let _ = fs::remove_file(layout.pid_file());
            bail!("quotes exited while starting ({status}); {}", log());
        }
        let last = match get(&agent, &url) {
            Ok((200, _)) => {
                println!(
                    "    {url} answered 200 after {}",
                    format_duration(started.elapsed())
                );
                return Ok(());
            }
            Ok((status, body)) => format!("{status} {}", body.trim()),
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= READY_TIMEOUT {
            let _ = sys::terminate(child.id(), Duration::from_secs(5));
            let _ = child.wait();
            let _ = fs::remove_file(layout.pid_file());
            bail!(
                "{url} did not answer 200 within {} (last: {last}), so quotes was stopped; {}",
                format_duration(READY_TIMEOUT),
                log()
            );
        }
        thread::sleep(READY_POLL);
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
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

pub fn stop(root: &Path) -> Result<()> {
    let said = stop_quotes(&Layout::new(root))?;
    println!("xtask stop: {said}");
    Ok(())
}

pub fn status(root: &Path) -> Result<()> {
    let layout = Layout::new(root);
    let deployed = Deployed::read(&layout)?;
    match &deployed {
        Some(d) => println!("release: {}", d.release.display()),
        None => println!("release: none (nothing deployed yet; run `cargo xtask deploy`)"),
    }
    let running = match PidFile::read(&layout)? {
        PidFile::Absent => {
            println!("pid:     none (not running)");
            false
        }
        PidFile::Stale(pid) => {
            println!("pid:     {pid} (not running: stale pid file)");
            false
        }
        PidFile::Running(pid) => {
            println!("pid:     {pid} (alive)");
            true
        }
    };
    if let Some(d) = deployed.filter(|_| running) {
        let url = format!("http://127.0.0.1:{}/healthz", d.port);
        match get(&agent(), &url) {
            Ok((status, body)) => println!("healthz: {status} {}", body.trim()),
            Err(err) => println!("healthz: no answer from {url} ({err})"),
        }
    }
    println!("log:     {}", layout.log_file().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_say_when_the_tree_was_dirty() {
        assert_eq!(release_name("81b5656", false), "81b5656");
        assert_eq!(release_name("81b5656", true), "81b5656-dirty");
    }

    #[test]
    fn deploy_state_round_trips() {
        let deployed = Deployed {
            release: PathBuf::from("/srv/quotes/.deploy/releases/81b5656"),
            port: 8000,
        };
        assert_eq!(Deployed::parse(&deployed.to_text()), Some(deployed));
        assert_eq!(Deployed::parse("release=/x\n"), None);
        assert_eq!(Deployed::parse("release=/x\nport=http\n"), None);
    }
}
