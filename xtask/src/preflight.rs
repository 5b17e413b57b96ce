//! Preflight for `xtask test`: find PostgreSQL, Chromium, chromedriver, redis-server, nginx
//! and docker-compose, install what is missing when we can (root with apt-get), and check
//! that browser and driver match. `deploy` installs its own needs through [`install`].

use std::{
    env, fs,
    fs::OpenOptions,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{cmd, pg::Bins, redis, steps::format_duration, sys};

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// How often a silent apt-get says it is still at work.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// How long apt-get may wait for another apt or dpkg (unattended-upgrades, a colleague's
/// install) to let go of its locks.
const LOCK_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Tools {
    /// `None` when the tests use an external server (`TEST_DATABASE_URL`).
    pub pg: Option<Bins>,
    pub chrome: PathBuf,
    pub chromedriver: PathBuf,
    /// For the cache's tests, which start servers of their own (`REDIS_SERVER_BIN`).
    pub redis: PathBuf,
    /// For the end-to-end deploy with replicas.
    pub nginx: PathBuf,
    /// For `docker-compose config`, which checks deploy/compose.yaml without an engine.
    pub compose: PathBuf,
}

struct Found {
    pg: Option<Bins>,
    chrome: Option<PathBuf>,
    chromedriver: Option<PathBuf>,
    redis: Option<PathBuf>,
    nginx: Option<PathBuf>,
    compose: Option<PathBuf>,
}

/// Something missing, and the Debian package that brings it.
#[derive(Debug)]
pub struct Missing {
    pub what: &'static str,
    pub package: &'static str,
}

/// nginx lives in `/usr/sbin`, which is not on a normal user's `PATH` on Debian.
pub fn find_nginx() -> Option<PathBuf> {
    cmd::which("nginx").or_else(|| {
        ["/usr/sbin/nginx", "/sbin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| cmd::is_executable(p))
    })
}

impl Found {
    fn discover(need_pg: bool) -> Result<Found> {
        Ok(Found {
            pg: if need_pg { Bins::find() } else { None },
            chrome: from_env_or_path("CHROME_BIN", &BROWSERS)?,
            chromedriver: from_env_or_path("CHROMEDRIVER_BIN", &["chromedriver"])?,
            redis: redis::find()?,
            nginx: find_nginx(),
            compose: cmd::which("docker-compose"),
        })
    }

    fn missing(&self, need_pg: bool) -> Vec<Missing> {
        let mut missing = Vec::new();
        if need_pg && self.pg.is_none() {
            missing.push(Missing {
                what: "the PostgreSQL server (initdb, pg_ctl, postgres)",
                package: "postgresql",
            });
        }
        if self.chrome.is_none() {
            missing.push(Missing {
                what: "Chromium",
                package: "chromium",
            });
        }
        if self.chromedriver.is_none() {
            missing.push(Missing {
                what: "chromedriver",
                package: "chromium-driver",
            });
        }
        if self.redis.is_none() {
            missing.push(Missing {
                what: "redis-server",
                package: redis::PACKAGE,
            });
        }
        if self.nginx.is_none() {
            missing.push(Missing {
                what: "nginx",
                package: "nginx",
            });
        }
        if self.compose.is_none() {
            missing.push(Missing {
                what: "docker-compose",
                package: "docker-compose",
            });
        }
        missing
    }
}

/// The program named by `var` if it is set (it must then exist), else the first of `names`
/// on `PATH`.
pub(crate) fn from_env_or_path(var: &str, names: &[&str]) -> Result<Option<PathBuf>> {
    if let Some(value) = env::var_os(var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        let path = if path.components().count() == 1 {
            cmd::which(&path.to_string_lossy()).unwrap_or(path)
        } else {
            path
        };
        if !cmd::is_executable(&path) {
            bail!("{var}={} is not an executable file", path.display());
        }
        return Ok(Some(path));
    }
    Ok(names.iter().find_map(|name| cmd::which(name)))
}

pub fn run(root: &Path, need_pg: bool) -> Result<Tools> {
    let mut found = Found::discover(need_pg)?;
    let missing = found.missing(need_pg);
    if !missing.is_empty() {
        install(&crate::xtask_dir(root).join("apt.log"), &missing)?;
        found = Found::discover(need_pg)?;
        let still = found.missing(need_pg);
        if !still.is_empty() {
            bail!("still missing after apt-get install: {}", describe(&still));
        }
    }
    let chrome = found.chrome.context("Chromium not found")?;
    let chromedriver = found.chromedriver.context("chromedriver not found")?;
    let browser = major_version_of(&chrome)?;
    let driver = major_version_of(&chromedriver)?;
    if browser != driver {
        bail!(
            "Chromium {browser} ({}) and chromedriver {driver} ({}) differ in major version: \
             install a matching pair, e.g. `apt-get install chromium chromium-driver`",
            chrome.display(),
            chromedriver.display()
        );
    }
    match &found.pg {
        Some(pg) => println!("    postgresql:   {}", pg.dir.display()),
        None => println!("    postgresql:   external server from TEST_DATABASE_URL"),
    }
    println!("    chromium:     {} (major {browser})", chrome.display());
    println!(
        "    chromedriver: {} (major {driver})",
        chromedriver.display()
    );
    let redis = found.redis.with_context(redis::not_found)?;
    let redis_version = redis::check_version(&redis)?;
    println!("    redis:        {} ({redis_version})", redis.display());
    let nginx = found.nginx.context("nginx not found")?;
    let compose = found.compose.context("docker-compose not found")?;
    println!("    nginx:        {}", nginx.display());
    println!("    compose:      {}", compose.display());
    Ok(Tools {
        pg: found.pg,
        chrome,
        chromedriver,
        redis,
        nginx,
        compose,
    })
}

pub fn describe(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| m.what)
        .collect::<Vec<_>>()
        .join(", ")
}

fn major_version_of(program: &Path) -> Result<u32> {
    let text = cmd::output(Command::new(program).arg("--version"))?;
    major_version(&text).with_context(|| {
        format!(
            "no version in `{} --version`: {:?}",
            program.display(),
            text.trim()
        )
    })
}

/// The major version in `Chromium 120.0.6099.224 built on Debian` or
/// `ChromeDriver 120.0.6099.224 (...)`: the first dotted word that starts with a number.
fn major_version(text: &str) -> Option<u32> {
    text.split_whitespace().find_map(|word| {
        let (major, rest) = word.split_once('.')?;
        if rest.is_empty() {
            return None;
        }
        major.parse().ok()
    })
}

/// Installs the packages that bring what is missing, with apt-get when we are root and it
/// exists; otherwise fails naming the command to run. apt-get's output goes to `log`.
pub fn install(log: &Path, missing: &[Missing]) -> Result<()> {
    let mut packages: Vec<&str> = missing.iter().map(|m| m.package).collect();
    packages.dedup();
    let packages_line = packages.join(" ");
    if !sys::is_root() || cmd::which("apt-get").is_none() {
        bail!(
            "missing {}: install with `apt-get install {packages_line}`",
            describe(missing)
        );
    }
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir)?;
    }
    println!(
        "    missing {}: installing {packages_line} with apt-get (log: {})",
        describe(missing),
        log.display()
    );
    apt_get(log, &["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&packages);
    apt_get(log, &install)
}

/// Runs apt-get with its output appended to `log`. When another apt holds the lock, apt-get
/// waits for the dpkg lock itself (`DPkg::Lock::Timeout`), but `update` gives up at once on
/// the lists lock, so that case is retried here.
fn apt_get(log: &Path, args: &[&str]) -> Result<()> {
    let started = Instant::now();
    loop {
        let log_start = fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("could not open {}", log.display()))?;
        let mut apt = Command::new("apt-get");
        apt.arg("-o")
            .arg(format!("DPkg::Lock::Timeout={}", LOCK_WAIT.as_secs()))
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let shown = cmd::display(&apt);
        let mut child = apt
            .spawn()
            .with_context(|| format!("could not start `{shown}`"))?;
        let mut next_note = HEARTBEAT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() >= next_note {
                println!(
                    "    `{shown}` still running ({})",
                    format_duration(started.elapsed())
                );
                next_note += HEARTBEAT;
            }
            thread::sleep(Duration::from_millis(250));
        };
        if status.success() {
            return Ok(());
        }
        let said = fs::read(log).unwrap_or_default();
        let said = String::from_utf8_lossy(&said[(log_start as usize).min(said.len())..]);
        if said.contains("Could not get lock") && started.elapsed() < LOCK_WAIT {
            println!("    apt is busy elsewhere; retrying `{shown}` in 5s");
            thread::sleep(Duration::from_secs(5));
            continue;
        }
        bail!("`{shown}` failed ({status}); see {}", log.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<u32>) {
        assert_eq!(major_version(text), expected, "{text:?}");
    }

    #[test]
    fn reads_major_versions() {
        check(
            "Chromium 120.0.6099.224 built on Debian 12.4, running on Debian 12.5",
            Some(120),
        );
        check(
            "ChromeDriver 120.0.6099.224 (3587067cfa56e1a2c7c0c9e3e0e0e0e0e0e0e0e0-refs/branch-heads/6099@{#1761})",
            Some(120),
        );
        check("Google Chrome 121.0.6167.85 ", Some(121));
        check("Chromium\n", None);
        check("version 12. of nothing", None);
    }

    #[test]
    fn names_every_missing_package() {
        let found = Found {
            pg: None,
            chrome: None,
            chromedriver: Some(PathBuf::from("/usr/bin/chromedriver")),
            redis: None,
            nginx: None,
            compose: Some(PathBuf::from("/usr/bin/docker-compose")),
        };
        let packages: Vec<_> = found.missing(true).iter().map(|m| m.package).collect();
        assert_eq!(
            packages,
            ["postgresql", "chromium", "redis-server", "nginx"]
        );
        assert!(found
            .missing(false)
            .iter()
            .all(|m| m.package != "postgresql"));
    }
}
