//! A wiki as a folder of Markdown files, for `quotes wiki-export DIR` and `quotes
//! wiki-import DIR`: one file per page, folders for the hierarchy (`tactics/terrain.md`; the
//! root page is `_index.md`, a name no slug can take, as Hugo names a section's page), each
//! opening with a TOML front matter between `+++` lines, as Hugo and Zola write it:
//!
//! ```text
//! +++
//! title = "Terrain"
//! locked = true
//! +++
//! The text, as written, to the last byte.
//! ```
//!
//! `locked` and `deleted` appear when true. A folder read back gives the same pages, so a
//! wiki moves between stores and machines without loss (of its current pages: the history
//! stays where it was).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::markdown;
use crate::path::WikiPath;
use crate::store::{NewRevision, PageFilter, PageState, WikiError, WikiStore};

/// The root page's file.
pub const ROOT_FILE: &str = "_index.md";

/// Where the front matter starts and ends.
const FENCE: &str = "+++";

/// The message of the revisions an import saves.
pub const IMPORT_MESSAGE: &str = "Imported by quotes wiki-import";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    #[serde(default, skip_serializing_if = "is_false")]
    locked: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    deleted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The file of the page at `path`, relative to the folder.
pub fn file_of(path: &WikiPath) -> PathBuf {
    if path.is_root() {
        PathBuf::from(ROOT_FILE)
    } else {
        PathBuf::from(format!("{}.md", path.as_str()))
    }
}

/// A page as its file holds it.
pub fn to_file(title: &str, content: &str, state: PageState) -> anyhow::Result<String> {
    let front = toml::to_string(&FrontMatter {
        title: title.to_owned(),
        locked: state.locked,
        deleted: state.deleted,
    })
    .context("writing the front matter")?;
    Ok(format!("{FENCE}\n{front}{FENCE}\n{content}"))
}

/// A page's file read back: title, content and state. `name` (the file's path) and the
/// line at fault are in the error.
pub fn from_file(name: &str, text: &str) -> anyhow::Result<(String, String, PageState)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix(FENCE)
        .and_then(|r| r.strip_prefix('\n').or_else(|| r.strip_prefix("\r\n")))
    else {
        bail!("{name}:1: a page starts with a front matter: a line `+++`, `title = \"…\"`, a line `+++`");
    };
    let mut offset = 0;
    let mut end = None;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == FENCE {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((front_end, body_start)) = end else {
        bail!("{name}:1: the front matter has no closing `+++` line");
    };
    let front: FrontMatter = toml::from_str(&rest[..front_end]).map_err(|e| {
        // The front matter starts on the file's second line.
        let line = e
            .span()
            .map_or(1, |s| rest[..s.start].matches('\n').count() + 2);
        anyhow::anyhow!("{name}:{line}: {}", e.message())
    })?;
    let state = PageState {
        deleted: front.deleted,
        locked: front.locked,
    };
    Ok((front.title, rest[body_start..].to_owned(), state))
}

/// Writes every page (deleted ones too, marked) under `dir`, which must be new or empty; the
/// files are written beside it first and moved in at the end, so a failed export leaves no
/// half a wiki. Returns how many pages were written.
pub fn export(store: &dyn WikiStore, dir: &Path) -> anyhow::Result<usize> {
    if dir.exists() {
        let mut entries =
            fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: export into a new or empty folder",
                dir.display()
            );
        }
    }
    let name = dir
        .file_name()
        .with_context(|| format!("{} names no folder", dir.display()))?;
    let staging = dir.with_file_name(format!(
        ".{}.export-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = write_all(store, &staging).inspect_err(|_| {
        let _ = fs::remove_dir_all(&staging);
    })?;
    if dir.exists() {
        fs::remove_dir(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    fs::rename(&staging, dir)
        .with_context(|| format!("moving the pages into {}", dir.display()))?;
    Ok(written)
}

fn write_all(store: &dyn WikiStore, dir: &Path) -> anyhow::Result<usize> {
    const BATCH: usize = 500;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = 0;
    loop {
        let (pages, _) = store.pages(&PageFilter::default(), written, BATCH)?;
        for info in &pages {
            let (_, current) = store.page(&info.path)?.ok_or(WikiError::NotFound)?;
            let file = dir.join(file_of(&info.path));
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let text = to_file(&current.title, &current.content, current.state)?;
            fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        }
        written += pages.len();
        if pages.len() < BATCH {
            return Ok(written);
        }
    }
}

/// Every page under `dir`, read and checked, ready for [`WikiStore::import`]. Hidden files
/// and folders (`.git`) are passed over; any other file that is not a page is an error, as
/// is a page with a bad name or front matter; each error names the file.
pub fn read(dir: &Path) -> anyhow::Result<Vec<(WikiPath, NewRevision)>> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut pages = Vec::new();
    read_into(dir, dir, &mut pages)?;
    Ok(pages)
}

fn read_into(
    root: &Path,
    dir: &Path,
    pages: &mut Vec<(WikiPath, NewRevision)>,
) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort();
    for entry in entries {
        let file_name = entry.file_name().unwrap_or_default().to_string_lossy();
        if file_name.starts_with('.') {
            continue;
        }
        let shown = entry.display().to_string();
        if entry.is_dir() {
            read_into(root, &entry, pages)?;
            continue;
        }
        let relative = entry.strip_prefix(root).unwrap_or(&entry);
        let path = page_of(relative).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
        let text = fs::read_to_string(&entry).with_context(|| format!("reading {shown}"))?;
        let (title, content, state) = from_file(&shown, &text)?;
        pages.push((
            path,
            NewRevision {
                title,
                html: markdown::render(&content).html,
                content,
                author: None,
                address: None,
                message: IMPORT_MESSAGE.to_owned(),
                state: Some(state),
            },
        ));
    }
    Ok(())
}

/// The page a file (relative to the folder) holds.
fn page_of(relative: &Path) -> anyhow::Result<WikiPath> {
    let text = relative
        .to_str()
        .context("a page's file name is plain ASCII")?
        .replace(std::path::MAIN_SEPARATOR, "/");
    if text == ROOT_FILE {
        return Ok(WikiPath::root());
    }
    let Some(stem) = text.strip_suffix(".md") else {
        bail!(
            "not a page: pages are Markdown files named `<slug>.md` (the root page `{ROOT_FILE}`)"
        );
    };
    WikiPath::parse(stem)
        .ok()
        .filter(|p| !p.is_root() && p.as_str() == stem)
        .with_context(|| {
            format!("`{stem}` is not a page's path: slugs are lowercase letters, digits and dashes, at most 10 levels")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_survives_its_file() {
        for (title, content, state) in [
            (
                "Terrain",
                "# Six kinds\n\nOf ground.\n",
                PageState::default(),
            ),
            (
                "Quotes \"and\" = signs\n+++",
                "no newline at the end",
                PageState {
                    deleted: true,
                    locked: true,
                },
            ),
            ("Empty", "", PageState::default()),
            (
                "Fences",
                "+++\ntitle = \"not this\"\n+++\r\nbody\r\n",
                PageState::default(),
            ),
        ] {
            let file = to_file(title, content, state).unwrap();
            let back = from_file("t.md", &file).unwrap();
            assert_eq!(back, (title.to_owned(), content.to_owned(), state));
        }
        let file = to_file("T", "x", PageState::default()).unwrap();
        assert_eq!(file, "+++\ntitle = \"T\"\n+++\nx");
    }

    #[test]
    fn a_bad_file_is_named_with_its_line() {
        let err = |text: &str| from_file("wiki/a.md", text).unwrap_err().to_string();
        assert!(err("# no front matter").starts_with("wiki/a.md:1: a page starts with"));
        assert!(err("+++\ntitle = \"x\"\n").contains("no closing `+++`"));
        let e = err("+++\ntitle = \"x\"\ncolour = \"red\"\n+++\n");
        assert!(e.starts_with("wiki/a.md:3: "), "{e}");
        let e = err("+++\n\ntitle = x\n+++\n");
        assert!(e.starts_with("wiki/a.md:3: "), "{e}");
        assert!(err("+++\n+++\n").contains("title"));
    }

    #[test]
    fn files_and_pages_name_each_other() {
        for path in ["", "tactics", "tactics/terrain"] {
            let path = WikiPath::parse(path).unwrap();
            assert_eq!(page_of(&file_of(&path)).unwrap(), path);
        }
        for bad in [
            "tactics/Terrain.md",
            "notes.txt",
            "a/_index.md",
            "index",
            "a b.md",
        ] {
            assert!(page_of(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
