//! What deploy leaves behind for the next command: which processes run (`run/state`), which
//! releases were deployed in which order (`releases/history`), and the environment the app
//! gets (`run/app.env`). Plain `key=value` lines, written whole and renamed into place so a
//! reader never sees half a file.

use std::{
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

use anyhow::{bail, Context, Result};

use super::layout::Layout;

/// Which store the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The PostgreSQL cluster deploy keeps in its directory.
    Managed,
    /// A server named by `DATABASE_URL`.
    External,
    /// No database: each process keeps its quotes in memory.
    Memory,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Managed => "postgres",
            Store::External => "external",
            Store::Memory => "memory",
        }
    }

    fn parse(text: &str) -> Option<Store> {
        match text {
            "postgres" => Some(Store::Managed),
            "external" => Some(Store::External),
            "memory" => Some(Store::Memory),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Store::Managed => "PostgreSQL (managed by deploy)",
            Store::External => "PostgreSQL (DATABASE_URL)",
            Store::Memory => "memory (each process has its own data, gone when it stops)",
        }
    }
}

/// Which cache the app runs with (`QUOTES__CACHE__BACKEND`); `--cache` of deploy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Cache {
    /// No cache: every read goes to the store.
    None,
    /// Each process caches in its own memory (the app's default).
    #[default]
    Memory,
    /// One Redis that deploy runs beside the replicas, shared by all of them.
    Redis,
}

impl Cache {
    /// The name in the state file, and the app's `QUOTES__CACHE__BACKEND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cache::None => "none",
            Cache::Memory => "memory",
            Cache::Redis => "redis",
        }
    }

    fn parse(text: &str) -> Option<Cache> {
        match text {
            "none" => Some(Cache::None),
            "memory" => Some(Cache::Memory),
            "redis" => Some(Cache::Redis),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Cache::None => "none",
            Cache::Memory => "memory (each process its own)",
            Cache::Redis => "Redis (managed by deploy, shared by the replicas)",
        }
    }
}

/// One `quotes serve` process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub pid: u32,
    pub port: u16,
    pub release: String,
}

/// What runs: the processes deploy started, and how they are wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The release the last deploy or rollback asked for.
    pub release: String,
    pub store: Store,
    /// A state written before there was a choice says nothing: the app's default, memory.
    pub cache: Cache,
    /// Where the site is served: nginx's port with the proxy, else the one replica's.
    pub public_port: u16,
    pub proxy: bool,
    /// How many replicas were asked for: what a rollback, or a deploy after `stop`, brings back.
    pub scale: usize,
    /// Docker mode: compose runs everything, and none of the fields below apply.
    pub docker: bool,
    pub nginx: Option<u32>,
    pub replicas: Vec<Replica>,
}

impl State {
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "# Written by cargo xtask deploy; read by status, stop, rollback and the next deploy.\n",
        );
        text += &format!("release={}\n", self.release);
        text += &format!("store={}\n", self.store.as_str());
        text += &format!("cache={}\n", self.cache.as_str());
        text += &format!("public_port={}\n", self.public_port);
        text += &format!("proxy={}\n", yes_no(self.proxy));
        text += &format!("scale={}\n", self.scale);
        text += &format!("docker={}\n", yes_no(self.docker));
        if let Some(pid) = self.nginx {
            text += &format!("nginx={pid}\n");
        }
        for r in &self.replicas {
            text += &format!("replica={} {} {}\n", r.pid, r.port, r.release);
        }
        text
    }

    pub fn parse(text: &str) -> Result<State> {
        let mut release = None;
        let mut store = None;
        let mut cache = Cache::default();
        let mut public_port = None;
        let mut proxy = false;
        let mut scale = 1;
        let mut docker = false;
        let mut nginx = None;
        let mut replicas = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("line {}: {line:?}", n + 1);
            let (key, value) = line.split_once('=').with_context(bad)?;
            match key {
                "release" => release = Some(value.to_owned()),
                "store" => store = Some(Store::parse(value).with_context(bad)?),
                "cache" => cache = Cache::parse(value).with_context(bad)?,
                "public_port" => public_port = Some(value.parse().ok().with_context(bad)?),
                "proxy" => proxy = value == "yes",
                "scale" => scale = value.parse().ok().filter(|&n| n > 0).with_context(bad)?,
                "docker" => docker = value == "yes",
                "nginx" => nginx = Some(value.parse().ok().with_context(bad)?),
                "replica" => {
                    let mut parts = value.split_whitespace();
                    let mut next = || parts.next().with_context(bad);
                    let pid = next()?.parse().ok().with_context(bad)?;
                    let port = next()?.parse().ok().with_context(bad)?;
                    let release = next()?.to_owned();
                    replicas.push(Replica { pid, port, release });
                }
                // A key from a newer xtask is not worth failing over.
                _ => {}
            }
        }
        Ok(State {
            release: release.context("no release= line")?,
            store: store.context("no store= line")?,
            cache,
            public_port: public_port.context("no public_port= line")?,
            proxy,
            scale,
            docker,
            nginx,
            replicas,
        })
    }

    pub fn read(layout: &Layout) -> Result<Option<State>> {
        let path = layout.state_file();
        match fs::read_to_string(&path) {
            Ok(text) => State::parse(&text)
                .map(Some)
                .with_context(|| format!("{}: not a deploy state file", path.display())),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
        }
    }

    pub fn write(&self, layout: &Layout) -> Result<()> {
        write_atomically(&layout.state_file(), &self.to_text(), 0o644)
    }

    /// Whether anything of this deployment still runs (or, for Docker, may run).
    pub fn is_running(&self) -> bool {
        self.docker || self.nginx.is_some() || !self.replicas.is_empty()
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// Writes `text` beside `path` and renames it into place, with `mode` from the start so a
/// secret is never readable by others, not even for a moment.
pub fn write_atomically(path: &Path, text: &str, mode: u32) -> Result<()> {
    let dir = path.parent().context("a file path without a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("could not create {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("could not write {}", path.display()))
}

/// The releases in the order they were deployed, oldest first. A rollback pops the newest,
/// the way Capistrano does, so rolling back twice goes back two releases.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct History {
    pub ids: Vec<String>,
}

impl History {
    pub fn read(layout: &Layout) -> Result<History> {
        let path = layout.history();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(History {
                ids: text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect(),
            }),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(History::default()),
            Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
        }
    }

    pub fn write(&self, layout: &Layout) -> Result<()> {
        let mut text = String::from("# Deployed releases, oldest first; rollback pops the last.\n");
        for id in &self.ids {
            text += id;
            text.push('\n');
        }
        write_atomically(&layout.history(), &text, 0o644)
    }

    /// Records a deploy of `id`. Deploying the same release twice in a row is one entry.
    pub fn push(&mut self, id: &str) {
        if self.ids.last().map(String::as_str) != Some(id) {
            self.ids.push(id.to_owned());
        }
    }

    pub fn current(&self) -> Option<&str> {
        self.ids.last().map(String::as_str)
    }

    /// The release to roll back to: the newest one before the current that differs from it
    /// and that `exists` (a pruned release cannot run again).
    pub fn previous(&self, exists: impl Fn(&str) -> bool) -> Option<&str> {
        let current = self.current()?;
        self.ids
            .iter()
            .rev()
            .map(String::as_str)
            .find(|id| *id != current && exists(id))
    }

    /// Forgets everything after `id`'s newest entry: the releases that were rolled back.
    pub fn roll_back_to(&mut self, id: &str) {
        if let Some(at) = self.ids.iter().rposition(|x| x == id) {
            self.ids.truncate(at + 1);
        }
    }

    /// The releases worth keeping on disk: the newest `keep` distinct ones.
    pub fn recent(&self, keep: usize) -> Vec<&str> {
        let mut recent: Vec<&str> = Vec::new();
        for id in self.ids.iter().rev() {
            if recent.len() == keep {
                break;
            }
            if !recent.contains(&id.as_str()) {
                recent.push(id);
            }
        }
        recent
    }
}

/// The environment the app runs with, as `KEY=VALUE` lines. It holds `DATABASE_URL` with
/// its password, so only the owner may read it (0600).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AppEnv {
    pub vars: Vec<(String, String)>,
}

impl AppEnv {
    pub fn set(&mut self, key: &str, value: &str) {
        self.remove(key);
        self.vars.push((key.to_owned(), value.to_owned()));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn to_text(&self) -> Result<String> {
        let mut text = String::from(
            "# The environment of the deployed app (cargo xtask deploy writes it; manage reads it).\n",
        );
        for (key, value) in &self.vars {
            if value.contains('\n') || key.contains('=') {
                bail!("{key}: an environment value with a newline cannot be kept in app.env");
            }
            text += &format!("{key}={value}\n");
        }
        Ok(text)
    }

    pub fn parse(text: &str) -> AppEnv {
        AppEnv {
            vars: text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn read(layout: &Layout) -> Result<Option<AppEnv>> {
        let path = layout.app_env();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(AppEnv::parse(&text))),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
        }
    }

    pub fn write(&self, layout: &Layout) -> Result<()> {
        write_atomically(&layout.app_env(), &self.to_text()?, 0o600)
    }

    pub fn remove(&mut self, key: &str) {
        self.vars.retain(|(k, _)| k != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let state = State {
            release: "0123456789ab-dirty".into(),
            store: Store::Managed,
            cache: Cache::Redis,
            public_port: 8000,
            proxy: true,
            scale: 2,
            docker: false,
            nginx: Some(42),
            replicas: vec![
                Replica {
                    pid: 7,
                    port: 40001,
                    release: "0123456789ab-dirty".into(),
                },
                Replica {
                    pid: 8,
                    port: 40002,
                    release: "old".into(),
                },
            ],
        };
        assert_eq!(State::parse(&state.to_text()).unwrap(), state);
    }

    #[test]
    fn a_broken_state_names_its_line() {
        let err = State::parse("release=x\nstore=mongo\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: \"store=mongo\"");
        let err = State::parse("release=x\nstore=memory\n").unwrap_err();
        assert_eq!(err.to_string(), "no public_port= line");
        let err = State::parse("release=x\nstore=memory\ncache=disk\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: \"cache=disk\"");
    }

    #[test]
    fn a_state_from_before_the_cache_choice_has_the_apps_default() {
        let state = State::parse("release=x\nstore=memory\npublic_port=8000\n").unwrap();
        assert_eq!(state.cache, Cache::Memory);
        for cache in [Cache::None, Cache::Memory, Cache::Redis] {
            assert_eq!(Cache::parse(cache.as_str()), Some(cache));
        }
    }

    fn history(ids: &[&str]) -> History {
        History {
            ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rollback_goes_back_one_release_at_a_time() {
        let mut h = history(&["a", "b", "c"]);
        h.push("c");
        assert_eq!(h.ids, ["a", "b", "c"]);
        assert_eq!(h.previous(|_| true), Some("b"));
        h.roll_back_to("b");
        assert_eq!(h.current(), Some("b"));
        assert_eq!(h.previous(|_| true), Some("a"));
        assert_eq!(h.previous(|id| id != "a"), None);
        assert_eq!(history(&["a"]).previous(|_| true), None);
    }

    #[test]
    fn rollback_skips_redeploys_of_the_current_release() {
        let h = history(&["a", "b", "a", "b"]);
        assert_eq!(h.previous(|_| true), Some("a"));
        assert_eq!(h.recent(5), ["b", "a"]);
        assert_eq!(history(&["a", "b", "c", "d"]).recent(2), ["d", "c"]);
    }

    #[test]
    fn app_env_round_trips_and_refuses_newlines() {
        let mut env = AppEnv::default();
        env.set("DATABASE_URL", "postgres://q:p=w@h/db");
        env.set("PORT", "1");
        env.set("PORT", "2");
        let text = env.to_text().unwrap();
        assert_eq!(AppEnv::parse(&text), env);
        assert_eq!(env.get("PORT"), Some("2"));
        env.set("X", "a\nb");
        assert!(env.to_text().is_err());
    }
}
