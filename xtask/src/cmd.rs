//! Running other programs: cargo through `$CARGO`, output streamed or captured, errors that name the command.

use std::{
    env,
    ffi::OsStr,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

/// Cargo as the one that started us (`$CARGO`), so a pinned toolchain stays pinned.
pub fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` with our stdout and stderr, so the person watching sees its output as it comes.
pub fn stream(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    println!("    $ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout; on failure the error carries its stderr.
pub fn output_bytes(cmd: &mut Command) -> Result<Vec<u8>> {
    let shown = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("`{shown}` failed ({}): {}", out.status, stderr.trim());
    }
    Ok(out.stdout)
}

/// Like [`output_bytes`], as text.
pub fn output(cmd: &mut Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&output_bytes(cmd)?).into_owned())
}

/// The command as a person would type it. The program shows by file name only: the full
/// path of `$CARGO` is long and says nothing the reader needs.
pub fn display(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let mut parts = vec![quote(program.file_name().unwrap_or(program.as_os_str()))];
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        arg.into_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The first executable called `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = Command::new("/usr/lib/postgresql/15/bin/pg_ctl");
        cmd.args(["-D", "/tmp/data", "-o", "-p 5432 -k '/tmp/s'", ""]);
        assert_eq!(
            display(&cmd),
            r"pg_ctl -D /tmp/data -o '-p 5432 -k '\''/tmp/s'\''' ''"
        );
    }
}
