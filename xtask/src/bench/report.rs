//! What the bench measured, the ratios it is judged by, and `target/bench/report.md`.

use std::{fmt::Write as _, time::Duration};

use super::wrk::{self, Load};

/// The page size of `/quotes` when the URL names none: the app's default
/// (`PageRequest::DEFAULT_PER_PAGE`), repeated here so that xtask needs none of our crates.
const DEFAULT_PER_PAGE: u64 = 50;

/// Peak memory a PostgreSQL replica should stay under while loaded, in KiB.
const RSS_GOAL_KIB: u64 = 30 * 1024;

/// A URL the bench loads, named by what it shows rather than by its path, which for the deep
/// page depends on how many quotes there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Home,
    Quotes,
    LongPage,
    DeepPage,
    Random,
    OneQuote,
    Health,
    /// The peer's `/quotes`: every row on one page.
    PeerQuotes,
    /// The peer's `hello` `/`: the machine's ceiling for a request.
    PeerHello,
}

impl Endpoint {
    /// Ours, in the order they are measured: the pages people read, the API, liveness.
    pub(super) const OURS: [Endpoint; 7] = [
        Endpoint::Home,
        Endpoint::Quotes,
        Endpoint::LongPage,
        Endpoint::DeepPage,
        Endpoint::Random,
        Endpoint::OneQuote,
        Endpoint::Health,
    ];

    pub(super) fn path(self, quotes: u64) -> String {
        match self {
            Endpoint::Home | Endpoint::PeerHello => "/".to_owned(),
            Endpoint::Quotes | Endpoint::PeerQuotes => "/quotes".to_owned(),
            Endpoint::LongPage => "/quotes?per_page=1000".to_owned(),
            Endpoint::DeepPage => format!("/quotes?page={}", last_page(quotes)),
            Endpoint::Random => "/api/quotes/random".to_owned(),
            Endpoint::OneQuote => "/quotes/5".to_owned(),
            Endpoint::Health => "/healthz".to_owned(),
        }
    }

    /// Which of ours the peer's stands beside in the chart.
    pub(super) fn beside(self) -> Endpoint {
        match self {
            Endpoint::PeerQuotes => Endpoint::LongPage,
            Endpoint::PeerHello => Endpoint::Health,
            other => other,
        }
    }

    /// A short name for the chart's axis.
    pub(super) fn short(self) -> &'static str {
        match self {
            Endpoint::Home => "/",
            Endpoint::Quotes => "/quotes",
            Endpoint::LongPage => "1000 per page",
            Endpoint::DeepPage => "last page",
            Endpoint::Random => "random (API)",
            Endpoint::OneQuote => "/quotes/5",
            Endpoint::Health => "/healthz",
            Endpoint::PeerQuotes => "peer /quotes",
            Endpoint::PeerHello => "peer hello",
        }
    }
}

/// The last page of `quotes` at the default page size: the deepest OFFSET a visitor reaches.
pub(super) fn last_page(quotes: u64) -> u64 {
    quotes.div_ceil(DEFAULT_PER_PAGE).max(1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Store {
    Postgres,
    Memory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Who {
    /// actix-ref, the plain server in shared/bench.
    Peer,
    Ours {
        store: Store,
        cached: bool,
    },
}

/// One configuration: who serves, and how many quotes the store holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Setup {
    pub who: Who,
    pub quotes: u64,
}

impl Setup {
    pub(super) const fn ours(store: Store, cached: bool, quotes: u64) -> Setup {
        Setup {
            who: Who::Ours { store, cached },
            quotes,
        }
    }

    pub(super) const fn peer(quotes: u64) -> Setup {
        Setup {
            who: Who::Peer,
            quotes,
        }
    }

    /// `pg uncached 1k`, `memory cached 1k`, `actix-ref 1k`.
    pub(super) fn name(&self) -> String {
        let count = count_label(self.quotes);
        match self.who {
            Who::Peer => format!("actix-ref {count}"),
            Who::Ours { store, cached } => {
                let store = match store {
                    Store::Postgres => "pg",
                    Store::Memory => "memory",
                };
                let cache = if cached { "cached" } else { "uncached" };
                format!("{store} {cache} {count}")
            }
        }
    }

    /// The name as a file name: `pg-uncached-1k`.
    pub(super) fn slug(&self) -> String {
        self.name().replace(' ', "-")
    }
}

/// `1k`, `1M`, or the number itself when it is neither.
pub(super) fn count_label(n: u64) -> String {
    match n {
        1_000_000 => "1M".to_owned(),
        1_000 => "1k".to_owned(),
        n => n.to_string(),
    }
}

/// One endpoint of one configuration.
#[derive(Debug)]
pub(super) struct Measure {
    pub endpoint: Endpoint,
    pub path: String,
    pub load: Result<Load, String>,
    /// SQL statements the server ran per request answered, when they could be counted.
    pub statements: Option<f64>,
}

#[derive(Debug)]
pub(super) struct Figures {
    pub startup: Duration,
    pub rss_ready_kib: u64,
    pub rss_peak_kib: u64,
    pub measures: Vec<Measure>,
}

/// One configuration's outcome: its figures, or why there are none.
#[derive(Debug)]
pub(super) struct Measured {
    pub setup: Setup,
    pub notes: Vec<String>,
    pub figures: Result<Figures, String>,
}

impl Measured {
    /// The median rate of `endpoint`, or why there is none worth comparing.
    pub(super) fn rate(&self, endpoint: Endpoint) -> Result<f64, String> {
        let name = self.setup.name();
        let figures = self
            .figures
            .as_ref()
            .map_err(|_| format!("{name} failed"))?;
        let measure = figures
            .measures
            .iter()
            .find(|m| m.endpoint == endpoint)
            .ok_or_else(|| format!("{name} has no {}", endpoint.short()))?;
        match &measure.load {
            Ok(load) if load.too_many_failures() => Err(format!(
                "{name} {}: {} of {} requests failed",
                measure.path, load.failures, load.requests
            )),
            Ok(load) => Ok(load.requests_per_sec),
            Err(_) => Err(format!("{name} {} failed", measure.path)),
        }
    }
}

/// Everything `report.md` says.
#[derive(Debug)]
pub(super) struct Report {
    pub seconds: u64,
    pub runs: u32,
    pub cores: usize,
    pub measured: Vec<Measured>,
    /// Lines about the run as a whole: the peer's absence, how long loading took.
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Goal {
    /// A ratio of rates, at least this.
    AtLeast(f64),
    /// Memory in KiB, below this.
    BelowKib(u64),
}

#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    Met,
    Missed,
    NotMeasured(String),
}

/// One line of the targets: what is compared, its value, the goal.
#[derive(Debug, PartialEq)]
pub(super) struct Target {
    pub what: String,
    pub value: Result<f64, String>,
    pub goal: Goal,
}

impl Target {
    pub(super) fn verdict(&self) -> Verdict {
        match (&self.value, self.goal) {
            (Err(why), _) => Verdict::NotMeasured(why.clone()),
            (Ok(v), Goal::AtLeast(goal)) if *v >= goal => Verdict::Met,
            (Ok(v), Goal::BelowKib(goal)) if *v < goal as f64 => Verdict::Met,
            (Ok(_), _) => Verdict::Missed,
        }
    }

    fn line(&self) -> String {
        let goal = match self.goal {
            Goal::AtLeast(g) => format!("target ≥ {g}×"),
            Goal::BelowKib(k) => format!("target < {} MiB", k / 1024),
        };
        let value = match (&self.value, self.goal) {
            (Err(why), _) => {
                return format!("- **not measured**: {} ({goal}): {why}", self.what);
            }
            (Ok(v), Goal::AtLeast(_)) => format!("{v:.2}×"),
            (Ok(v), Goal::BelowKib(_)) => format!("{:.1} MiB", v / 1024.0),
        };
        let word = if self.verdict() == Verdict::Met {
            "met"
        } else {
            "missed"
        };
        format!("- **{word}**: {}: {value} ({goal})", self.what)
    }
}

/// `a`'s rate over `b`'s; an error says which side is missing.
pub(super) fn ratio(a: Result<f64, String>, b: Result<f64, String>) -> Result<f64, String> {
    match (a, b) {
        (Ok(_), Ok(b)) if b <= 0.0 => Err("the reference measured 0 req/s".to_owned()),
        (Ok(a), Ok(b)) => Ok(a / b),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

const K: u64 = 1_000;
const M: u64 = 1_000_000;

/// The targets of issue 12, each computed from the configurations measured in this run.
pub(super) fn targets(measured: &[Measured]) -> Vec<Target> {
    let find = |setup: Setup| measured.iter().find(|m| m.setup == setup);
    let rate = |setup: Setup, endpoint: Endpoint| match find(setup) {
        Some(m) => m.rate(endpoint),
        None => Err(format!("{} was not run", setup.name())),
    };
    let peer = Setup::peer(K);
    let mut out = Vec::new();
    for (cached, goal) in [(false, 1.0), (true, 10.0)] {
        let ours = Setup::ours(Store::Postgres, cached, K);
        out.push(Target {
            what: format!(
                "`/quotes?per_page=1000` {} vs actix-ref `/quotes`",
                ours.name()
            ),
            value: ratio(
                rate(ours, Endpoint::LongPage),
                rate(peer, Endpoint::PeerQuotes),
            ),
            goal: Goal::AtLeast(goal),
        });
    }
    for cached in [false, true] {
        for endpoint in [
            Endpoint::Home,
            Endpoint::Quotes,
            Endpoint::DeepPage,
            Endpoint::Random,
        ] {
            let big = Setup::ours(Store::Postgres, cached, M);
            let small = Setup::ours(Store::Postgres, cached, K);
            out.push(Target {
                what: format!(
                    "{} pg {} at 1M vs at 1k",
                    endpoint.short(),
                    if cached { "cached" } else { "uncached" }
                ),
                value: ratio(rate(big, endpoint), rate(small, endpoint)),
                goal: Goal::AtLeast(0.8),
            });
        }
    }
    let ours = Setup::ours(Store::Postgres, false, K);
    out.push(Target {
        what: format!("`/healthz` {} vs actix-ref hello `/`", ours.name()),
        value: ratio(
            rate(ours, Endpoint::Health),
            rate(peer, Endpoint::PeerHello),
        ),
        goal: Goal::AtLeast(0.6),
    });
    for m in measured {
        if let Who::Ours {
            store: Store::Postgres,
            ..
        } = m.setup.who
        {
            out.push(Target {
                what: format!("peak RSS of {} under load", m.setup.name()),
                value: m
                    .figures
                    .as_ref()
                    .map(|f| f.rss_peak_kib as f64)
                    .map_err(|_| format!("{} failed", m.setup.name())),
                goal: Goal::BelowKib(RSS_GOAL_KIB),
            });
        }
    }
    out
}

pub(super) fn render(report: &Report) -> String {
    let mut md = format!(
        "# quotes bench\n\nRelease builds on 127.0.0.1, {} cores; wrk -t{} -c{} -d{}s --timeout {} per \
         endpoint, the median of {} run{}. Only ratios measured in the same run mean anything.\n\n",
        report.cores,
        wrk::THREADS,
        wrk::CONNECTIONS,
        report.seconds,
        wrk::TIMEOUT,
        report.runs,
        if report.runs == 1 { "" } else { "s" },
    );
    let targets = targets(&report.measured);
    let met = targets
        .iter()
        .filter(|t| t.verdict() == Verdict::Met)
        .count();
    let _ = writeln!(md, "## Targets: {met} of {} met\n", targets.len());
    for target in &targets {
        let _ = writeln!(md, "{}", target.line());
    }

    md.push_str("\n## Memory and start-up\n\n| configuration | start-up to ready | RSS ready | RSS peak | notes |\n|---|---|---|---|---|\n");
    for m in &report.measured {
        let notes = m.notes.join("; ");
        match &m.figures {
            Ok(f) => {
                let _ = writeln!(
                    md,
                    "| {} | {:.0?} | {:.1} MiB | {:.1} MiB | {} |",
                    m.setup.name(),
                    f.startup,
                    f.rss_ready_kib as f64 / 1024.0,
                    f.rss_peak_kib as f64 / 1024.0,
                    cell(&notes),
                );
            }
            Err(why) => {
                let _ = writeln!(
                    md,
                    "| {} | FAILED | | | {} |",
                    m.setup.name(),
                    cell(&[why.as_str(), &notes].join(" ")),
                );
            }
        }
    }

    md.push_str("\n## Requests\n\n| configuration | endpoint | req/s | p50 | p99 | requests | failed | SQL/request |\n|---|---|---|---|---|---|---|---|\n");
    for m in &report.measured {
        let Ok(figures) = &m.figures else { continue };
        for measure in &figures.measures {
            let statements = measure
                .statements
                .map_or("".to_owned(), |s| format!("{s:.2}"));
            match &measure.load {
                Ok(l) => {
                    let _ = writeln!(
                        md,
                        "| {} | `{}` | {:.0} | {} | {} | {} | {} | {statements} |",
                        m.setup.name(),
                        measure.path,
                        l.requests_per_sec,
                        l.p50,
                        l.p99,
                        l.requests,
                        l.failures
                    );
                }
                Err(why) => {
                    let _ = writeln!(
                        md,
                        "| {} | `{}` | FAILED: {} | | | | | |",
                        m.setup.name(),
                        measure.path,
                        cell(why)
                    );
                }
            }
        }
    }
    if !report.notes.is_empty() {
        md.push_str("\n## Notes\n\n");
        for note in &report.notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    md
}

/// Text for one table cell: one line, no column separators.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn load(rate: f64) -> Load {
        Load {
            requests_per_sec: rate,
            p50: "1ms".into(),
            p99: "2ms".into(),
            requests: 1000,
            failures: 0,
        }
    }

    /// A configuration that answered every endpoint in `rates` at that rate.
    pub(crate) fn measured(setup: Setup, rates: &[(Endpoint, f64)], peak_kib: u64) -> Measured {
        Measured {
            setup,
            notes: Vec::new(),
            figures: Ok(Figures {
                startup: Duration::from_millis(120),
                rss_ready_kib: 10 * 1024,
                rss_peak_kib: peak_kib,
                measures: rates
                    .iter()
                    .map(|&(endpoint, rate)| Measure {
                        endpoint,
                        path: endpoint.path(setup.quotes),
                        load: Ok(load(rate)),
                        statements: Some(2.0),
                    })
                    .collect(),
            }),
        }
    }

    pub(crate) fn sample() -> Vec<Measured> {
        let ours = |rate: f64| {
            Endpoint::OURS
                .iter()
                .map(|&e| (e, rate))
                .collect::<Vec<_>>()
        };
        let mut failed = measured(Setup::ours(Store::Postgres, true, M), &[], 0);
        failed.figures = Err("quotes serve exited: unknown section [cache]".into());
        vec![
            measured(
                Setup::peer(K),
                &[
                    (Endpoint::PeerQuotes, 1000.0),
                    (Endpoint::PeerHello, 60000.0),
                ],
                8 * 1024,
            ),
            measured(
                Setup::ours(Store::Postgres, false, K),
                &ours(1500.0),
                20 * 1024,
            ),
            measured(
                Setup::ours(Store::Postgres, true, K),
                &ours(9000.0),
                25 * 1024,
            ),
            measured(
                Setup::ours(Store::Postgres, false, M),
                &ours(1000.0),
                40 * 1024,
            ),
            failed,
        ]
    }

    #[test]
    fn the_last_page_rounds_up() {
        assert_eq!(last_page(1000), 20);
        assert_eq!(last_page(1001), 21);
        assert_eq!(last_page(1_000_000), 20_000);
        assert_eq!(last_page(0), 1);
        assert_eq!(Endpoint::DeepPage.path(1_000_000), "/quotes?page=20000");
    }

    #[test]
    fn names_read_well() {
        assert_eq!(
            Setup::ours(Store::Postgres, false, K).name(),
            "pg uncached 1k"
        );
        assert_eq!(
            Setup::ours(Store::Memory, true, K).slug(),
            "memory-cached-1k"
        );
        assert_eq!(Setup::peer(K).name(), "actix-ref 1k");
        assert_eq!(count_label(M), "1M");
        assert_eq!(count_label(1234), "1234");
    }

    #[test]
    fn ratios_name_the_missing_side() {
        assert_eq!(ratio(Ok(3.0), Ok(2.0)), Ok(1.5));
        assert_eq!(ratio(Err("a".into()), Ok(2.0)), Err("a".into()));
        assert_eq!(ratio(Ok(1.0), Err("b".into())), Err("b".into()));
        assert!(ratio(Ok(1.0), Ok(0.0)).is_err());
    }

    fn find<'a>(targets: &'a [Target], what: &str) -> &'a Target {
        targets
            .iter()
            .find(|t| t.what.contains(what))
            .unwrap_or_else(|| panic!("no target {what:?} in {targets:#?}"))
    }

    #[test]
    fn targets_compare_the_right_pairs() {
        let t = targets(&sample());
        let uncached = find(&t, "pg uncached 1k vs actix-ref `/quotes`");
        assert_eq!(uncached.value, Ok(1.5));
        assert_eq!(uncached.verdict(), Verdict::Met);
        let cached = find(&t, "pg cached 1k vs actix-ref `/quotes`");
        assert_eq!(cached.value, Ok(9.0));
        assert_eq!(cached.verdict(), Verdict::Missed);
        let deep = find(&t, "last page pg uncached at 1M vs at 1k");
        assert!((deep.value.clone().unwrap() - 1000.0 / 1500.0).abs() < 1e-9);
        assert_eq!(deep.verdict(), Verdict::Missed);
        let deep_cached = find(&t, "last page pg cached at 1M vs at 1k");
        assert_eq!(
            deep_cached.verdict(),
            Verdict::NotMeasured("pg cached 1M failed".into())
        );
        let health = find(&t, "`/healthz` pg uncached 1k vs actix-ref hello");
        assert_eq!(health.value, Ok(1500.0 / 60000.0));
        assert_eq!(
            find(&t, "peak RSS of pg uncached 1k").verdict(),
            Verdict::Met
        );
        assert_eq!(
            find(&t, "peak RSS of pg uncached 1M").verdict(),
            Verdict::Missed
        );
        // Eight rate pairs at 1M vs 1k, two against the peer's /quotes, one against hello,
        // and the memory of each PostgreSQL configuration.
        assert_eq!(t.len(), 2 + 8 + 1 + 4);
    }

    #[test]
    fn a_rate_with_many_failures_is_not_compared() {
        let mut m = measured(
            Setup::ours(Store::Postgres, false, K),
            &[(Endpoint::Home, 100.0)],
            0,
        );
        if let Ok(f) = &mut m.figures {
            f.measures[0].load.as_mut().unwrap().failures = 500;
        }
        assert_eq!(
            m.rate(Endpoint::Home),
            Err("pg uncached 1k /: 500 of 1000 requests failed".into())
        );
        assert!(m.rate(Endpoint::Random).is_err());
    }

    #[test]
    fn the_report_shows_targets_failures_and_notes() {
        let report = Report {
            seconds: 5,
            runs: 3,
            cores: 2,
            measured: sample(),
            notes: vec!["loaded 999,000 quotes in SQL in 12.0s".into()],
        };
        let md = render(&report);
        assert!(md.starts_with("# quotes bench\n"), "{md}");
        assert!(md.contains("wrk -t2 -c32 -d5s --timeout 5s"), "{md}");
        assert!(md.contains("the median of 3 runs"), "{md}");
        assert!(md.contains("## Targets: 3 of 15 met"), "{md}");
        assert!(
            md.contains("- **met**: `/quotes?per_page=1000` pg uncached 1k vs actix-ref `/quotes`: 1.50× (target ≥ 1×)"),
            "{md}"
        );
        assert!(
            md.contains(
                "- **missed**: peak RSS of pg uncached 1M under load: 40.0 MiB (target < 30 MiB)"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| pg cached 1M | FAILED | | | quotes serve exited: unknown section [cache] |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| pg uncached 1M | `/quotes?page=20000` | 1000 | 1ms | 2ms | 1000 | 0 | 2.00 |"
            ),
            "{md}"
        );
        assert!(md.contains("## Notes\n\n- loaded 999,000 quotes"), "{md}");
        assert!(!md.contains('\t'));
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(cell("a |b\n  c"), "a \\|b c");
    }
}
