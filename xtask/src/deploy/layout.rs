//! Where deploy keeps everything: one directory (`.deploy/` in the project unless `--dir` or
//! `QUOTES_DEPLOY_DIR` says otherwise), so that a deploy never writes anywhere else.

use std::path::{Path, PathBuf};

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

    pub fn postgres_dir(&self) -> PathBuf {
        self.base.join("postgres")
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

    pub fn docker_password_file(&self) -> PathBuf {
        self.base.join("secrets").join("docker-postgres-password")
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
    /// binary's path for quotes, the config's for nginx, `-D` for PostgreSQL.
    pub fn quotes_marker(&self) -> PathBuf {
        self.releases()
    }

    pub fn nginx_marker(&self) -> PathBuf {
        self.nginx_conf()
    }

    pub fn postgres_marker(&self) -> PathBuf {
        self.postgres_data()
    }
}
