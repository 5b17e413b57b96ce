//! xtask's library: one module per task, and the parts tests elsewhere reuse (a throwaway
//! PostgreSQL cluster in `pg`, for tests that must stop and start a database of their own;
//! finding and pinging `redis-server` in `redis`).

pub mod bench;
pub mod cmd;
pub mod deploy;
pub mod deps;
pub mod dist;
pub mod e2e;
pub mod manifests;
pub mod pg;
pub mod preflight;
pub mod redis;
pub mod scaffold;
pub mod steps;
pub mod sys;
pub mod test;
pub mod tidy;

use std::{
    env,
    path::{Path, PathBuf},
};

/// The workspace root: xtask's own manifest directory is one level below it.
pub fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` the way cargo does.
pub fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The cargo profile deploy and dist build the app with: `release`, unless
/// `XTASK_BUILD_PROFILE` names another (`cargo xtask test` deploys and packages the `dev`
/// build its tests already made, rather than compiling everything again optimised).
pub fn build_profile() -> String {
    env::var("XTASK_BUILD_PROFILE")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "release".to_owned())
}

/// Where the `quotes` binary of [`build_profile`] lands (`dev` builds go to `debug/`).
pub fn built_binary(root: &Path) -> PathBuf {
    let profile = build_profile();
    let dir = if profile == "dev" { "debug" } else { &profile };
    target_dir(root).join(dir).join("quotes")
}

/// Where xtask keeps its own logs, inside the target directory so `cargo clean` removes them.
pub fn xtask_dir(root: &Path) -> PathBuf {
    target_dir(root).join("xtask")
}
