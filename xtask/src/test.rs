//! `cargo xtask test`: preflight, fmt, clippy, tidy, the deploy files, a throwaway PostgreSQL,
//! every test suite, and an end-to-end deploy.
//!
//! The test steps get the programs preflight found through the environment
//! (`CHROME_BIN`, `CHROMEDRIVER_BIN`, `REDIS_SERVER_BIN`), so a test finds the very ones
//! that were checked.
//!
//! There are no switches to skip the database or the browser: a test run without them would
//! pass while proving nothing about them.

use std::{env, ffi::OsStr, path::Path};

use anyhow::{bail, Result};

use crate::{cmd, deps, e2e, manifests, pg, preflight, scaffold, steps::Steps, tidy};

pub fn run(root: &Path) -> Result<()> {
    let mut steps = Steps::new("test");
    let result = run_steps(root, &mut steps);
    steps.finish(result)
}

fn run_steps(root: &Path, steps: &mut Steps) -> Result<()> {
    let external_db = env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let tools = steps.run("preflight", || preflight::run(root, external_db.is_none()))?;

    steps.run("fmt", || {
        cmd::stream(
            cmd::cargo()
                .current_dir(root)
                .args(["fmt", "--all", "--", "--check"]),
        )
    })?;
    steps.run("clippy", || {
        cmd::stream(cmd::cargo().current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    steps.run("tidy", || tidy::check(root))?;
    steps.run("dependencies", || deps::check(root))?;
    steps.run("deploy files", || manifests::check(root, &tools.compose))?;

    // The guard lives until this function returns, so the cluster goes away after the last
    // test step and also when any step fails.
    let (database_url, _cluster) = steps.run("postgres", || match (&external_db, &tools.pg) {
        (Some(url), _) => {
            println!("    using TEST_DATABASE_URL from the environment; starting no cluster");
            Ok((url.clone(), None))
        }
        (None, Some(bins)) => {
            let keep_log = crate::xtask_dir(root).join("postgres.log");
            let cluster = pg::Throwaway::start(bins, Some(keep_log.clone()))?;
            println!(
                "    PostgreSQL on 127.0.0.1:{} in {} (its log is kept at {})",
                cluster.port(),
                cluster.dir().display(),
                keep_log.display()
            );
            Ok((cluster.url(), Some(cluster)))
        }
        (None, None) => bail!("no PostgreSQL server programs and no TEST_DATABASE_URL"),
    })?;

    let test_env: [(&str, &OsStr); 4] = [
        ("TEST_DATABASE_URL", database_url.as_ref()),
        ("CHROME_BIN", tools.chrome.as_os_str()),
        ("CHROMEDRIVER_BIN", tools.chromedriver.as_os_str()),
        (crate::redis::BIN_VAR, tools.redis.as_os_str()),
    ];
    let cargo_test = |args: &[&str]| -> Result<()> {
        let mut test = cmd::cargo();
        test.current_dir(root)
            .arg("test")
            .args(args)
            .arg("--no-fail-fast")
            .envs(test_env);
        cmd::stream(&mut test)
    };
    let cli_with = |features: &str| -> Result<()> {
        cargo_test(&[
            "-p",
            "cli",
            "--no-default-features",
            "--features",
            features,
            "--lib",
            "--bins",
            "--test",
            "it",
        ])
    };
    let components = deps::cli_components(root)?;
    steps.run("test workspace", || {
        cargo_test(&["--workspace", "--exclude", "cli"])
    })?;
    steps.run("test cli", || {
        cargo_test(&["-p", "cli", "--lib", "--bins", "--test", "it"])
    })?;
    // Each store alone, with every component: the build compiles, and the cli's tests pass,
    // with the other store left out.
    for store in ["store-memory", "store-pg"] {
        steps.run(&format!("test cli with {store} only"), || {
            cli_with(&format!("{store},cache-memory,components"))
        })?;
    }
    // A component removed: the site serves whatever is left.
    steps.run("test cli without the quotes component", || {
        cli_with(&deps::without_quotes(&components))
    })?;
    steps.run("acceptance", || {
        cargo_test(&["-p", "cli", "--test", "acceptance"])
    })?;
    // A component added: the scaffold's output passes with no hand edit.
    steps.run("new component", || scaffold::check(root, &test_env))?;
    // Last, as it needs nothing above. It deploys and packages the `dev` build the tests
    // above have made (only the cli is compiled again, stamped with the release id): the
    // same code as `release`, whose optimised build alone would take a third of a cold run.
    // `cargo xtask deploy` and `dist` build `release` unless `XTASK_BUILD_PROFILE` says.
    if std::env::var_os("XTASK_BUILD_PROFILE").is_none() {
        std::env::set_var("XTASK_BUILD_PROFILE", "dev");
    }
    steps.run("deploy end to end", || e2e::run(root))?;
    // After the deploy, whose release build it shares.
    steps.run("package", || crate::dist::check(root))?;
    Ok(())
}
