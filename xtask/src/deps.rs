//! The architecture's rules about dependencies, checked with `cargo tree`: which crate may
//! know which, and that a build without a store contains none of its code.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// A build of one package (with feature flags) and the crates it must not pull in, directly
/// or through others. Only normal dependencies count: tests may use anything.
struct Rule {
    package: &'static str,
    features: &'static [&'static str],
    forbidden: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        package: "quotes-core",
        features: &[],
        forbidden: &[
            "actix-web",
            "diesel",
            "tera",
            "web",
            "wiki-adapter",
            "quotes-store-memory",
            "quotes-store-pg",
            "cli",
        ],
        why: "the domain knows no framework, database or other crate of ours",
    },
    Rule {
        package: "quotes-store-memory",
        features: &[],
        forbidden: &[
            "actix-web",
            "diesel",
            "tera",
            "web",
            "wiki-adapter",
            "quotes-store-pg",
            "cli",
        ],
        why: "a store knows only quotes-core",
    },
    Rule {
        package: "quotes-store-pg",
        features: &[],
        forbidden: &[
            "actix-web",
            "tera",
            "web",
            "wiki-adapter",
            "quotes-store-memory",
            "cli",
        ],
        why: "a store knows only quotes-core",
    },
    Rule {
        package: "web",
        features: &[],
        forbidden: &[
            "diesel",
            "quotes-store-memory",
            "quotes-store-pg",
            "wiki-adapter",
            "cli",
        ],
        why: "the web layer speaks to stores through the QuoteStore trait only",
    },
    Rule {
        package: "wiki-adapter",
        features: &[],
        forbidden: &["diesel", "quotes-store-memory", "quotes-store-pg", "cli"],
        why: "a component knows the traits and web's seam, never a concrete store",
    },
    Rule {
        package: "cli",
        features: &["--no-default-features", "--features", "store-memory"],
        forbidden: &["quotes-store-pg", "diesel", "pq-sys", "pq-src", "r2d2"],
        why: "a memory-only build contains no PostgreSQL code",
    },
    Rule {
        package: "cli",
        features: &["--no-default-features", "--features", "store-pg"],
        forbidden: &["quotes-store-memory"],
        why: "a PostgreSQL-only build contains no memory store",
    },
];

/// The package names in `cargo tree --prefix none` output, one per line.
fn names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

pub fn check(root: &Path) -> Result<()> {
    let mut broken = Vec::new();
    for rule in RULES {
        let mut tree = cmd::cargo();
        tree.current_dir(root)
            .args([
                "tree",
                "--quiet",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                rule.package,
            ])
            .args(rule.features);
        let out =
            cmd::output(&mut tree).with_context(|| format!("cargo tree -p {}", rule.package))?;
        let present = names(&out);
        for bad in rule.forbidden.iter().filter(|f| present.contains(f)) {
            broken.push(format!(
                "{} {} depends on {bad}: {}",
                rule.package,
                rule.features.join(" "),
                rule.why
            ));
        }
    }
    println!("    {} dependency rules checked", RULES.len());
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

    #[test]
    fn reads_package_names_from_cargo_tree() {
        let tree = "web v0.1.0 (/w/crates/web)\nactix-web v4.9.0\nquotes-core v0.1.0 (/w/crates/quotes-core)\n";
        assert_eq!(names(tree), vec!["web", "actix-web", "quotes-core"]);
    }

    #[test]
    fn every_rule_names_a_workspace_package() {
        let root = crate::project_root();
        for rule in RULES {
            assert!(
                root.join("crates")
                    .join(rule.package)
                    .join("Cargo.toml")
                    .is_file(),
                "{}",
                rule.package
            );
        }
    }
}
