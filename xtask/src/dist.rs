//! `cargo xtask dist`: the release binary packaged for a production host, in
//! `target/dist/`:
//!
//! - `quotes-<version>-<release>-<arch>.tar.gz`: `bin/quotes`, `config/`, `fixtures/`, the
//!   systemd units and README.md, for any Linux host;
//! - `quotes_<version>+<commits>.g<commit>_<arch>.deb`, built with Debian's own `dpkg-deb`: it installs
//!   `/usr/bin/quotes`, the settings in `/usr/share/quotes/config`, the units in
//!   `/lib/systemd/system`, an environment file `/etc/quotes/quotes.env` (a conffile, readable
//!   by root and the `quotes` group only), and makes the `quotes` system user. Its
//!   dependencies are the packages that hold the libraries the binary links (`ldd`, then
//!   `dpkg -S`; no version constraints: the package fits the Debian release it was built
//!   on), and adduser.
//!
//! Installed, `systemctl enable --now quotes@8001` serves once `DATABASE_URL` and
//! `SECRET_KEY` are in /etc/quotes/quotes.env (docs/deploy.md says more).

use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{cmd, deploy};

/// What `dist` made.
#[derive(Debug)]
pub struct Artifacts {
    pub archive: PathBuf,
    pub deb: PathBuf,
}

/// The systemd units, from deploy/systemd.
pub const UNITS: [&str; 2] = ["quotes@.service", "quotes.target"];

pub fn run(root: &Path) -> Result<()> {
    let made = build(root)?;
    println!("    {}", made.archive.display());
    println!("    {}", made.deb.display());
    println!(
        "install: `dpkg -i {}`, put DATABASE_URL and SECRET_KEY in /etc/quotes/quotes.env, then `systemctl enable --now quotes@8001` (docs/deploy.md)",
        made.deb.display()
    );
    Ok(())
}

/// Builds the release binary (as deploy does: stamped with the release id, so a deploy and a
/// dist of one commit share the build) and packages it.
pub fn build(root: &Path) -> Result<Artifacts> {
    let id = deploy::release_id(root)?;
    let out = crate::target_dir(root).join("dist");
    fs::create_dir_all(&out).with_context(|| format!("could not create {}", out.display()))?;
    let log = out.join("build.log");
    let _ = fs::remove_file(&log);
    println!("    release {id}");
    deploy::build_release(root, &id, &log)?;
    let binary = crate::built_binary(root);
    let version = cargo_version(root)?;
    let arch = cmd::output(Command::new("dpkg").arg("--print-architecture"))
        .context("dpkg is needed to build the Debian package")?
        .trim()
        .to_owned();
    let archive = archive(root, &out, &binary, &version, &id, &arch)?;
    let deb = debian_package(root, &out, &binary, &version, &id, &arch)?;
    Ok(Artifacts { archive, deb })
}

/// The workspace's version, as `quotes --version` says it.
fn cargo_version(root: &Path) -> Result<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml"))?;
    let in_package = manifest
        .split("[workspace.package]")
        .nth(1)
        .context("Cargo.toml has no [workspace.package]")?;
    in_package
        .lines()
        .find_map(|l| {
            let value = l.trim().strip_prefix("version")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
        .context("Cargo.toml's [workspace.package] has no version")
}

/// A fresh, empty directory under `out`.
fn fresh(out: &Path, name: &str) -> Result<PathBuf> {
    let dir = out.join(name);
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("could not clear {}", dir.display())),
    }
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    Ok(dir)
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::copy(from, to)
        .with_context(|| format!("could not copy {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn write(to: &Path, text: &str, mode: u32) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(to, text).with_context(|| format!("could not write {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Where the parts of a release go in a package.
struct Places {
    bin: PathBuf,
    config: PathBuf,
    fixtures: PathBuf,
    units: PathBuf,
    readme: PathBuf,
}

/// Copies the binary, `config/*.toml`, the fixtures, the systemd units and README.md.
fn lay_out(root: &Path, binary: &Path, to: &Places) -> Result<()> {
    copy(binary, &to.bin, 0o755)?;
    for file in config_files(root)? {
        let name = file.file_name().unwrap_or_default();
        copy(&file, &to.config.join(name), 0o644)?;
    }
    copy(
        &root.join("fixtures/quotes.txt"),
        &to.fixtures.join("quotes.txt"),
        0o644,
    )?;
    for unit in UNITS {
        copy(
            &root.join("deploy/systemd").join(unit),
            &to.units.join(unit),
            0o644,
        )?;
    }
    copy(&root.join("README.md"), &to.readme, 0o644)
}

/// The TOML files of config/.
fn config_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("config"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn archive(
    root: &Path,
    out: &Path,
    binary: &Path,
    version: &str,
    id: &str,
    arch: &str,
) -> Result<PathBuf> {
    let name = format!("quotes-{version}-{id}-{arch}");
    let stage = fresh(out, "archive")?;
    let top = stage.join(&name);
    lay_out(
        root,
        binary,
        &Places {
            bin: top.join("bin/quotes"),
            config: top.join("config"),
            fixtures: top.join("fixtures"),
            units: top.join("systemd"),
            readme: top.join("README.md"),
        },
    )?;
    let path = out.join(format!("{name}.tar.gz"));
    cmd::output(
        Command::new("tar")
            .current_dir(&stage)
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-czf",
            ])
            .arg(&path)
            .arg(&name),
    )
    .context("tar failed")?;
    fs::remove_dir_all(&stage)?;
    Ok(path)
}

/// A Debian version from the crate's, the number of commits and the release:
/// `0.1.0+42.g1a2b3c4d5e6f`, `.dirty` appended for a dirty tree (a `-` would start a Debian
/// revision). The count makes a later build compare newer, whatever its hash.
pub fn debian_version(version: &str, commits: u64, id: &str) -> String {
    format!("{version}+{commits}.g{}", id.replace(['-', '_'], "."))
}

/// How many commits lead to HEAD (0 outside a git checkout).
fn commit_count(root: &Path) -> u64 {
    cmd::output(
        Command::new("git")
            .current_dir(root)
            .args(["rev-list", "--count", "HEAD"]),
    )
    .ok()
    .and_then(|n| n.trim().parse().ok())
    .unwrap_or(0)
}

fn debian_package(
    root: &Path,
    out: &Path,
    binary: &Path,
    version: &str,
    id: &str,
    arch: &str,
) -> Result<PathBuf> {
    let stage = fresh(out, "deb")?;
    lay_out(
        root,
        binary,
        &Places {
            bin: stage.join("usr/bin/quotes"),
            config: stage.join("usr/share/quotes/config"),
            fixtures: stage.join("usr/share/quotes/fixtures"),
            units: stage.join("lib/systemd/system"),
            readme: stage.join("usr/share/doc/quotes/README.md"),
        },
    )?;
    write(
        &stage.join("usr/share/doc/quotes/copyright"),
        COPYRIGHT,
        0o644,
    )?;
    write(&stage.join("etc/quotes/quotes.env"), ENV_FILE, 0o640)?;

    let depends = depends(binary)?;
    let size_kib = du_kib(&stage)?;
    let debian = stage.join("DEBIAN");
    let control = format!(
        "Package: quotes\n\
         Version: {}\n\
         Architecture: {arch}\n\
         Maintainer: quotes developers <quotes@localhost>\n\
         Installed-Size: {size_kib}\n\
         Depends: {}\n\
         Recommends: nginx, postgresql\n\
         Section: web\n\
         Priority: optional\n\
         Description: quotes web site and its management commands\n \
         The quotes web site (pages, an API, accounts) as one binary, with systemd units\n \
         for replicas on ports of their choosing (quotes@PORT.service, which migrate the\n \
         database before they serve) and a target for them all (quotes.target).\n",
        debian_version(version, commit_count(root), id),
        depends.join(", ")
    );
    write(&debian.join("control"), &control, 0o644)?;
    write(&debian.join("conffiles"), "/etc/quotes/quotes.env\n", 0o644)?;
    write(&debian.join("postinst"), POSTINST, 0o755)?;
    write(&debian.join("prerm"), PRERM, 0o755)?;
    write(&debian.join("postrm"), POSTRM, 0o755)?;
    let path = out.join(format!(
        "quotes_{}_{arch}.deb",
        debian_version(version, commit_count(root), id)
    ));
    cmd::output(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group", "-Zxz"])
            .arg(&stage)
            .arg(&path),
    )
    .context("dpkg-deb --build failed")?;
    fs::remove_dir_all(&stage)?;
    Ok(path)
}

/// The packages that hold the shared libraries `binary` links, and adduser (for the user).
fn depends(binary: &Path) -> Result<Vec<String>> {
    let ldd = cmd::output(Command::new("ldd").arg(binary)).context("ldd failed")?;
    let mut packages = BTreeSet::from(["adduser".to_owned()]);
    for line in ldd.lines() {
        // `libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x…)` or `/lib64/ld-linux… (0x…)`
        let Some(path) = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from)
        else {
            continue; // linux-vdso: the kernel's
        };
        let candidates = [
            Some(path.clone()),
            fs::canonicalize(&path).ok(),
            Some(Path::new("/usr").join(path.strip_prefix("/").unwrap_or(&path))),
        ];
        let owner = candidates.into_iter().flatten().find_map(|p| {
            let said = cmd::output(Command::new("dpkg").arg("-S").arg(&p)).ok()?;
            let package = said.split(':').next()?.trim().to_owned();
            (!package.is_empty()).then_some(package)
        });
        match owner {
            Some(package) => {
                packages.insert(package);
            }
            None => bail!(
                "no Debian package holds {}, which the binary links: the package could not name it as a dependency",
                path.display()
            ),
        }
    }
    Ok(packages.into_iter().collect())
}

fn du_kib(dir: &Path) -> Result<u64> {
    let said = cmd::output(Command::new("du").args(["-sk"]).arg(dir))?;
    said.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .context("du said no size")
}

const COPYRIGHT: &str =
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Upstream-Name: quotes\n\
\n\
Files: *\n\
Copyright: the quotes developers\n\
License: MIT\n \
Permission is hereby granted, free of charge, to any person obtaining a copy of this\n \
software and associated documentation files (the \"Software\"), to deal in the Software\n \
without restriction, including without limitation the rights to use, copy, modify, merge,\n \
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons\n \
to whom the Software is furnished to do so, subject to the following conditions:\n \
.\n \
The above copyright notice and this permission notice shall be included in all copies or\n \
substantial portions of the Software.\n \
.\n \
THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.\n";

/// /etc/quotes/quotes.env: what the units read; the operator fills it in.
const ENV_FILE: &str = "# The settings of the quotes units (quotes@PORT.service).\n\
# Readable by root and the quotes group only: it holds the database password and the key.\n\
# Every setting of config/default.toml can be given as QUOTES__SECTION__KEY.\n\
\n\
# The database: postgres://USER:PASSWORD@HOST:5432/DATABASE\n\
DATABASE_URL=\n\
# Signs sessions and CSRF tokens; the same on every host. `openssl rand -hex 32` makes one.\n\
SECRET_KEY=\n\
# nginx on this host passes the visitor's address in X-Forwarded-For.\n\
QUOTES__SERVER__TRUSTED_PROXIES=127.0.0.1\n\
# Plain HTTP behind nginx on this host: set to true once nginx serves HTTPS.\n\
QUOTES__SERVER__SECURE_COOKIES=false\n\
# Error reports, when wanted.\n\
SENTRY_DSN=\n";

const POSTINST: &str = r#"#!/bin/sh
# quotes postinst: the system user the units run as, and its environment file's group.
set -e
if [ "$1" = configure ]; then
    if ! getent passwd quotes >/dev/null; then
        adduser --system --group --no-create-home --home /nonexistent \
            --shell /usr/sbin/nologin --gecos "quotes web site" quotes
    fi
    chown root:quotes /etc/quotes/quotes.env
    chmod 0640 /etc/quotes/quotes.env
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
fi
exit 0
"#;

const PRERM: &str = r#"#!/bin/sh
# quotes prerm: stop the site before its files go.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop quotes.target 'quotes@*.service' >/dev/null 2>&1 || true
fi
exit 0
"#;

const POSTRM: &str = r#"#!/bin/sh
# quotes postrm: systemd forgets the units. The quotes user stays (Debian's practice: files
# it owned may remain), as does the database, which this package never touched.
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
fi
exit 0
"#;

/// `cargo xtask test`'s check of the packages, as far as it can go without a service
/// manager: what `dpkg-deb` says of the package and what it holds, the archive's contents,
/// the maintainer scripts parse, and the packaged binary, run from the unpacked package the
/// way its unit runs it (the unit's environment, the packaged settings), serves.
pub fn check(root: &Path) -> Result<()> {
    let made = build(root)?;
    let info = cmd::output(Command::new("dpkg-deb").arg("--info").arg(&made.deb))?;
    for wanted in ["Package: quotes", "Architecture: ", "Maintainer: "] {
        if !info.contains(wanted) {
            bail!(
                "dpkg-deb --info {} says no {wanted:?}:\n{info}",
                made.deb.display()
            );
        }
    }
    let depends = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .context("the package has no Depends")?;
    // libssl's package name changes between releases (libssl3, libssl3t64).
    for wanted in ["adduser", "libc6", "libssl"] {
        if !depends.split(", ").any(|d| d.starts_with(wanted)) {
            bail!("the package does not depend on {wanted}: Depends: {depends}");
        }
    }
    let contents = cmd::output(Command::new("dpkg-deb").arg("--contents").arg(&made.deb))?;
    let has = |listing: &str, path: &str| listing.lines().any(|l| l.ends_with(path));
    for path in [
        "./usr/bin/quotes",
        "./usr/share/quotes/config/default.toml",
        "./usr/share/quotes/config/production.toml",
        "./usr/share/quotes/fixtures/quotes.txt",
        "./lib/systemd/system/quotes@.service",
        "./lib/systemd/system/quotes.target",
        "./etc/quotes/quotes.env",
        "./usr/share/doc/quotes/copyright",
    ] {
        if !has(&contents, path) {
            bail!("the package holds no {path}:\n{contents}");
        }
    }
    let env_line = contents
        .lines()
        .find(|l| l.ends_with("./etc/quotes/quotes.env"))
        .unwrap_or_default();
    if !env_line.starts_with("-rw-r----- root/root") {
        bail!("/etc/quotes/quotes.env must be 0640 root's (postinst gives it to group quotes): {env_line}");
    }
    let listing = cmd::output(Command::new("tar").arg("-tzf").arg(&made.archive))?;
    for path in [
        "/bin/quotes",
        "/config/default.toml",
        "/systemd/quotes@.service",
        "/README.md",
    ] {
        if !has(&listing, path) {
            bail!("{} holds no …{path}:\n{listing}", made.archive.display());
        }
    }

    let unpacked = fresh(&crate::target_dir(root).join("dist"), "unpacked")?;
    let result = serve_unpacked(&made.deb, &unpacked);
    let _ = fs::remove_dir_all(&unpacked);
    result?;
    println!(
        "    {} and {} checked; the packaged binary served with the unit's settings",
        made.deb.display(),
        made.archive.display()
    );
    Ok(())
}

/// Unpacks `deb` into `dir`, parses its maintainer scripts, and serves from it with the
/// environment its unit gives (the memory store: no database here).
fn serve_unpacked(deb: &Path, dir: &Path) -> Result<()> {
    cmd::output(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dir))?;
    let control = dir.join("DEBIAN");
    cmd::output(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control))?;
    for script in ["postinst", "prerm", "postrm"] {
        cmd::output(Command::new("sh").arg("-n").arg(control.join(script)))
            .with_context(|| format!("the package's {script} does not parse"))?;
    }
    let unit = fs::read_to_string(dir.join("lib/systemd/system/quotes@.service"))?;
    let port = crate::sys::pick_free_port()?;
    let mut serve = Command::new(dir.join("usr/bin/quotes"));
    serve
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for line in unit.lines() {
        let Some(assignments) = line.strip_prefix("Environment=") else {
            continue;
        };
        for pair in assignments.split_whitespace() {
            let (key, value) = pair.split_once('=').context("an Environment= without =")?;
            let value = value.replace("%i", &port.to_string());
            // The unit names the installed place; here the package is unpacked elsewhere.
            let value = value.replace(
                "/usr/share/quotes",
                &dir.join("usr/share/quotes").display().to_string(),
            );
            serve.env(key, value);
        }
    }
    serve
        .env("QUOTES_STORE", "memory")
        .env(
            "SECRET_KEY",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = serve
        .spawn()
        .context("the packaged binary does not start")?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(2)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let started = std::time::Instant::now();
    let answered = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Err(anyhow::anyhow!(
                "the packaged quotes serve exited ({status})"
            ));
        }
        match agent.get(&url).call() {
            Ok(res) if res.status() == 200 => break Ok(()),
            _ if started.elapsed() > std::time::Duration::from_secs(20) => {
                break Err(anyhow::anyhow!("{url} did not answer 200 within 20 s"))
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    let _ = crate::sys::terminate(child.id(), std::time::Duration::from_secs(10));
    let _ = child.wait();
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_versions_never_hold_a_dash() {
        assert_eq!(
            debian_version("0.1.0", 42, "1a2b3c4d5e6f"),
            "0.1.0+42.g1a2b3c4d5e6f"
        );
        assert_eq!(
            debian_version("0.1.0", 42, "1a2b3c4d5e6f-dirty"),
            "0.1.0+42.g1a2b3c4d5e6f.dirty"
        );
        // dpkg compares the digits as a number: a later commit is a newer package.
        let older = debian_version("0.1.0", 9, "ffffffffffff");
        let newer = debian_version("0.1.0", 10, "000000000000");
        let ok = Command::new("dpkg")
            .args(["--compare-versions", &newer, "gt", &older])
            .status()
            .expect("dpkg runs");
        assert!(ok.success(), "{newer} > {older}");
    }

    #[test]
    fn reads_the_workspace_version() {
        let version = cargo_version(&crate::project_root()).unwrap();
        assert!(version.split('.').count() == 3, "{version}");
    }
}
