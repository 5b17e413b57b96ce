//! Configuration, Twelve-Factor style: built-in defaults (config/default.toml), then
//! config/$QUOTES_ENV.toml, then QUOTES__SECTION__KEY variables, then the conventional
//! PORT, DATABASE_URL, QUOTES_STORE and QUOTES_LOG_FORMAT.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

#[derive(Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub sentry: SentrySettings,
    /// `[components] NAME = false` switches a compiled-in component off.
    #[serde(default)]
    pub components: HashMap<String, bool>,
    /// Signs cookies and CSRF tokens (`QUOTES__SECRET_KEY` or `SECRET_KEY`).
    #[serde(default)]
    pub secret_key: String,
    /// `QUOTES_ENV`, when set (`production`).
    #[serde(skip)]
    pub env: Option<String>,
    /// Everything, layered, for the components' own sections (`[quotes]`, …).
    #[serde(skip, default = "empty_config")]
    pub layered: Config,
}

fn empty_config() -> Config {
    Config::default()
}

// By hand, because the layered settings hold the database URL and its password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.server)
            .field("store", &self.store)
            .field("database", &self.database)
            .field("log", &self.log)
            .field("metrics", &self.metrics)
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// A folder of templates that replace the site's or the components' own, by name
    /// (`quotes/home.html`, `base.html`), as a Django project's template folder does.
    #[serde(default)]
    pub templates_dir: String,
    /// Cookies only over HTTPS; production config turns it on.
    #[serde(default)]
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client (the deploy's nginx).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Listen with SO_REUSEPORT, so that a new process can take over the port while this one
    /// still serves (deploy hands each replica's port over this way).
    #[serde(default)]
    pub reuse_port: bool,
    /// A file written once the server listens (its pid and address), for whoever started it
    /// to know; removed when the server stops. Empty: none.
    #[serde(default)]
    pub ready_file: String,
}

/// `[sentry]`: error reports (`SENTRY_DSN`, `SENTRY_ENVIRONMENT`).
#[derive(Clone, Deserialize)]
pub struct SentrySettings {
    pub dsn: String,
    pub environment: String,
}

// By hand: a DSN holds the project's key.
impl std::fmt::Debug for SentrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentrySettings")
            .field("dsn", &if self.dsn.is_empty() { "" } else { "(set)" })
            .field("environment", &self.environment)
            .finish()
    }
}

/// `[metrics]`: `/metrics` for the operator.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// A port of its own for `/metrics` (on `server.host`); 0: the site's port.
    #[serde(default)]
    pub port: u16,
    /// Clients (after trusted proxies) that may read `/metrics`: addresses or networks.
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Auto,
    Memory,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreSettings {
    pub kind: StoreKind,
}

#[derive(Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub statement_timeout_ms: u64,
    pub wait_timeout_secs: u64,
}

// The URL holds a password: never print it.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &if self.url.is_empty() { "" } else { "<set>" })
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl DatabaseSettings {
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// The environment as settings see it: a map, so that tests need not touch the process's own.
pub type Vars = HashMap<String, String>;

/// Addresses (`127.0.0.1`) or networks (`172.16.0.0/12`, a container network) of the
/// setting `key`; a bad entry is named.
fn networks(key: &str, entries: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    entries
        .iter()
        .map(|p| {
            let p = p.trim();
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("{key}: {p:?} is not an IP address or network"))
        })
        .collect()
}

impl Settings {
    /// Reads settings from the process environment.
    pub fn load() -> anyhow::Result<Self> {
        // Variables that are not UTF-8 cannot be ours (every name and value we read is
        // text), so they are skipped rather than allowed to stop the program.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::from_vars(vars)
    }

    /// Reads settings with `vars` standing in for the environment. Empty values count as unset.
    pub fn from_vars(mut vars: Vars) -> anyhow::Result<Self> {
        vars.retain(|_, v| !v.is_empty());
        let env = vars.get("QUOTES_ENV").cloned();
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(env) = vars.get("QUOTES_ENV") {
            let dir = vars
                .get("QUOTES_CONFIG_DIR")
                .map_or_else(|| PathBuf::from("config"), PathBuf::from);
            let path = dir.join(format!("{env}.toml"));
            if !path.is_file() {
                bail!("QUOTES_ENV={env} but {} does not exist", path.display());
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let conventional = [
            ("PORT", "server.port"),
            ("DATABASE_URL", "database.url"),
            ("QUOTES_STORE", "store.kind"),
            ("QUOTES_LOG_FORMAT", "log.format"),
            ("SECRET_KEY", "secret_key"),
            ("SENTRY_DSN", "sentry.dsn"),
            ("SENTRY_ENVIRONMENT", "sentry.environment"),
        ];
        for (var, key) in conventional {
            builder = builder.set_override_option(key, vars.get(var).cloned())?;
        }
        let environment = Environment::with_prefix("QUOTES")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("server.trusted_proxies")
            .with_list_parse_key("metrics.allow")
            .source(Some(vars));
        let layered = builder
            .add_source(environment)
            .build()
            .context("reading configuration")?;
        let mut settings: Settings = layered
            .clone()
            .try_deserialize()
            .context("reading configuration")?;
        settings.layered = layered;
        settings.env = env;
        Ok(settings)
    }

    /// Whether these are production settings (`QUOTES_ENV=production`).
    pub fn is_production(&self) -> bool {
        self.env.as_deref() == Some("production")
    }

    /// The proxies whose `X-Forwarded-For` is believed: addresses (`127.0.0.1`) or networks
    /// (`172.16.0.0/12`, a container network); a bad entry is named.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        networks("server.trusted_proxies", &self.server.trusted_proxies)
    }

    /// `/metrics` and who may read it, when on; a bad `metrics.allow` entry is named.
    pub fn metrics(&self) -> anyhow::Result<Option<web::MetricsOptions>> {
        if !self.metrics.enabled {
            return Ok(None);
        }
        Ok(Some(web::MetricsOptions {
            allow: networks("metrics.allow", &self.metrics.allow)?,
        }))
    }

    /// Whether the component `name` runs (every compiled-in component does unless the
    /// settings switch it off).
    pub fn component_enabled(&self, name: &str) -> bool {
        self.components.get(name).copied().unwrap_or(true)
    }

    /// The store that runs: an explicit kind, else PostgreSQL when a URL is given.
    pub fn store_kind(&self) -> StoreKind {
        match self.store.kind {
            StoreKind::Auto if self.database.url.is_empty() => StoreKind::Memory,
            StoreKind::Auto => StoreKind::Postgres,
            kind => kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        Settings::from_vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_bind_locally_on_8000_with_memory() {
        let s = load(&[]).unwrap();
        assert_eq!((s.server.host.as_str(), s.server.port), ("127.0.0.1", 8000));
        assert_eq!(s.store_kind(), StoreKind::Memory);
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn conventional_variables_win() {
        let s = load(&[
            ("PORT", "9001"),
            ("DATABASE_URL", "postgres://u:secret@h/db"),
            ("QUOTES__SERVER__PORT", "7000"),
        ])
        .unwrap();
        assert_eq!(s.server.port, 9001);
        assert_eq!(s.store_kind(), StoreKind::Postgres);
        assert!(
            !format!("{s:?}").contains("secret"),
            "settings never print the password"
        );
    }

    #[test]
    fn quotes_section_key_variables_override_defaults() {
        let s = load(&[
            ("QUOTES__SERVER__PORT", "7000"),
            ("QUOTES__DATABASE__POOL_SIZE", "3"),
            ("QUOTES__LOG__LEVEL", "debug"),
        ])
        .unwrap();
        assert_eq!(
            (s.server.port, s.database.pool_size, s.log.level.as_str()),
            (7000, 3, "debug")
        );
    }

    #[test]
    fn explicit_store_wins_over_url() {
        let s = load(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("QUOTES_STORE", "memory"),
        ])
        .unwrap();
        assert_eq!(s.store_kind(), StoreKind::Memory);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = load(&[("PORT", "eighty")]).unwrap_err();
        assert!(format!("{e:#}").contains("server.port"), "{e:#}");
        let e = load(&[("QUOTES_STORE", "mongo")]).unwrap_err();
        assert!(format!("{e:#}").contains("mongo"), "{e:#}");
    }

    #[test]
    fn environment_file_must_exist() {
        let e = load(&[
            ("QUOTES_ENV", "nosuch"),
            ("QUOTES_CONFIG_DIR", "/nonexistent"),
        ])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "QUOTES_ENV=nosuch but /nonexistent/nosuch.toml does not exist"
        );
    }

    #[test]
    fn environment_file_layers_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("staging.toml"), "[server]\nport = 8123\n").unwrap();
        let s = load(&[
            ("QUOTES_ENV", "staging"),
            ("QUOTES_CONFIG_DIR", dir.path().to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(s.server.port, 8123);
        assert_eq!(s.server.host, "127.0.0.1");
    }
}
