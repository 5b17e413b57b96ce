//! The architecture's rules about dependencies: an allow-list of the workspace crates each
//! crate may depend on (read from `cargo metadata`), so that a new crate is under a rule the
//! moment it exists, and `cargo tree` checks that a build leaving a store or a component
//! out contains none of its code.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cmd;

/// The workspace crates a crate may name as normal dependencies (tests may use anything),
/// and why.
struct Allowed {
    package: &'static str,
    may_use: &'static [&'static str],
    why: &'static str,
}

const ALLOWED: &[Allowed] = &[
    Allowed {
        package: "quotes-core",
        may_use: &[],
        why: "the domain knows no framework, database or other crate of ours",
    },
    Allowed {
        package: "quotes-store-memory",
        may_use: &["quotes-core"],
        why: "a store knows its domain only",
    },
    Allowed {
        package: "quotes-store-pg",
        may_use: &["quotes-core", "db"],
        why: "a store knows its domain and the shared PostgreSQL layer",
    },
    Allowed {
        package: "db",
        may_use: &[],
        why: "the PostgreSQL layer knows no component",
    },
    Allowed {
        package: "web",
        may_use: &[],
        why: "the shell knows no component and no store",
    },
    Allowed {
        package: "quotes-component",
        may_use: &[
            "quotes-core",
            "quotes-store-memory",
            "quotes-store-pg",
            "db",
            "web",
        ],
        why: "the quotes component knows its domain, its own stores and the seam",
    },
    Allowed {
        package: "test-support",
        may_use: &["xtask"],
        why: "test support reaches the throwaway cluster in xtask",
    },
    Allowed {
        package: "xtask",
        may_use: &[],
        why: "automation builds the crates with cargo, it does not link them",
    },
];

/// Any crate not named above is a component: it knows the seam, the PostgreSQL layer and
/// the crates of its own family (`notes` and `notes-core`, `notes-store-pg`: the same name
/// before the first dash), never another component or its stores.
const COMPONENT: &[&str] = &["web", "db"];

/// `notes` for `notes-store-pg`.
fn family(name: &str) -> &str {
    name.split('-').next().unwrap_or(name)
}

/// Crates only tests may depend on.
const TEST_ONLY: &[&str] = &["test-support", "xtask"];

/// The composition root may depend on every crate but the test-only ones.
const ROOT: &str = "cli";

/// A build of the cli with `features`, and the crates it must not contain, directly or
/// through others.
struct Build {
    features: String,
    forbidden: &'static [&'static str],
    why: &'static str,
}

/// Each store alone with every component, and every component but quotes.
fn builds(components: &[String]) -> Vec<Build> {
    vec![
        Build {
            features: "store-memory,cache-memory,components".into(),
            forbidden: &[
                "quotes-store-pg",
                "db",
                "diesel",
                "pq-sys",
                "pq-src",
                "r2d2",
            ],
            why: "a memory-only build contains no PostgreSQL code",
        },
        Build {
            features: "store-pg,cache-memory,components".into(),
            forbidden: &["quotes-store-memory"],
            why: "a PostgreSQL-only build contains no memory store",
        },
        Build {
            features: without_quotes(components),
            forbidden: &[
                "quotes-component",
                "quotes-core",
                "quotes-store-memory",
                "quotes-store-pg",
            ],
            why: "a build without the quotes component contains none of its crates",
        },
    ]
}

/// The cli's features for both stores, the memory cache and every component but quotes.
pub fn without_quotes(components: &[String]) -> String {
    ["store-memory", "store-pg", "cache-memory"]
        .into_iter()
        .chain(
            components
                .iter()
                .map(String::as_str)
                .filter(|c| *c != "quotes"),
        )
        .collect::<Vec<_>>()
        .join(",")
}

/// The components the cli has: its `components` feature's list.
pub fn cli_components(root: &Path) -> Result<Vec<String>> {
    components_of(&metadata(root)?)
}

fn components_of(metadata: &Value) -> Result<Vec<String>> {
    let cli = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == ROOT)
        .context("cargo metadata has no cli package")?;
    Ok(cli["features"]["components"]
        .as_array()
        .context("the cli has no `components` feature")?
        .iter()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect())
}

fn metadata(root: &Path) -> Result<Value> {
    let out = cmd::output(cmd::cargo().current_dir(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
    ]))
    .context("cargo metadata")?;
    serde_json::from_str(&out).context("reading cargo metadata")
}

/// A workspace crate and the workspace crates it names as normal dependencies.
#[derive(Debug, PartialEq)]
struct Member {
    name: String,
    uses: Vec<String>,
}

/// The workspace's crates from `cargo metadata --no-deps` output.
fn members(metadata: &Value) -> Result<Vec<Member>> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    Ok(packages
        .iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?.to_owned();
            let uses = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                // `kind` is null for normal dependencies, "dev" or "build" otherwise.
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(d))
                .map(str::to_owned)
                .collect();
            Some(Member { name, uses })
        })
        .collect())
}

/// What `member` may not depend on, each with the rule it breaks.
fn broken_rules(member: &Member) -> Vec<String> {
    let (may_use, why): (Vec<&str>, &str) = if member.name == ROOT {
        (
            member
                .uses
                .iter()
                .map(String::as_str)
                .filter(|d| !TEST_ONLY.contains(d))
                .collect(),
            "the binary may use every crate but the test-only ones",
        )
    } else if let Some(rule) = ALLOWED.iter().find(|a| a.package == member.name) {
        (rule.may_use.to_vec(), rule.why)
    } else {
        let own = member
            .uses
            .iter()
            .map(String::as_str)
            .filter(|d| family(d) == family(&member.name));
        (
            COMPONENT.iter().copied().chain(own).collect(),
            "a component knows web's seam, the db layer and its own crates, never another component",
        )
    };
    member
        .uses
        .iter()
        .filter(|d| !may_use.contains(&d.as_str()))
        .map(|d| format!("{} depends on {d}: {why}", member.name))
        .collect()
}

/// The package names in `cargo tree --prefix none` output, one per line.
fn names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

pub fn check(root: &Path) -> Result<()> {
    let metadata = metadata(root)?;
    let members = members(&metadata)?;
    let mut broken: Vec<String> = members.iter().flat_map(broken_rules).collect();
    let builds = builds(&components_of(&metadata)?);
    for build in &builds {
        let mut tree = cmd::cargo();
        tree.current_dir(root).args([
            "tree",
            "--quiet",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            ROOT,
            "--no-default-features",
            "--features",
            &build.features,
        ]);
        let out = cmd::output(&mut tree).with_context(|| format!("cargo tree -p {ROOT}"))?;
        let present = names(&out);
        for bad in build.forbidden.iter().filter(|f| present.contains(f)) {
            broken.push(format!(
                "{ROOT} with {} contains {bad}: {}",
                build.features, build.why
            ));
        }
    }
    println!(
        "    {} crates checked against their allow-lists, {} builds against what they leave out",
        members.len(),
        builds.len()
    );
    if broken.is_empty() {
        return Ok(());
    }
    for b in &broken {
        println!("    {b}");
    }
    bail!("{} dependency rule(s) broken", broken.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, uses: &[&str]) -> Member {
        Member {
            name: name.to_owned(),
            uses: uses.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn reads_package_names_from_cargo_tree() {
        let tree = "web v0.1.0 (/w/crates/web)\nactix-web v4.9.0\nquotes-core v0.1.0 (/w/crates/quotes-core)\n";
        assert_eq!(names(tree), vec!["web", "actix-web", "quotes-core"]);
    }

    #[test]
    fn reads_normal_workspace_dependencies_from_cargo_metadata() {
        let metadata = serde_json::json!({"packages": [
            {"name": "web", "dependencies": [{"name": "actix-web", "kind": null}]},
            {"name": "notes", "dependencies": [
                {"name": "web", "kind": null},
                {"name": "serde", "kind": null},
                {"name": "test-support", "kind": "dev"},
            ]},
            {"name": "test-support", "dependencies": []},
        ]});
        assert_eq!(
            members(&metadata).unwrap(),
            vec![
                member("web", &[]),
                member("notes", &["web"]),
                member("test-support", &[]),
            ]
        );
    }

    #[test]
    fn a_new_crate_is_held_to_the_component_rule() {
        assert!(broken_rules(&member("notes", &["web", "db", "notes-core"])).is_empty());
        assert!(broken_rules(&member("notes-store-pg", &["notes-core", "db"])).is_empty());
        assert_eq!(
            broken_rules(&member("notes", &["web", "quotes-store-pg"])),
            ["notes depends on quotes-store-pg: a component knows web's seam, the db layer and its own crates, never another component"]
        );
    }

    #[test]
    fn named_crates_follow_their_lists_and_the_root_takes_anything_but_test_support() {
        assert_eq!(
            broken_rules(&member("web", &["quotes-core"])),
            ["web depends on quotes-core: the shell knows no component and no store"]
        );
        assert!(
            broken_rules(&member("cli", &["web", "db", "quotes-component", "notes"])).is_empty()
        );
        assert_eq!(
            broken_rules(&member("cli", &["web", "test-support"])),
            ["cli depends on test-support: the binary may use every crate but the test-only ones"]
        );
    }

    #[test]
    fn the_build_without_quotes_keeps_every_other_component() {
        let components = ["quotes".to_owned(), "notes".to_owned()];
        assert_eq!(
            without_quotes(&components),
            "store-memory,store-pg,cache-memory,notes"
        );
        let metadata = serde_json::json!({"packages": [
            {"name": "cli", "features": {"components": ["quotes", "notes"], "quotes": []}},
        ]});
        assert_eq!(components_of(&metadata).unwrap(), components);
    }

    #[test]
    fn every_named_rule_is_a_workspace_package() {
        let root = crate::project_root();
        for rule in ALLOWED {
            let dir = if rule.package == "xtask" {
                root.join("xtask")
            } else {
                root.join("crates").join(rule.package)
            };
            assert!(dir.join("Cargo.toml").is_file(), "{}", rule.package);
        }
    }
}
