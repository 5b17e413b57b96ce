//! The harness: a `quotes` server, a chromedriver and a headless Chromium per scenario, the
//! evidence each scenario leaves in `target/acceptance/`, and cleanup that happens even when
//! a scenario panics.

use std::fmt::Display;
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Deserialize;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::extensions::query::ElementPollerWithTimeout;
use thirtyfour::prelude::*;
use thirtyfour::LoggingPrefsLogLevel;

/// How long a server or chromedriver may take to answer its readiness check.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `hook` waits for an element: pages here render on the server, so anything that
/// has not appeared by then is missing rather than slow.
const HOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a click may take to land on the next page.
const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(10);
/// A hung scenario fails with a message instead of hanging the whole run.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a process gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The backend a scenario runs on. A plain struct rather than an enum with a variant per
/// backend, so that a build with only one store feature has no variant it never builds.
pub struct Store {
    /// The `QUOTES_STORE` value that picks it.
    pub name: &'static str,
    /// A persistent store's database: its URL, and whatever keeps the database alive; that is
    /// dropped only after the server stops, so nothing of ours holds it open.
    pub database: Option<(String, Box<dyn std::any::Any + Send>)>,
}

impl Store {
    fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|(url, _)| url.as_str())
    }
}

/// The superuser every scenario's site has (name, password), made as an operator makes one.
pub const SUPERUSER: (&str, &str) = ("boss", "Tr0ub4dor&3-horse");

/// Quotes a scenario starts with.
#[derive(Debug, Clone, Copy)]
pub enum Fixture {
    /// A quotes file, relative to the workspace root.
    File(&'static str),
    /// One quote, written to a temporary quotes file as `text`, then `— author`.
    Quote {
        text: &'static str,
        author: &'static str,
    },
}

/// Runs `body` against a fresh server on `store` holding `fixtures`, in a fresh browser.
///
/// Saves a screenshot to `target/acceptance/<scenario>-<store>.png` either way, and one of
/// every other browser the body opened (`<scenario>-<store>-<name>.png`); when the body
/// panics (or takes longer than [`SCENARIO_TIMEOUT`]) also each browser's page source beside
/// its screenshot, and then panics with the body's message and the paths of everything saved.
pub async fn run<F, Fut>(store: Store, scenario: &str, fixtures: &[Fixture], body: F)
where
    F: FnOnce(Api, Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let evidence = Evidence::new(&format!("{scenario}-{}", store.name));
    // Before anything starts: a missing browser is the most likely failure on a new machine.
    let programs = BrowserPrograms::find();
    let app = App::start(store, fixtures, &evidence.server_log).await;
    let launcher = Arc::new(Launcher {
        programs,
        base: app.api.base.clone(),
        name: evidence.name.clone(),
        others: Mutex::new(Vec::new()),
    });
    let session = Session::open(&launcher, &evidence).await;
    let browser = session.browser.clone();

    // The body runs as its own task so that its panic comes back here as a value, while the
    // browser is still open to photograph the page it failed on.
    let mut task = tokio::spawn(body(app.api.clone(), browser.clone()));
    let failure = match tokio::time::timeout(SCENARIO_TIMEOUT, &mut task).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) if e.is_panic() => Some(panic_message(e.into_panic())),
        Ok(Err(e)) => Some(format!("the scenario did not finish: {e}")),
        Err(_) => {
            task.abort();
            Some(format!(
                "the scenario took longer than {SCENARIO_TIMEOUT:?}"
            ))
        }
    };

    // The other browsers first: their evidence goes into the report of a failure, and a
    // screenshot that cannot be saved fails a passing scenario only after all are closed.
    let others = launcher.close_others(failure.is_some()).await;
    // An open alert blocks screenshots; the scenario has already said whatever it had to.
    if failure.is_some() {
        let _ = browser.driver.dismiss_alert().await;
    }
    let screenshot = browser.driver.screenshot(&evidence.screenshot).await;
    let Some(failure) = failure else {
        let mut unsaved: Vec<String> = others.into_iter().filter_map(Result::err).collect();
        if let Err(e) = screenshot {
            unsaved.push(format!(
                "saving the screenshot {}: {e}",
                evidence.screenshot.display()
            ));
        }
        session.quit().await;
        app.stop().await;
        assert!(
            unsaved.is_empty(),
            "{}: {}",
            evidence.name,
            unsaved.join("; ")
        );
        return;
    };
    let screenshot = match screenshot {
        Ok(()) => evidence.screenshot.display().to_string(),
        Err(e) => format!("none ({e})"),
    };
    let source = match browser.driver.source().await {
        Ok(html) => match std::fs::write(&evidence.source, html) {
            Ok(()) => evidence.source.display().to_string(),
            Err(e) => format!("none (writing {}: {e})", evidence.source.display()),
        },
        Err(e) => format!("none ({e})"),
    };
    let page = browser
        .driver
        .current_url()
        .await
        .map_or_else(|e| format!("unknown ({e})"), |url| url.to_string());
    // Dropping these guards stops the browser, chromedriver and server before we panic.
    session.quit().await;
    drop(app);
    let others: String = others
        .into_iter()
        .map(|report| format!("\n  {}", report.unwrap_or_else(|e| e)))
        .collect();
    panic!(
        "scenario {} failed: {failure}\n  page:        {page}\n  screenshot:  {screenshot}\n  \
         page source: {source}\n  server log:  {}\n  driver log:  {}{others}",
        evidence.name,
        evidence.server_log.display(),
        evidence.driver_log.display(),
    );
}

/// What opening a browser takes, and the browsers a scenario opened besides the first
/// ([`Browser::open_another`]), which [`run`] photographs and closes with it.
struct Launcher {
    programs: BrowserPrograms,
    base: String,
    /// `<scenario>-<store>`, which every browser's evidence starts with.
    name: String,
    others: Mutex<Vec<(Session, Evidence)>>,
}

impl Launcher {
    /// Photographs every other browser (with its page source and address when the scenario
    /// failed) and closes it. Gives one line per browser for the report of a failure, or
    /// why its screenshot could not be saved.
    async fn close_others(&self, failed: bool) -> Vec<Result<String, String>> {
        let others = std::mem::take(&mut *self.others.lock().unwrap_or_else(|e| e.into_inner()));
        let mut reports = Vec::new();
        for (session, evidence) in others {
            let driver = &session.browser.driver;
            if failed {
                let _ = driver.dismiss_alert().await;
            }
            let shot = driver.screenshot(&evidence.screenshot).await;
            let report = if failed {
                let page = driver
                    .current_url()
                    .await
                    .map_or_else(|e| format!("unknown ({e})"), |url| url.to_string());
                let source = match driver.source().await {
                    Ok(html) => match std::fs::write(&evidence.source, html) {
                        Ok(()) => evidence.source.display().to_string(),
                        Err(e) => format!("none (writing {}: {e})", evidence.source.display()),
                    },
                    Err(e) => format!("none ({e})"),
                };
                let shot = shot.map_or_else(
                    |e| format!("none ({e})"),
                    |()| evidence.screenshot.display().to_string(),
                );
                Ok(format!(
                    "browser {}: page {page}, screenshot {shot}, page source {source}, \
                     driver log {}",
                    evidence.name,
                    evidence.driver_log.display()
                ))
            } else {
                shot.map(|()| evidence.name.clone()).map_err(|e| {
                    format!(
                        "saving the screenshot {}: {e}",
                        evidence.screenshot.display()
                    )
                })
            };
            reports.push(report);
            session.quit().await;
        }
        reports
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "the scenario panicked".to_owned())
}

use test_support::{free_port, workspace_root};

/// Where one scenario's files go.
struct Evidence {
    name: String,
    screenshot: PathBuf,
    source: PathBuf,
    server_log: PathBuf,
    driver_log: PathBuf,
}

impl Evidence {
    fn new(name: &str) -> Self {
        let dir = workspace_root().join("target/acceptance");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let evidence = Evidence {
            name: name.to_owned(),
            screenshot: dir.join(format!("{name}.png")),
            source: dir.join(format!("{name}.html")),
            server_log: dir.join(format!("{name}.server.log")),
            driver_log: dir.join(format!("{name}.chromedriver.log")),
        };
        // Files left by an earlier run must not pass for this run's evidence.
        for stale in [&evidence.screenshot, &evidence.source] {
            let _ = std::fs::remove_file(stale);
        }
        evidence
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped, so nothing outlives
/// a failing test.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `cmd` with its stdout and stderr appended to `log`.
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Self {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let err = out.try_clone().expect("duplicating a file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({:?}): {e}", cmd.get_program()));
        Process {
            name,
            child,
            log: log.to_owned(),
        }
    }

    /// Panics, naming the log, when the process has already exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); its log is {}",
                self.name,
                self.log.display()
            );
        }
    }

    /// Asks the process to stop and waits for it; kills it after [`STOP_GRACE`].
    fn stop(&mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        // std has no way to send SIGTERM, and the workspace forbids the unsafe that libc needs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().expect("waiting for a killed process")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `ready` until it says yes, failing when `process` exits or [`READY_TIMEOUT`] passes.
async fn wait_until_ready<F, Fut>(process: &mut Process, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        process.assert_running();
        if ready().await {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{what} was not ready within {READY_TIMEOUT:?}; its log is {}",
                process.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        // Everything here is on 127.0.0.1; a proxy from the environment must not see it.
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// A running `quotes serve`.
struct App {
    // Fields drop in order: the server stops before the database and the files go away.
    server: Process,
    api: Api,
    _store: Store,
    _files: tempfile::TempDir,
}

impl App {
    async fn start(store: Store, fixtures: &[Fixture], log: &Path) -> App {
        // Truncate: `Process::spawn` and the one-shot commands append.
        File::create(log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let files = tempfile::Builder::new()
            .prefix("quotes-acceptance-")
            .tempdir()
            .expect("a temporary directory");
        let files_to_load: Vec<PathBuf> = fixtures
            .iter()
            .enumerate()
            .map(|(i, fixture)| match fixture {
                Fixture::File(path) => workspace_root().join(path),
                Fixture::Quote { text, author } => {
                    let path = files.path().join(format!("fixture-{i}.txt"));
                    std::fs::write(&path, format!("{text}\n— {author}\n"))
                        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
                    path
                }
            })
            .collect();

        let port = free_port();
        let mut serve = quotes(&store);
        serve.arg("serve").env("PORT", port.to_string());
        if store.database.is_some() {
            // As an operator deploys: migrate, make the superuser, load, serve.
            let mut migrate = quotes(&store);
            migrate.arg("migrate");
            run_to_completion(migrate, log).await;
            if cfg!(feature = "accounts") {
                let mut superuser = quotes(&store);
                superuser.args(["createsuperuser", "--no-input"]);
                run_to_completion(superuser, log).await;
            }
            if !files_to_load.is_empty() {
                let mut load = quotes(&store);
                load.arg("load-quotes").args(&files_to_load);
                run_to_completion(load, log).await;
            }
        } else {
            // A store without a database lives in the serving process: only `serve` loads it.
            for file in &files_to_load {
                serve.arg("--load-quotes").arg(file);
            }
            if cfg!(feature = "accounts") {
                serve.arg("--create-superuser");
            }
        }
        let mut server = Process::spawn("quotes serve", &mut serve, log);
        let api = Api {
            base: format!("http://127.0.0.1:{port}"),
            http: http_client(),
        };
        let readyz = format!("{}/readyz", api.base);
        wait_until_ready(&mut server, &format!("quotes serve on port {port}"), || {
            let request = api.http.get(&readyz).send();
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        App {
            server,
            api,
            _store: store,
            _files: files,
        }
    }

    /// Stops the server with SIGTERM, as a deployment does, and checks that it exits cleanly.
    async fn stop(mut self) {
        let status = tokio::task::block_in_place(|| self.server.stop());
        assert!(
            status.success(),
            "quotes serve exited with {status} after SIGTERM; its log is {}",
            self.server.log.display()
        );
    }
}

/// `quotes` with a clean environment pointing at `store`, run from the workspace root.
fn quotes(store: &Store) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quotes"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("QUOTES_STORE", store.name)
        .env("QUOTES_SUPERUSER_USERNAME", SUPERUSER.0)
        .env("QUOTES_SUPERUSER_PASSWORD", SUPERUSER.1)
        .env("QUOTES_LOG_FORMAT", "text")
        // A clean stop needs no more than this; it bounds a hung one.
        .env("QUOTES__SERVER__SHUTDOWN_TIMEOUT_SECS", "5")
        .current_dir(workspace_root());
    if let Some(url) = store.database_url() {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Runs a one-shot command, appending its output to `log`; panics if it fails.
async fn run_to_completion(cmd: Command, log: &Path) {
    // Several commands share the log: each output is headed by what ran. Not `{cmd:?}`,
    // which would print DATABASE_URL and any password in it.
    let what = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    let mut record = format!("$ {what}\n").into_bytes();
    record.extend_from_slice(&output.stdout);
    record.extend_from_slice(&output.stderr);
    append(log, &record);
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn append(log: &Path, bytes: &[u8]) {
    use std::io::Write;
    File::options()
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap_or_else(|e| panic!("writing {}: {e}", log.display()));
}

/// The site as a program sees it: the JSON API, to check the browser against the store.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// A quote as `/api/quotes` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredQuote {
    pub id: u64,
    pub text: String,
    pub author: String,
    pub source: Option<String>,
}

impl Api {
    /// Every quote in the store, in the order the site lists them.
    pub async fn quotes(&self) -> Vec<StoredQuote> {
        #[derive(Deserialize)]
        struct ApiPage {
            items: Vec<StoredQuote>,
            total: u64,
        }
        let url = format!("{}/api/quotes?per_page=1000", self.base);
        let page: ApiPage = async {
            self.http
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await
        .unwrap_or_else(|e: reqwest::Error| panic!("GET {url}: {e}"));
        assert_eq!(
            page.items.len() as u64,
            page.total,
            "GET {url} gave one page of all quotes"
        );
        page.items
    }

    /// The HTTP status of GET `path`, which a browser does not show.
    pub async fn status(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.base);
        match self.http.get(&url).send().await {
            Ok(res) => res.status().as_u16(),
            Err(e) => panic!("GET {url}: {e}"),
        }
    }
}

/// Chromium and its chromedriver.
struct BrowserPrograms {
    chrome: PathBuf,
    chromedriver: PathBuf,
}

impl BrowserPrograms {
    fn find() -> Self {
        BrowserPrograms {
            chrome: program(
                "CHROME_BIN",
                &["chromium", "chromium-browser", "google-chrome"],
            ),
            chromedriver: program("CHROMEDRIVER_BIN", &["chromedriver"]),
        }
    }
}

/// Finds a program: `$var` when set, else the first of `names` on PATH. Panics with what to
/// install otherwise: a browser test must never pass without a browser.
fn program(var: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{var}={} does not exist; install it with `apt-get install chromium chromium-driver`",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{} is not on PATH and {var} is not set; install it with \
                 `apt-get install chromium chromium-driver` (or run `cargo xtask test`)",
                names.join(" or ")
            )
        })
}

/// Chromium's sandbox cannot start as root, and refuses to run at all unless told not to use it.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|uids| uids.split_whitespace().next().map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A chromedriver with one Chromium session on its own fresh profile.
struct Session {
    // Fields drop in order: the session, then chromedriver, then the profile directory.
    browser: Browser,
    _driver: Process,
    _profile: tempfile::TempDir,
}

impl Session {
    async fn open(launcher: &Arc<Launcher>, evidence: &Evidence) -> Session {
        let BrowserPrograms {
            chrome,
            chromedriver,
        } = &launcher.programs;
        let log = &evidence.driver_log;
        File::create(log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let port = free_port();
        let mut driver = Process::spawn(
            "chromedriver",
            Command::new(chromedriver).arg(format!("--port={port}")),
            log,
        );
        let server_url = format!("http://127.0.0.1:{port}");
        let http = http_client();
        let status = format!("{server_url}/status");
        wait_until_ready(&mut driver, &format!("chromedriver on port {port}"), || {
            let request = http.get(&status).send();
            async move {
                match request.await {
                    Ok(res) => res
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["value"]["ready"] == true),
                    Err(_) => false,
                }
            }
        })
        .await;

        let profile = tempfile::Builder::new()
            .prefix("quotes-acceptance-chromium-")
            .tempdir()
            .expect("a temporary profile directory");
        let mut caps = DesiredCapabilities::chrome();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // Without these Chromium keeps calling home, which a closed network punishes
            // with slow timeouts.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if running_as_root() {
            args.push("--no-sandbox".to_owned());
        }
        let configured = (|| -> WebDriverResult<()> {
            caps.set_binary(&chrome.to_string_lossy())?;
            for arg in &args {
                caps.add_arg(arg)?;
            }
            // Console errors are read back from the browser log.
            caps.set_browser_log_level(LoggingPrefsLogLevel::All)?;
            // An alert must stay open for a scenario to see it, not be dismissed silently.
            caps.set("unhandledPromptBehavior", "ignore")?;
            Ok(())
        })();
        configured.expect("valid Chromium capabilities");
        let driver_handle = WebDriver::builder(server_url.clone(), caps)
            .poller(Arc::new(ElementPollerWithTimeout::new(
                HOOK_TIMEOUT,
                Duration::from_millis(50),
            )))
            .request_timeout(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} through {}: {e}; chromedriver's log is {}",
                    chrome.display(),
                    chromedriver.display(),
                    log.display()
                )
            });
        Session {
            browser: Browser {
                driver: driver_handle,
                base: launcher.base.clone(),
                evidence: evidence.screenshot.with_extension(""),
                launcher: Arc::downgrade(launcher),
            },
            _driver: driver,
            _profile: profile,
        }
    }

    /// Ends the WebDriver session, which closes Chromium, before chromedriver is stopped.
    async fn quit(self) {
        if let Err(e) = self.browser.driver.clone().quit().await {
            eprintln!("warning: quitting the browser: {e}");
        }
    }
}

/// Panics with `what` and the WebDriver error.
fn must<T>(result: WebDriverResult<T>, what: impl Display) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The browser as a scenario drives it. Paths are relative to the server under test.
#[derive(Clone)]
pub struct Browser {
    driver: WebDriver,
    base: String,
    /// `target/acceptance/<scenario>-<store>`, to which screenshots add `-<label>.png`.
    evidence: PathBuf,
    /// Weak, as the launcher holds the other browsers: [`run`] owns it.
    launcher: Weak<Launcher>,
}

impl Browser {
    /// Opens another browser on the same site, with a fresh profile of its own: no cookies,
    /// so another person (or the same one on another device). Its evidence is named
    /// `<scenario>-<store>-<name>`; [`run`] photographs and closes it with the first
    /// browser, also when the scenario fails.
    pub async fn open_another(&self, name: &str) -> Browser {
        let launcher = self
            .launcher
            .upgrade()
            .expect("a browser is opened only while its scenario runs");
        let evidence = Evidence::new(&format!("{}-{name}", launcher.name));
        let session = Session::open(&launcher, &evidence).await;
        let browser = session.browser.clone();
        launcher
            .others
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((session, evidence));
        browser
    }

    /// Opens `path` as if typed into the address bar.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        must(self.driver.goto(&url).await, format_args!("opening {url}"));
    }

    /// Saves what the browser shows now as `<scenario>-<store>-<label>.png`, beside the
    /// screenshot every scenario leaves at its end: for a page the scenario moves on from.
    pub async fn screenshot(&self, label: &str) {
        let mut name = self.evidence.clone().into_os_string();
        name.push(format!("-{label}.png"));
        let path = PathBuf::from(name);
        must(
            self.driver.screenshot(&path).await,
            format_args!("saving {}", path.display()),
        );
    }

    /// The current address without the origin, e.g. `/quotes?page=2&per_page=5`.
    pub async fn path(&self) -> String {
        let url = must(self.driver.current_url().await, "reading the address");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The first element matching `css`, waiting briefly for it to appear.
    pub async fn hook(&self, css: &str) -> WebElement {
        let found = self.driver.query(By::Css(css)).first().await;
        match found {
            Ok(element) => element,
            Err(e) => self.missing(css, e).await,
        }
    }

    /// Every element matching `css`, waiting briefly for at least one.
    pub async fn hooks(&self, css: &str) -> Vec<WebElement> {
        let found = self
            .driver
            .query(By::Css(css))
            .all_from_selector_required()
            .await;
        match found {
            Ok(elements) => elements,
            Err(e) => self.missing(css, e).await,
        }
    }

    async fn missing(&self, css: &str, e: WebDriverError) -> ! {
        let page = self.path().await;
        if matches!(e.as_inner(), WebDriverErrorInner::NoSuchElement(_)) {
            panic!("nothing matches `{css}` on {page} (waited {HOOK_TIMEOUT:?})");
        }
        panic!("looking for `{css}` on {page}: {e}");
    }

    /// Types `text` into the first field matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.hook(css).await;
        must(field.clear().await, format_args!("clearing {css}"));
        must(
            field.send_keys(text).await,
            format_args!("typing into {css}"),
        );
    }

    /// Clicks the first element matching `css` (a checkbox, say) without waiting for a page.
    pub async fn click(&self, css: &str) {
        let element = self.hook(css).await;
        must(element.click().await, format_args!("clicking {css}"));
    }

    /// How many elements match `css` now, without waiting: for things that must be absent.
    pub async fn count(&self, css: &str) -> usize {
        must(
            self.driver.find_all(By::Css(css)).await,
            format_args!("looking for {css}"),
        )
        .len()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.hook(css).await;
        must(
            element.text().await,
            format_args!("reading the text of {css}"),
        )
    }

    /// A computed style of the first element matching `css` as the page's own scripts would
    /// see it, e.g. `rgb(255, 244, 214)`. (WebDriver's CSS value command rewrites colours as
    /// `rgba(…)`, which is not what a stylesheet author reads in the browser.)
    pub async fn style(&self, css: &str, property: &str) -> String {
        let element = self.hook(css).await;
        let what = format!("reading {property} of {css}");
        let args = vec![must(element.to_json(), &what), property.into()];
        let value = must(
            self.driver
                .execute(
                    "return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])",
                    args,
                )
                .await,
            &what,
        );
        value.json().as_str().unwrap_or_default().to_owned()
    }

    /// How many pixels the page is wider than the window (0 when nothing scrolls sideways).
    pub async fn overflow_x(&self) -> i64 {
        let value = must(
            self.driver
                .execute(
                    "const e = document.documentElement; return e.scrollWidth - e.clientWidth",
                    Vec::new(),
                )
                .await,
            "measuring the page's width",
        );
        value.json().as_i64().unwrap_or(i64::MAX)
    }

    /// What the first form field matching `css` holds now: for a textarea, whose text is
    /// what the page was sent with rather than what is in it.
    pub async fn value(&self, css: &str) -> String {
        let field = self.hook(css).await;
        must(
            field.value().await,
            format_args!("reading the value of {css}"),
        )
        .unwrap_or_default()
    }

    /// The HTTP status of the page the browser shows, as Navigation Timing reports it: for
    /// the answer to a form, which [`Api::status`] cannot ask for again.
    pub async fn status(&self) -> u16 {
        let value = must(
            self.driver
                .execute(
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     return n ? n.responseStatus : 0",
                    Vec::new(),
                )
                .await,
            "reading the page's HTTP status",
        );
        let status = value.json().as_u64().unwrap_or_default();
        u16::try_from(status)
            .ok()
            .filter(|s| *s != 0)
            .unwrap_or_else(|| panic!("the browser gives no HTTP status for {}", value.json()))
    }

    pub async fn title(&self) -> String {
        must(self.driver.title().await, "reading the title")
    }

    /// An attribute of the first element matching `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.hook(css).await;
        must(
            element.attr(name).await,
            format_args!("reading {name} of {css}"),
        )
    }

    /// Clicks the first element matching `css` and waits for the next page (which may have
    /// the same address, as a form posted back to itself); returns its path.
    pub async fn follow(&self, css: &str) -> String {
        let before = self.path().await;
        let page = must(
            self.driver.find(By::Tag("html")).await,
            format_args!("finding the page on {before}"),
        );
        let link = self.hook(css).await;
        must(
            link.click().await,
            format_args!("clicking {css} on {before}"),
        );
        let deadline = Instant::now() + NAVIGATION_TIMEOUT;
        loop {
            // The old page's root goes stale once the next page commits, before it has all
            // loaded; its address is read after that, never before.
            let replaced = !page.is_present().await.unwrap_or(false);
            if replaced && self.loaded().await {
                return self.path().await;
            }
            let now = self.path().await;
            assert!(
                Instant::now() < deadline,
                "clicking {css} on {before} did not load another page within \
                 {NAVIGATION_TIMEOUT:?} (the address is {now})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn loaded(&self) -> bool {
        let state = must(
            self.driver
                .execute("return document.readyState", Vec::new())
                .await,
            "reading document.readyState",
        );
        state.json() == "complete"
    }

    /// The text of the open alert, if one is open.
    pub async fn alert(&self) -> Option<String> {
        match self.driver.get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if matches!(e.as_inner(), WebDriverErrorInner::NoSuchAlert(_)) => None,
            Err(e) => panic!("asking for an alert: {e}"),
        }
    }

    /// The console's errors since the last call, each prefixed with the page it was read on.
    pub async fn console_errors(&self) -> Vec<String> {
        let page = self.path().await;
        let log = must(self.driver.browser_log().await, "reading the browser log");
        log.into_iter()
            .filter(|entry| entry.level == "SEVERE")
            .map(|entry| format!("{page}: {}", entry.message))
            .collect()
    }

    /// The quotes matching `css` (each a `figure.quote`), as the page shows them.
    pub async fn quotes(&self, css: &str) -> Vec<ShownQuote> {
        let mut shown = Vec::new();
        for figure in self.hooks(css).await {
            shown.push(ShownQuote::read(&figure).await);
        }
        shown
    }
}

/// A quote as the browser shows it.
#[derive(Debug, Clone)]
pub struct ShownQuote {
    pub id: u64,
    pub text: String,
    pub author: String,
    pub source: Option<String>,
    pub highlighted: bool,
    /// Elements inside the quote's text: markup typed into a quote must not become any.
    pub elements_in_text: usize,
}

impl ShownQuote {
    async fn read(figure: &WebElement) -> ShownQuote {
        let id =
            must(figure.attr("data-quote-id").await, "reading data-quote-id").unwrap_or_default();
        let id = id
            .parse()
            .unwrap_or_else(|_| panic!("data-quote-id is {id:?}, not a quote id"));
        let find = |css: &'static str| async move {
            must(
                figure.find(By::Css(css)).await,
                format_args!("finding {css} in quote {id}"),
            )
        };
        let text_element = find(".quote-text").await;
        let text = must(text_element.text().await, "reading a quote's text");
        let elements_in_text = must(
            text_element.find_all(By::Css("*")).await,
            "looking inside a quote's text",
        )
        .len();
        let author = must(
            find(".quote-author").await.text().await,
            "reading an author",
        );
        let source = match must(
            figure.find_all(By::Css(".quote-source")).await,
            "looking for a source",
        )
        .first()
        {
            Some(cite) => Some(must(cite.text().await, "reading a source")),
            None => None,
        };
        let class = must(figure.class_name().await, "reading a class").unwrap_or_default();
        ShownQuote {
            id,
            text,
            author,
            source,
            highlighted: class.split_whitespace().any(|c| c == "highlight"),
            elements_in_text,
        }
    }

    /// Checks that this is `stored`, word for word, as shown on `page`.
    pub fn assert_shows(&self, stored: &StoredQuote, page: &str) {
        assert_eq!(self.id, stored.id, "the quote shown on {page}");
        assert_eq!(
            (&self.text, &self.author, &self.source),
            (&stored.text, &stored.author, &stored.source),
            "quote {} on {page} as shown (left) and as stored (right)",
            self.id
        );
    }

    /// Finds this quote among `stored` and checks that it is shown as stored.
    pub fn assert_stored(&self, stored: &[StoredQuote], page: &str) {
        let Some(original) = stored.iter().find(|s| s.id == self.id) else {
            panic!("quote {} shown on {page} is not in the store", self.id);
        };
        self.assert_shows(original, page);
    }
}
