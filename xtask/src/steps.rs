//! Steps of a task: a `==> name` line as each starts, its duration, and one summary line at the end.
//!
//! There is no progress bar (indicatif): the long steps stream cargo's own output, and a bar
//! redrawn underneath it would garble both.

use std::{
    fmt, fs,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Result;

/// The error a task returns once its summary line has said what failed, so `main` does not
/// print it a second time.
#[derive(Debug)]
pub struct Reported;

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failure already reported")
    }
}

impl std::error::Error for Reported {}

pub struct Steps {
    task: &'static str,
    started: Instant,
    records: Vec<Record>,
    failed_at: Option<String>,
}

struct Record {
    name: String,
    took: Duration,
    outcome: String,
}

impl Steps {
    pub fn new(task: &'static str) -> Steps {
        Steps {
            task,
            started: Instant::now(),
            records: Vec::new(),
            failed_at: None,
        }
    }

    /// Runs one step; an error stops the task (the caller returns it with `?`).
    pub fn run<T>(&mut self, name: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("==> {name}");
        let started = Instant::now();
        let result = step();
        let took = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(_) => {
                self.failed_at = Some(name.to_owned());
                "FAILED"
            }
        };
        self.records.push(Record {
            name: name.to_owned(),
            took,
            outcome: outcome.to_owned(),
        });
        result
    }

    /// Like [`Steps::run`], for a step whose programs write to `log`: when it fails, the end of
    /// the log is shown and the error names the file, so the reader knows where to look.
    pub fn run_logged<T>(
        &mut self,
        name: &str,
        log: &Path,
        step: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.run(name, || {
            step().map_err(|err| {
                // A step can fail before its programs wrote anything (a port in use, a
                // missing tool): then there is no log to send the reader to.
                if fs::metadata(log).is_ok_and(|meta| meta.len() > 0) {
                    print_tail(log, 20);
                    anyhow::anyhow!("{err:#}; its log is {}", log.display())
                } else {
                    err
                }
            })
        })
    }

    /// Records a step that had nothing to do, and says why.
    pub fn skip(&mut self, name: &str, why: &str) {
        println!("==> {name}");
        println!("{name}: {why}");
        self.records.push(Record {
            name: name.to_owned(),
            took: Duration::ZERO,
            outcome: format!("skipped: {why}"),
        });
    }

    /// Prints each step's duration and the summary line; a failure comes back as [`Reported`].
    pub fn finish(self, result: Result<()>) -> Result<()> {
        let width = self.records.iter().map(|r| r.name.len()).max().unwrap_or(0);
        println!();
        for record in &self.records {
            println!(
                "    {:width$}  {:>7}  {}",
                record.name,
                format_duration(record.took),
                record.outcome
            );
        }
        let total = format_duration(self.started.elapsed());
        match result {
            Ok(()) => {
                let skipped = self
                    .records
                    .iter()
                    .filter(|r| r.outcome.starts_with("skipped"))
                    .count();
                let passed = self.records.len() - skipped;
                let skipped = match skipped {
                    0 => String::new(),
                    n => format!(", {n} skipped"),
                };
                println!(
                    "xtask {}: {passed} steps passed{skipped} in {total}",
                    self.task
                );
                Ok(())
            }
            Err(err) => {
                match self.failed_at {
                    Some(step) => eprintln!(
                        "xtask {}: FAILED at step '{step}' after {total} ({err:#})",
                        self.task
                    ),
                    None => eprintln!("xtask {}: FAILED after {total} ({err:#})", self.task),
                }
                Err(Reported.into())
            }
        }
    }
}

/// Prints the last `n` lines of a failed program's log to stderr, so the reason is on screen
/// and the summary line can stay one line.
pub fn print_tail(log: &Path, n: usize) {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- the end of {} ---", log.display());
            for line in &lines[lines.len().saturating_sub(n)..] {
                eprintln!("{line}");
            }
            eprintln!("---");
        }
        Err(err) => eprintln!("(could not read {}: {err})", log.display()),
    }
}

/// `0.4s`, `42.0s`, `4m12s`, `1h02m`: short enough for a summary line.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(secs: f64, expected: &str) {
        assert_eq!(format_duration(Duration::from_secs_f64(secs)), expected);
    }

    #[test]
    fn durations_read_well() {
        check(0.42, "0.4s");
        check(59.94, "59.9s");
        check(60.0, "1m00s");
        check(252.0, "4m12s");
        check(3720.0, "1h02m");
    }

    #[test]
    fn a_failed_step_is_reported_once() {
        let mut steps = Steps::new("demo");
        let first = steps.run("first", || Ok(1));
        assert_eq!(first.unwrap(), 1);
        let second: Result<()> = steps.run("second", || anyhow::bail!("broken"));
        assert!(second.is_err());
        assert_eq!(steps.failed_at.as_deref(), Some("second"));
        let finished = steps.finish(second);
        assert!(finished.unwrap_err().is::<Reported>());
    }
}
