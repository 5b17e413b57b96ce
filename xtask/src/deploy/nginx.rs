//! nginx in front of the replicas: Debian's nginx binary, run with a config, pid file, logs
//! and temp paths of its own inside the deploy directory (`nginx -p <dir> -c <conf> -e <log>`),
//! so the system's nginx, if any, is never read, written or signalled.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::{layout::Layout, state::write_atomically};
use crate::{cmd, sys};

/// How long nginx has to start, or to bring up workers with a new config.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long in-flight requests may take to finish when nginx stops gracefully.
const QUIT_GRACE: Duration = Duration::from_secs(30);

pub struct Nginx<'a> {
    pub bin: &'a Path,
    pub layout: &'a Layout,
}

impl Nginx<'_> {
    fn command(&self, conf: &Path) -> Command {
        let mut nginx = Command::new(self.bin);
        // The prefix ends in a slash: nginx joins it to relative paths as a plain string.
        nginx
            .arg("-p")
            .arg(format!("{}/", self.layout.nginx_dir().display()))
            .arg("-c")
            .arg(conf)
            .arg("-e")
            .arg(self.layout.log("nginx-error.log"));
        nginx
    }

    fn prepare_dirs(&self) -> Result<()> {
        for dir in [self.layout.nginx_dir().join("temp"), self.layout.logs()] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        Ok(())
    }

    /// Writes the config for `ports` behind `public_port`, once `nginx -t` has accepted it:
    /// a broken config never replaces the one a running nginx would reload.
    pub fn configure(&self, public_port: u16, ports: &[u16]) -> Result<()> {
        self.prepare_dirs()?;
        let text = render(self.layout, public_port, ports, worker_user().as_deref());
        let conf = self.layout.nginx_conf();
        let candidate = conf.with_extension("conf.new");
        write_atomically(&candidate, &text, 0o644)?;
        cmd::output(self.command(&candidate).args(["-t", "-q"]))
            .context("nginx rejected the generated config")?;
        std::fs::rename(&candidate, &conf)
            .with_context(|| format!("could not write {}", conf.display()))
    }

    /// Whether the running config is what this deploy would write for `ports`.
    pub fn is_current(&self, public_port: u16, ports: &[u16]) -> bool {
        let text = render(self.layout, public_port, ports, worker_user().as_deref());
        std::fs::read_to_string(self.layout.nginx_conf()).is_ok_and(|now| now == text)
    }

    /// Starts nginx with the config [`Nginx::configure`] wrote; returns the master's pid once
    /// it answers on `public_port`.
    pub fn start(&self, public_port: u16) -> Result<u32> {
        let log = cmd::append_to(&self.layout.log("nginx-error.log"))?;
        let _ = std::fs::remove_file(self.layout.nginx_pid_file());
        let mut nginx = self.command(&self.layout.nginx_conf());
        // The master forks into the background and this one exits; nothing is piped, so
        // no daemon holds a pipe of ours open.
        nginx
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let shown = cmd::display(&nginx);
        let status = nginx
            .status()
            .with_context(|| format!("could not start `{shown}`"))?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
        let started = Instant::now();
        loop {
            if let Some(pid) = self.pid_from_file() {
                if std::net::TcpStream::connect(("127.0.0.1", public_port)).is_ok() {
                    println!("    nginx (pid {pid}) listens on 127.0.0.1:{public_port}");
                    return Ok(pid);
                }
            }
            if started.elapsed() > START_TIMEOUT {
                bail!("nginx did not start listening on 127.0.0.1:{public_port} within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid_from_file(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.layout.nginx_pid_file()).ok()?;
        let pid = text.trim().parse().ok()?;
        self.is_ours(pid).then_some(pid)
    }

    pub fn is_ours(&self, pid: u32) -> bool {
        is_ours(self.layout, pid)
    }

    /// Points the running nginx at `ports`: a tested config, SIGHUP, then a wait until a new
    /// generation of workers runs and the old one has exited. Old workers stop accepting, end
    /// their idle connections and finish the requests they hold (bounded by
    /// `worker_shutdown_timeout`); once they are gone no process routes to a port left out.
    pub fn reload(&self, pid: u32, public_port: u16, ports: &[u16]) -> Result<()> {
        if !self.is_ours(pid) {
            bail!("nginx pid {pid} is gone or not ours; not reloading it");
        }
        self.configure(public_port, ports)?;
        let before: BTreeSet<u32> = sys::children(pid).into_iter().collect();
        sys::signal(pid, "HUP")?;
        let started = Instant::now();
        loop {
            let now = sys::children(pid);
            let fresh = now.iter().any(|&child| {
                !before.contains(&child) && sys::comm(child).as_deref() == Some("nginx")
            });
            let old_gone = !now.iter().any(|child| before.contains(child));
            if fresh && old_gone {
                return Ok(());
            }
            if fresh && started.elapsed() > QUIT_GRACE + Duration::from_secs(5) {
                // Old workers still hold a slow request; proxy_next_upstream covers them.
                println!("    (old nginx workers are still finishing requests; going on)");
                return Ok(());
            }
            if !fresh && started.elapsed() > START_TIMEOUT {
                bail!(
                    "nginx (pid {pid}) started no workers with the new config within {START_TIMEOUT:?}; see {}",
                    self.layout.log("nginx-error.log").display()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn is_ours(layout: &Layout, pid: u32) -> bool {
    sys::is_ours(pid, "nginx", &layout.nginx_marker())
}

/// Stops our nginx: SIGQUIT lets workers finish their requests; after [`QUIT_GRACE`] it is
/// SIGTERM, then SIGKILL. Workers left by a killed master are stopped too (they were its
/// children, so they are ours).
pub fn stop(layout: &Layout, pid: u32) -> Result<String> {
    if !is_ours(layout, pid) {
        return Ok(format!("nginx pid {pid} was not running"));
    }
    let workers = sys::children(pid);
    let started = Instant::now();
    sys::signal(pid, "QUIT")?;
    let how = if sys::wait_gone(pid, QUIT_GRACE) {
        "gracefully"
    } else {
        sys::terminate(pid, Duration::from_secs(5))?;
        "forcibly, after its graceful stop timed out"
    };
    for worker in workers {
        if sys::comm(worker).as_deref() == Some("nginx") {
            let _ = sys::terminate(worker, Duration::from_secs(5));
        }
    }
    Ok(format!(
        "stopped nginx (pid {pid}) {how} in {}",
        crate::steps::format_duration(started.elapsed())
    ))
}

/// As root, nginx's workers would run as `nobody` unless told; Debian's web server user
/// is `www-data`. Not root: no `user` line at all (nginx would ignore it, with a warning),
/// and the workers run as whoever started nginx.
fn worker_user() -> Option<String> {
    if !sys::is_root() {
        return None;
    }
    let exists = |name: &str| cmd::output(Command::new("getent").args(["passwd", name])).is_ok();
    if exists("www-data") {
        Some("www-data".into())
    } else {
        Some("nobody".into())
    }
}

fn render(layout: &Layout, public_port: u16, ports: &[u16], user: Option<&str>) -> String {
    let path = |p: PathBuf| p.display().to_string();
    let temp = layout.nginx_dir().join("temp");
    let user = user.map_or(String::new(), |u| format!("user {u};\n"));
    let servers: String = ports
        .iter()
        .map(|port| format!("        server 127.0.0.1:{port} max_fails=0;\n"))
        .collect();
    format!(
        r#"# Written by cargo xtask deploy for each change of replicas; do not edit (it is rewritten).
{user}worker_processes auto;
pid {pid};
error_log {error_log} warn;

events {{
    worker_connections 1024;
}}

# How long the workers a reload retires may finish their requests; deploy waits for them.
worker_shutdown_timeout {shutdown}s;

http {{
    log_format quotes '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                      '$request_time upstream=$upstream_addr upstream_status=$upstream_status '
                      'request_id=$request_id';
    access_log {access_log} quotes;
    server_tokens off;
    default_type application/octet-stream;

    # Request bodies and responses stay in memory, so the workers never need these paths
    # (they may run as a user that cannot reach the deploy directory); they are set so nginx
    # never falls back to the system's.
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;

    # A port is handed from one process to the next during a redeploy; a connection the old
    # one had not accepted yet is reset, and the request goes to the next port. Never marking
    # a port as failed (max_fails=0) keeps a handover from taking every port out at once.
    upstream quotes_web {{
{servers}    }}

    server {{
        listen 127.0.0.1:{public_port};
        server_name _;

        # Metrics are read from each replica's own port (cargo xtask status lists them),
        # never through the public port.
        location = /metrics {{
            return 404;
        }}

        location / {{
            proxy_pass http://quotes_web;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            # A replica that is stopping or gone costs the client nothing: the request goes
            # to the next one, POSTs included (a refused connection never reached the app).
            proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;
            proxy_next_upstream_timeout 15s;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"#,
        pid = path(layout.nginx_pid_file()),
        error_log = path(layout.log("nginx-error.log")),
        access_log = path(layout.log("nginx-access.log")),
        temp = temp.display(),
        shutdown = QUIT_GRACE.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_everything_in_the_deploy_directory() {
        let layout = Layout::new(Path::new("/p"), Some(Path::new("/srv/d")));
        let conf = render(&layout, 8000, &[41000, 41001], Some("www-data"));
        assert!(conf.starts_with("# Written by cargo xtask deploy"));
        assert!(conf.contains("user www-data;\n"));
        assert!(conf.contains("pid /srv/d/nginx/nginx.pid;"));
        assert!(conf.contains("error_log /srv/d/logs/nginx-error.log warn;"));
        assert!(conf.contains("listen 127.0.0.1:8000;"));
        assert!(conf.contains("server 127.0.0.1:41000 max_fails=0;"));
        assert!(conf.contains("location = /metrics {\n            return 404;"));
        assert!(conf.contains("server 127.0.0.1:41001 "));
        assert!(conf.contains(
            "proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;"
        ));
        for line in conf.lines().filter(|l| l.contains("_path ")) {
            assert!(line.contains("/srv/d/nginx/temp/"), "{line}");
        }
        assert!(!render(&layout, 8000, &[1], None)
            .lines()
            .any(|l| l.starts_with("user ")));
    }

    /// nginx itself accepts what we write, when it is installed (`xtask test` makes sure it is).
    #[test]
    fn nginx_accepts_the_config() {
        let Some(bin) = crate::preflight::find_nginx() else {
            panic!("nginx not found: apt-get install nginx (cargo xtask test installs it)");
        };
        let base = std::env::temp_dir().join(format!("xtask-nginx-test-{}", std::process::id()));
        let layout = Layout::new(Path::new("/nonexistent"), Some(&base));
        let nginx = Nginx {
            bin: &bin,
            layout: &layout,
        };
        let result = nginx.configure(sys::pick_free_port().unwrap(), &[41000, 41001]);
        let _ = std::fs::remove_dir_all(&base);
        result.unwrap_or_else(|err| panic!("{err:#}"));
    }
}
