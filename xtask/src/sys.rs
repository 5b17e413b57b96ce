//! What xtask asks of the operating system: who we are, whether a process lives, signals, free ports.
//!
//! The workspace forbids `unsafe`, so instead of libc calls this reads `/proc` (we deploy on
//! Linux) and sends signals with the `kill` program.

use std::{
    fs,
    net::TcpListener,
    path::Path,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::cmd;

pub fn is_root() -> bool {
    euid() == 0
}

/// Our effective uid (`u32::MAX` when /proc cannot say, which owns nothing).
pub fn euid() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        .unwrap_or(u32::MAX)
}

/// The effective uid from the `Uid:` line of `/proc/self/status` (real, effective, saved, fs).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The directories of the temporary folder named `<prefix><pid>-…` that this user owns and
/// whose owner process `pid` is gone: what runs killed before their guards ran left behind.
pub fn orphaned_temp_dirs(prefix: &str) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    let me = euid();
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix(prefix)
                .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok())
                .is_some_and(|owner| !is_alive(owner))
        })
        .map(|entry| entry.path())
        .filter(|dir| fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == me))
        .collect()
}

/// Whether `pid` is a running process. A zombie counts as gone: it has exited, and only its
/// parent's bookkeeping is left (a container's init may never reap it).
pub fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| process_state(&stat))
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// The state letter of `/proc/PID/stat`: `PID (COMM) STATE ...`; COMM may hold spaces and
/// parentheses, so the state is the first field after the last `)`.
fn process_state(stat: &str) -> Option<char> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().next()?.chars().next()
}

/// The program name (argv\[0\]'s file name) of a live process.
pub fn program_name(pid: u32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    let argv0 = String::from_utf8_lossy(argv0);
    Some(argv0.rsplit('/').next().unwrap_or_default().to_owned())
}

/// The kernel's name for a process (`/proc/PID/comm`): its executable's file name, cut at
/// 15 bytes. Unlike argv it survives a program that rewrites its title, as nginx and
/// postgres do (`nginx: master process ...`).
pub fn comm(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// A process's command line, its arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(text.trim_end_matches('\0').replace('\0', " "))
}

/// Whether `pid` is a live process of `program` whose command line mentions `path`. A pid
/// in one of our files may have been reused by the kernel since we wrote it; the program
/// name and a path of ours in its arguments tell our process from a stranger's.
pub fn is_ours(pid: u32, program: &str, path: &Path) -> bool {
    is_alive(pid)
        && comm(pid).as_deref() == Some(program)
        && cmdline(pid).is_some_and(|line| mentions(&line, &path.display().to_string()))
}

/// Whether `line` holds `path` as a whole path or a directory of one: followed by the end,
/// a space or a slash, so that `/srv/.deploy2` is not taken for `/srv/.deploy`.
fn mentions(line: &str, path: &str) -> bool {
    line.match_indices(path).any(|(at, _)| {
        matches!(
            line[at + path.len()..].chars().next(),
            None | Some(' ' | '/')
        )
    })
}

/// Every live process of `program` whose command line mentions `path` (see [`is_ours`]).
pub fn find_ours(program: &str, path: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| is_ours(pid, program, path))
        .collect();
    pids.sort_unstable();
    pids
}

/// The live children of `pid`, found by their parent field in `/proc/*/stat`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parent_pid(&stat))
                == Some(pid)
        })
        .filter(|&child| is_alive(child))
        .collect()
}

/// The parent pid: the field after the state in `/proc/PID/stat`.
fn parent_pid(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` (`TERM`, `KILL`) to `pid`. A process that is already gone is not an error.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let result = cmd::output(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string()),
    );
    match result {
        Err(_) if !is_alive(pid) => Ok(()),
        other => other.map(drop),
    }
}

/// Waits up to `timeout` for `pid` to exit; true if it did.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let started = Instant::now();
    while is_alive(pid) {
        if started.elapsed() >= timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
    true
}

#[derive(Debug, PartialEq)]
pub enum Stopped {
    Gracefully,
    Killed,
}

/// SIGTERM, up to `grace` to exit, then SIGKILL.
pub fn terminate(pid: u32, grace: Duration) -> Result<Stopped> {
    signal(pid, "TERM")?;
    if wait_gone(pid, grace) {
        return Ok(Stopped::Gracefully);
    }
    signal(pid, "KILL")?;
    if wait_gone(pid, Duration::from_secs(5)) {
        Ok(Stopped::Killed)
    } else {
        bail!("process {pid} is still alive after SIGKILL")
    }
}

/// A port on 127.0.0.1 that nothing listens on right now: the kernel picks one for a
/// listener on port 0, and we let it go again.
pub fn pick_free_port() -> Result<u16> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).context("could not bind a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tcat\n"), None);
    }

    #[test]
    fn reads_the_state_after_an_awkward_comm() {
        assert_eq!(process_state("42 (a) b) c) S 1 42 42"), Some('S'));
        assert_eq!(process_state("43 (postgres) Z 1 43"), Some('Z'));
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn a_path_is_mentioned_whole_or_as_a_directory() {
        let line = "nginx: master process /usr/sbin/nginx -c /srv/.deploy/nginx/nginx.conf";
        assert!(mentions(line, "/srv/.deploy/nginx/nginx.conf"));
        assert!(mentions(line, "/srv/.deploy"));
        assert!(!mentions(line, "/srv/.dep"));
        assert!(!mentions(
            "postgres -D /srv/.deploy2/data -p 5",
            "/srv/.deploy"
        ));
        assert!(mentions("postgres -D /srv/d /srv/.deploy2/x", "/srv/d"));
    }

    #[test]
    fn reads_the_parent_after_an_awkward_comm() {
        assert_eq!(parent_pid("42 (a) b) c) S 1 42 42"), Some(1));
        assert_eq!(parent_pid("43 (nginx) S 7 43"), Some(7));
        assert_eq!(parent_pid("garbage"), None);
    }

    /// Waits until a spawned `sleep` runs as itself: between fork and exec the child still
    /// carries the test binary's name.
    fn wait_for_exec(pid: u32) {
        let started = Instant::now();
        while comm(pid).as_deref() != Some("sleep") || program_name(pid).as_deref() != Some("sleep")
        {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "sleep never started"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn knows_its_own_children_by_name_and_arguments() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        wait_for_exec(pid);
        assert!(children(std::process::id()).contains(&pid));
        assert!(find_ours("sleep", Path::new("60")).contains(&pid));
        assert!(is_ours(pid, "sleep", Path::new("60")));
        assert!(!is_ours(pid, "sleep", Path::new("6")));
        assert!(!is_ours(pid, "nginx", Path::new("60")));
        assert_eq!(cmdline(pid).as_deref(), Some("sleep 60"));
        terminate(pid, Duration::from_secs(5)).unwrap();
        child.wait().unwrap();
        assert!(!is_ours(pid, "sleep", Path::new("60")));
    }

    #[test]
    fn we_are_alive_and_a_reaped_child_is_not() {
        assert!(is_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn a_picked_port_is_free_and_a_held_one_is_not() {
        let port = pick_free_port().unwrap();
        assert_ne!(port, 0);
        assert!(port_is_free(port));
        let held = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(!port_is_free(port));
        drop(held);
    }

    #[test]
    fn terminate_stops_a_process_that_listens_to_sigterm() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        wait_for_exec(pid);
        let stopped = terminate(pid, Duration::from_secs(5)).unwrap();
        assert_eq!(stopped, Stopped::Gracefully);
        child.wait().unwrap();
    }

    #[test]
    fn terminate_kills_a_process_that_ignores_sigterm() {
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; while :; do sleep 0.1; done"])
            .spawn()
            .unwrap();
        // Give the shell time to install its trap before the signal arrives.
        thread::sleep(Duration::from_millis(200));
        let stopped = terminate(child.id(), Duration::from_millis(300)).unwrap();
        assert_eq!(stopped, Stopped::Killed);
        child.wait().unwrap();
    }
}
