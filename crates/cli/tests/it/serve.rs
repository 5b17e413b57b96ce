//! `quotes serve`: configuration, logs and a graceful stop.

use crate::helpers::*;

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
    assert!(not_found["fields"]["latency_ms"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .is_ok());
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
fn a_bad_quotes_file_stops_serve_before_it_binds() {
    let r = run(quotes(&[]).args(["serve", "--load-quotes", "crates/cli/Cargo.toml"]));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with("error: crates/cli/Cargo.toml:"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_taken_port_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let r = run(quotes(&[("PORT", &port)]).arg("serve"));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .starts_with(&format!("error: binding 127.0.0.1:{port}: ")),
        "{}",
        r.stderr
    );
}
