//! Stamps the binary with the git commit it was built from (QUOTES_BUILD_COMMIT wins, for
//! builds without a .git directory, such as a container build).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=QUOTES_BUILD_COMMIT");
    let commit = std::env::var("QUOTES_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=QUOTES_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: a new commit or a checkout.
    // A file named here that does not exist makes cargo rebuild every time, so name only
    // those that do; a ref that moves into packed-refs deletes its loose file, which counts.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
        let files = ["HEAD".to_owned(), "packed-refs".to_owned()]
            .into_iter()
            .chain(head_ref);
        for file in files {
            let path = std::path::Path::new(&dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
