//! The quotes component's management commands (`load-quotes`, `export-quotes`) and
//! `serve --load-quotes`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use quotes_core::{quotes_file, NewQuote, PageRequest, QuoteStore, MAX_PER_PAGE};
use web::clap::{value_parser, Arg, ArgAction, ArgMatches, Command};
use web::CommandContext;

use crate::State;

pub(crate) fn definitions() -> Vec<Command> {
    vec![
        Command::new("load-quotes")
            .about("Load quotes from files; quotes already there are left as they are")
            .arg(
                Arg::new("files")
                    .value_name("FILE")
                    .required(true)
                    .num_args(1..)
                    .value_parser(value_parser!(PathBuf)),
            ),
        Command::new("export-quotes")
            .about("Write every quote in the quotes file format (to stdout without FILE)")
            .arg(
                Arg::new("file")
                    .value_name("FILE")
                    .value_parser(value_parser!(PathBuf)),
            ),
    ]
}

pub(crate) fn load_on_serve_arg() -> Arg {
    Arg::new("load-quotes")
        .long("load-quotes")
        .value_name("FILE")
        .action(ArgAction::Append)
        .value_parser(value_parser!(PathBuf))
        .help("Quotes files to load before serving (the memory store starts empty)")
}

/// Reads and parses a quotes file; the error names `file:line`.
pub fn read_quotes_file(path: &Path) -> anyhow::Result<Vec<NewQuote>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(quotes_file::parse_bytes(
        &path.display().to_string(),
        &bytes,
    )?)
}

/// Parses every file; the caller loads them in one batch, so a bad file loads nothing.
pub fn read_quotes_files(paths: &[PathBuf]) -> anyhow::Result<Vec<NewQuote>> {
    let mut batch = Vec::new();
    for path in paths {
        batch.extend(read_quotes_file(path)?);
    }
    Ok(batch)
}

/// Every quote in the store, in id order.
pub fn all_quotes(store: &dyn QuoteStore) -> anyhow::Result<Vec<NewQuote>> {
    let mut quotes = Vec::new();
    for n in 1.. {
        let page = store.list(PageRequest::new(n, MAX_PER_PAGE)?)?;
        quotes.extend(page.items.iter().map(|q| q.content()));
        if !page.has_next() {
            break;
        }
    }
    Ok(quotes)
}

fn paths(args: &ArgMatches, id: &str) -> Vec<PathBuf> {
    args.try_get_many::<PathBuf>(id)
        .ok()
        .flatten()
        .map(|files| files.cloned().collect())
        .unwrap_or_default()
}

pub(crate) fn run(
    state: &State,
    name: &str,
    args: &ArgMatches,
    ctx: &CommandContext<'_>,
) -> anyhow::Result<()> {
    match name {
        "load-quotes" => load(state, &paths(args, "files"), ctx),
        "export-quotes" => export(
            &*state.store,
            paths(args, "file").first().map(PathBuf::as_path),
            ctx,
        ),
        other => anyhow::bail!("the quotes component has no command {other}"),
    }
}

fn load(state: &State, files: &[PathBuf], ctx: &CommandContext<'_>) -> anyhow::Result<()> {
    // Parse before touching the store: a bad file must fail fast and write nothing.
    let batch = read_quotes_files(files)?;
    ctx.wait_until_ready()?;
    let report = state
        .store
        .get_or_create_all(&batch)
        .context("loading quotes")?;
    record(state, "load-quotes", &report.new_quotes);
    println!("{} added, {} already there", report.added, report.existing);
    if !ctx.backend().is_persistent() {
        eprintln!("note: the memory store forgets these when this command exits; use `quotes serve --load-quotes FILE`");
    }
    Ok(())
}

fn export(
    store: &dyn QuoteStore,
    file: Option<&Path>,
    ctx: &CommandContext<'_>,
) -> anyhow::Result<()> {
    ctx.wait_until_ready()?;
    let quotes = all_quotes(store)?;
    let text = quotes_file::write(&quotes);
    match file {
        Some(path) => {
            // Write beside the target and rename, so a failed export never leaves half a file.
            let tmp = path.with_extension("tmp-export");
            std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("exported {} quotes to {}", quotes.len(), path.display());
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
    }
    Ok(())
}

/// `serve --load-quotes FILE…`: parses every file, then (once the store is ready) loads
/// them in one batch before the server binds.
pub(crate) fn load_on_serve(
    state: &State,
    args: &ArgMatches,
    ctx: &CommandContext<'_>,
) -> anyhow::Result<()> {
    let files = paths(args, "load-quotes");
    if files.is_empty() {
        return Ok(());
    }
    let batch = read_quotes_files(&files)?;
    ctx.wait_until_ready()?;
    let report = state
        .store
        .get_or_create_all(&batch)
        .context("loading quotes")?;
    record(state, "serve --load-quotes", &report.new_quotes);
    tracing::info!(
        added = report.added,
        existing = report.existing,
        "loaded quotes"
    );
    Ok(())
}

/// Records in the site's history (when it keeps one) the quotes a command added.
fn record(state: &State, command: &str, added: &[quotes_core::Quote]) {
    if let Some(history) = &state.history {
        history.record(&crate::admin::added_by(command, added));
    }
}
