//! `quotes`: serve the site and run management commands.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cli::commands;
use cli::settings::{LogFormat, Settings};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "quotes",
    version,
    about = "Quotes: a web site of quotes, and its management commands"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (PORT, DATABASE_URL, QUOTES_STORE and QUOTES__* configure it).
    Serve {
        /// Quotes files to load before serving (the memory store starts empty).
        #[arg(long = "load-quotes", value_name = "FILE")]
        load_quotes: Vec<PathBuf>,
    },
    /// Load quotes from files; quotes already there are left as they are.
    LoadQuotes {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write every quote in the quotes file format (to stdout without FILE).
    ExportQuotes { file: Option<PathBuf> },
    /// Apply pending database migrations.
    Migrate,
    /// Wait until the database accepts connections and its schema is current.
    WaitForDb {
        /// How long to wait, e.g. 30s, 2m.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

/// The server logs to stdout, as a Twelve-Factor app does; a management command logs to
/// stderr so that its stdout stays its output (`quotes export-quotes > file`).
fn init_logging(settings: &Settings, to_stdout: bool) {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    init_logging(&settings, matches!(args.command, Command::Serve { .. }));
    match args.command {
        // actix-web runs its own worker threads; this system only drives the server future.
        Command::Serve { load_quotes } => {
            actix_web::rt::System::new().block_on(commands::cmd_serve(settings, load_quotes))
        }
        Command::LoadQuotes { files } => commands::cmd_load_quotes(&settings, &files),
        Command::ExportQuotes { file } => commands::cmd_export_quotes(&settings, file.as_deref()),
        Command::Migrate => commands::cmd_migrate(&settings),
        Command::WaitForDb { timeout } => commands::cmd_wait_for_db(&settings, timeout),
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
