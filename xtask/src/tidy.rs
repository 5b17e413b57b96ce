//! Tidy: the tree's own rules that no compiler checks. For now: no TAB characters in tracked text files.

use std::{
    ffi::OsStr,
    fs, io,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::cmd;

/// How many offending lines a failure lists; the count says how many more there are.
const MAX_LISTED: usize = 20;

/// A file whose first 8 KiB hold a NUL byte is binary, as git and grep decide it.
const BINARY_SNIFF: usize = 8 * 1024;

#[derive(Debug, PartialEq)]
pub struct Hit {
    path: PathBuf,
    line: usize,
}

pub fn check(root: &Path) -> Result<()> {
    let listing = cmd::output_bytes(
        Command::new("git")
            .current_dir(root)
            .args(["ls-files", "-z"]),
    )
    .context("could not list the files git tracks")?;
    let paths: Vec<&Path> = listing
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| Path::new(OsStr::from_bytes(p)))
        .collect();
    let mut files = Vec::new();
    for path in &paths {
        let full = root.join(path);
        // Symlinks and submodules are not text we wrote; a tracked file deleted in the work
        // tree is git's business, not tidy's.
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => continue,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("{}", full.display())),
        }
        let bytes =
            fs::read(&full).with_context(|| format!("could not read {}", full.display()))?;
        files.push((*path, bytes));
    }
    let hits = scan(files.iter().map(|(path, bytes)| (*path, bytes.as_slice())));
    println!("    {} tracked files checked for TABs", paths.len());
    report(&hits)
}

/// Every line with a TAB, over an in-memory file list; Makefiles and binary files are exempt.
fn scan<'a>(files: impl IntoIterator<Item = (&'a Path, &'a [u8])>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (path, bytes) in files {
        if is_makefile(path) || is_binary(bytes) {
            continue;
        }
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.contains(&b'\t') {
                hits.push(Hit {
                    path: path.to_path_buf(),
                    line: index + 1,
                });
            }
        }
    }
    hits
}

/// Make requires TABs before recipe lines.
fn is_makefile(path: &Path) -> bool {
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    name == b"Makefile" || name == b"makefile" || name == b"GNUmakefile" || name.ends_with(b".mk")
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

fn report(hits: &[Hit]) -> Result<()> {
    if hits.is_empty() {
        return Ok(());
    }
    for hit in hits.iter().take(MAX_LISTED) {
        eprintln!("{}:{}: TAB character", hit.path.display(), hit.line);
    }
    if hits.len() > MAX_LISTED {
        eprintln!("... and {} more lines", hits.len() - MAX_LISTED);
    }
    bail!(
        "{} line(s) contain a TAB character: indent with spaces (only Makefiles may use TABs)",
        hits.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(files: &[(&str, &[u8])], expected: &[(&str, usize)]) {
        let hits = scan(files.iter().map(|(p, b)| (Path::new(*p), *b)));
        let expected: Vec<Hit> = expected
            .iter()
            .map(|(p, line)| Hit {
                path: PathBuf::from(p),
                line: *line,
            })
            .collect();
        assert_eq!(hits, expected);
    }

    #[test]
    fn clean_files_pass() {
        check(
            &[
                ("src/lib.rs", b"fn main() {\n    x();\n}\n"),
                ("empty", b""),
            ],
            &[],
        );
    }

    #[test]
    fn each_line_with_a_tab_is_named_once() {
        check(
            &[
                ("a.rs", b"ok\n\tone\ttwo\nok\nlast\t"),
                ("docs/b.md", b"\t\n"),
            ],
            &[("a.rs", 2), ("a.rs", 4), ("docs/b.md", 1)],
        );
    }

    #[test]
    fn makefiles_and_binaries_are_exempt() {
        check(
            &[
                ("Makefile", b"all:\n\tcargo build\n"),
                ("deploy/rules.mk", b"x:\n\ty\n"),
                ("static/logo.png", b"\x89PNG\0\0\t"),
                ("Makefile.rs", b"\tnot a makefile\n"),
            ],
            &[("Makefile.rs", 1)],
        );
    }

    #[test]
    fn a_nul_past_the_sniff_window_does_not_make_a_file_binary() {
        let mut bytes = vec![b'a'; BINARY_SNIFF];
        bytes.extend_from_slice(b"\0\n\tx\n");
        let hits = scan([(Path::new("big.txt"), bytes.as_slice())]);
        assert_eq!(hits.len(), 1);
    }
}
