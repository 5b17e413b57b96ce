//! `quotes`: serve the site and run management commands.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, FromArgMatches, Subcommand};
use cli::commands;
use cli::settings::{LogFormat, Settings};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;
use web::Component;

// The site's own commands; each component adds its own (see `cli::registry`).
#[derive(Subcommand)]
enum SiteCommand {
    /// Serve the site (PORT, DATABASE_URL, QUOTES_STORE and QUOTES__* configure it).
    Serve,
    /// Apply every component's pending database migrations.
    Migrate,
    /// Wait until the database accepts connections and its schema is current.
    WaitForDb {
        /// How long to wait, e.g. 30s, 2m.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Open psql on the configured database (the password goes in PGPASSWORD, never on the
    /// command line); arguments after `--` go to psql: `quotes dbshell -- -c 'select 1'`.
    Dbshell {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "PSQL_ARGS"
        )]
        args: Vec<String>,
    },
    /// Check the settings and the components; with --deploy also what is risky in
    /// production (exits non-zero on an error).
    Check {
        /// Also list the settings that are risky in production.
        #[arg(long)]
        deploy: bool,
    },
}

/// `quotes`, with the site's commands, then each component's, and the components' options
/// on `serve`.
fn command_line(installed: &[Box<dyn Component>]) -> clap::Command {
    let base = clap::Command::new("quotes")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Quotes: a web site of quotes, and its management commands")
        .subcommand_required(true)
        .arg_required_else_help(true);
    let base = SiteCommand::augment_subcommands(base);
    let serve_args: Vec<clap::Arg> = installed.iter().flat_map(|c| c.serve_args()).collect();
    let base = base.mut_subcommand("serve", |serve| serve.args(serve_args));
    base.subcommands(installed.iter().flat_map(|c| c.commands()))
}

/// The server logs to stdout, as a Twelve-Factor app does; a management command logs to
/// stderr so that its stdout stays its output (`quotes export-quotes > file`). What is logged
/// at WARN and ERROR while a request is served also goes with that request's error report,
/// when reports are on (see `web::reports`).
fn init_logging(settings: &Settings, to_stdout: bool) {
    use tracing_subscriber::prelude::*;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    let (writer, ansi) = if to_stdout {
        (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        )
    } else {
        (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        )
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(writer);
    let lines = match settings.log.format {
        LogFormat::Json => lines.json().boxed(),
        LogFormat::Text => lines.boxed(),
    };
    let breadcrumbs = web::sentry::integrations::tracing::BreadcrumbLayer::new().with_filter(
        tracing_subscriber::filter::filter_fn(|meta| {
            matches!(*meta.level(), tracing::Level::WARN | tracing::Level::ERROR)
        }),
    );
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(breadcrumbs)
        .init();
}

fn run(installed: Vec<Box<dyn Component>>, matches: &ArgMatches) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let (name, args) = matches.subcommand().expect("clap requires a subcommand");
    init_logging(&settings, name == "serve");
    if commands::owner_of(&installed, name).is_some() {
        return commands::cmd_component(&settings, &installed, name, args);
    }
    match SiteCommand::from_arg_matches(matches)? {
        // actix-web runs its own worker threads; this system only drives the server future.
        SiteCommand::Serve => {
            // Before the server starts, so that it reports; flushed when this guard drops.
            let _reports = commands::init_reports(&settings)?;
            actix_web::rt::System::new().block_on(commands::cmd_serve(
                settings,
                installed,
                args.clone(),
            ))
        }
        SiteCommand::Migrate => commands::cmd_migrate(&settings, &installed),
        SiteCommand::WaitForDb { timeout } => {
            commands::cmd_wait_for_db(&settings, &installed, timeout)
        }
        SiteCommand::Check { deploy } => commands::cmd_check(&settings, &installed, deploy),
        SiteCommand::Dbshell { args } => commands::cmd_dbshell(&settings, &args),
    }
}

fn main() -> ExitCode {
    let installed = cli::registry::installed();
    if let Err(e) = commands::check_commands(&installed) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let matches = command_line(&installed).get_matches();
    match run(installed, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

/// 98 (`EADDRINUSE`) when the port is held by another program, so that a supervisor can
/// tell "someone else has the port" from any other failure; 1 otherwise.
fn exit_code(e: &anyhow::Error) -> ExitCode {
    let in_use = e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    });
    if in_use {
        ExitCode::from(cli::commands::PORT_IN_USE)
    } else {
        ExitCode::FAILURE
    }
}
