//! Redis as xtask runs it: Debian's `redis-server` found (or named, with the package to
//! install), its configuration written, and a PING over the wire. Shared by the cache server
//! deploy keeps (`deploy::redis`), the preflight of `test`, and the throwaway servers of
//! test-support, which is why it lives here and not in one of them.
//!
//! No Redis client library: the few commands xtask sends are RESP arrays of bulk strings,
//! and the answers it reads are one line each.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{cmd, preflight};

/// The Debian package that brings `redis-server`.
pub const PACKAGE: &str = "redis-server";

/// The variable that names the server program, for `cargo xtask test` and the tests it runs.
pub const BIN_VAR: &str = "REDIS_SERVER_BIN";

/// The kernel's name for the server process (`/proc/PID/comm`), which tells it apart from a
/// stranger that took over a pid of ours.
pub const PROGRAM: &str = "redis-server";

/// Where Debian puts it, for a `PATH` that lacks `/usr/bin`.
const DEBIAN_PATH: &str = "/usr/bin/redis-server";

/// `proc-title-template` came with 6.2; without it the server's command line would not name
/// its configuration file, and nothing could tell our server from another.
const OLDEST: (u32, u32) = (6, 2);

/// The server program: `REDIS_SERVER_BIN` when set (it must then exist), else
/// `redis-server` on `PATH`, else Debian's `/usr/bin/redis-server`; `None` when there is none.
pub fn find() -> Result<Option<PathBuf>> {
    let found = preflight::from_env_or_path(BIN_VAR, &["redis-server"])?;
    Ok(found.or_else(|| Some(PathBuf::from(DEBIAN_PATH)).filter(|p| cmd::is_executable(p))))
}

/// The server program, or an error that says how to get one.
pub fn server() -> Result<PathBuf> {
    find()?.with_context(not_found)
}

/// What to say when there is no `redis-server`.
pub fn not_found() -> String {
    format!(
        "redis-server not found: install it with `apt-get install {PACKAGE}` (or set {BIN_VAR})"
    )
}

/// The server's version (`7.0.15`), checked to be new enough for the configuration we write.
pub fn check_version(bin: &Path) -> Result<String> {
    let said = cmd::output(Command::new(bin).arg("--version"))?;
    let version = version(&said).with_context(|| {
        format!(
            "no version in `{} --version`: {:?}",
            bin.display(),
            said.trim()
        )
    })?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major_minor = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if major_minor < OLDEST {
        bail!(
            "{} is Redis {version}; {}.{} or later is needed (Debian 12 has 7.0)",
            bin.display(),
            OLDEST.0,
            OLDEST.1
        );
    }
    Ok(version)
}

/// The version in `Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 ...`.
fn version(said: &str) -> Option<String> {
    said.split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .filter(|v| v.split('.').all(|p| p.parse::<u32>().is_ok()))
        .map(str::to_owned)
}

/// The URL a client connects with: database 0 on 127.0.0.1, by password (no user name,
/// Redis's `default` user).
pub fn url(password: &str, port: u16) -> String {
    format!("redis://:{password}@127.0.0.1:{port}/0")
}

/// A server's configuration file. Everything that matters is written out, so that no
/// default of the package's (or of `/etc/redis/redis.conf`, which is never read) decides.
#[derive(Debug, Clone)]
pub struct Config<'a> {
    /// The first comment line: who wrote the file, and why.
    pub header: &'a str,
    pub port: u16,
    pub password: &'a str,
    /// Its working directory; with nothing persisted, it writes nothing there.
    pub dir: &'a Path,
    pub log: &'a Path,
    pub pid_file: &'a Path,
    /// Fork into the background (deploy), or stay the child of whoever started it (tests).
    pub daemonize: bool,
    /// The memory it may use before it evicts the least recently used keys (`64mb`); `None`
    /// sets no limit.
    pub max_memory: Option<&'a str>,
}

impl Config<'_> {
    pub fn render(&self) -> String {
        let mut text = format!(
            "# {}\n\
             # Loopback only, by password; a cache: nothing is saved to disk, a restart starts empty.\n\
             bind 127.0.0.1\n\
             protected-mode yes\n\
             port {}\n\
             requirepass {}\n\
             daemonize {}\n\
             supervised no\n\
             pidfile {}\n\
             logfile {}\n\
             loglevel notice\n\
             dir {}\n\
             save \"\"\n\
             appendonly no\n\
             # The command line names this file, so that a pid can be told to be this server's.\n\
             proc-title-template \"{{title}} {{listen-addr}} {{server-mode}} {{config-file}}\"\n",
            self.header,
            self.port,
            quote(self.password),
            if self.daemonize { "yes" } else { "no" },
            quote_path(self.pid_file),
            quote_path(self.log),
            quote_path(self.dir),
        );
        if let Some(limit) = self.max_memory {
            text += &format!("maxmemory {limit}\nmaxmemory-policy allkeys-lru\n");
        }
        text
    }
}

/// The port of a configuration file's `port` line.
pub fn config_port(text: &str) -> Option<u16> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("port "))
        .find_map(|port| port.trim().parse().ok())
}

fn quote_path(path: &Path) -> String {
    quote(&path.display().to_string())
}

/// A double-quoted string as Redis's configuration reads it (`sdssplitargs`): a backslash
/// and a quote escaped, control characters as `\xHH`.
fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            c if c.is_ascii_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A command as RESP sends it: an array of bulk strings.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `AUTH password` then `PING` to the server on 127.0.0.1:`port`, which must answer `+OK`
/// and `+PONG`, each within `timeout`. The error says what it answered instead (never the
/// password: the server does not repeat it).
pub fn ping(port: u16, password: &str, timeout: Duration) -> Result<()> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("could not connect to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = command(&["AUTH", password]);
    request.extend(command(&["PING"]));
    (&stream)
        .write_all(&request)
        .with_context(|| format!("could not write to {address}"))?;
    let mut reader = BufReader::new(&stream);
    for (sent, expected) in [("AUTH", "+OK"), ("PING", "+PONG")] {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .with_context(|| format!("{address} did not answer {sent}"))?;
        let line = line.trim_end();
        if line.is_empty() {
            bail!("{address} closed the connection instead of answering {sent}");
        }
        if line != expected {
            bail!("{address} answered {sent} with {line:?}");
        }
    }
    Ok(())
}

/// Waits (bounded) until the server on `port` answers [`ping`]; `alive` is asked between
/// tries and ends the wait with its error (a server that exited will not answer). Returns
/// how long it took.
pub fn wait_answering(
    port: u16,
    password: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let last = match ping(port, password, Duration::from_secs(2)) {
            Ok(()) => return Ok(started.elapsed()),
            Err(err) => err,
        };
        alive()?;
        if started.elapsed() >= timeout {
            return Err(last.context(format!(
                "redis on 127.0.0.1:{port} did not answer PING within {}",
                crate::steps::format_duration(timeout)
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            command(&["AUTH", "pä55"]),
            "*2\r\n$4\r\nAUTH\r\n$5\r\npä55\r\n".as_bytes(),
            "the length counts bytes"
        );
    }

    #[test]
    fn reads_the_version() {
        let said = "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n";
        assert_eq!(version(said).as_deref(), Some("7.0.15"));
        assert_eq!(version("Redis server v=x.y"), None);
        assert_eq!(version("nothing"), None);
    }

    #[test]
    fn a_missing_server_names_its_package() {
        assert_eq!(
            not_found(),
            "redis-server not found: install it with `apt-get install redis-server` (or set REDIS_SERVER_BIN)"
        );
    }

    #[test]
    fn urls_name_the_password_port_and_database() {
        assert_eq!(url("s3cret", 6380), "redis://:s3cret@127.0.0.1:6380/0");
    }

    #[test]
    fn quoting_escapes_what_redis_would_read_otherwise() {
        assert_eq!(quote("/srv/a b"), "\"/srv/a b\"");
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("a\nb"), "\"a\\x0ab\"");
    }

    #[test]
    fn a_config_binds_loopback_keeps_nothing_and_names_itself() {
        let config = Config {
            header: "Written by a test.",
            port: 6390,
            password: "0123abcd",
            dir: Path::new("/srv/d/redis"),
            log: Path::new("/srv/d/logs/redis.log"),
            pid_file: Path::new("/srv/d/redis/redis.pid"),
            daemonize: true,
            max_memory: Some("64mb"),
        };
        let text = config.render();
        for line in [
            "# Written by a test.",
            "bind 127.0.0.1",
            "port 6390",
            "requirepass \"0123abcd\"",
            "daemonize yes",
            "pidfile \"/srv/d/redis/redis.pid\"",
            "logfile \"/srv/d/logs/redis.log\"",
            "dir \"/srv/d/redis\"",
            "save \"\"",
            "appendonly no",
            "proc-title-template \"{title} {listen-addr} {server-mode} {config-file}\"",
            "maxmemory 64mb",
            "maxmemory-policy allkeys-lru",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert_eq!(config_port(&text), Some(6390));
        let text = Config {
            daemonize: false,
            max_memory: None,
            ..config
        }
        .render();
        assert!(text.contains("daemonize no\n"));
        assert!(!text.contains("maxmemory"));
    }

    #[test]
    fn nothing_listening_is_an_error_that_names_the_address() {
        let port = crate::sys::pick_free_port().unwrap();
        let err = ping(port, "x", Duration::from_secs(1)).unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("127.0.0.1:{port}")),
            "{err:#}"
        );
    }
}
