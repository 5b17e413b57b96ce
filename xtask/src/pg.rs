//! PostgreSQL clusters that xtask runs itself: a throwaway one for `test`, and the parts
//! (`Bins`, `RunAs`, `Cluster`) that the persistent cluster of `deploy` reuses.
//!
//! initdb and postgres refuse to run as root, so as root every server command runs as the
//! `postgres` system user through `runuser`, and the files it writes are chowned to it first.

use std::{
    env, fs,
    io::ErrorKind,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};

use crate::{cmd, steps::print_tail, sys};

/// The file in a durable cluster's data directory that holds deploy's settings, and the line
/// of `postgresql.conf` that reads it (last, so that it wins).
const SETTINGS_FILE: &str = "quotes-deploy.conf";
const INCLUDE_LINE: &str = "include_if_exists = 'quotes-deploy.conf'";

/// Every cluster's locale, whatever the environment says: UTF-8 character classes (so that
/// `lower()` and `ILIKE` fold every letter, as Rust's `to_lowercase` does), and code point
/// order for text (collations that stores want otherwise they name).
const LOCALE: &str = "--locale=C.UTF-8";

/// The programs a cluster needs; all three must sit in the same directory.
const SERVER_TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The directory of PostgreSQL's server programs.
#[derive(Clone, Debug)]
pub struct Bins {
    pub dir: PathBuf,
}

impl Bins {
    /// Looks on `PATH`, then where `pg_config --bindir` points, then in the newest
    /// `/usr/lib/postgresql/*/bin` (Debian installs the server there, off `PATH`). A symlink
    /// on `PATH` leads to its real directory, where the client programs sit too.
    pub fn find() -> Option<Bins> {
        let on_path = cmd::which("initdb")
            .and_then(|p| fs::canonicalize(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let from_pg_config = cmd::which("pg_config")
            .and_then(|pg_config| cmd::output(Command::new(pg_config).arg("--bindir")).ok())
            .map(|dir| PathBuf::from(dir.trim()));
        let debian = debian_bindir();
        [on_path, from_pg_config, debian]
            .into_iter()
            .flatten()
            .find(|dir| {
                SERVER_TOOLS
                    .iter()
                    .all(|t| cmd::is_executable(&dir.join(t)))
            })
            .map(|dir| Bins { dir })
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A client program (`psql`, `pg_isready`): beside the server, else on `PATH`.
    pub fn client(&self, name: &str) -> Option<PathBuf> {
        Some(self.tool(name))
            .filter(|p| cmd::is_executable(p))
            .or_else(|| cmd::which(name))
    }
}

fn debian_bindir() -> Option<PathBuf> {
    let base = Path::new("/usr/lib/postgresql");
    let names = fs::read_dir(base)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    Some(base.join(highest_version(names)?).join("bin"))
}

/// The highest of directory names like `9.6`, `13`, `15`, compared as numbers.
fn highest_version(names: impl IntoIterator<Item = String>) -> Option<String> {
    names
        .into_iter()
        .filter_map(|name| {
            let key: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((key?, name))
        })
        .max()
        .map(|(_, name)| name)
}

/// Who runs the server: we ourselves, or, when we are root, the `postgres` system user.
#[derive(Debug)]
pub(crate) enum RunAs {
    Me,
    Postgres { uid: u32, gid: u32 },
}

impl RunAs {
    pub(crate) fn detect() -> Result<RunAs> {
        if !sys::is_root() {
            return Ok(RunAs::Me);
        }
        let missing = "running as root, and PostgreSQL refuses to run as root, but there is no \
                       `postgres` system user to run it as: create one (`adduser --system --group \
                       postgres`) or run as a normal user";
        let entry =
            cmd::output(Command::new("getent").args(["passwd", "postgres"])).context(missing)?;
        let (uid, gid) = passwd_ids(&entry).context(missing)?;
        Ok(RunAs::Postgres { uid, gid })
    }

    pub(crate) fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Me => Command::new(program),
            RunAs::Postgres { .. } => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(program);
                cmd
            }
        }
    }

    /// Hands `path` to the user that runs the server. A link is handed over itself, never
    /// what it points at: in a directory that user owns, it could point anywhere.
    pub(crate) fn give(&self, path: &Path) -> Result<()> {
        if let RunAs::Postgres { uid, gid } = self {
            std::os::unix::fs::lchown(path, Some(*uid), Some(*gid))
                .with_context(|| format!("could not chown {} to postgres", path.display()))?;
        }
        Ok(())
    }
}

/// The uid and gid of a `getent passwd` line: `name:x:uid:gid:gecos:home:shell`.
fn passwd_ids(line: &str) -> Option<(u32, u32)> {
    let mut fields = line.trim().split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// A cluster in one directory: `data/` and `sock/`, logging to `log`, served on
/// 127.0.0.1:`port`. A throwaway cluster trades safety for speed (trust auth, no fsync); a
/// durable one (deploy's) keeps its data through a crash and asks for passwords over TCP.
#[derive(Debug)]
pub struct Cluster {
    bins: Bins,
    dir: PathBuf,
    log: PathBuf,
    port: u16,
    run_as: RunAs,
    running: bool,
    durable: bool,
}

impl Cluster {
    /// A durable cluster in `dir`, as deploy keeps it; nothing is created or started yet.
    pub(crate) fn durable(
        bins: &Bins,
        dir: &Path,
        log: &Path,
        port: u16,
        run_as: RunAs,
    ) -> Cluster {
        Cluster {
            bins: bins.clone(),
            dir: dir.to_path_buf(),
            log: log.to_path_buf(),
            port,
            run_as,
            running: false,
            durable: true,
        }
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub(crate) fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    pub(crate) fn log_file(&self) -> PathBuf {
        self.log.clone()
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn run_as(&self) -> &RunAs {
        &self.run_as
    }

    pub(crate) fn bins(&self) -> &Bins {
        &self.bins
    }

    /// Lays out the data and socket directories and the log, owned by whoever runs the
    /// server, and runs initdb: trust auth and no fsync, as befits a cluster on one machine.
    fn init(&self) -> Result<()> {
        for dir in [self.data_dir(), self.socket_dir()] {
            fs::create_dir_all(&dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            self.run_as.give(&dir)?;
        }
        let log = self.log_file();
        fs::File::create(&log).with_context(|| format!("could not create {}", log.display()))?;
        self.run_as.give(&log)?;
        let mut initdb = self.run_as.command(&self.bins.tool("initdb"));
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .arg(LOCALE)
            .current_dir(&self.dir);
        cmd::output(&mut initdb).context("initdb failed")?;
        Ok(())
    }

    /// Runs initdb for a durable cluster: the database superuser is `superuser` (the system
    /// user that runs the server, so that peer authentication lets it in through the socket),
    /// data pages are checksummed and synced to disk. `pg_hba.conf` is the caller's to write.
    pub(crate) fn init_durable(&self, superuser: &str) -> Result<()> {
        for dir in [self.data_dir(), self.socket_dir()] {
            fs::create_dir_all(&dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            self.run_as.give(&dir)?;
        }
        let mut initdb = self.run_as.command(&self.bins.tool("initdb"));
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", superuser, "--auth-local=peer", "--auth-host=reject"])
            .args(["--data-checksums", "-E", "UTF8"])
            .arg(LOCALE)
            .current_dir(&self.dir);
        cmd::output(&mut initdb).context("initdb failed")?;
        Ok(())
    }

    /// Writes the durable cluster's own settings into `quotes-deploy.conf` in its data
    /// directory, which `postgresql.conf` includes: the port, 127.0.0.1 only, the socket in a
    /// directory and with a mode only the owner may use (peer authentication checks who
    /// connects, the mode who may try). Rewritten at every deploy, before a start.
    pub(crate) fn write_settings(&self) -> Result<()> {
        let data = self.data_dir();
        // A configuration string: a backslash escaped, a quote doubled.
        let quoted = |path: &Path| {
            path.display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('\'', "''")
        };
        let text = format!(
            "# Written by cargo xtask deploy at every deploy; postgresql.conf includes it, so a\n\
             # restart by any means (pg_ctl, a service manager, a reboot) comes back as deploy left\n\
             # it. Change the port with `cargo xtask deploy --db-port N`.\n\
             port = {}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n",
            self.port,
            quoted(&self.socket_dir())
        );
        let settings = data.join(SETTINGS_FILE);
        replace_file(&settings, &text)?;
        self.run_as.give(&settings)?;
        let conf = data.join("postgresql.conf");
        // The data directory is the server user's: a link there is not followed, by root
        // least of all.
        if fs::symlink_metadata(&conf).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!("{} is a link; refusing to follow it", conf.display());
        }
        let current = fs::read_to_string(&conf)
            .with_context(|| format!("could not read {}", conf.display()))?;
        if !current.lines().any(|l| l.trim() == INCLUDE_LINE) {
            let sep = if current.ends_with('\n') || current.is_empty() {
                ""
            } else {
                "\n"
            };
            replace_file(
                &conf,
                &format!("{current}{sep}\n# The settings cargo xtask deploy keeps (port, addresses, socket).\n{INCLUDE_LINE}\n"),
            )?;
            self.run_as.give(&conf)?;
        }
        Ok(())
    }

    /// Starts the server and waits until it accepts connections. A durable cluster reads its
    /// port and options from its own configuration ([`Cluster::write_settings`]), so that any
    /// restart, by pg_ctl or a service manager, brings it back the same; a throwaway one gets
    /// them on the command line.
    pub(crate) fn start(&mut self) -> Result<()> {
        let mut options = Vec::new();
        if !self.durable {
            // pg_ctl hands `-o` to a shell, where the single-quoted socket path is literal
            // text unless it holds a quote itself; such a path is refused rather than run.
            let socket_dir = self.socket_dir();
            if socket_dir.to_string_lossy().contains('\'') {
                bail!(
                    "{} holds a single quote, which pg_ctl would pass to a shell: use a temporary directory without one (TMPDIR)",
                    socket_dir.display()
                );
            }
            options = vec![
                "-o".to_owned(),
                format!(
                    "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
                    self.port,
                    socket_dir.display()
                ),
            ];
        }
        let mut pg_ctl = self.run_as.command(&self.bins.tool("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "30"])
            .args(&options)
            .arg("start")
            .current_dir(&self.dir);
        if let Err(err) = cmd::output(&mut pg_ctl) {
            // Shown now: the directory and the log in it may be gone by the time anyone looks.
            print_tail(&self.log_file(), 20);
            return Err(err.context(format!("PostgreSQL did not start on port {}", self.port)));
        }
        self.running = true;
        Ok(())
    }

    pub(crate) fn stop(&mut self) -> Result<()> {
        // A pg_ctl that timed out may still have left a postmaster behind: its pid file says so.
        if !self.running && self.postmaster_pid().is_none() {
            return Ok(());
        }
        stop_data_dir(&self.run_as, &self.bins, &self.data_dir(), "fast")?;
        self.running = false;
        Ok(())
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The postmaster's pid, from the first line of `postmaster.pid`.
    pub(crate) fn postmaster_pid(&self) -> Option<u32> {
        postmaster_pid(&self.data_dir())
    }
}

/// Writes `text` to a new file beside `path` (one that did not exist: never through a link),
/// then renames it over `path` (which replaces a link rather than following it); mode 0600.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("could not write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("could not write {}", path.display()))
}

pub(crate) fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The port a running postmaster listens on: the fourth line of `postmaster.pid`.
pub(crate) fn postmaster_port(data_dir: &Path) -> Option<u16> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().nth(3)?.trim().parse().ok()
}

pub(crate) fn stop_data_dir(
    run_as: &RunAs,
    bins: &Bins,
    data_dir: &Path,
    mode: &str,
) -> Result<()> {
    let mut pg_ctl = run_as.command(&bins.tool("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(data_dir)
        .args(["-m", mode, "-w", "-t", "30", "stop"])
        .current_dir(data_dir.parent().unwrap_or(Path::new("/")));
    cmd::output(&mut pg_ctl)
        .map(drop)
        .with_context(|| format!("could not stop PostgreSQL in {}", data_dir.display()))
}

/// Throwaway cluster directories are named `quotes-xtask-pg-<owner pid>-<nanos>`, so a later
/// run can tell a leftover of an interrupted run from a cluster another run still uses.
const THROWAWAY_PREFIX: &str = "quotes-xtask-pg-";

/// A cluster in a fresh temporary directory, stopped and deleted when this guard drops,
/// whether the work that used it passed, failed or panicked.
#[derive(Debug)]
pub struct Throwaway {
    cluster: Cluster,
    keep_log: Option<PathBuf>,
}

impl Throwaway {
    /// Starts a cluster on a free port. `keep_log` is where its log is copied before the
    /// directory goes, so a failed test can still be read about.
    pub fn start(bins: &Bins, keep_log: Option<PathBuf>) -> Result<Throwaway> {
        let run_as = RunAs::detect()?;
        sweep_leftovers(bins, &run_as);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = env::temp_dir().join(format!("{THROWAWAY_PREFIX}{}-{nanos}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        let mut guard = Throwaway {
            cluster: Cluster {
                bins: bins.clone(),
                log: dir.join("postgres.log"),
                dir,
                port: 0,
                run_as,
                running: false,
                durable: false,
            },
            keep_log,
        };
        // 0755 whatever the umask: the postgres user must traverse it to reach its own dirs.
        fs::set_permissions(&guard.cluster.dir, fs::Permissions::from_mode(0o755))?;
        guard.cluster.port = sys::pick_free_port()?;
        guard.cluster.init()?;
        guard.cluster.start()?;
        Ok(guard)
    }

    /// The URL of the `postgres` database, as the superuser `postgres`.
    pub fn url(&self) -> String {
        self.cluster.url("postgres")
    }

    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    /// Stops the server (fast: open sessions are cut off) but keeps the cluster, so a test
    /// can see what clients do while the database is down.
    pub fn pause(&mut self) -> Result<()> {
        self.cluster.stop()
    }

    /// Starts the paused server again, on the same port.
    pub fn resume(&mut self) -> Result<()> {
        self.cluster.start()
    }

    pub fn dir(&self) -> &Path {
        &self.cluster.dir
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let pid = self.cluster.postmaster_pid();
        if let Err(err) = self.cluster.stop() {
            eprintln!("warning: {err:#}; killing the postmaster");
            if let Some(pid) = pid {
                let _ = sys::signal(pid, "KILL");
                sys::wait_gone(pid, Duration::from_secs(10));
            }
        }
        if let Some(keep) = &self.keep_log {
            let copied = keep
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| fs::copy(self.cluster.log_file(), keep));
            if let Err(err) = copied {
                eprintln!(
                    "warning: could not keep the PostgreSQL log at {}: {err}",
                    keep.display()
                );
            }
        }
        match fs::remove_dir_all(&self.cluster.dir) {
            Ok(()) => println!(
                "    stopped PostgreSQL and removed {}",
                self.cluster.dir.display()
            ),
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => eprintln!(
                "warning: could not remove {}: {err}",
                self.cluster.dir.display()
            ),
        }
    }
}

/// Removes throwaway clusters whose owner is gone. An owner killed by Ctrl-C never ran its
/// guard, and pg_ctl puts the postmaster in its own session, so it outlives the owner.
fn sweep_leftovers(bins: &Bins, run_as: &RunAs) {
    let Ok(entries) = fs::read_dir(env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(throwaway_owner) else {
            continue;
        };
        if sys::is_alive(owner) {
            continue;
        }
        let dir = entry.path();
        let data = dir.join("data");
        if let Some(pid) = postmaster_pid(&data).filter(|&pid| sys::is_alive(pid)) {
            if stop_data_dir(run_as, bins, &data, "immediate").is_err() {
                let _ = sys::signal(pid, "KILL");
                sys::wait_gone(pid, Duration::from_secs(10));
            }
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => println!(
                "    removed {}, left over from an interrupted run",
                dir.display()
            ),
            Err(err) => eprintln!("warning: could not remove {}: {err}", dir.display()),
        }
    }
}

/// The owner pid in a throwaway directory's name.
fn throwaway_owner(name: &str) -> Option<u32> {
    name.strip_prefix(THROWAWAY_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_version_numerically() {
        let names = ["9.6", "15", "13", "README", "16.1"].map(String::from);
        assert_eq!(highest_version(names).as_deref(), Some("16.1"));
        assert_eq!(highest_version(Vec::new()), None);
    }

    #[test]
    fn reads_pid_and_port_from_postmaster_pid() {
        let dir = env::temp_dir().join(format!("xtask-pmpid-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("postmaster.pid"),
            "4242\n/srv/data\n1700000000\n5433\n/srv/sock\n127.0.0.1\n",
        )
        .unwrap();
        assert_eq!(postmaster_pid(&dir), Some(4242));
        assert_eq!(postmaster_port(&dir), Some(5433));
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(postmaster_port(&dir), None);
    }

    #[test]
    fn reads_ids_from_a_passwd_line() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(passwd_ids(line), Some((101, 104)));
        assert_eq!(passwd_ids("postgres:x"), None);
    }

    #[test]
    fn tells_the_owner_from_the_directory_name() {
        assert_eq!(
            throwaway_owner("quotes-xtask-pg-4242-1700000000000"),
            Some(4242)
        );
        assert_eq!(throwaway_owner("quotes-xtask-pg-x-1"), None);
        assert_eq!(throwaway_owner("something-else"), None);
    }

    /// The real thing: initdb, start, a query over TCP, then the guard drops and nothing is left.
    #[test]
    fn a_throwaway_cluster_answers_and_leaves_nothing_behind() {
        let bins =
            Bins::find().expect("PostgreSQL server programs not found: apt-get install postgresql");
        let cluster = Throwaway::start(&bins, None).unwrap_or_else(|err| panic!("{err:#}"));
        let dir = cluster.dir().to_path_buf();
        let port = cluster.port().to_string();
        let pid = cluster
            .cluster
            .postmaster_pid()
            .expect("postmaster.pid has a pid");
        assert!(sys::is_alive(pid));

        let pg_isready = bins
            .client("pg_isready")
            .expect("pg_isready is installed with the server");
        let ready = Command::new(pg_isready)
            .args(["-h", "127.0.0.1", "-p", &port])
            .output()
            .expect("pg_isready runs");
        assert!(ready.status.success(), "pg_isready: {ready:?}");
        if let Some(psql) = bins.client("psql") {
            let answer = cmd::output(
                Command::new(psql)
                    .arg(cluster.url())
                    .args(["-tAc", "select 40 + 2"]),
            )
            .unwrap_or_else(|err| panic!("{err:#}"));
            assert_eq!(answer.trim(), "42");
        }

        drop(cluster);
        assert!(!dir.exists(), "{} is still there", dir.display());
        assert!(!sys::is_alive(pid), "postmaster {pid} is still alive");
    }
}
