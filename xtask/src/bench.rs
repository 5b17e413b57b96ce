//! `cargo xtask bench`: how fast the release binary answers and how much memory it holds, side
//! by side with a plain actix-web server (actix-ref, in shared/bench) in the same run, on the
//! same PostgreSQL and the same rows, so that ratios mean something on any machine. Writes
//! `target/bench/report.md` (figures, ratios against their targets) and `target/bench/chart.svg`.
//!
//! Figures are measured, never asserted: a timed assertion fails on a busy machine and
//! passes on a fast one, proving nothing. A target missed is a finding, not a failure; a
//! configuration that could not be measured is a failure, reported after the others ran.

mod chart;
mod data;
mod report;
mod wrk;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use self::{
    data::Psql,
    report::{Endpoint, Figures, Measure, Measured, Report, Setup, Store},
};
use crate::{
    cmd,
    pg::{Bins, Throwaway},
    preflight::{self, Missing},
    steps::{format_duration, Steps},
    sys, target_dir, xtask_dir,
};

/// What `cargo xtask bench` was asked.
#[derive(Debug)]
pub struct Options {
    /// How long each wrk run loads one endpoint.
    pub seconds: u64,
    /// How many wrk runs per endpoint; the median is reported.
    pub runs: u32,
    /// actix-ref's directory, when not `../shared/bench/actix-ref` beside the project.
    pub peer: Option<PathBuf>,
}

const K: u64 = 1_000;
const M: u64 = 1_000_000;

/// Where the peer is looked for when `--peer` names no directory, from the project root.
const PEER_DIR: &str = "../shared/bench/actix-ref";

/// How long a server may take from its start to answering its readiness check.
const READY_WITHIN: Duration = Duration::from_secs(60);

pub fn run(root: &Path, options: &Options) -> Result<()> {
    let mut steps = Steps::new("bench");
    let result = run_steps(root, options, &mut steps);
    steps.finish(result)
}

struct Tools {
    wrk: PathBuf,
    bins: Bins,
    psql: PathBuf,
}

fn run_steps(root: &Path, options: &Options, steps: &mut Steps) -> Result<()> {
    let dir = target_dir(root).join("bench");
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("could not create {}", logs.display()))?;
    let peer_dir = find_peer(root, options.peer.as_deref())?;
    let tools = steps.run("tools", || tools(root))?;
    let quotes = steps.run("build quotes", || {
        cmd::stream(cmd::cargo().current_dir(root).args([
            "build",
            "--release",
            "-p",
            "cli",
            "--bin",
            "quotes",
        ]))?;
        Ok(target_dir(root).join("release/quotes"))
    })?;
    let mut notes = Vec::new();
    let peer = match &peer_dir {
        Ok(dir) => Some(
            steps
                .run("build actix-ref", || build_peer(root, dir))
                .map_err(|err| format!("{err:#}")),
        ),
        Err(why) => {
            steps.skip("build actix-ref", why);
            notes.push(format!(
                "No peer: {why}; the ratios against it are not measured."
            ));
            None
        }
    };
    let file = dir.join(format!("quotes-{K}.txt"));
    fs::write(&file, data::quotes_file(K))
        .with_context(|| format!("could not write {}", file.display()))?;
    let file_arg = file.to_str().context("the target directory is not UTF-8")?;
    let bench = Bench {
        wrk: &tools.wrk,
        quotes: &quotes,
        logs: &logs,
        seconds: options.seconds,
        runs: options.runs,
    };

    let mut measured = Vec::new();
    for cached in [false, true] {
        let setup = Setup::ours(Store::Memory, cached, K);
        let env = [("QUOTES_STORE", "memory")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        measured.push(attempt(steps, setup, || {
            bench.ours(setup, &env, &["--load-quotes", file_arg], None)
        }));
    }

    let pg_setups =
        |quotes| [false, true].map(|cached| Setup::ours(Store::Postgres, cached, quotes));
    let database = steps.run("postgres with 1k quotes", || {
        Database::start(&tools, &quotes, file_arg, &logs)
    });
    match database {
        Err(err) => {
            let why = format!("no database: {err:#}");
            let mut setups = Vec::new();
            if peer.is_some() {
                setups.push(Setup::peer(K));
            }
            setups.extend(pg_setups(K));
            setups.extend(pg_setups(M));
            measured.extend(setups.into_iter().map(|s| failed(s, &why)));
        }
        Ok(mut db) => {
            notes.append(&mut db.notes);
            let stats = db.counting.then(|| db.psql());
            match &peer {
                Some(Ok(peer)) => measured.push(attempt(steps, Setup::peer(K), || {
                    bench.peer(peer, &db.url, stats.as_ref())
                })),
                Some(Err(why)) => measured.push(failed(Setup::peer(K), why)),
                None => {}
            }
            for setup in pg_setups(K) {
                measured.push(attempt(steps, setup, || {
                    bench.ours(setup, &db.env(), &[], stats.as_ref())
                }));
            }
            match steps.run("postgres with 1M quotes", || db.grow(M)) {
                Ok(note) => {
                    notes.push(note);
                    for setup in pg_setups(M) {
                        measured.push(attempt(steps, setup, || {
                            bench.ours(setup, &db.env(), &[], stats.as_ref())
                        }));
                    }
                }
                Err(err) => {
                    let why = format!("loading 1M quotes failed: {err:#}");
                    measured.extend(pg_setups(M).into_iter().map(|s| failed(s, &why)));
                }
            }
        }
    }

    let failures = count_failures(&measured);
    let report = Report {
        seconds: options.seconds,
        runs: options.runs,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        measured,
        notes,
    };
    let md = report::render(&report);
    let path = dir.join("report.md");
    fs::write(&path, &md).with_context(|| format!("could not write {}", path.display()))?;
    let svg = dir.join("chart.svg");
    chart::write(&svg, &report.measured)?;
    println!("\n{md}");
    println!("    written to {} and {}", path.display(), svg.display());
    if let Some(failures) = failures {
        bail!(
            "{failures}; {} says why, and the servers' logs are in {}",
            path.display(),
            logs.display()
        );
    }
    Ok(())
}

/// How many configurations and endpoints could not be measured, when any could not.
fn count_failures(measured: &[Measured]) -> Option<String> {
    let configurations = measured.iter().filter(|m| m.figures.is_err()).count();
    let endpoints = measured
        .iter()
        .filter_map(|m| m.figures.as_ref().ok())
        .flat_map(|f| &f.measures)
        .filter(|m| m.load.is_err())
        .count();
    match (configurations, endpoints) {
        (0, 0) => None,
        (c, e) => Some(format!(
            "{c} of {} configurations and {e} endpoints could not be measured",
            measured.len()
        )),
    }
}

/// The peer's directory, or why there is none. A directory named on the command line must
/// hold it; the default one may be missing, which the report then says.
fn find_peer(root: &Path, named: Option<&Path>) -> Result<Result<PathBuf, String>> {
    match named {
        Some(dir) if dir.join("Cargo.toml").is_file() => Ok(Ok(dir.to_path_buf())),
        Some(dir) => bail!("--peer {}: no Cargo.toml there", dir.display()),
        None => {
            let dir = root.join(PEER_DIR);
            if dir.join("Cargo.toml").is_file() {
                Ok(Ok(fs::canonicalize(&dir).unwrap_or(dir)))
            } else {
                Ok(Err(format!("{} is not there", dir.display())))
            }
        }
    }
}

fn tools(root: &Path) -> Result<Tools> {
    let mut missing = Vec::new();
    if cmd::which("wrk").is_none() {
        missing.push(Missing {
            what: "wrk",
            package: "wrk",
        });
    }
    if Bins::find().is_none_or(|bins| bins.client("psql").is_none()) {
        missing.push(Missing {
            what: "PostgreSQL server programs and psql",
            package: "postgresql",
        });
    }
    if !missing.is_empty() {
        preflight::install(&xtask_dir(root).join("apt.log"), &missing)?;
    }
    let wrk = cmd::which("wrk").context("wrk is still missing after installing it")?;
    let bins = Bins::find().context("PostgreSQL is still missing after installing it")?;
    let psql = bins
        .client("psql")
        .context("psql is still missing after installing PostgreSQL")?;
    Ok(Tools { wrk, bins, psql })
}

/// actix-ref's two release binaries.
struct Peer {
    hello: PathBuf,
    quotes: PathBuf,
}

/// Builds the peer outside our workspace, into a target directory of its own: its
/// dependencies are not ours, and neither is its lock file.
fn build_peer(root: &Path, dir: &Path) -> Result<Peer> {
    let target = target_dir(root).join("bench/actix-ref");
    cmd::stream(
        cmd::cargo()
            .current_dir(root)
            .args(["build", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target),
    )?;
    let release = target.join("release");
    Ok(Peer {
        hello: release.join("hello"),
        quotes: release.join("quotes"),
    })
}

/// Runs one configuration as a step; its failure is recorded and the bench goes on.
fn attempt(
    steps: &mut Steps,
    setup: Setup,
    measure: impl FnOnce() -> Result<Measured>,
) -> Measured {
    steps
        .run(&setup.name(), measure)
        .unwrap_or_else(|err| failed(setup, &format!("{err:#}")))
}

fn failed(setup: Setup, why: &str) -> Measured {
    Measured {
        setup,
        notes: Vec::new(),
        figures: Err(why.to_owned()),
    }
}

/// The throwaway cluster that the PostgreSQL configurations and the peer share: first with
/// 1,000 quotes, then with 1,000,000.
struct Database {
    _cluster: Throwaway,
    url: String,
    quotes: PathBuf,
    psql: PathBuf,
    /// Whether pg_stat_statements is there to count statements.
    counting: bool,
    notes: Vec<String>,
}

impl Database {
    fn start(tools: &Tools, quotes: &Path, file: &str, logs: &Path) -> Result<Database> {
        let mut cluster = Throwaway::start(&tools.bins, Some(logs.join("postgres.log")))?;
        let url = cluster.url();
        let psql = Psql {
            program: &tools.psql,
            url: url.clone(),
        };
        let mut notes = Vec::new();
        let counting = match count_statements(&mut cluster, &psql) {
            Ok(()) => true,
            Err(err) => {
                notes.push(format!("SQL statements were not counted: {err:#}"));
                false
            }
        };
        let mut db = Database {
            _cluster: cluster,
            url,
            quotes: quotes.to_path_buf(),
            psql: tools.psql.clone(),
            counting,
            notes,
        };
        db.run_quotes(&["migrate"])?;
        let started = Instant::now();
        db.run_quotes(&["load-quotes", file])?;
        let took = started.elapsed();
        println!("    loaded {K} quotes through `quotes load-quotes` in {took:.1?}");
        db.notes.push(format!(
            "Loaded the first {K} quotes through `quotes load-quotes` in {took:.1?}."
        ));
        Ok(db)
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("QUOTES_STORE".to_owned(), "postgres".to_owned()),
            ("DATABASE_URL".to_owned(), self.url.clone()),
        ]
    }

    fn psql(&self) -> Psql<'_> {
        Psql {
            program: &self.psql,
            url: self.url.clone(),
        }
    }

    fn run_quotes(&self, args: &[&str]) -> Result<()> {
        cmd::output(Command::new(&self.quotes).args(args).envs(self.env())).map(drop)
    }

    /// Adds rows in SQL up to `total` quotes and returns a line for the report. VACUUM
    /// rather than ANALYZE alone: it also sets the visibility map and the hint bits, which
    /// autovacuum and the first readers would otherwise do in the middle of a measurement.
    fn grow(&self, total: u64) -> Result<String> {
        let psql = self.psql();
        let before = psql.number("SELECT count(*) FROM quotes")?;
        let started = Instant::now();
        psql.run(&data::grow_sql(before + 1, total))
            .context("adding quotes in SQL")?;
        let inserted = started.elapsed();
        psql.run("VACUUM (ANALYZE) quotes")?;
        let took = started.elapsed();
        let count = psql.number("SELECT count(*) FROM quotes")?;
        if count != total {
            bail!("the quotes table holds {count} rows, not {total}");
        }
        let note = format!(
            "Added {} quotes in SQL in {} (INSERT … SELECT from generate_series {}, then VACUUM ANALYZE).",
            total - before,
            format_duration(took),
            format_duration(inserted)
        );
        println!("    {note}");
        Ok(note)
    }
}

/// Loads pg_stat_statements, which needs a restart, so that statements can be counted
/// around each wrk run.
fn count_statements(cluster: &mut Throwaway, psql: &Psql) -> Result<()> {
    psql.run("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")?;
    cluster.pause()?;
    cluster.resume()?;
    psql.run("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")?;
    statements(psql).map(drop)
}

/// Statements run so far in the cluster, the counting query's own left out.
fn statements(psql: &Psql) -> Result<u64> {
    psql.number(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements \
         WHERE query NOT LIKE '%pg_stat_statements%'",
    )
}

/// A server that is stopped when dropped, whatever happened.
struct Server {
    child: Child,
    base: String,
    startup: Duration,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = sys::terminate(self.child.id(), Duration::from_secs(10));
        let _ = self.child.wait();
    }
}

/// What every configuration shares: the tools, where logs go, how long to load.
struct Bench<'a> {
    wrk: &'a Path,
    quotes: &'a Path,
    logs: &'a Path,
    seconds: u64,
    runs: u32,
}

impl Bench<'_> {
    /// Our release binary in one configuration: `serve` with `env` and `args`, the cache as
    /// `setup` says, on every endpoint.
    fn ours(
        &self,
        setup: Setup,
        env: &[(String, String)],
        args: &[&str],
        stats: Option<&Psql>,
    ) -> Result<Measured> {
        let report::Who::Ours { cached, .. } = setup.who else {
            bail!("{} is not ours", setup.name());
        };
        let log = self.logs.join(format!("{}.log", setup.slug()));
        let start = |cache: Option<&str>| {
            self.spawn(&log, "/readyz", |port| {
                let mut c = Command::new(self.quotes);
                c.arg("serve")
                    .args(args)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("PORT", port.to_string())
                    .env("RUST_LOG", "warn");
                if let Some(backend) = cache {
                    c.env("QUOTES__CACHE__BACKEND", backend);
                }
                c
            })
        };
        let mut notes = Vec::new();
        let server = match start(Some(if cached { "memory" } else { "none" })) {
            Ok(server) => server,
            // An app without a cache may refuse the setting, and is then uncached anyway.
            Err(err) if !cached => {
                let server = start(None).context(format!("{err:#}"))?;
                notes.push(format!(
                    "started without QUOTES__CACHE__BACKEND=none, which it refused: {}",
                    first_line(&format!("{err:#}"))
                ));
                server
            }
            Err(err) => return Err(err),
        };
        let rss_ready_kib = status_kib(server.pid(), "VmRSS")?;
        let measures = self.load(&server, setup, &Endpoint::OURS, stats);
        let rss_peak_kib = status_kib(server.pid(), "VmHWM")?;
        Ok(Measured {
            setup,
            notes,
            figures: Ok(Figures {
                startup: server.startup,
                rss_ready_kib,
                rss_peak_kib,
                measures,
            }),
        })
    }

    /// actix-ref: `hello` on its `/`, then `quotes` on its `/quotes` against our database.
    /// Start-up and memory are those of `quotes`, the one that holds rows.
    fn peer(&self, peer: &Peer, url: &str, stats: Option<&Psql>) -> Result<Measured> {
        let setup = Setup::peer(K);
        let pg_env = data::libpq_env(url)?;
        let hello = self.spawn(&self.logs.join("actix-ref-hello.log"), "/healthz", |port| {
            let mut c = Command::new(&peer.hello);
            c.arg(port.to_string());
            c
        })?;
        let mut measures = self.load(&hello, setup, &[Endpoint::PeerHello], None);
        drop(hello);
        let quotes = self.spawn(
            &self.logs.join("actix-ref-quotes.log"),
            "/healthz",
            |port| {
                let mut c = Command::new(&peer.quotes);
                c.arg(port.to_string())
                    .envs(pg_env.iter().map(|(k, v)| (k, v)));
                c
            },
        )?;
        let rss_ready_kib = status_kib(quotes.pid(), "VmRSS")?;
        measures.extend(self.load(&quotes, setup, &[Endpoint::PeerQuotes], stats));
        let rss_peak_kib = status_kib(quotes.pid(), "VmHWM")?;
        Ok(Measured {
            setup,
            notes: vec!["start-up and RSS of its `quotes` server".to_owned()],
            figures: Ok(Figures {
                startup: quotes.startup,
                rss_ready_kib,
                rss_peak_kib,
                measures,
            }),
        })
    }

    /// Starts the command that `command` makes for a free port, its output into `log`, and
    /// waits until `ready` answers 200. A server that exits first fails at once, with the
    /// end of its log.
    fn spawn(&self, log: &Path, ready: &str, command: impl Fn(u16) -> Command) -> Result<Server> {
        let port = sys::pick_free_port()?;
        let out =
            fs::File::create(log).with_context(|| format!("could not create {}", log.display()))?;
        let mut command = command(port);
        let shown = cmd::display(&command);
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("could not start `{shown}`"))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            startup: Duration::ZERO,
        };
        let url = format!("{}{ready}", server.base);
        let agent = agent(Duration::from_secs(5));
        let deadline = started + READY_WITHIN;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "`{shown}` exited ({status}) before it was ready: {}",
                    tail(log, 5)
                );
            }
            if get(&agent, &url).is_ok_and(|status| status == 200) {
                server.startup = started.elapsed();
                return Ok(server);
            }
            if Instant::now() >= deadline {
                bail!(
                    "`{shown}` was not ready within {READY_WITHIN:?}: {}",
                    tail(log, 5)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Loads each endpoint in turn: one GET first (which must answer 200, and fills a cache),
    /// then wrk `runs` times, counting SQL statements around the runs when `stats` can.
    fn load(
        &self,
        server: &Server,
        setup: Setup,
        endpoints: &[Endpoint],
        stats: Option<&Psql>,
    ) -> Vec<Measure> {
        let agent = agent(Duration::from_secs(30));
        endpoints
            .iter()
            .map(|&endpoint| {
                let path = endpoint.path(setup.quotes);
                let url = format!("{}{path}", server.base);
                let mut statements = None;
                let load = (|| {
                    let status = get(&agent, &url).with_context(|| format!("GET {url}"))?;
                    if status != 200 {
                        bail!("GET {path} answered {status}");
                    }
                    let before = stats.map(statements_now).transpose()?;
                    let runs = (0..self.runs)
                        .map(|_| wrk::run(self.wrk, &url, self.seconds))
                        .collect::<Result<Vec<_>>>()?;
                    let after = stats.map(statements_now).transpose()?;
                    let load = wrk::median(&runs).context("no wrk run")?;
                    if let (Some(before), Some(after)) = (before, after) {
                        statements =
                            Some(after.saturating_sub(before) as f64 / load.requests as f64);
                    }
                    Ok(load)
                })()
                .map_err(|err: anyhow::Error| format!("{err:#}"));
                print_progress(setup, &path, &load, statements);
                Measure {
                    endpoint,
                    path,
                    load,
                    statements,
                }
            })
            .collect()
    }
}

fn statements_now(psql: &Psql) -> Result<u64> {
    statements(psql).context("counting SQL statements")
}

fn print_progress(
    setup: Setup,
    path: &str,
    load: &Result<wrk::Load, String>,
    statements: Option<f64>,
) {
    let name = setup.name();
    match load {
        Ok(l) => {
            let failed = match l.failures {
                0 => String::new(),
                n => format!("  {n} FAILED"),
            };
            let sql = statements.map_or(String::new(), |s| format!("  {s:.2} SQL/req"));
            println!(
                "    {name:<18} {path:<26} {:>9.0} req/s  p50 {:>8}  p99 {:>8}{sql}{failed}",
                l.requests_per_sec, l.p50, l.p99
            );
        }
        Err(why) => println!("    {name:<18} {path:<26} FAILED: {}", first_line(why)),
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A proxy from the environment has no business with our own loopback server.
        .proxy(None)
        .build()
        .into()
}

/// The status of a GET, its body read and dropped.
fn get(agent: &ureq::Agent, url: &str) -> Result<u16> {
    let mut response = agent.get(url).call()?;
    let _ = response.body_mut().read_to_vec();
    Ok(response.status().as_u16())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The last `n` lines of a server's log, on one line, for an error message.
fn tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => format!("{} is empty", log.display()),
        len => format!(
            "{} (the end of {})",
            lines[len.saturating_sub(n)..].join(" / "),
            log.display()
        ),
    }
}

/// A `/proc/<pid>/status` field in KiB, e.g. `VmRSS` (resident now) or `VmHWM` (its peak).
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status_kib(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_memory_from_proc_status() {
        let status = "Name:\tquotes\nVmHWM:\t   24576 kB\nVmRSS:\t   12288 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(12288));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(24576));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        let me = status_kib(std::process::id(), "VmRSS").unwrap();
        assert!(me > 0);
    }

    #[test]
    fn a_missing_default_peer_is_a_note_a_missing_named_one_an_error() {
        let nowhere = std::env::temp_dir().join(format!("xtask-no-peer-{}", std::process::id()));
        let found = find_peer(&nowhere, None).unwrap();
        assert!(found.unwrap_err().contains("is not there"));
        let err = find_peer(&nowhere, Some(&nowhere)).unwrap_err();
        assert!(err.to_string().contains("no Cargo.toml there"), "{err}");
    }

    #[test]
    fn failures_are_counted_by_configuration_and_endpoint() {
        let sample = report::tests::sample();
        assert_eq!(
            count_failures(&sample).as_deref(),
            Some("1 of 5 configurations and 0 endpoints could not be measured")
        );
        assert_eq!(count_failures(&sample[..2]), None);
    }
}
