//! The site's own commands (`serve`, `migrate`, `wait-for-db`) and the dispatch of the
//! components' commands (Django's `manage.py` commands).

use std::net::{TcpListener, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use web::clap::parser::ValueSource;
use web::clap::ArgMatches;
use web::{CommandContext, Component, ServerOptions, Site};

use crate::settings::Settings;
use crate::stores::{self, OpenBackend};

/// The commands the binary has whatever its components.
pub const SITE_COMMANDS: [&str; 5] = ["serve", "migrate", "wait-for-db", "check", "help"];

/// How to make a secret key, for messages.
const MAKE_A_KEY: &str = "e.g. QUOTES__SECRET_KEY=$(openssl rand -hex 32)";

/// Whether a secret key is an example's placeholder rather than a secret.
fn is_placeholder(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("change-me") || key.contains("changeme") || key.contains("insecure")
}

/// Production serves only with a real secret key (commands such as `migrate` sign nothing
/// and run without one).
fn check_serving_key(settings: &Settings) -> anyhow::Result<()> {
    if !settings.is_production() {
        return Ok(());
    }
    if settings.secret_key.is_empty() {
        bail!(
            "QUOTES_ENV=production needs a secret key: set QUOTES__SECRET_KEY (or SECRET_KEY) to 32 or more random bytes, {MAKE_A_KEY}"
        );
    }
    if is_placeholder(&settings.secret_key) {
        bail!("the secret key is an example's placeholder: set a random one, {MAKE_A_KEY}");
    }
    Ok(())
}

/// The secret key, the trusted proxies and the cookie policy from the settings; without a
/// key, a random one serves this process.
pub fn security(settings: &Settings) -> anyhow::Result<web::Security> {
    let key = if settings.secret_key.is_empty() {
        web::SecretKey::random()
    } else {
        web::SecretKey::new(settings.secret_key.as_bytes())
            .with_context(|| format!("secret_key is too short; {MAKE_A_KEY}"))?
    };
    Ok(web::Security {
        key,
        trusted_proxies: settings.trusted_proxies()?,
        secure_cookies: settings.server.secure_cookies,
    })
}

/// Checks that no two components (or a component and the site) add one command or one
/// `serve` option, so that clap never sees a duplicate.
pub fn check_commands(installed: &[Box<dyn Component>]) -> anyhow::Result<()> {
    let mut commands: Vec<(String, String)> = SITE_COMMANDS
        .iter()
        .map(|c| ((*c).to_owned(), "the site".to_owned()))
        .collect();
    let mut options: Vec<(String, String)> = ["help", "version"]
        .iter()
        .map(|o| ((*o).to_owned(), "the site".to_owned()))
        .collect();
    for component in installed {
        let this = format!("the {} component", component.name());
        for command in component.commands() {
            let name = command.get_name().to_owned();
            if let Some((_, owner)) = commands.iter().find(|(n, _)| *n == name) {
                bail!("{owner} and {this} both add the command {name}");
            }
            commands.push((name, this.clone()));
        }
        for arg in component.serve_args() {
            let names = [Some(arg.get_id().as_str()), arg.get_long()];
            for name in names.into_iter().flatten() {
                if let Some((_, owner)) = options.iter().find(|(n, _)| n == name) {
                    bail!("{owner} and {this} both add the option --{name} to serve");
                }
            }
            options.push((arg.get_id().as_str().to_owned(), this.clone()));
            if let Some(long) = arg.get_long() {
                if long != arg.get_id().as_str() {
                    options.push((long.to_owned(), this.clone()));
                }
            }
        }
    }
    Ok(())
}

/// The component that adds the command `name`, if any.
pub fn owner_of<'a>(installed: &'a [Box<dyn Component>], name: &str) -> Option<&'a dyn Component> {
    installed
        .iter()
        .find(|c| c.commands().iter().any(|cmd| cmd.get_name() == name))
        .map(|c| &**c)
}

/// Settings → backend → every enabled component started, in registry order. Connects to
/// nothing; a PostgreSQL store registers its migrations as it starts.
pub fn assemble(
    settings: &Settings,
    installed: &[Box<dyn Component>],
) -> anyhow::Result<(Site, OpenBackend)> {
    for (name, on) in &settings.components {
        if !installed.iter().any(|c| c.name() == name) {
            // One settings file may serve builds with and without a component.
            if !on {
                tracing::warn!(component = %name, "[components] switches off a component this build does not have");
                continue;
            }
            let have: Vec<_> = installed.iter().map(|c| c.name()).collect();
            bail!(
                "[components] names {name}, which this build does not have (it has: {})",
                if have.is_empty() {
                    "none".to_owned()
                } else {
                    have.join(", ")
                }
            );
        }
    }
    let backend = stores::open(settings)?;
    let mut site = Site::new(crate::build_info())
        .backend(backend.kind)
        .settings(settings.layered.clone())
        .security(security(settings)?);
    backend.provide_to(&mut site);
    for component in installed {
        if settings.component_enabled(component.name()) {
            site.start(&**component)?;
        }
    }
    if !settings.server.templates_dir.is_empty() {
        override_templates(&mut site, Path::new(&settings.server.templates_dir))?;
    }
    // A broken template stops start-up here, before anything waits for a database.
    site.check_templates()?;
    Ok((site, backend))
}

/// Every file under `dir` replaces the template of the same relative name.
fn override_templates(site: &mut Site, dir: &Path) -> anyhow::Result<()> {
    fn walk(site: &mut Site, root: &Path, dir: &Path) -> anyhow::Result<()> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("server.templates_dir: reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                walk(site, root, &path)?;
                continue;
            }
            let name = path
                .strip_prefix(root)
                .expect("walked from the root")
                .to_string_lossy()
                .into_owned();
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("server.templates_dir: reading {}", path.display()))?;
            site.override_template(name, source);
        }
        Ok(())
    }
    walk(site, dir, dir)
}

fn wait_for(settings: &Settings, backend: &OpenBackend) -> impl Fn() -> anyhow::Result<()> {
    let timeout = settings.database.wait_timeout();
    let backend = backend.clone();
    move || backend.wait_until_ready(timeout)
}

/// Runs a component's command: `quotes load-quotes FILE`.
pub fn cmd_component(
    settings: &Settings,
    installed: &[Box<dyn Component>],
    name: &str,
    args: &ArgMatches,
) -> anyhow::Result<()> {
    let owner = owner_of(installed, name).expect("clap accepts only known commands");
    if !settings.component_enabled(owner.name()) {
        bail!(
            "{name} belongs to the {0} component, which the settings switch off ([components] {0} = false)",
            owner.name()
        );
    }
    let (site, backend) = assemble(settings, installed)?;
    let wait = wait_for(settings, &backend);
    let ctx = CommandContext::new(backend.kind, &wait);
    site.component(owner.name())
        .expect("an enabled component has started")
        .run_command(name, args, &ctx)
}

/// One finding of `quotes check --deploy`.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub error: bool,
    pub message: String,
    pub hint: &'static str,
}

/// Django's `check --deploy`: the settings that are risky in production.
pub fn deploy_findings(settings: &Settings) -> Vec<Finding> {
    let mut found = Vec::new();
    let key = settings.secret_key.as_bytes();
    let distinct = key.iter().collect::<std::collections::HashSet<_>>().len();
    if is_placeholder(&settings.secret_key) {
        found.push(Finding {
            id: "quotes.E003",
            error: true,
            message: "the secret key is an example's placeholder, which anyone can read".into(),
            hint: "set a random one: openssl rand -hex 32",
        });
    }
    if key.is_empty() {
        found.push(Finding {
            id: "quotes.E001",
            error: true,
            message: "no secret key is set: sign-ins would end at every restart and hold on no other replica".into(),
            hint: "set QUOTES__SECRET_KEY (or SECRET_KEY) to 32 or more random bytes: openssl rand -hex 32",
        });
    } else if key.len() < 50 || distinct < 5 {
        found.push(Finding {
            id: "quotes.W001",
            error: key.len() < web::security::MIN_SECRET_KEY_BYTES,
            message: format!(
                "the secret key has {} bytes and {distinct} different ones; short or repetitive keys are guessable",
                key.len(),
            ),
            hint: "use 50 or more random characters: openssl rand -hex 32",
        });
    }
    if !settings.server.secure_cookies {
        found.push(Finding {
            id: "quotes.W002",
            error: false,
            message: "cookies are sent without Secure: a session can leak over plain HTTP".into(),
            hint: "serve over HTTPS and set QUOTES__SERVER__SECURE_COOKIES=true (config/production.toml does)",
        });
    }
    let loopback = settings
        .server
        .host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || settings.server.host == "localhost";
    if !loopback && settings.server.trusted_proxies.is_empty() {
        found.push(Finding {
            id: "quotes.W003",
            error: false,
            message: format!(
                "the app listens on {} with no trusted proxy: client addresses (login throttling) come from the peer",
                settings.server.host
            ),
            hint: "put nginx in front and set QUOTES__SERVER__TRUSTED_PROXIES to its address, or bind 127.0.0.1",
        });
    }
    if let Err(e) = settings.trusted_proxies() {
        found.push(Finding {
            id: "quotes.E002",
            error: true,
            message: format!("{e:#}"),
            hint:
                "list IP addresses, separated by commas: QUOTES__SERVER__TRUSTED_PROXIES=127.0.0.1",
        });
    }
    if settings.store_kind() == crate::settings::StoreKind::Memory {
        found.push(Finding {
            id: "quotes.W004",
            error: false,
            message:
                "the memory store keeps nothing across restarts and shares nothing between replicas"
                    .into(),
            hint: "set DATABASE_URL to use PostgreSQL",
        });
    }
    found
}

/// `quotes check [--deploy]`: exits non-zero when a finding is an error.
pub fn cmd_check(
    settings: &Settings,
    installed: &[Box<dyn Component>],
    deploy: bool,
) -> anyhow::Result<()> {
    let mut findings = Vec::new();
    // The site must assemble (settings, components, templates) whatever else is found.
    if let Err(e) = assemble(settings, installed) {
        findings.push(Finding {
            id: "quotes.E000",
            error: true,
            message: format!("{e:#}"),
            hint: "the message names the setting or component at fault",
        });
    }
    if deploy {
        findings.extend(deploy_findings(settings));
    }
    for f in &findings {
        println!(
            "{}: {} {}
    hint: {}",
            f.id,
            if f.error { "error:" } else { "warning:" },
            f.message,
            f.hint
        );
    }
    let errors = findings.iter().filter(|f| f.error).count();
    println!(
        "check identified {} issue{} ({errors} error{})",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" }
    );
    if errors > 0 {
        bail!(
            "{errors} check error{} found",
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

pub fn cmd_migrate(settings: &Settings, installed: &[Box<dyn Component>]) -> anyhow::Result<()> {
    let (_site, backend) = assemble(settings, installed)?;
    if !backend.kind.is_persistent() {
        println!("the memory store has no schema: nothing to migrate");
        return Ok(());
    }
    let applied = backend.migrate()?;
    if applied.is_empty() {
        println!("no migrations to apply: the schema is current");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

/// `quotes dbshell`: replaces this process with psql on the configured database, so that
/// psql has the terminal and its signals to itself.
pub fn cmd_dbshell(settings: &Settings, args: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let mut psql = stores::psql(settings)?;
    psql.args(args);
    let err = psql.exec();
    Err(anyhow::Error::new(err).context(format!(
        "could not run {}",
        psql.get_program().to_string_lossy()
    )))
}

pub fn cmd_wait_for_db(
    settings: &Settings,
    installed: &[Box<dyn Component>],
    timeout: Duration,
) -> anyhow::Result<()> {
    let (_site, backend) = assemble(settings, installed)?;
    if !backend.kind.is_persistent() {
        println!("the memory store needs no database");
        return Ok(());
    }
    backend.wait_until_ready(timeout)?;
    println!("database is ready");
    Ok(())
}

/// Runs the server until a signal: after SIGTERM in-flight requests drain; Ctrl-C stops at
/// once. Every component prepares (e.g. `--load-quotes`) and the backend is ready before the
/// server binds.
pub async fn cmd_serve(
    settings: Settings,
    installed: Vec<Box<dyn Component>>,
    args: ArgMatches,
) -> anyhow::Result<()> {
    check_serving_key(&settings)?;
    if settings.metrics()?.is_some() {
        // Now, so that what the database layer reports while the site starts counts too.
        web::metrics::install().map_err(anyhow::Error::msg)?;
    }
    for component in &installed {
        if settings.component_enabled(component.name()) {
            continue;
        }
        for arg in component.serve_args() {
            if args.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
                bail!(
                    "--{} belongs to the {1} component, which the settings switch off ([components] {1} = false)",
                    arg.get_long().unwrap_or(arg.get_id().as_str()),
                    component.name()
                );
            }
        }
    }
    let prepared = {
        let settings = settings.clone();
        actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<(Site, OpenBackend)> {
            let (site, backend) = assemble(&settings, &installed)?;
            let wait = wait_for(&settings, &backend);
            let ctx = CommandContext::new(backend.kind, &wait);
            for name in site.names() {
                let part = site.component(name).expect("named by the site");
                // Its own errors name what is at fault (a quotes file's line, say).
                part.prepare(&args, &ctx)?;
            }
            wait()?;
            Ok((site, backend))
        })
        .await??
    };
    let (site, backend) = prepared;
    if settings.secret_key.is_empty() {
        tracing::warn!("no secret key is set: sign-ins end with this process and hold on no other replica; set QUOTES__SECRET_KEY");
    }
    let (host, port) = (settings.server.host.as_str(), settings.server.port);
    let listener = listen(host, port, settings.server.reuse_port)
        .with_context(|| format!("binding {host}:{port}"))?;
    let local = listener.local_addr()?;
    let metrics = settings.metrics()?;
    let metrics_listener = match (&metrics, settings.metrics.port) {
        (Some(_), port) if port != 0 => Some(std::sync::Arc::new(
            listen(host, port, settings.server.reuse_port)
                .with_context(|| format!("binding {host}:{port} for /metrics"))?,
        )),
        _ => None,
    };
    let names = site.names().join(", ");
    let options = ServerOptions {
        workers: settings.server.workers,
        shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        metrics,
        metrics_listener,
    };
    let server = web::serve(listener, site, &options)?;
    tracing::info!(store = %backend.kind, components = %names, "listening on http://{local}");
    let ready = ReadyFile::write(&settings.server.ready_file, local)?;
    server.await?;
    drop(ready);
    tracing::info!("stopped");
    Ok(())
}

/// Error reports to Sentry when `SENTRY_DSN` is set (see `web::reports`): released as the
/// commit, in the environment `SENTRY_ENVIRONMENT` names, else `QUOTES_ENV`, else
/// `development`. A DSN that cannot be read stops the server with the reason.
pub fn init_reports(settings: &Settings) -> anyhow::Result<Option<web::sentry::ClientInitGuard>> {
    let dsn = settings.sentry.dsn.trim();
    if dsn.is_empty() {
        return Ok(None);
    }
    let dsn: web::sentry::types::Dsn = dsn
        .parse()
        .map_err(|e| anyhow::anyhow!("SENTRY_DSN (sentry.dsn) is not a DSN: {e}"))?;
    let environment = Some(settings.sentry.environment.trim())
        .filter(|e| !e.is_empty())
        .or(settings.env.as_deref())
        .unwrap_or("development")
        .to_owned();
    let options = web::reports::client_options(dsn, crate::build_info().commit, environment);
    Ok(Some(web::sentry::init(options)))
}

/// The exit code of `quotes serve` when its port is held by another program (`EADDRINUSE`).
pub const PORT_IN_USE: u8 = 98;

/// A listening socket on `host:port`; with `reuse_port`, one that another process of the same
/// user may listen on beside it (SO_REUSEPORT): the kernel shares new connections between
/// them, so a new release takes over before the old one stops accepting.
pub fn listen(host: &str, port: u16, reuse_port: bool) -> anyhow::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{host} names no address"))?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does: a restarted server may bind while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    // actix's own default backlog.
    socket.listen(2048)?;
    Ok(socket.into())
}

/// `server.ready_file`: written (atomically) once the server listens, removed when it stops.
struct ReadyFile(Option<std::path::PathBuf>);

impl ReadyFile {
    fn write(path: &str, addr: std::net::SocketAddr) -> anyhow::Result<ReadyFile> {
        if path.is_empty() {
            return Ok(ReadyFile(None));
        }
        let path = std::path::PathBuf::from(path);
        let partial = path.with_extension("partial");
        std::fs::write(&partial, format!("{}\n{addr}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("server.ready_file: could not write {}", path.display()))?;
        Ok(ReadyFile(Some(path)))
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use web::clap::{Arg, Command};
    use web::{Context, Running};

    use super::*;

    /// A component that adds what the test gives it, and never starts.
    struct Adds(&'static str, Vec<Command>, Vec<Arg>);

    impl Component for Adds {
        fn name(&self) -> &'static str {
            self.0
        }
        fn commands(&self) -> Vec<Command> {
            self.1.clone()
        }
        fn serve_args(&self) -> Vec<Arg> {
            self.2.clone()
        }
        fn start(&self, _: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
            anyhow::bail!("not for this test")
        }
    }

    fn check(components: Vec<Adds>) -> Result<(), String> {
        let installed: Vec<Box<dyn Component>> = components
            .into_iter()
            .map(|c| Box::new(c) as Box<dyn Component>)
            .collect();
        check_commands(&installed).map_err(|e| e.to_string())
    }

    #[test]
    fn a_command_or_serve_option_added_twice_names_both_owners() {
        let cmd = |n: &'static str| Command::new(n);
        let opt = |n: &'static str| Arg::new(n).long(n);
        assert_eq!(
            check(vec![Adds("one", vec![cmd("migrate")], vec![])]),
            Err("the site and the one component both add the command migrate".into())
        );
        assert_eq!(
            check(vec![
                Adds("one", vec![cmd("import")], vec![]),
                Adds("two", vec![cmd("import")], vec![]),
            ]),
            Err("the one component and the two component both add the command import".into())
        );
        assert_eq!(
            check(vec![
                Adds("one", vec![], vec![opt("load")]),
                Adds("two", vec![], vec![opt("load")]),
            ]),
            Err(
                "the one component and the two component both add the option --load to serve"
                    .into()
            )
        );
        assert_eq!(
            check(vec![Adds("one", vec![], vec![opt("help")])]),
            Err("the site and the one component both add the option --help to serve".into())
        );
        assert!(check(vec![
            Adds("one", vec![cmd("a")], vec![opt("x")]),
            Adds("two", vec![cmd("b")], vec![opt("y")]),
        ])
        .is_ok());
    }

    #[test]
    fn a_second_server_shares_a_port_only_when_both_reuse_it() {
        let first = listen("127.0.0.1", 0, true).unwrap();
        let port = first.local_addr().unwrap().port();
        let second = listen("127.0.0.1", port, true).expect("both reuse the port");
        assert_eq!(second.local_addr().unwrap().port(), port);
        let err = listen("127.0.0.1", port, false).unwrap_err();
        assert!(
            err.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse),
            "{err:#}"
        );
        let plain = listen("127.0.0.1", 0, false).unwrap();
        let taken = plain.local_addr().unwrap().port();
        assert!(
            listen("127.0.0.1", taken, true).is_err(),
            "a port held without reuse is not shared"
        );
    }
}
