//! xtask: the project's automation (test, deploy, stop, status) as one Rust binary, run with `cargo xtask <task>`.
//!
//! Each task lives in its own module; this file only parses the command line, finds the
//! workspace root and turns the task's result into an exit code.

mod cmd;
mod deploy;
mod pg;
mod preflight;
mod steps;
mod sys;
mod test;
mod tidy;

use std::{
    env,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

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

/// The workspace root: xtask's own manifest directory is one level below it.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` the way cargo does.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Where xtask keeps its own logs, inside the target directory so `cargo clean` removes them.
fn xtask_dir(root: &Path) -> PathBuf {
    target_dir(root).join("xtask")
}
