//! wrk: one bounded run against a URL, what its report says, and the median of several runs.

use std::{
    io::Read,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{cmd, sys};

/// Two threads (one a core) keep 32 connections busy: enough to queue requests on every
/// worker of a 2-core server without measuring wrk's own scheduling.
pub(super) const THREADS: u32 = 2;
pub(super) const CONNECTIONS: u32 = 32;
/// A request slower than this counts as a timeout, not as a very slow answer.
pub(super) const TIMEOUT: &str = "5s";

/// What wrk measured on one endpoint; with several runs, their median (see [`median`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Load {
    pub requests_per_sec: f64,
    pub p50: String,
    pub p99: String,
    pub requests: u64,
    /// Non-2xx answers and socket errors together: any is a finding.
    pub failures: u64,
}

impl Load {
    /// More than one request in a hundred failed: its rate measures the failures, not the page.
    pub(super) fn too_many_failures(&self) -> bool {
        self.failures * 100 > self.requests
    }
}

/// Runs wrk once for `seconds` against `url`. wrk stops itself, but a server that stops
/// answering could hold it in its last reads; past a grace period it is killed, so the bench
/// as a whole stays bounded in time.
pub(super) fn run(wrk: &Path, url: &str, seconds: u64) -> Result<Load> {
    let mut command = Command::new(wrk);
    command.args([
        &format!("-t{THREADS}"),
        &format!("-c{CONNECTIONS}"),
        &format!("-d{seconds}s"),
        "--timeout",
        TIMEOUT,
        "--latency",
        url,
    ]);
    let limit = Duration::from_secs(seconds + 20);
    let out = output_within(&mut command, limit)?;
    parse(&out).with_context(|| format!("reading wrk's report for {url}:\n{out}"))
}

/// Runs `command` and returns its stdout, killing it when it runs past `limit`.
fn output_within(command: &mut Command, limit: Duration) -> Result<String> {
    let shown = cmd::display(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = sys::signal(child.id(), "KILL");
            let _ = child.wait();
            bail!("`{shown}` ran past {limit:?} and was killed");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!("`{shown}` failed ({status}): {}", err.trim());
    }
    Ok(out)
}

/// Reads a pipe to its end on a thread of its own, so a full pipe never stalls the child.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

pub(super) fn parse(out: &str) -> Option<Load> {
    let mut load = Load::default();
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(n)) => load.requests_per_sec = n.parse().ok()?,
            (Some("50%"), Some(t)) => load.p50 = t.to_owned(),
            (Some("99%"), Some(t)) => load.p99 = t.to_owned(),
            (Some(n), Some("requests")) => load.requests = n.parse().ok()?,
            (Some("Non-2xx"), _) => {
                load.failures += line.rsplit(' ').next()?.parse::<u64>().ok()?
            }
            (Some("Socket"), Some("errors:")) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                load.failures += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (load.requests > 0).then_some(load)
}

/// The median of several runs: the middle rate (the mean of the middle two for an even
/// count), the latencies of the run whose rate is nearest to it, and the requests and
/// failures of all runs added up, since any failure is a finding.
pub(super) fn median(runs: &[Load]) -> Option<Load> {
    let mut rates: Vec<f64> = runs.iter().map(|l| l.requests_per_sec).collect();
    let rate = median_of(&mut rates)?;
    let nearest = runs.iter().min_by(|a, b| {
        let da = (a.requests_per_sec - rate).abs();
        let db = (b.requests_per_sec - rate).abs();
        da.total_cmp(&db)
    })?;
    Some(Load {
        requests_per_sec: rate,
        p50: nearest.p50.clone(),
        p99: nearest.p99.clone(),
        requests: runs.iter().map(|l| l.requests).sum(),
        failures: runs.iter().map(|l| l.failures).sum(),
    })
}

pub(super) fn median_of(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_report() {
        let out = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 16 connections\n  Latency Distribution\n     50%    1.23ms\n     75%    2.00ms\n     90%    3.00ms\n     99%    5.67ms\n  12345 requests in 5.00s, 12.34MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:   2469.00\nTransfer/sec:      2.47MB\n";
        assert_eq!(
            parse(out),
            Some(Load {
                requests_per_sec: 2469.0,
                p50: "1.23ms".into(),
                p99: "5.67ms".into(),
                requests: 12345,
                failures: 7,
            })
        );
        assert_eq!(parse("wrk: connection refused"), None);
    }

    fn load(rate: f64, p50: &str) -> Load {
        Load {
            requests_per_sec: rate,
            p50: p50.into(),
            p99: "9ms".into(),
            requests: 100,
            failures: 1,
        }
    }

    #[test]
    fn the_median_is_the_middle_rate() {
        let mut odd = [3.0, 1.0, 2.0];
        assert_eq!(median_of(&mut odd), Some(2.0));
        let mut even = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median_of(&mut even), Some(2.5));
        assert_eq!(median_of(&mut []), None);

        let runs = [load(900.0, "a"), load(1000.0, "b"), load(5000.0, "c")];
        let m = median(&runs).unwrap();
        assert_eq!(m.requests_per_sec, 1000.0);
        assert_eq!(m.p50, "b");
        assert_eq!((m.requests, m.failures), (300, 3));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&runs[..1]).unwrap(), runs[0]);
    }

    #[test]
    fn a_few_failures_are_tolerated_many_are_not() {
        let mut l = load(1.0, "x");
        l.requests = 1000;
        l.failures = 10;
        assert!(!l.too_many_failures());
        l.failures = 11;
        assert!(l.too_many_failures());
    }

    #[test]
    fn a_run_past_its_limit_is_killed() {
        let started = Instant::now();
        let err =
            output_within(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert!(err.to_string().contains("was killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let out = output_within(Command::new("echo").arg("hi"), Duration::from_secs(10)).unwrap();
        assert_eq!(out, "hi\n");
    }
}
