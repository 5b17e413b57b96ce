//! Running other programs: cargo through `$CARGO`, output streamed or captured, errors that name the command.

use std::{
    env,
    ffi::OsStr,
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    thread,
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

/// Opens `log` for appending, creating it (and its directory) when missing.
pub fn append_to(log: &Path) -> Result<File> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("could not open {}", log.display()))
}

/// Like [`stream`], and every line also goes to `log`: the person watching sees the output as
/// it comes, and it is still there to read after the terminal has scrolled it away.
pub fn stream_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    let shown = display(cmd);
    println!("    $ {shown}");
    let file = Arc::new(Mutex::new(append_to(log)?));
    writeln!(lock(&file), "$ {shown}")?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let stdout = child.stdout.take().map(|out| {
        let file = Arc::clone(&file);
        thread::spawn(move || tee(out, io::stdout(), &file))
    });
    let stderr = child.stderr.take().map(|err| {
        let file = Arc::clone(&file);
        thread::spawn(move || tee(err, io::stderr(), &file))
    });
    for copier in [stdout, stderr].into_iter().flatten() {
        // A copier only fails when a terminal or the log refuses output; the exit status
        // below still decides whether the command worked.
        let _ = copier.join();
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

fn lock(file: &Mutex<File>) -> std::sync::MutexGuard<'_, File> {
    file.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tee(mut from: impl Read, mut to: impl Write, log: &Mutex<File>) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        to.flush()?;
        lock(log).write_all(&buf[..n])?;
    }
}

/// Runs `cmd` with its stderr appended to `log` and returns its stdout, which is appended
/// there too: the log holds everything, and the caller shows only the answer.
pub fn output_logged(cmd: &mut Command, log: &Path) -> Result<String> {
    let shown = display(cmd);
    let mut file = append_to(log)?;
    writeln!(file, "$ {shown}")?;
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(file.try_clone()?)
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    file.write_all(&out.stdout)?;
    if !out.status.success() {
        bail!("`{shown}` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` with `input` on its stdin and returns its stdout. Secrets go this way rather
/// than as arguments, which every user on the machine can read in `ps`.
pub fn output_with_input(cmd: &mut Command, input: &str) -> Result<String> {
    let shown = display(cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .with_context(|| format!("could not write to `{shown}`"))?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("`{shown}` failed ({}): {}", out.status, stderr.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
    fn logged_output_keeps_both_streams_and_returns_stdout() {
        let dir = env::temp_dir().join(format!("xtask-cmd-test-{}", std::process::id()));
        let log = dir.join("sub").join("x.log");
        let out = output_logged(
            Command::new("sh").args(["-c", "echo answer; echo chatter >&2"]),
            &log,
        )
        .unwrap();
        assert_eq!(out, "answer\n");
        let text = fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("chatter") && text.contains("answer"),
            "{text}"
        );
        let err = output_logged(Command::new("sh").args(["-c", "exit 3"]), &log).unwrap_err();
        assert!(err.to_string().contains("failed"), "{err}");
        let piped = output_with_input(&mut Command::new("cat"), "secret\n").unwrap();
        assert_eq!(piped, "secret\n");
        fs::remove_dir_all(&dir).unwrap();
    }

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
