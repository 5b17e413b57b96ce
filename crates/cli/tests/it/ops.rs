//! Operations on the real binary and a real PostgreSQL: `/metrics` exports every metric the
//! Grafana dashboard (deploy/grafana/quotes.json) queries, and a failure answered with a 5xx
//! reaches Sentry (a stand-in on 127.0.0.1) with its request id, the release and the
//! environment, and nothing secret.

use std::collections::BTreeSet;

use test_support::SentryStandIn;

use crate::helpers::*;

/// The metric names a PromQL expression reads: what is left once strings, label matchers,
/// ranges, `by (…)` groups, function names and keywords are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let mut depth = (0, 0); // inside {…}, inside […]
    let mut quoted = false;
    for c in expr.chars() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '{' => depth.0 += 1,
            '}' => depth.0 -= 1,
            '[' => depth.1 += 1,
            ']' => depth.1 -= 1,
            _ if depth != (0, 0) => {}
            c => plain.push(c),
        }
    }
    // `by (le, route)`, `without (…)`, `on (…)` and their kin name labels, not metrics.
    for keyword in [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ] {
        while let Some(at) = find_word(&plain, keyword) {
            let end = plain[at..].find(')').map_or(plain.len(), |e| at + e + 1);
            plain.replace_range(at..end, " ");
        }
    }
    let mut names = BTreeSet::new();
    let chars: Vec<char> = plain.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() || chars[i] == '_' || chars[i] == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            let keyword = ["and", "or", "unless", "bool", "offset"];
            if !is_call && !keyword.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        edge(before) && edge(after)
    })
}

/// Every `expr` in the dashboard.
fn dashboard_queries() -> Vec<String> {
    let path = workspace_root().join("deploy/grafana/quotes.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard exists");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut found = Vec::new();
    fn walk(v: &serde_json::Value, found: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("expr", Some(expr)) => found.push(expr.to_owned()),
                        _ => walk(v, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    walk(&json, &mut found);
    found
}

#[test]
fn promql_names_are_told_from_functions_labels_and_ranges() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, route) (rate(x_bucket{status=~"5..", a="b}"}[$__rate_interval]))) / sum(y) and on(z) w"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["w", "x_bucket", "y"]
    );
}

#[test]
fn metrics_export_every_name_the_dashboard_queries() {
    let db = SiteDb::migrated();
    let server = Server::start(&db.env(), &[]);
    for path in ["/", "/quotes", "/api/quotes", "/api/quotes/999999"] {
        let _ = server.get(path).text();
    }
    let res = server.get("/metrics");
    assert_eq!(res.status(), 200);
    let text = res.text().unwrap();
    let exported: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let queries = dashboard_queries();
    assert!(
        queries.len() >= 8,
        "the dashboard has its panels: {queries:?}"
    );
    let mut asked = BTreeSet::new();
    for expr in &queries {
        for name in metric_names(expr) {
            assert!(
                exported.contains(name.as_str()),
                "the dashboard queries {name} ({expr}), which /metrics does not export:\n{text}"
            );
            asked.insert(name);
        }
    }
    for wanted in [
        "db_pool_connections",
        "db_pool_checkout_seconds_bucket",
        "build_info",
    ] {
        assert!(asked.contains(wanted), "the dashboard charts {wanted}");
    }
    assert!(
        text.contains(r#"route="/api/quotes/{id}""#),
        "requests are labelled by route pattern:\n{text}"
    );
}

#[test]
fn a_5xx_reaches_sentry_with_its_request_id_release_and_environment() {
    let stand_in = SentryStandIn::start();
    let db = SiteDb::migrated();
    let dsn = stand_in.dsn();
    let mut env = db.env();
    env.extend([
        ("SENTRY_DSN", dsn.as_str()),
        ("SENTRY_ENVIRONMENT", "staging"),
    ]);
    let server = Server::start(&env, &[]);
    let commit = server.get("/healthz").json::<serde_json::Value>().unwrap()["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    // A real failure: the table the quotes pages read first is gone (the site answers 503,
    // as for a database that is not ready).
    let sql = |statement: &str| db.sql(statement);
    sql("ALTER TABLE quotes_stats RENAME TO quotes_elsewhere");
    let res = reqwest::blocking::Client::new()
        .get(format!("{}/api/quotes?token=hunter2", server.base))
        .header("cookie", "quotes_session=s3ss10n")
        .send()
        .unwrap();
    sql("ALTER TABLE quotes_elsewhere RENAME TO quotes_stats");
    assert!(res.status().is_server_error(), "{}", res.status());
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().unwrap();
    assert!(
        !body.contains("quotes_elsewhere") && !body.contains("relation"),
        "{body}"
    );

    let event = stand_in.wait_for_event("for the 5xx", |e| e["tags"]["request_id"] == id.as_str());
    assert_eq!(event["release"], commit.as_str(), "{event:#}");
    assert_eq!(event["environment"], "staging", "{event:#}");
    let crumbs = event["breadcrumbs"].to_string();
    assert!(
        crumbs.contains("does not exist"),
        "what the log said at WARN and ERROR goes with the report: {event:#}"
    );
    for r in stand_in.received() {
        for secret in ["hunter2", "s3ss10n"] {
            assert!(
                !r.body.contains(secret),
                "{secret} was reported: {}",
                r.body
            );
        }
    }
}

#[test]
fn dbshell_gives_psql_the_password_in_its_environment_never_its_arguments() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("psql");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\nprintf '%s' \"$PGPASSWORD\" > \"$0.password\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let url = "postgres://quotes:s3cr%40t@db.example:5433/quotes?sslmode=require";
    let r =
        run(quotes(&[("PATH", &path), ("DATABASE_URL", url)])
            .args(["dbshell", "--", "-c", "select 1"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let args = std::fs::read_to_string(dir.path().join("psql.args")).unwrap();
    assert_eq!(
        args,
        "postgres://quotes@db.example:5433/quotes?sslmode=require\n-c\nselect 1\n"
    );
    let password = std::fs::read_to_string(dir.path().join("psql.password")).unwrap();
    assert_eq!(password, "s3cr@t");
}

#[test]
fn dbshell_opens_the_configured_database() {
    let db = SiteDb::migrated();
    let r =
        run(quotes(&db.env()).args(["dbshell", "--", "-tA", "-c", "select count(*) from quotes"]));
    assert_eq!((r.code, r.stdout.trim()), (Some(0), "0"), "{}", r.stderr);
}

#[cfg(feature = "store-memory")]
#[test]
fn dbshell_on_the_memory_store_says_there_is_no_database() {
    let r = run(quotes(&[("QUOTES_STORE", "memory")]).arg("dbshell"));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: the memory store has no database to open a shell on: set DATABASE_URL\n"
    );
}
