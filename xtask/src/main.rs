//! xtask: the project's automation (test, deploy, stop, status) as one Rust binary, run with `cargo xtask <task>`.
//!
//! Each task lives in its own module of the library (`lib.rs`); this file only parses the command line, finds the
//! workspace root and turns the task's result into an exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{deploy, project_root, steps, test};

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

#[derive(Subcommand)]
enum Task {
    /// Check formatting, lints and the tree's rules, then run every test suite against a
    /// throwaway PostgreSQL cluster and headless Chromium.
    Test,
    /// Build the release binary and (re)start it in the background on 127.0.0.1.
    Deploy {
        /// The port the server listens on.
        #[arg(long, default_value_t = 8000, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Stop the server that `deploy` started.
    Stop,
    /// Show the deployed release, its process and its /healthz answer.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = project_root();
    let result = match cli.task {
        Task::Test => test::run(&root),
        Task::Deploy { port } => deploy::deploy(&root, port),
        Task::Stop => deploy::stop(&root),
        Task::Status => deploy::status(&root),
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
