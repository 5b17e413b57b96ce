//! Picks the backend for the whole site: Cargo features decide what is compiled in,
//! settings decide what runs. The only place in this crate that checks the `store-*`
//! features; each component opens its own store of the kind chosen here.

use std::time::Duration;

use web::{Backend, Site};

use crate::settings::{Settings, StoreKind};

/// The backend that runs, with what only PostgreSQL has: the process's one pool.
#[derive(Debug, Clone)]
pub struct OpenBackend {
    pub kind: Backend,
    #[cfg(feature = "store-pg")]
    db: Option<db::Database>,
}

#[cfg(feature = "store-pg")]
fn pg_settings(settings: &Settings) -> db::PgSettings {
    let d = &settings.database;
    db::PgSettings {
        url: d.url.clone(),
        pool_size: d.pool_size,
        connect_timeout: Duration::from_secs(d.connect_timeout_secs),
        statement_timeout: Duration::from_millis(d.statement_timeout_ms),
    }
}

/// Opens the backend that `settings` ask for. Connects to nothing: see
/// [`OpenBackend::wait_until_ready`].
pub fn open(settings: &Settings) -> anyhow::Result<OpenBackend> {
    match settings.store_kind() {
        #[cfg(feature = "store-memory")]
        StoreKind::Memory => Ok(OpenBackend {
            kind: Backend::Memory,
            #[cfg(feature = "store-pg")]
            db: None,
        }),
        #[cfg(not(feature = "store-memory"))]
        StoreKind::Memory => anyhow::bail!(
            "this build has no memory store: rebuild with --features store-memory, or set DATABASE_URL"
        ),
        #[cfg(feature = "store-pg")]
        StoreKind::Postgres => {
            anyhow::ensure!(
                !settings.database.url.is_empty(),
                "QUOTES_STORE=postgres needs a database URL: set DATABASE_URL"
            );
            let db = db::Database::connect(&pg_settings(settings))
                .map_err(|e| anyhow::anyhow!(e).context("opening the PostgreSQL pool"))?;
            Ok(OpenBackend {
                kind: Backend::Postgres,
                db: Some(db),
            })
        }
        #[cfg(not(feature = "store-pg"))]
        StoreKind::Postgres => anyhow::bail!(
            "this build has no PostgreSQL store: rebuild with --features store-pg, or set QUOTES_STORE=memory"
        ),
        StoreKind::Auto => unreachable!("Settings::store_kind resolves auto"),
    }
}

/// `psql` on the configured database, as Django's `dbshell`: the password goes in
/// `PGPASSWORD`, never on the command line (where `ps` would show it to every user).
pub fn psql(settings: &Settings) -> anyhow::Result<std::process::Command> {
    match settings.store_kind() {
        #[cfg(feature = "store-pg")]
        StoreKind::Postgres => {
            let psql = find_psql().ok_or_else(|| {
                anyhow::anyhow!(
                    "psql not found on PATH: install PostgreSQL's client (apt-get install postgresql-client)"
                )
            })?;
            let (url, password) = db::split_password(&settings.database.url);
            let mut command = std::process::Command::new(psql);
            command.arg(url);
            match password {
                Some(password) => command.env("PGPASSWORD", password),
                None => command.env_remove("PGPASSWORD"),
            };
            Ok(command)
        }
        #[cfg(not(feature = "store-pg"))]
        StoreKind::Postgres => {
            anyhow::bail!("this build has no PostgreSQL store: no database to open")
        }
        StoreKind::Memory => {
            anyhow::bail!("the memory store has no database to open a shell on: set DATABASE_URL")
        }
        StoreKind::Auto => unreachable!("Settings::store_kind resolves auto"),
    }
}

/// `psql` on `PATH`, else in Debian's versioned directory of PostgreSQL's programs.
#[cfg(feature = "store-pg")]
fn find_psql() -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("psql"));
    let mut debian: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join("psql"))
        .collect();
    debian.sort();
    on_path
        .chain(debian.into_iter().rev())
        .find(|p| p.is_file())
}

impl OpenBackend {
    /// Shares what components need to open their stores (the pool) with the site.
    pub fn provide_to(&self, site: &mut Site) {
        #[cfg(feature = "store-pg")]
        if let Some(db) = &self.db {
            site.provide(db.clone());
        }
        let _ = site;
    }

    /// Waits, bounded, until the database accepts connections and every started
    /// component's migrations are applied. The memory backend is ready at once.
    pub fn wait_until_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        #[cfg(feature = "store-pg")]
        if let Some(db) = &self.db {
            db.wait_until_ready(timeout)?;
        }
        let _ = timeout;
        Ok(())
    }

    /// Every started component's migrations (none on the memory backend).
    #[cfg(feature = "store-pg")]
    pub fn migrations(&self) -> Vec<db::Migrations> {
        self.db
            .as_ref()
            .map(db::Database::migrations)
            .unwrap_or_default()
    }

    /// Applies every started component's pending migrations; returns their names.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        #[cfg(feature = "store-pg")]
        if let Some(db) = &self.db {
            return Ok(db.migrate()?);
        }
        Ok(Vec::new())
    }
}
