//! `cargo xtask new-component NAME`: writes a working component crate (a page with its
//! template and stylesheet, a JSON API, a command, a settings section, a store trait with
//! memory and PostgreSQL implementations and a migration, the contract suite, web tests and
//! a browser scenario) from `xtask/templates/component/`, and registers it: the workspace's
//! dependencies, the cli's features and dependency, `registry.rs` and the acceptance suite.

use std::{
    ffi::OsStr,
    fs,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, ensure, Context, Result};
use toml_edit::{value, Array, DocumentMut, InlineTable, Item};

use crate::cmd;

/// Each template file and where it goes, relative to the workspace root; `__name__`,
/// `__Name__`, `__NAME__` and `__version__` are replaced in both.
const FILES: &[(&str, &str)] = &[
    (
        "crates/__name__/Cargo.toml",
        include_str!("../templates/component/Cargo.toml"),
    ),
    (
        "crates/__name__/build.rs",
        include_str!("../templates/component/build.rs"),
    ),
    (
        "crates/__name__/src/lib.rs",
        include_str!("../templates/component/src/lib.rs"),
    ),
    (
        "crates/__name__/src/store.rs",
        include_str!("../templates/component/src/store.rs"),
    ),
    (
        "crates/__name__/src/memory.rs",
        include_str!("../templates/component/src/memory.rs"),
    ),
    (
        "crates/__name__/src/pg.rs",
        include_str!("../templates/component/src/pg.rs"),
    ),
    (
        "crates/__name__/src/contract.rs",
        include_str!("../templates/component/src/contract.rs"),
    ),
    (
        "crates/__name__/migrations/__version___create___name__/up.sql",
        include_str!("../templates/component/migrations/__version___create___name__/up.sql"),
    ),
    (
        "crates/__name__/migrations/__version___create___name__/down.sql",
        include_str!("../templates/component/migrations/__version___create___name__/down.sql"),
    ),
    (
        "crates/__name__/templates/__name__/index.html",
        include_str!("../templates/component/templates/__name__/index.html"),
    ),
    (
        "crates/__name__/static/style.css",
        include_str!("../templates/component/static/style.css"),
    ),
    (
        "crates/__name__/tests/contract.rs",
        include_str!("../templates/component/tests/contract.rs"),
    ),
    (
        "crates/__name__/tests/it/main.rs",
        include_str!("../templates/component/tests/it/main.rs"),
    ),
    (
        "crates/cli/tests/acceptance/__name__.rs",
        include_str!("../templates/component/acceptance.rs"),
    ),
];

/// The lines after which (or before which) registration goes, so that a hand-edited file
/// still takes it.
const REGISTRY: &str = "crates/cli/src/registry.rs";
const REGISTRY_MARK: &str = "// `cargo xtask new-component NAME` adds its line above this one.";
const ACCEPTANCE: &str = "crates/cli/tests/acceptance/main.rs";
const ACCEPTANCE_MODS_AFTER: &str = "mod harness;\n";
const ACCEPTANCE_MARK: &str =
    "// `cargo xtask new-component NAME` adds its scenario above this line.";

/// Names a component may not take: the site's own (`web::RESERVED_NAMES`: paths and
/// settings sections; a test keeps the two lists in step), the workspace's crates and
/// features, the acceptance suite's modules, Rust's keywords and built-in crates.
const TAKEN: &[&str] = &[
    // web::RESERVED_NAMES
    "static",
    "api",
    "healthz",
    "readyz",
    "favicon",
    "metrics",
    "server",
    "store",
    "database",
    "log",
    "components",
    // the workspace
    "cli",
    "web",
    "db",
    "xtask",
    "default",
    "harness",
    "scenarios",
    "main",
    "memory",
    "postgres",
    "pg",
    "contract",
    // Rust
    "std",
    "core",
    "alloc",
    "test",
    "as",
    "async",
    "await",
    "abstract",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// PostgreSQL cuts names at 63 bytes; `<name>_items` and its constraints must fit.
const MAX_NAME: usize = 30;

/// What a new component is called in its code and files.
#[derive(Debug, PartialEq)]
pub struct Names {
    /// `notes`: crate, feature, URL prefix, template folder, settings section, table prefix.
    pub name: String,
    /// `Notes`: the component's type.
    pub type_name: String,
    /// `NOTES`: its environment variables.
    pub upper: String,
    /// `2026-11-29-093000`: the first migration's version.
    pub version: String,
}

impl Names {
    pub fn new(name: &str, version: String) -> Result<Names> {
        let mut chars = name.chars();
        ensure!(
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "a component name is lowercase letters and digits, starting with a letter (e.g. notes), not {name:?}"
        );
        ensure!(
            !TAKEN.contains(&name) && !name.starts_with("quotes") && !name.starts_with("store"),
            "{name} is taken by the site, the workspace or Rust; pick another name"
        );
        ensure!(
            name.len() <= MAX_NAME,
            "a component name has at most {MAX_NAME} characters, not {}",
            name.len()
        );
        let mut type_name = name.to_owned();
        type_name[..1].make_ascii_uppercase();
        Ok(Names {
            name: name.to_owned(),
            type_name,
            upper: name.to_ascii_uppercase(),
            version,
        })
    }

    fn fill(&self, text: &str) -> String {
        text.replace("__version__", &self.version)
            .replace("__NAME__", &self.upper)
            .replace("__Name__", &self.type_name)
            .replace("__name__", &self.name)
    }
}

/// Writes and registers the component `name` in the workspace at `root`; returns the files
/// written and changed.
pub fn new_component(root: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let names = Names::new(name, migration_version(SystemTime::now()))?;
    for (path, _) in FILES {
        let path = root.join(names.fill(path));
        ensure!(
            !path.exists(),
            "{} exists already; remove it or pick another name",
            path.display()
        );
    }
    // Read everything that will change first, so that a file we cannot register in leaves
    // the tree untouched.
    let workspace = edit_workspace(&read(root, "Cargo.toml")?, &names)?;
    let cli = edit_cli(&read(root, "crates/cli/Cargo.toml")?, &names)?;
    let registry = insert_before(
        &read(root, REGISTRY)?,
        REGISTRY_MARK,
        &registry_line(&names),
    )
    .with_context(|| format!("registering in {REGISTRY}"))?;
    let acceptance = edit_acceptance(&read(root, ACCEPTANCE)?, &names)
        .with_context(|| format!("adding the scenario to {ACCEPTANCE}"))?;

    let mut touched = Vec::new();
    for (path, template) in FILES {
        let path = root.join(names.fill(path));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&path, names.fill(template))
            .with_context(|| format!("writing {}", path.display()))?;
        touched.push(path);
    }
    for (path, text) in [
        ("Cargo.toml", workspace),
        ("crates/cli/Cargo.toml", cli),
        (REGISTRY, registry),
        (ACCEPTANCE, acceptance),
    ] {
        let path = root.join(path);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        touched.push(path);
    }
    // The templates' line breaks and import order depend on the name's length and letters.
    let rust: Vec<&PathBuf> = touched
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cmd::stream(
        Command::new("rustfmt")
            .current_dir(root)
            .args(["--edition", "2021"])
            .args(&rust),
    )
    .context("formatting the new files")?;
    Ok(touched)
}

fn read(root: &Path, path: &str) -> Result<String> {
    fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"))
}

fn registry_line(names: &Names) -> String {
    format!(
        "        #[cfg(feature = \"{0}\")]\n        Box::new({0}::{1}Component),\n",
        names.name, names.type_name
    )
}

/// `text` with `insert` put on the line before the one holding `mark`.
fn insert_before(text: &str, mark: &str, insert: &str) -> Result<String> {
    let Some(at) = text.find(mark) else {
        bail!("the line {mark:?} is missing");
    };
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    Ok(format!(
        "{}{insert}{}",
        &text[..line_start],
        &text[line_start..]
    ))
}

fn edit_acceptance(text: &str, names: &Names) -> Result<String> {
    let Some(at) = text.find(ACCEPTANCE_MODS_AFTER) else {
        bail!("the line {:?} is missing", ACCEPTANCE_MODS_AFTER.trim_end());
    };
    let after = at + ACCEPTANCE_MODS_AFTER.len();
    let text = format!(
        "{before}#[cfg(feature = \"{name}\")]\nmod {name};\n{rest}",
        before = &text[..after],
        name = names.name,
        rest = &text[after..]
    );
    insert_before(
        &text,
        ACCEPTANCE_MARK,
        &format!(
            "    #[cfg(feature = \"{0}\")]\n    {0}::{0}_page_is_linked_and_styled();\n",
            names.name
        ),
    )
}

/// `[workspace.dependencies]` gains `NAME = { path = "crates/NAME" }`.
fn edit_workspace(text: &str, names: &Names) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("reading Cargo.toml")?;
    let deps = doc["workspace"]["dependencies"]
        .as_table_mut()
        .context("Cargo.toml has no [workspace.dependencies]")?;
    ensure!(
        !deps.contains_key(&names.name),
        "Cargo.toml already has a dependency named {}",
        names.name
    );
    let mut path = InlineTable::new();
    path.insert("path", format!("crates/{}", names.name).into());
    deps.insert(&names.name, value(path));
    Ok(doc.to_string())
}

/// The cli depends on the crate behind a feature of the same name, which `components` (on
/// by default) turns on; `store-memory` and `store-pg` turn on its backends.
fn edit_cli(text: &str, names: &Names) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("reading crates/cli/Cargo.toml")?;
    let name = names.name.as_str();
    let features = doc["features"]
        .as_table_mut()
        .context("crates/cli/Cargo.toml has no [features]")?;
    ensure!(
        !features.contains_key(name),
        "crates/cli/Cargo.toml already has a feature named {name}"
    );
    for (feature, add) in [
        ("components", name.to_owned()),
        ("store-memory", format!("{name}?/memory")),
        ("store-pg", format!("{name}?/pg")),
    ] {
        features[feature]
            .as_array_mut()
            .with_context(|| format!("crates/cli/Cargo.toml has no feature {feature}"))?
            .push(add);
    }
    let mut own = Array::new();
    own.push(format!("dep:{name}"));
    features.insert(name, value(own));

    let deps = doc["dependencies"]
        .as_table_mut()
        .context("crates/cli/Cargo.toml has no [dependencies]")?;
    let mut dep = InlineTable::new();
    dep.insert("workspace", true.into());
    dep.insert("optional", true.into());
    deps.insert(name, Item::Value(dep.into()));
    Ok(doc.to_string())
}

/// The name `cargo xtask test` scaffolds to prove the scaffold.
const CHECK_NAME: &str = "notes";

/// For `cargo xtask test`: scaffolds a component into a copy of the workspace and checks
/// that the copy is formatted, lint-free and passes the new crate's tests and the cli's
/// (the browser scenario included), with no hand edit. The copy shares the target
/// directory, so only our crates compile again: its workspace version differs, which gives
/// every crate of the copy artifacts of its own (cargo hashes a workspace member by its path
/// inside the workspace, so an unchanged version would share, and spoil, ours). `env` is
/// what the tests need (the database, the browser).
pub fn check(root: &Path, env: &[(&str, &OsStr)]) -> Result<()> {
    let copy = std::env::temp_dir().join(format!("quotes-new-component-{}", std::process::id()));
    let result = check_in(root, &copy, env);
    match &result {
        Ok(()) => {
            let _ = fs::remove_dir_all(&copy);
        }
        // The browser's screenshots and the servers' logs are in the copy's target/.
        Err(_) => println!(
            "    the scaffolded copy stays for a look: {}",
            copy.display()
        ),
    }
    // The copy's `quotes` was linked to target/debug/quotes; ours is linked again at its
    // next build.
    let _ = fs::remove_file(crate::target_dir(root).join("debug/quotes"));
    result
}

fn check_in(root: &Path, copy: &Path, env: &[(&str, &OsStr)]) -> Result<()> {
    copy_worktree(root, copy)?;
    let manifest = copy.join("Cargo.toml");
    let mut doc: DocumentMut = fs::read_to_string(&manifest)?.parse()?;
    let version = doc["workspace"]["package"]["version"]
        .as_str()
        .context("Cargo.toml has no workspace.package.version")?
        .to_owned();
    doc["workspace"]["package"]["version"] = value(format!("{version}-new-component-check"));
    fs::write(&manifest, doc.to_string())?;
    let written = new_component(copy, CHECK_NAME)?;
    println!(
        "    scaffolded {CHECK_NAME} into a copy of the workspace ({} files written or changed)",
        written.len()
    );
    let target = crate::target_dir(root);
    let cargo = |args: &[&str]| -> Result<()> {
        let mut c = cmd::cargo();
        c.current_dir(copy)
            .env("CARGO_TARGET_DIR", &target)
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        cmd::stream(&mut c)
            .with_context(|| format!("in the scaffolded copy: cargo {}", args.join(" ")))
    };
    cargo(&["fmt", "--all", "--", "--check"])?;
    crate::deps::check(copy)?;
    // Each backend alone, as the single-store builds of the site compile it.
    for backend in ["memory", "pg"] {
        cargo(&[
            "clippy",
            "-p",
            CHECK_NAME,
            "--no-default-features",
            "--features",
            backend,
            "--",
            "-D",
            "warnings",
        ])?;
    }
    cargo(&[
        "clippy",
        "-p",
        CHECK_NAME,
        "-p",
        "cli",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "-p", CHECK_NAME])?;
    cargo(&["test", "-p", "cli", "--test", "it"])?;
    cargo(&["test", "-p", "cli", "--test", "acceptance", CHECK_NAME])
}

/// Copies the files git tracks or would track (the work tree as it is, edits included).
fn copy_worktree(root: &Path, copy: &Path) -> Result<()> {
    let listing = cmd::output_bytes(Command::new("git").current_dir(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]))
    .context("listing the work tree's files")?;
    for path in listing.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = Path::new(OsStr::from_bytes(path));
        let from = root.join(path);
        // A tracked file deleted in the work tree is not part of it.
        if !from.is_file() {
            continue;
        }
        let to = copy.join(path);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

/// diesel's migration folder prefix for `now`, in UTC: `2026-11-29-093000`.
fn migration_version(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_derived() {
        let n = Names::new("notes2", "v".into()).unwrap();
        assert_eq!(
            (n.type_name.as_str(), n.upper.as_str()),
            ("Notes2", "NOTES2")
        );
        let long = "n".repeat(MAX_NAME + 1);
        for bad in [
            "",
            "Notes",
            "my-notes",
            "2notes",
            "static",
            "database",
            "web",
            "quotesplus",
            "type",
            "core",
            "harness",
            &long,
        ] {
            assert!(Names::new(bad, "v".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sites_reserved_names_are_taken() {
        let site =
            std::fs::read_to_string(crate::project_root().join("crates/web/src/site.rs")).unwrap();
        let list = &site[site.find("RESERVED_NAMES").unwrap()..];
        let list = &list[list.find('[').unwrap()..list.find("];").unwrap()];
        let reserved: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
        assert!(reserved.len() > 5, "read {reserved:?}");
        for name in reserved {
            assert!(
                TAKEN.contains(&name),
                "{name} is reserved by web but not here"
            );
        }
    }

    #[test]
    fn migration_versions_are_utc_timestamps() {
        let at = |secs| migration_version(UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01-000000");
        assert_eq!(at(951_782_400), "2000-02-29-000000");
        assert_eq!(at(1_795_944_645), "2026-11-29-093045");
    }

    #[test]
    fn the_cli_manifest_gains_a_feature_and_an_optional_dependency() {
        let before = "[features]\ndefault = [\"components\"]\n# The backends.\nstore-memory = [\"quotes-component?/memory\"]\nstore-pg = [\"dep:db\"]\ncomponents = [\"quotes\"]\nquotes = [\"dep:quotes-component\"]\n\n[dependencies]\nweb.workspace = true\n";
        let names = Names::new("notes", "v".into()).unwrap();
        let after = edit_cli(before, &names).unwrap();
        assert!(after.contains("# The backends.\n"), "{after}");
        assert!(
            after.contains(r#"store-memory = ["quotes-component?/memory", "notes?/memory"]"#),
            "{after}"
        );
        assert!(
            after.contains(r#"store-pg = ["dep:db", "notes?/pg"]"#),
            "{after}"
        );
        assert!(
            after.contains(r#"components = ["quotes", "notes"]"#),
            "{after}"
        );
        assert!(after.contains(r#"notes = ["dep:notes"]"#), "{after}");
        assert!(
            after.contains(r#"notes = { workspace = true, optional = true }"#),
            "{after}"
        );
        assert!(
            edit_cli(&after, &names).is_err(),
            "a second time is refused"
        );
    }

    #[test]
    fn registration_goes_before_the_mark() {
        let registry = "    vec![\n        Box::new(a::A),\n        // `cargo xtask new-component NAME` adds its line above this one.\n    ]\n";
        let names = Names::new("notes", "v".into()).unwrap();
        let out = insert_before(registry, REGISTRY_MARK, &registry_line(&names)).unwrap();
        assert_eq!(
            out,
            "    vec![\n        Box::new(a::A),\n        #[cfg(feature = \"notes\")]\n        Box::new(notes::NotesComponent),\n        // `cargo xtask new-component NAME` adds its line above this one.\n    ]\n"
        );
        assert!(insert_before("no mark", REGISTRY_MARK, "x").is_err());
    }
}
