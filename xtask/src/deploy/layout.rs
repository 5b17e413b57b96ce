//! Where deploy keeps everything: one directory (`.deploy/` in the project unless `--dir` or
//! `QUOTES_DEPLOY_DIR` says otherwise), so that a deploy never writes anywhere else.

use std::path::{Path, PathBuf};

/// Where deploy keeps managed clusters that could not live in their deploy directory.
pub const SYSTEM_DIR: &str = "/var/lib/quotes-deploy";

/// The deploy directory's path as a readable name (`root-quotes-.deploy`), with a hash of the
/// whole path so that two directories never share one.
fn system_name(base: &Path) -> String {
    let text = base.to_string_lossy();
    // FNV-1a: a stable hash, the same in every build and on every machine.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let readable: String = text
        .trim_matches('/')
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' => c,
            _ => '_',
        })
        .collect();
    // The end of a long path says most; cut at a dash where there is one.
    let start = readable.len().saturating_sub(64);
    let tail = readable.get(start..).unwrap_or(&readable);
    let readable = match tail.find('-') {
        Some(dash) if start > 0 && dash + 1 < tail.len() => &tail[dash + 1..],
        _ => tail,
    };
    format!("{readable}-{:08x}", hash as u32)
}

/// The paths of one deploy directory, and the project it deploys.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The project: where `cargo build` runs and `config/`, `fixtures/` and `deploy/` are.
    pub root: PathBuf,
    /// The deploy directory.
    pub base: PathBuf,
}

impl Layout {
    /// `dir` relative to the current directory when relative, as the user typed it.
    pub fn new(root: &Path, dir: Option<&Path>) -> Layout {
        let base = match dir {
            Some(dir) if dir.is_absolute() => dir.to_path_buf(),
            Some(dir) => std::env::current_dir()
                .map(|cwd| cwd.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf()),
            None => root.join(".deploy"),
        };
        Layout {
            root: root.to_path_buf(),
            base,
        }
    }

    pub fn releases(&self) -> PathBuf {
        self.base.join("releases")
    }

    pub fn release(&self, id: &str) -> PathBuf {
        self.releases().join(id)
    }

    pub fn history(&self) -> PathBuf {
        self.releases().join("history")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.base.join("run")
    }

    pub fn state_file(&self) -> PathBuf {
        self.run_dir().join("state")
    }

    pub fn app_env(&self) -> PathBuf {
        self.run_dir().join("app.env")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.run_dir().join("lock")
    }

    pub fn logs(&self) -> PathBuf {
        self.base.join("logs")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(name)
    }

    /// `postgres/` in the deploy directory: the managed cluster's directory, or a link to it
    /// when the `postgres` user could not reach the deploy directory (see `postgres.rs`).
    pub fn postgres_link(&self) -> PathBuf {
        self.base.join("postgres")
    }

    /// The managed cluster's directory (its `data/` and `sock/`), where the link leads.
    pub fn postgres_dir(&self) -> PathBuf {
        let link = self.postgres_link();
        match std::fs::read_link(&link) {
            Ok(target) => self.base.join(target),
            Err(_) => link,
        }
    }

    /// Whether the cluster lives outside the deploy directory, linked from it.
    pub fn postgres_is_linked(&self) -> bool {
        std::fs::symlink_metadata(self.postgres_link()).is_ok_and(|m| m.file_type().is_symlink())
    }

    /// The server's log: `logs/postgres.log`, or beside a linked cluster (where the server's
    /// user can write), with `logs/postgres.log` a link to it.
    pub fn postgres_log(&self) -> PathBuf {
        if self.postgres_is_linked() {
            self.postgres_dir().join("postgres.log")
        } else {
            self.log("postgres.log")
        }
    }

    /// Where the cluster goes when the deploy directory is closed to the `postgres` user (a
    /// root user's home is mode 700): a directory of its own under [`SYSTEM_DIR`], named
    /// after the deploy directory so that each deploy directory keeps its own data.
    pub fn system_postgres_dir(&self) -> PathBuf {
        Path::new(SYSTEM_DIR).join(system_name(&self.base))
    }

    pub fn postgres_data(&self) -> PathBuf {
        self.postgres_dir().join("data")
    }

    pub fn postgres_port_file(&self) -> PathBuf {
        self.run_dir().join("postgres.port")
    }

    pub fn postgres_password_file(&self) -> PathBuf {
        self.base.join("secrets").join("postgres-password")
    }

    /// The app's secret key (signs sessions and CSRF tokens): made once, kept, so that a
    /// redeploy keeps everyone signed in.
    pub fn secret_key_file(&self) -> PathBuf {
        self.base.join("secrets").join("secret-key")
    }

    /// `redis/` in the deploy directory: the cache server's configuration (which holds its
    /// password, so the directory is private) and pid file; its working directory.
    pub fn redis_dir(&self) -> PathBuf {
        self.base.join("redis")
    }

    pub fn redis_conf(&self) -> PathBuf {
        self.redis_dir().join("redis.conf")
    }

    pub fn redis_pid_file(&self) -> PathBuf {
        self.redis_dir().join("redis.pid")
    }

    pub fn redis_log(&self) -> PathBuf {
        self.log("redis.log")
    }

    /// The cache server's port, chosen once and reused by the next deploy and `start`.
    pub fn redis_port_file(&self) -> PathBuf {
        self.run_dir().join("redis.port")
    }

    pub fn redis_password_file(&self) -> PathBuf {
        self.base.join("secrets").join("redis-password")
    }

    pub fn docker_password_file(&self) -> PathBuf {
        self.base.join("secrets").join("docker-postgres-password")
    }

    pub fn docker_redis_password_file(&self) -> PathBuf {
        self.base.join("secrets").join("docker-redis-password")
    }

    pub fn nginx_dir(&self) -> PathBuf {
        self.base.join("nginx")
    }

    pub fn nginx_conf(&self) -> PathBuf {
        self.nginx_dir().join("nginx.conf")
    }

    pub fn nginx_pid_file(&self) -> PathBuf {
        self.nginx_dir().join("nginx.pid")
    }

    /// The quotes file each release carries: prepare loads it, and a memory-store replica
    /// loads it at start.
    pub fn project_fixtures(&self) -> PathBuf {
        self.root.join("fixtures").join("quotes.txt")
    }

    /// What the command line of each program of ours mentions (see `sys::is_ours`): the
    /// binary's path for quotes, the config's for nginx and redis, `-D` for PostgreSQL.
    pub fn quotes_marker(&self) -> PathBuf {
        self.releases()
    }

    pub fn nginx_marker(&self) -> PathBuf {
        self.nginx_conf()
    }

    pub fn postgres_marker(&self) -> PathBuf {
        self.postgres_data()
    }

    pub fn redis_marker(&self) -> PathBuf {
        self.redis_conf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_are_readable_and_distinct() {
        let name = |p: &str| system_name(Path::new(p));
        let home = name("/root/quotes/.deploy");
        assert!(home.starts_with("root-quotes-.deploy-"), "{home}");
        assert_eq!(home, name("/root/quotes/.deploy"), "stable");
        assert_ne!(
            home,
            name("/root/quotes-.deploy"),
            "the hash tells them apart"
        );
        assert_eq!(name("/a b/c").split('-').next(), Some("a_b"));
        let long = name(&format!("/{}", "x".repeat(300)));
        assert!(long.len() <= 64 + 9, "{long}");
        let deep = name("/tmp/quotes-xtask-deploy-16294-1795951915615137265/and/deeper/still");
        assert_eq!(
            deep.rsplit_once('-').unwrap().0,
            "quotes-xtask-deploy-16294-1795951915615137265-and-deeper-still",
            "cut at a dash"
        );
    }

    #[test]
    fn a_linked_cluster_is_found_where_the_link_leads() {
        let base = std::env::temp_dir().join(format!("xtask-layout-test-{}", std::process::id()));
        let elsewhere = base.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let layout = Layout::new(Path::new("/p"), Some(&base.join("d")));
        std::fs::create_dir_all(&layout.base).unwrap();
        assert!(!layout.postgres_is_linked());
        assert_eq!(layout.postgres_data(), layout.base.join("postgres/data"));
        assert_eq!(layout.postgres_log(), layout.base.join("logs/postgres.log"));
        std::os::unix::fs::symlink(&elsewhere, layout.postgres_link()).unwrap();
        assert!(layout.postgres_is_linked());
        assert_eq!(layout.postgres_data(), elsewhere.join("data"));
        assert_eq!(layout.postgres_log(), elsewhere.join("postgres.log"));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
