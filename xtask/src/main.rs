//! xtask: the project's automation (test, deploy and its companions) as one Rust binary, run with `cargo xtask <task>`.
//!
//! Each task lives in its own module of the library (`lib.rs`); this file only parses the command line, finds the
//! workspace root and turns the task's result into an exit code.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand, ValueEnum};
use xtask::{bench, deploy, project_root, scaffold, steps, test};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, test and deploy automation for quotes"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// Where a deployment lives; every deploy task takes it.
#[derive(Args)]
struct Place {
    /// The deploy directory: releases, logs, state, the PostgreSQL data [default: .deploy in
    /// the project].
    #[arg(long, env = "QUOTES_DEPLOY_DIR", value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreArg {
    /// PostgreSQL: DATABASE_URL when set, else a cluster that deploy manages itself.
    Postgres,
    /// No database: each process keeps its quotes in memory.
    Memory,
}

#[derive(Subcommand)]
enum Task {
    /// Check formatting, lints and the tree's rules, then run every test suite against a
    /// throwaway PostgreSQL cluster and headless Chromium, check the deploy files, and deploy
    /// end to end into a temporary directory.
    Test,
    /// Build, release and run the site on http://127.0.0.1:8000 on PostgreSQL; run again to
    /// redeploy (with nginx in front, one replica at a time, without downtime).
    Deploy {
        /// How many app processes; more than one puts nginx in front.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
        replicas: u16,
        /// nginx in front even of one replica, for zero-downtime redeploys.
        #[arg(long)]
        proxy: bool,
        /// Where the quotes live.
        #[arg(long, value_enum, default_value = "postgres")]
        store: StoreArg,
        /// The app's cache: none, in each process's memory, or one Redis that deploy runs
        /// beside the replicas (redis-server, on 127.0.0.1 with a generated password).
        #[arg(long, value_enum, default_value = "memory")]
        cache: deploy::Cache,
        /// Deploy with deploy/compose.yaml instead (needs a running Docker engine).
        #[arg(long)]
        docker: bool,
        /// The public port, on 127.0.0.1.
        #[arg(long, default_value_t = 8000, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// The port of the managed PostgreSQL (127.0.0.1) [default: kept from the last deploy,
        /// else a free one].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        db_port: Option<u16>,
        #[command(flatten)]
        place: Place,
    },
    /// Start the previous release again, the same rolling way as deploy.
    Rollback {
        #[command(flatten)]
        place: Place,
    },
    /// Start what the last deploy left running (after `stop` or a reboot): the database, the
    /// cache's Redis, the current release's replicas and nginx, with the kept settings; builds
    /// nothing.
    Start {
        #[command(flatten)]
        place: Place,
    },
    /// Show the release, its commit, the processes, ports and health.
    Status {
        #[command(flatten)]
        place: Place,
    },
    /// Show the deployed app's logs (or nginx's, PostgreSQL's, Redis's, ...).
    Logs {
        /// Which log.
        #[arg(value_enum, default_value = "app")]
        which: deploy::LogKind,
        /// Keep printing new lines as they come (Ctrl-C ends).
        #[arg(short, long)]
        follow: bool,
        /// How many lines from the end to show first.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        #[command(flatten)]
        place: Place,
    },
    /// Stop the app, nginx, Redis and PostgreSQL that deploy started; data and releases stay.
    Stop {
        #[command(flatten)]
        place: Place,
    },
    /// Package the release binary for a production host in target/dist/: an archive (binary,
    /// config, systemd units, README) and a Debian package that installs them and a system user.
    Dist,
    /// Measure the release binary side by side with actix-ref (a plain actix-web server) in
    /// one run: PostgreSQL uncached and cached at 1,000 and 1,000,000 quotes, the memory store,
    /// with wrk on 127.0.0.1; writes target/bench/report.md (ratios against their targets) and
    /// target/bench/chart.svg. Measured, never asserted.
    Bench {
        /// How long each wrk run loads one endpoint.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
        seconds: u64,
        /// How many wrk runs per endpoint; the report gives their median.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
        runs: u32,
        /// actix-ref's directory [default: ../shared/bench/actix-ref beside the project,
        /// skipped with a note when absent].
        #[arg(long, value_name = "DIR")]
        peer: Option<PathBuf>,
    },
    /// Write a working component crate (page, API, command, settings, store on memory and
    /// PostgreSQL with a migration, contract suite, tests, a browser scenario) and register
    /// it; `cargo xtask test` passes without a hand edit.
    NewComponent {
        /// Lowercase letters and digits: its crate, feature, URL prefix, settings section.
        name: String,
    },
    /// Only the `new component` step of `test`: scaffold into a copy and test it there
    /// (needs TEST_DATABASE_URL, CHROME_BIN and CHROMEDRIVER_BIN).
    #[command(hide = true)]
    CheckNewComponent,
    /// Only the `deploy end to end` step of `test`.
    #[command(hide = true)]
    CheckDeploy,
    /// Only the `package` step of `test`.
    #[command(hide = true)]
    CheckPackage,
    /// Run a quotes management command against the deployed site, with its settings:
    /// `cargo xtask manage load-quotes my-quotes.txt`.
    Manage {
        #[command(flatten)]
        place: Place,
        /// The quotes subcommand and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        args: Vec<String>,
    },
}

fn new_component(root: &std::path::Path, name: &str) -> anyhow::Result<()> {
    for path in scaffold::new_component(root, name)? {
        let shown = path.strip_prefix(root).unwrap_or(&path);
        println!("    wrote {}", shown.display());
    }
    println!(
        "the {name} component is registered: `cargo run -p cli -- serve` serves /{name}, \
         `cargo xtask test` tests it; docs/components.md says what to change next"
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = project_root();
    let result = match cli.task {
        Task::Test => test::run(&root),
        Task::Deploy {
            replicas,
            proxy,
            store,
            cache,
            docker,
            port,
            db_port,
            place,
        } => {
            let options = deploy::Options {
                replicas: usize::from(replicas),
                proxy,
                memory: matches!(store, StoreArg::Memory),
                cache,
                docker,
                port,
                db_port,
            };
            deploy::deploy(&root, place.dir.as_deref(), &options)
        }
        Task::Rollback { place } => deploy::rollback(&root, place.dir.as_deref()),
        Task::Start { place } => deploy::start(&root, place.dir.as_deref()),
        Task::Status { place } => deploy::status(&root, place.dir.as_deref()),
        Task::Logs {
            which,
            follow,
            lines,
            place,
        } => deploy::logs(&root, place.dir.as_deref(), which, lines, follow),
        Task::Stop { place } => deploy::stop(&root, place.dir.as_deref()),
        Task::Dist => xtask::dist::run(&root),
        Task::Bench {
            seconds,
            runs,
            peer,
        } => bench::run(
            &root,
            &bench::Options {
                seconds,
                runs,
                peer,
            },
        ),
        Task::Manage { place, args } => deploy::manage(&root, place.dir.as_deref(), &args),
        Task::NewComponent { name } => new_component(&root, &name),
        Task::CheckDeploy => xtask::e2e::run(&root),
        Task::CheckPackage => xtask::dist::check(&root),
        Task::CheckNewComponent => {
            let env: Vec<(&str, std::ffi::OsString)> =
                ["TEST_DATABASE_URL", "CHROME_BIN", "CHROMEDRIVER_BIN"]
                    .into_iter()
                    .filter_map(|k| Some((k, std::env::var_os(k)?)))
                    .collect();
            let env: Vec<(&str, &std::ffi::OsStr)> =
                env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
            scaffold::check(&root, &env)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A task that ran steps has already printed its failure in the summary line.
            if !err.is::<steps::Reported>() {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn deploy_cache(args: &[&str]) -> Option<deploy::Cache> {
        let cli = Cli::try_parse_from(["cargo xtask", "deploy"].iter().chain(args)).ok()?;
        match cli.task {
            Task::Deploy { cache, .. } => Some(cache),
            _ => None,
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn deploy_caches_in_memory_unless_told() {
        assert_eq!(deploy_cache(&[]), Some(deploy::Cache::Memory));
        assert_eq!(
            deploy_cache(&["--cache", "redis"]),
            Some(deploy::Cache::Redis)
        );
        assert_eq!(
            deploy_cache(&["--cache", "none"]),
            Some(deploy::Cache::None)
        );
        assert_eq!(deploy_cache(&["--cache", "disk"]), None);
    }
}
