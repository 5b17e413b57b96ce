//! The management commands (Django's `manage.py` commands) and `serve`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use quotes_core::{quotes_file, NewQuote, PageRequest, QuoteStore, MAX_PER_PAGE};
use web::quotes::QuotesComponent;
use web::{ServerOptions, Site};

use crate::settings::Settings;
use crate::stores::{self, OpenStore};

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

fn open_ready(settings: &Settings) -> anyhow::Result<OpenStore> {
    let open = stores::open(settings)?;
    open.wait_until_ready(settings, settings.database.wait_timeout())?;
    Ok(open)
}

pub fn cmd_load_quotes(settings: &Settings, files: &[PathBuf]) -> anyhow::Result<()> {
    // Parse before touching the store: a bad file must fail fast and write nothing.
    let batch = read_quotes_files(files)?;
    let open = open_ready(settings)?;
    let report = open
        .store
        .get_or_create_all(&batch)
        .context("loading quotes")?;
    println!("{} added, {} already there", report.added, report.existing);
    if !open.is_persistent() {
        eprintln!("note: the memory store forgets these when this command exits; use `quotes serve --load-quotes FILE`");
    }
    Ok(())
}

pub fn cmd_export_quotes(settings: &Settings, file: Option<&Path>) -> anyhow::Result<()> {
    let open = open_ready(settings)?;
    let quotes = all_quotes(&*open.store)?;
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

pub fn cmd_migrate(settings: &Settings) -> anyhow::Result<()> {
    let open = stores::open(settings)?;
    if !open.is_persistent() {
        println!("the memory store has no schema: nothing to migrate");
        return Ok(());
    }
    let applied = open.migrate()?;
    if applied.is_empty() {
        println!("no migrations to apply: the schema is current");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

pub fn cmd_wait_for_db(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let open = stores::open(settings)?;
    if !open.is_persistent() {
        println!("the memory store needs no database");
        return Ok(());
    }
    open.wait_until_ready(settings, timeout)?;
    println!("database is ready");
    Ok(())
}

/// Runs the server until a signal: after SIGTERM in-flight requests drain; Ctrl-C stops at once.
pub async fn cmd_serve(settings: Settings, load: Vec<PathBuf>) -> anyhow::Result<()> {
    let batch = read_quotes_files(&load)?;
    let open = {
        let settings = settings.clone();
        actix_web::rt::task::spawn_blocking(move || open_ready(&settings)).await??
    };
    if !batch.is_empty() {
        let store = open.store.clone();
        let report =
            actix_web::rt::task::spawn_blocking(move || store.get_or_create_all(&batch)).await??;
        tracing::info!(
            added = report.added,
            existing = report.existing,
            "loaded quotes"
        );
    }
    let addr = (settings.server.host.as_str(), settings.server.port);
    let listener =
        TcpListener::bind(addr).with_context(|| format!("binding {}:{}", addr.0, addr.1))?;
    let local = listener.local_addr()?;
    let site = Site::new(crate::build_info()).with(QuotesComponent::new(open.store.clone()));
    let options = ServerOptions {
        workers: settings.server.workers,
        shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
    };
    let server = web::serve(listener, site, &options)?;
    tracing::info!(store = ?open.kind, "listening on http://{local}");
    server.await?;
    tracing::info!("stopped");
    Ok(())
}
