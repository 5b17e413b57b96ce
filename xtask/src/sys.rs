//! What xtask asks of the operating system: who we are, whether a process lives, signals, free ports.
//!
//! The workspace forbids `unsafe`, so instead of libc calls this reads `/proc` (we deploy on
//! Linux) and sends signals with the `kill` program.

use std::{
    fs,
    net::TcpListener,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::cmd;

pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        == Some(0)
}

/// The effective uid from the `Uid:` line of `/proc/self/status` (real, effective, saved, fs).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
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
        // Between fork and exec the child still carries the test binary's name.
        let started = Instant::now();
        while program_name(pid).as_deref() != Some("sleep") {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "sleep never started"
            );
            thread::sleep(Duration::from_millis(10));
        }
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
