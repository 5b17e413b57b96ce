//! The database goes away under load and comes back: clients get a quick 503, never a 500 or
//! a hang; pages that need no database keep working; the server recovers by itself.
//!
//! This test stops a PostgreSQL server, so it starts one of its own (test-support's throwaway
//! cluster) rather than sharing TEST_DATABASE_URL's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_support::cluster::{Bins, Throwaway};

use crate::helpers::*;

/// The pool's connection timeout for this test: a request must give up within it (plus
/// slack for the statement and the response).
const CONNECT_TIMEOUT_SECS: u64 = 2;
const SLACK: Duration = Duration::from_secs(3);

fn limit() -> Duration {
    Duration::from_secs(CONNECT_TIMEOUT_SECS) + SLACK
}

#[derive(Debug)]
struct Seen {
    status: u16,
    took: Duration,
}

fn get(client: &reqwest::blocking::Client, url: &str) -> Result<Seen, String> {
    let start = Instant::now();
    let res = client.get(url).send().map_err(|e| format!("{url}: {e}"))?;
    Ok(Seen {
        status: res.status().as_u16(),
        took: start.elapsed(),
    })
}

#[test]
fn a_database_outage_is_a_quick_503_and_recovery_needs_no_restart() {
    let bins = Bins::find().expect("PostgreSQL server programs (apt-get install postgresql)");
    let mut cluster = Throwaway::start(&bins, None).expect("a throwaway PostgreSQL cluster");
    let url = cluster.url();
    let timeout = CONNECT_TIMEOUT_SECS.to_string();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("QUOTES__DATABASE__CONNECT_TIMEOUT_SECS", timeout.as_str()),
        ("QUOTES__DATABASE__POOL_SIZE", "4"),
    ];
    assert_eq!(run(quotes(&env).arg("migrate")).code, Some(0));
    assert_eq!(
        run(quotes(&env).args(["load-quotes", "fixtures/quotes.txt"])).code,
        Some(0)
    );
    let server = Server::start(&env, &[]);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let api = format!("{}/api/quotes", server.base);
    assert_eq!(get(&client, &api).unwrap().status, 200);

    // Load from four threads while the database stops under it.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, seen, client, api) =
                (stop.clone(), seen.clone(), client.clone(), api.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = get(&client, &api);
                    seen.lock().unwrap().push(r);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    cluster.pause().expect("PostgreSQL stops");
    let stopped_at = Instant::now();

    // Within the pool timeout the API says 503, with Retry-After, and says it quickly.
    let first_503 = loop {
        let res = client.get(&api).send().unwrap();
        if res.status() == 503 {
            assert_eq!(res.headers()["retry-after"], "5");
            break stopped_at.elapsed();
        }
        assert!(
            stopped_at.elapsed() < limit(),
            "still {} after {:?}",
            res.status(),
            stopped_at.elapsed()
        );
    };
    let outage = get(&client, &api).unwrap();
    assert_eq!(outage.status, 503);
    assert!(
        outage.took < limit(),
        "a 503 within the pool timeout, took {:?}",
        outage.took
    );
    let health = get(&client, &format!("{}/healthz", server.base)).unwrap();
    assert_eq!(health.status, 200, "liveness does not need the database");
    assert!(health.took < Duration::from_secs(1));
    assert_eq!(
        get(&client, &format!("{}/readyz", server.base))
            .unwrap()
            .status,
        503
    );
    assert_eq!(
        get(&client, &format!("{}/static/style.css", server.base))
            .unwrap()
            .status,
        200
    );

    cluster.resume().expect("PostgreSQL starts again");
    let resumed_at = Instant::now();
    let recovered = loop {
        if get(&client, &api).unwrap().status == 200 {
            break resumed_at.elapsed();
        }
        assert!(
            resumed_at.elapsed() < Duration::from_secs(20),
            "no recovery within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        get(&client, &format!("{}/readyz", server.base))
            .unwrap()
            .status,
        200
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    let seen = seen.lock().unwrap();
    let (mut ok, mut unavailable) = (0, 0);
    for r in seen.iter() {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("a request failed outright: {e}"));
        match r.status {
            200 => ok += 1,
            503 => unavailable += 1,
            other => panic!("only 200 or 503 while the database comes and goes, got {other}"),
        }
        assert!(r.took < limit(), "no request hangs: one took {:?}", r.took);
    }
    assert!(
        ok > 0 && unavailable > 0,
        "the load saw both sides: {ok} ok, {unavailable} unavailable"
    );
    eprintln!(
        "outage: first 503 after {first_503:?}; recovered {recovered:?} after restart; \
         {ok} ok and {unavailable} unavailable of {} requests in flight",
        seen.len()
    );
    drop(seen);
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(
        log.lines()
            .any(|l| l.contains("not ready") && l.contains("component=\"quotes\"")),
        "the log names the component that was not ready: {log}"
    );
}
