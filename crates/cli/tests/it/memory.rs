//! The binary on the memory store: loading, exporting, serving and stopping.

use crate::helpers::*;

#[test]
fn load_quotes_reports_what_it_added() {
    let r = run(quotes(&[("QUOTES_STORE", "memory")]).args(["load-quotes", "fixtures/quotes.txt"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "17 added, 0 already there\n");
    assert!(
        r.stderr.contains("the memory store forgets these"),
        "{}",
        r.stderr
    );
}

#[test]
fn memory_store_needs_no_migrations_or_database() {
    let r = run(quotes(&[]).arg("migrate"));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            Some(0),
            "the memory store has no schema: nothing to migrate\n"
        )
    );
    let r = run(quotes(&[]).args(["wait-for-db", "--timeout", "1s"]));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "the memory store needs no database\n")
    );
}

#[test]
fn export_of_an_empty_memory_store_is_a_valid_empty_file() {
    let r = run(quotes(&[]).arg("export-quotes"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("# quotes file"));
    assert_eq!(
        quotes_core::quotes_file::parse("export", &r.stdout).unwrap(),
        vec![]
    );
}

#[test]
fn serves_the_fixtures_and_stops_cleanly_on_sigterm() {
    let fixtures = fixtures();
    let server = Server::start(
        &[("QUOTES_LOG_FORMAT", "json")],
        &["--load-quotes", fixtures.to_str().unwrap()],
    );
    let body: serde_json::Value = server.get("/api/quotes").json().unwrap();
    assert_eq!(body["total"], 17);
    let health: serde_json::Value = server.get("/healthz").json().unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(!health["commit"].as_str().unwrap().is_empty());
    assert_eq!(server.get("/nope").status(), 404);

    let (code, stdout) = server.terminate();
    assert_eq!(code, Some(0), "a SIGTERM is a clean stop");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let requests: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    let not_found = requests
        .iter()
        .find(|l| l["fields"]["path"] == "/nope")
        .expect("a line for /nope");
    assert_eq!(not_found["fields"]["method"], "GET");
    assert_eq!(not_found["fields"]["status"], 404);
    assert!(
        not_found["fields"]["latency_ms"].as_f64().is_some(),
        "latency is a number: {not_found}"
    );
    assert_eq!(
        not_found["fields"]["request_id"].as_str().unwrap().len(),
        16
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "stopped"),
        "{stdout}"
    );
}

#[test]
fn a_taken_port_is_a_one_line_error_and_exit_code_98() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let r = run(quotes(&[("PORT", &port)]).arg("serve"));
    // 98, EADDRINUSE: a supervisor (deploy's handover) tells it from any other failure.
    assert_eq!(r.code, Some(98));
    assert!(
        r.stderr
            .starts_with(&format!("error: binding 127.0.0.1:{port}: ")),
        "{}",
        r.stderr
    );
}
