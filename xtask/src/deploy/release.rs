//! Build and release: the release binary, stamped with the commit, copied with its config
//! and fixtures into `releases/<commit>[-dirty]/`, so any kept release can run again.

use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};

use super::{layout::Layout, state::History};
use crate::cmd;

/// How many releases stay on disk for rollback (and any release that still runs).
pub const KEEP: usize = 5;

/// One release directory: `quotes`, `config/`, `fixtures/quotes.txt` and `RELEASE`.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub dir: PathBuf,
}

impl Release {
    pub fn binary(&self) -> PathBuf {
        self.dir.join("quotes")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    pub fn fixtures(&self) -> PathBuf {
        self.dir.join("fixtures").join("quotes.txt")
    }

    /// A kept release, checked to be whole: its binary is there and executable.
    pub fn open(layout: &Layout, id: &str) -> Result<Release> {
        let release = Release {
            id: id.to_owned(),
            dir: layout.release(id),
        };
        if !cmd::is_executable(&release.binary()) {
            bail!(
                "release {id} is not in {} (pruned or never finished)",
                layout.releases().display()
            );
        }
        Ok(release)
    }
}

/// The commit as `/healthz` shows it (12 hex digits, as crates/cli/build.rs stamps it), with
/// `-dirty` when the work tree differs from it, untracked files included: a new source file
/// changes the build as much as an edited one.
///
/// Outside a git checkout (a source tarball), `QUOTES_BUILD_COMMIT` names the release.
pub fn release_id(root: &Path) -> Result<String> {
    let git = |args: &[&str]| cmd::output(Command::new("git").current_dir(root).args(args));
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Ok(commit) => commit,
        Err(err) => {
            let given = std::env::var("QUOTES_BUILD_COMMIT").unwrap_or_default();
            if is_release_name(&given) {
                return Ok(given);
            }
            return Err(err.context(
                "could not read the current commit, which names the release: \
                 deploy from a git checkout, or set QUOTES_BUILD_COMMIT (letters, digits, . _ -)",
            ));
        }
    };
    let dirty = !git(&["status", "--porcelain"])?.trim().is_empty();
    Ok(release_name(commit.trim(), dirty))
}

/// A release id becomes a directory name: nothing that could climb out of `releases/`.
fn is_release_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name != "history"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub fn release_name(commit: &str, dirty: bool) -> String {
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit.to_owned()
    }
}

/// `cargo build --release -p cli --bin quotes` (or the profile `XTASK_BUILD_PROFILE`
/// names, see [`crate::build_profile`]), stamped with the release id so `/healthz` says
/// `-dirty` too (build.rs takes `QUOTES_BUILD_COMMIT` over git).
pub fn build(layout: &Layout, id: &str, log: &Path) -> Result<()> {
    let profile = crate::build_profile();
    cmd::stream_logged(
        cmd::cargo()
            .current_dir(&layout.root)
            .args([
                "build",
                "--profile",
                &profile,
                "-p",
                "cli",
                "--bin",
                "quotes",
            ])
            .env("QUOTES_BUILD_COMMIT", id),
        log,
    )
}

/// Copies the binary, config/ and the fixtures into `releases/<id>`. The release is
/// assembled beside its final place and renamed in, so a half-copied release never carries
/// the real name; redeploying the same id swaps the directories, and a process still running
/// the old binary keeps it (Linux keeps an unlinked executable for whoever has it open).
pub fn install(layout: &Layout, id: &str) -> Result<Release> {
    let binary = crate::built_binary(&layout.root);
    let releases = layout.releases();
    fs::create_dir_all(&releases)
        .with_context(|| format!("could not create {}", releases.display()))?;
    let pid = std::process::id();
    let staging = releases.join(format!(".{id}.staging-{pid}"));
    remove_dir_if_present(&staging)?;
    fs::create_dir_all(staging.join("fixtures"))
        .with_context(|| format!("could not create {}", staging.display()))?;
    fs::copy(&binary, staging.join("quotes"))
        .with_context(|| format!("could not copy {}", binary.display()))?;
    copy_dir(&layout.root.join("config"), &staging.join("config"))?;
    let fixtures = layout.project_fixtures();
    fs::copy(&fixtures, staging.join("fixtures").join("quotes.txt"))
        .with_context(|| format!("could not copy {}", fixtures.display()))?;
    let built = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    fs::write(
        staging.join("RELEASE"),
        format!(
            "release={id}\nbuilt_unix={built}\nfrom={}\n",
            layout.root.display()
        ),
    )?;

    let target = layout.release(id);
    let old = releases.join(format!(".{id}.old-{pid}"));
    let replaced = match fs::rename(&target, &old) {
        Ok(()) => true,
        Err(err) if err.kind() == ErrorKind::NotFound => false,
        Err(err) => {
            return Err(err).with_context(|| format!("could not move {} aside", target.display()))
        }
    };
    fs::rename(&staging, &target).with_context(|| {
        format!(
            "could not move {} to {}",
            staging.display(),
            target.display()
        )
    })?;
    if replaced {
        remove_dir_if_present(&old)?;
    }
    println!(
        "    {}{}",
        target.display(),
        if replaced { " (replaced)" } else { "" }
    );
    Ok(Release {
        id: id.to_owned(),
        dir: target,
    })
}

/// Removes releases that are neither among the newest [`KEEP`] nor in use, and the staging
/// directories of interrupted deploys. Returns the ids removed.
pub fn prune(layout: &Layout, history: &History, in_use: &[&str]) -> Result<Vec<String>> {
    let keep = history.recent(KEEP);
    let mut removed = Vec::new();
    let entries = match fs::read_dir(layout.releases()) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(removed),
        Err(err) => return Err(err).context("could not list the releases"),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let leftover = name.starts_with('.')
            && leftover_owner(&name).is_some_and(|pid| !crate::sys::is_alive(pid));
        let old = !name.starts_with('.')
            && !keep.contains(&name.as_str())
            && !in_use.contains(&name.as_str());
        if leftover || old {
            remove_dir_if_present(&entry.path())?;
            if old {
                removed.push(name);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// The pid in `.<id>.staging-<pid>` or `.<id>.old-<pid>`.
fn leftover_owner(name: &str) -> Option<u32> {
    let (_, pid) = name.rsplit_once('-')?;
    let kind = name.rsplit_once('.')?.1;
    (kind.starts_with("staging-") || kind.starts_with("old-"))
        .then(|| pid.parse().ok())
        .flatten()
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(err).with_context(|| format!("could not remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    let entries =
        fs::read_dir(from).with_context(|| format!("could not read {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_say_when_the_tree_was_dirty() {
        assert_eq!(release_name("81b5656a0b1c", false), "81b5656a0b1c");
        assert_eq!(release_name("81b5656a0b1c", true), "81b5656a0b1c-dirty");
    }

    #[test]
    fn a_given_release_name_stays_inside_releases() {
        assert!(is_release_name("v1.2.3-rc_1"));
        for bad in ["", ".hidden", "../x", "a/b", "history", "a b"] {
            assert!(!is_release_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn leftovers_name_their_owner() {
        assert_eq!(leftover_owner(".abc-dirty.staging-42"), Some(42));
        assert_eq!(leftover_owner(".abc.old-7"), Some(7));
        assert_eq!(leftover_owner("abc-dirty"), None);
        assert_eq!(leftover_owner(".abc.staging-x"), None);
    }

    #[test]
    fn prune_keeps_the_recent_and_the_running() {
        let base = std::env::temp_dir().join(format!("xtask-prune-test-{}", std::process::id()));
        let layout = Layout::new(Path::new("/nonexistent"), Some(&base));
        for id in ["a", "b", "c", "d", "e", "f", "g", ".x.staging-999999999"] {
            fs::create_dir_all(layout.release(id)).unwrap();
        }
        let history = History {
            ids: ["a", "b", "c", "d", "e", "f", "g"]
                .map(String::from)
                .to_vec(),
        };
        let removed = prune(&layout, &history, &["a"]).unwrap();
        assert_eq!(removed, ["b"]);
        assert!(layout.release("a").is_dir());
        assert!(!layout.release(".x.staging-999999999").exists());
        fs::remove_dir_all(&base).unwrap();
    }
}
