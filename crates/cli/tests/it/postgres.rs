//! The management commands and `serve` on PostgreSQL, each test with a database of its own.

use std::time::{Duration, Instant};

use quotes_core::{quotes_file, QuoteStore};

use crate::helpers::*;

fn pg_env(db: &SiteDb) -> Vec<(&'static str, &str)> {
    db.env()
}

#[test]
fn migrate_applies_once_then_reports_current() {
    let db = SiteDb::empty();
    let r = run(quotes(&pg_env(&db)).arg("migrate"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.starts_with("applied ") && r.stdout.contains("create_quotes"),
        "{}",
        r.stdout
    );
    let r = run(quotes(&pg_env(&db)).arg("migrate"));
    assert_eq!(r.stdout, "no migrations to apply: the schema is current\n");
}

#[test]
fn four_migrate_processes_at_once_apply_each_migration_once() {
    let db = SiteDb::empty();
    let env = pg_env(&db);
    let children: Vec<_> = (0..4)
        .map(|_| {
            quotes(&env)
                .arg("migrate")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        applied.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("applied "))
                .map(str::to_owned),
        );
    }
    applied.sort();
    let mut expected: Vec<String> = SiteDb::migrated_names();
    expected.sort();
    assert_eq!(
        applied, expected,
        "each migration applied by exactly one process"
    );
    let r = run(quotes(&env).arg("migrate"));
    assert_eq!(r.stdout, "no migrations to apply: the schema is current\n");
}

#[test]
fn load_quotes_is_idempotent_and_export_round_trips() {
    let db = SiteDb::migrated();
    let load = |path: &str| run(quotes(&pg_env(&db)).args(["load-quotes", path]));
    let r = load("fixtures/quotes.txt");
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (Some(0), "17 added, 0 already there\n", "")
    );
    let r = load("fixtures/quotes.txt");
    assert_eq!(r.stdout, "0 added, 17 already there\n");

    let out = tempfile::tempdir().unwrap();
    let exported = out.path().join("export.txt");
    let r = run(quotes(&pg_env(&db)).args(["export-quotes", exported.to_str().unwrap()]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let fixtures =
        quotes_file::parse("fixtures", &std::fs::read_to_string(fixtures()).unwrap()).unwrap();
    let written =
        quotes_file::parse("export", &std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(
        written, fixtures,
        "export gives back what was loaded, in order"
    );
    let r = load(exported.to_str().unwrap());
    assert_eq!(r.stdout, "0 added, 17 already there\n");
    assert_eq!(db.quotes().count().unwrap(), 17);
}

#[test]
fn a_bad_file_among_good_ones_loads_nothing() {
    let db = SiteDb::migrated();
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut bad, "fine\n— A\n\n— orphan author\n".as_bytes()).unwrap();
    let bad_path = bad.path().to_str().unwrap();
    let r = run(quotes(&pg_env(&db)).args(["load-quotes", "fixtures/quotes.txt", bad_path]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!("error: {bad_path}:4: author line has no quote text above it\n")
    );
    assert_eq!(
        db.quotes().count().unwrap(),
        0,
        "the good file was not loaded either"
    );
}

#[test]
fn wait_for_db_gives_up_in_time_naming_host_and_port_only() {
    let port = free_port();
    let url = format!("postgres://quotes:s3cret@127.0.0.1:{port}/quotes");
    let start = Instant::now();
    let r = run(quotes(&[("DATABASE_URL", &url)]).args(["wait-for-db", "--timeout", "1s"]));
    let took = start.elapsed();
    assert_eq!(r.code, Some(1));
    assert!(took < Duration::from_secs(6), "bounded: took {took:?}");
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("s3cret") && !r.stderr.contains("quotes:"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn wait_for_db_waits_for_the_schema_too() {
    let db = SiteDb::empty();
    let r = run(quotes(&pg_env(&db)).args(["wait-for-db", "--timeout", "1s"]));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("pending"), "{}", r.stderr);
    run(quotes(&pg_env(&db)).arg("migrate"));
    let r = run(quotes(&pg_env(&db)).args(["wait-for-db", "--timeout", "5s"]));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "database is ready\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn serve_waits_a_bounded_time_for_the_database() {
    let url = format!("postgres://quotes:s3cret@127.0.0.1:{}/quotes", free_port());
    let start = Instant::now();
    let r = run(quotes(&[
        ("DATABASE_URL", &url),
        ("QUOTES__DATABASE__WAIT_TIMEOUT_SECS", "1"),
    ])
    .arg("serve"));
    assert_eq!(r.code, Some(1));
    assert!(start.elapsed() < Duration::from_secs(6));
    assert!(
        r.stderr.starts_with("error: database at 127.0.0.1:"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("s3cret"));
}

#[test]
fn serve_on_postgres_serves_what_load_quotes_loaded() {
    let db = SiteDb::migrated();
    run(quotes(&pg_env(&db)).args(["load-quotes", "fixtures/quotes.txt"]));
    let server = Server::start(&pg_env(&db), &[]);
    let body: serde_json::Value = server.get("/api/quotes?per_page=5").json().unwrap();
    assert_eq!(
        (
            body["total"].as_u64(),
            body["items"].as_array().unwrap().len()
        ),
        (Some(17), 5)
    );
    let ready: serde_json::Value = server.get("/readyz").json().unwrap();
    assert_eq!(ready["status"], "ready");
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

/// Asks the test database `sql` through psql, for a single value.
fn psql_value(db: &SiteDb, sql: &str) -> String {
    db.sql(sql)
}

/// Polls (bounded) until `sql` answers `want`.
fn wait_for_value(db: &SiteDb, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while psql_value(db, sql) != want {
        assert!(Instant::now() < deadline, "never saw {want:?} from: {sql}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let db = SiteDb::migrated();
    run(quotes(&pg_env(&db)).args(["load-quotes", "fixtures/quotes.txt"]));
    let server = Server::start(&pg_env(&db), &[]);
    // Another session holds the table, so the next request is provably still in flight
    // when the server is told to stop: each step is observed in the database, not timed.
    let psql = test_support::cluster::Bins::find()
        .expect("PostgreSQL programs")
        .tool("psql");
    let mut locker = std::process::Command::new(psql)
        .args([
            db.url(),
            "-q",
            "-c",
            "BEGIN; LOCK TABLE quotes; SELECT pg_sleep(3); COMMIT;",
        ])
        .spawn()
        .unwrap();
    wait_for_value(
        &db,
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'quotes' AND l.mode = 'AccessExclusiveLock' AND l.granted",
        "1",
    );
    let url = format!("{}/api/quotes", server.base);
    let request =
        std::thread::spawn(move || reqwest::blocking::get(url).map(|r| r.status().as_u16()));
    wait_for_value(
        &db,
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
        "1",
    );
    let (code, _) = server.terminate();
    assert!(locker.wait().unwrap().success());
    let status = request.join().unwrap();
    assert_eq!(status.expect("the in-flight request got an answer"), 200);
    assert_eq!(code, Some(0));
}
