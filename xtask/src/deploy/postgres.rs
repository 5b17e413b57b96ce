//! Backing services: the PostgreSQL cluster that deploy keeps in its directory (created once,
//! kept across deploys, started when stopped), or a server named by `DATABASE_URL`.
//!
//! The managed cluster listens on 127.0.0.1 only. Its owner (the `postgres` system user when
//! we are root, else us) gets in through a socket in a directory only it may enter (peer
//! authentication); the app connects over TCP as role `quotes` with a generated password
//! (SCRAM), which is kept in `secrets/postgres-password` (0600) so that a redeploy reuses it.

use std::{
    fs,
    io::{ErrorKind, Read},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::{layout::Layout, state::write_atomically};
use crate::{
    cmd,
    pg::{self, Bins, Cluster, RunAs},
    sys,
};

/// The role and database the app uses.
const APP_ROLE: &str = "quotes";
const APP_DB: &str = "quotes";

/// How long the database may take to accept connections.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes sure the managed cluster exists and runs; returns the app's `DATABASE_URL`.
pub fn ensure_managed(layout: &Layout, bins: &Bins, db_port: Option<u16>) -> Result<String> {
    let run_as = RunAs::detect()?;
    let dir = place(layout, &run_as)?;
    // Only the server's user may look inside: the data, and the socket it trusts by peer.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    run_as.give(&dir)?;
    let log = layout.postgres_log();
    // The log may sit in the server user's directory: a link planted there is removed, not
    // followed.
    if fs::symlink_metadata(&log).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(&log).with_context(|| format!("could not remove {}", log.display()))?;
    }
    cmd::append_to(&log)?;
    run_as.give(&log)?;
    check_reachable(&run_as, &[&dir, &log])?;

    let data = layout.postgres_data();
    let running = running_pid(layout);
    let port = match running {
        Some(pid) => {
            let port = pg::postmaster_port(&data).with_context(|| {
                format!("PostgreSQL (pid {pid}) runs but its postmaster.pid names no port")
            })?;
            if let Some(wanted) = db_port.filter(|&p| p != port) {
                bail!("the managed PostgreSQL already runs on port {port}: stop it (cargo xtask stop) to move it to --db-port {wanted}");
            }
            port
        }
        None => choose_port(layout, db_port)?,
    };
    let superuser = server_user(&run_as)?;
    let mut cluster = Cluster::durable(bins, &dir, &log, port, run_as);
    if !data.join("PG_VERSION").is_file() {
        println!(
            "    creating a PostgreSQL cluster in {} (superuser {superuser})",
            data.display()
        );
        cluster.init_durable(&superuser)?;
        write_hba(&cluster, &superuser)?;
    }
    // The port and options live in the cluster's own configuration: a restart by hand or by
    // a service manager brings it back as deploy left it.
    cluster.write_settings()?;
    match running {
        Some(pid) => println!("    PostgreSQL already runs (pid {pid}) on 127.0.0.1:{port}"),
        None => {
            cluster.start()?;
            let pid = running_pid(layout).map_or("?".into(), |p| p.to_string());
            println!(
                "    started PostgreSQL (pid {pid}) on 127.0.0.1:{port}, data in {}",
                data.display()
            );
        }
    }
    write_atomically(&layout.postgres_port_file(), &format!("{port}\n"), 0o644)?;
    let password = password(&layout.postgres_password_file())?;
    ensure_role(&cluster, &superuser, &password)?;
    println!(
        "    role {APP_ROLE} (password in {}), database {APP_DB}",
        layout.postgres_password_file().display()
    );
    Ok(format!(
        "postgres://{APP_ROLE}:{password}@127.0.0.1:{port}/{APP_DB}"
    ))
}

/// The postmaster of the managed cluster, if it runs.
pub fn running_pid(layout: &Layout) -> Option<u32> {
    pg::postmaster_pid(&layout.postgres_data())
        .filter(|&pid| sys::is_ours(pid, "postgres", &layout.postgres_marker()))
}

/// Stops the managed cluster if it runs (`pg_ctl -m fast`: sessions end, data is safe).
pub fn stop_managed(layout: &Layout) -> Result<Option<String>> {
    let Some(pid) = running_pid(layout) else {
        return Ok(None);
    };
    let started = Instant::now();
    let stopped = match (Bins::find(), RunAs::detect()) {
        (Some(bins), Ok(run_as)) => {
            pg::stop_data_dir(&run_as, &bins, &layout.postgres_data(), "fast")
        }
        _ => Err(anyhow::anyhow!("no pg_ctl")),
    };
    if let Err(err) = stopped {
        // SIGINT is what `pg_ctl -m fast` sends; it needs no PostgreSQL programs.
        eprintln!("warning: {err:#}; sending SIGINT to the postmaster");
        sys::signal(pid, "INT")?;
        if !sys::wait_gone(pid, Duration::from_secs(30)) {
            sys::terminate(pid, Duration::from_secs(5))?;
        }
    }
    Ok(Some(format!(
        "stopped PostgreSQL (pid {pid}) in {}",
        crate::steps::format_duration(started.elapsed())
    )))
}

/// The recorded port, unless something else took it meanwhile; `--db-port` when given; else
/// one the kernel finds free. The app's URL is written at each deploy, so a new port costs
/// nothing.
fn choose_port(layout: &Layout, wanted: Option<u16>) -> Result<u16> {
    if let Some(port) = wanted {
        if !sys::port_is_free(port) {
            bail!("--db-port {port} is in use by another program");
        }
        return Ok(port);
    }
    let recorded = fs::read_to_string(layout.postgres_port_file())
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok());
    match recorded {
        Some(port) if sys::port_is_free(port) => Ok(port),
        Some(port) => {
            let new = sys::pick_free_port()?;
            println!("    port {port} (used last time) is taken by another program; using {new}");
            Ok(new)
        }
        None => sys::pick_free_port(),
    }
}

/// The system user that runs the server, which is also the database superuser's name.
fn server_user(run_as: &RunAs) -> Result<String> {
    match run_as {
        RunAs::Postgres { .. } => Ok("postgres".into()),
        RunAs::Me => Ok(cmd::output(Command::new("id").arg("-un"))?
            .trim()
            .to_owned()),
    }
}

/// Where the managed cluster lives, as preflight tells it before a build of minutes.
pub fn describe_placement(layout: &Layout) -> Result<String> {
    let run_as = RunAs::detect()?;
    Ok(match placement(layout, &run_as)? {
        Placement::Here => format!("in {}", layout.postgres_link().display()),
        Placement::Linked(dir) => format!(
            "in {}, linked from {}",
            dir.display(),
            layout.postgres_link().display()
        ),
        Placement::Move(dir) => format!(
            "in {} (the `postgres` user cannot reach {}), linked from it",
            dir.display(),
            layout.base.display()
        ),
    })
}

/// Where the cluster is, or is to go.
enum Placement {
    /// In the deploy directory, reachable by the server's user.
    Here,
    /// Elsewhere already, behind the link `postgres` in the deploy directory.
    Linked(PathBuf),
    /// Not made yet, and the deploy directory is closed to the server's user: in a
    /// directory of its own under /var/lib, linked from the deploy directory.
    Move(PathBuf),
}

fn placement(layout: &Layout, run_as: &RunAs) -> Result<Placement> {
    let link = layout.postgres_link();
    if layout.postgres_is_linked() {
        let dir = layout.postgres_dir();
        if !dir.is_dir() {
            bail!(
                "{} links to {}, which is gone: the cluster's data is not there; restore it, or remove the link to start with a new, empty cluster",
                link.display(),
                dir.display()
            );
        }
        return Ok(Placement::Linked(dir));
    }
    let exists = link.exists();
    match check_reachable(run_as, &[&link, &layout.log("postgres.log")]) {
        Ok(()) => Ok(Placement::Here),
        // A cluster made here before is never moved behind the user's back.
        Err(err) if exists => Err(err),
        Err(_) => Ok(Placement::Move(layout.system_postgres_dir())),
    }
}

/// Makes the cluster's directory where [`placement`] says; returns it. A moved cluster's log
/// lives beside it, `logs/postgres.log` linking there.
fn place(layout: &Layout, run_as: &RunAs) -> Result<PathBuf> {
    match placement(layout, run_as)? {
        Placement::Here => {
            let dir = layout.postgres_link();
            fs::create_dir_all(&dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            Ok(dir)
        }
        Placement::Linked(dir) => Ok(dir),
        Placement::Move(dir) => {
            let parent = dir.parent().context("a system directory has a parent")?;
            fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
            fs::set_permissions(parent, fs::Permissions::from_mode(0o755))?;
            fs::create_dir_all(&dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            fs::create_dir_all(layout.logs())?;
            let log = layout.log("postgres.log");
            match fs::symlink_metadata(&log) {
                Ok(_) => fs::remove_file(&log)
                    .with_context(|| format!("could not replace {}", log.display()))?,
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => return Err(err.into()),
            }
            std::os::unix::fs::symlink(dir.join("postgres.log"), &log)
                .with_context(|| format!("could not link {}", log.display()))?;
            std::os::unix::fs::symlink(&dir, layout.postgres_link())
                .with_context(|| format!("could not link {}", layout.postgres_link().display()))?;
            println!(
                "    the `postgres` user cannot reach {}: the cluster lives in {}, linked from {}",
                layout.base.display(),
                dir.display(),
                layout.postgres_link().display()
            );
            Ok(dir)
        }
    }
}

/// As root the server runs as `postgres`, which must be able to reach its directory: a
/// project under `/root` (0700) is closed to it. Said before initdb fails obscurely.
fn check_reachable(run_as: &RunAs, paths: &[&Path]) -> Result<()> {
    let RunAs::Postgres { uid, .. } = run_as else {
        return Ok(());
    };
    for path in paths {
        for dir in path.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(dir) else {
                continue;
            };
            if meta.uid() != *uid && meta.mode() & 0o001 == 0 {
                bail!(
                    "PostgreSQL runs as the `postgres` user, which cannot enter {} (mode {:o}) to reach {}: \
                     deploy into a directory it can reach (--dir DIR or QUOTES_DEPLOY_DIR), allow it in \
                     (`chmod o+x {}`), or use a server of your own with DATABASE_URL",
                    dir.display(),
                    meta.mode() & 0o7777,
                    path.display(),
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// Only two ways in: the owner through the socket (peer), the app over 127.0.0.1 with its
/// password (SCRAM). Everything else is rejected by omission.
fn write_hba(cluster: &Cluster, superuser: &str) -> Result<()> {
    let path = cluster.data_dir().join("pg_hba.conf");
    let text = format!(
        "# Written by cargo xtask deploy: the cluster's owner through the socket, the app over\n\
         # TCP on 127.0.0.1 with its password. Nothing else gets in.\n\
         local   all      {superuser}                 peer\n\
         host    {APP_DB}   {APP_ROLE}   127.0.0.1/32    scram-sha-256\n"
    );
    write_atomically(&path, &text, 0o600)?;
    cluster.run_as().give(&path)
}

/// Creates the app's role and database when missing and (re)sets the role's password to the
/// kept one, so a lost or replaced password file heals on the next deploy. The password
/// goes through psql's stdin, never its arguments.
fn ensure_role(cluster: &Cluster, superuser: &str, password: &str) -> Result<()> {
    let psql = cluster
        .bins()
        .client("psql")
        .context("psql not found (it comes with the postgresql package)")?;
    let sql = format!(
        "SELECT 'CREATE ROLE {APP_ROLE} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}')\\gexec\n\
         ALTER ROLE {APP_ROLE} WITH LOGIN PASSWORD '{password}';\n\
         SELECT 'CREATE DATABASE {APP_DB} OWNER {APP_ROLE}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{APP_DB}')\\gexec\n"
    );
    let mut command = cluster.run_as().command(&psql);
    command
        .arg("-h")
        .arg(cluster.socket_dir())
        .args([
            "-p",
            &cluster.port().to_string(),
            "-U",
            superuser,
            "-d",
            "postgres",
        ])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .current_dir(cluster.socket_dir());
    cmd::output_with_input(&mut command, &sql)
        .context("could not create the app's role and database")?;
    Ok(())
}

/// The kept password, or a new one: 32 hex digits from the kernel's random source, so it
/// needs no quoting in a URL or in SQL.
pub fn password(path: &Path) -> Result<String> {
    secret(path, 16)
}

/// The secret kept in `path` (made private again), or a new one of `bytes` random bytes as
/// hex, written with mode 0600 in a 0700 folder.
pub fn secret(path: &Path, bytes: usize) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(text) if is_password(text.trim(), bytes) => {
            // Whatever happened to the files since, only their owner may read them again.
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
            if let Some(dir) = path.parent() {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            }
            return Ok(text.trim().to_owned());
        }
        Ok(_) => println!(
            "    {} holds no usable password; making a new one",
            path.display()
        ),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("could not read {}", path.display())),
    }
    let mut random = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("could not read /dev/urandom")?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    write_atomically(path, &format!("{password}\n"), 0o600)?;
    Ok(password)
}

fn is_password(text: &str, bytes: usize) -> bool {
    text.len() >= 2 * bytes && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Waits (bounded) until the server behind `url` accepts connections: `pg_isready` when it
/// is installed, else a TCP connect to its host and port.
pub fn wait_accepting(url: &str, timeout: Duration) -> Result<()> {
    let pg_isready = Bins::find()
        .and_then(|b| b.client("pg_isready"))
        .or_else(|| cmd::which("pg_isready"));
    let public = public_address(url);
    // Only host and port reach pg_isready's command line, where `ps` would show them; a URL
    // we cannot read is left to `quotes wait-for-db`, which waits (bounded) itself.
    let Some((host, port)) = host_port(url) else {
        return Ok(());
    };
    let started = Instant::now();
    loop {
        let last = match &pg_isready {
            Some(program) => cmd::output(Command::new(program).args([
                "-t",
                "3",
                "-h",
                &host,
                "-p",
                &port.to_string(),
            ]))
            .map(drop)
            .map_err(|e| format!("{e:#}")),
            None => std::net::TcpStream::connect((host.as_str(), port))
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        match last {
            Ok(()) => {
                println!(
                    "    {public} accepts connections ({})",
                    crate::steps::format_duration(started.elapsed())
                );
                return Ok(());
            }
            Err(last) if started.elapsed() >= timeout => {
                bail!("{public} did not accept connections within {timeout:?} (last: {last})")
            }
            Err(_) => thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Where `url` points, as `host:port`, fit to print: never its user or password, whatever
/// form the URL has (a key=value string is not read, only called "the given database").
pub fn public_address(url: &str) -> String {
    host_port(url).map_or_else(
        || "the given database".to_owned(),
        |(h, p)| format!("{h}:{p}"),
    )
}

/// Host and port of a `postgres://` URL (5432 when unsaid).
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    // libpq reads user info up to an '@' before the first '/': a '?' or '#' in a password
    // is text, so the host starts after that '@'.
    let slash = rest.find('/').unwrap_or(rest.len());
    let rest = rest[..slash].rfind('@').map_or(rest, |at| &rest[at + 1..]);
    let hostport = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    if hostport.is_empty() {
        return None;
    }
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .map_or(Some(5432), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match hostport.split_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((hostport.to_owned(), 5432)),
    }
}

/// Where the managed cluster's files are, for status.
pub fn describe(layout: &Layout) -> (Option<u32>, Option<u16>, PathBuf) {
    let port = fs::read_to_string(layout.postgres_port_file())
        .ok()
        .and_then(|t| t.trim().parse().ok());
    (running_pid(layout), port, layout.postgres_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_password_file_is_made_private_again() {
        let dir = std::env::temp_dir().join(format!("quotes-pw-test-{}", std::process::id()));
        let file = dir.join("password");
        let made = password(&file).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(password(&file).unwrap(), made, "the same password is kept");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&file), mode(&dir)), (0o600, 0o700));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_never_show() {
        let check = |url: &str, expected: &str| assert_eq!(public_address(url), expected);
        check(
            "postgres://quotes:s3cret@127.0.0.1:5433/quotes",
            "127.0.0.1:5433",
        );
        check("postgres://u:p@h/db?sslmode=require&password=x", "h:5432");
        check("postgres://u:s3cr#et@h:1/db", "h:1");
        check("postgres://u:p?ss@h:2/db", "h:2");
        check("postgresql://u:p:x@h", "h:5432");
        check("host=db user=quotes password=s3cret", "the given database");
    }

    #[test]
    fn finds_host_and_port() {
        let check = |url: &str, expected: Option<(&str, u16)>| {
            assert_eq!(
                host_port(url),
                expected.map(|(h, p)| (h.to_owned(), p)),
                "{url}"
            );
        };
        check(
            "postgres://u:p@db.example:6543/x",
            Some(("db.example", 6543)),
        );
        check("postgres://u:p@db.example/x", Some(("db.example", 5432)));
        check("postgres://[::1]:7000/x", Some(("::1", 7000)));
        check("postgres://[::1]/x", Some(("::1", 5432)));
        check("postgres:///x?host=/run/postgresql", None);
    }

    #[test]
    fn a_password_is_made_once_and_kept_private() {
        let dir = std::env::temp_dir().join(format!("xtask-pw-test-{}", std::process::id()));
        let path = dir.join("secrets").join("pw");
        let first = password(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(password(&path).unwrap(), first);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
