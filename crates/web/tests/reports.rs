//! Error reports reach Sentry (a stand-in on 127.0.0.1): an answer of 500 and a panic, each
//! with its request id, the release and the environment, and nothing secret from the
//! request. Its own test binary: a Sentry client is the whole process's.

use std::net::TcpListener;

use actix_web::HttpResponse;
use test_support::{Http, SentryStandIn};
use web::{sentry, AppError, BuildInfo, Routes, Running, ServerOptions, Site};

struct Boom;

async fn fail() -> Result<HttpResponse, AppError> {
    Err(AppError::internal("the ledger is unreadable"))
}

async fn panic() -> HttpResponse {
    panic!("the ledger caught fire")
}

impl Running for Boom {
    fn routes(&self, routes: &mut Routes) {
        routes.get("/boom/fail", fail).get("/boom/panic", panic);
    }
}

const SECRETS: [&str; 4] = ["hunter2", "s3ss10n", "t0k3n", "203.0.113.9"];

#[actix_web::test]
async fn a_500_and_a_panic_are_reported_with_their_request_ids_and_no_secrets() {
    let stand_in = SentryStandIn::start();
    let options = web::reports::client_options(
        stand_in.dsn().parse().expect("a DSN"),
        "abc123".into(),
        "testing".into(),
    );
    let _client = sentry::init(options);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let site = Site::new(BuildInfo {
        name: "site",
        version: "9.9.9",
        commit: "abc123".into(),
    })
    .with("boom", Boom);
    let server = web::serve(
        listener,
        site,
        &ServerOptions {
            workers: 1,
            ..ServerOptions::default()
        },
    )
    .expect("server starts");
    actix_web::rt::spawn(server);
    let app = Http::on_port(port);

    let send = |path: &str| {
        app.client
            .get(app.url(path))
            .header("cookie", "quotes_session=s3ss10n; quotes_csrf=t0k3n")
            .header("x-csrf-token", "t0k3n")
            .header("authorization", "Basic hunter2")
            .header("x-forwarded-for", "203.0.113.9")
            .send()
    };
    let failed = send("/boom/fail?password=hunter2").await.unwrap();
    assert_eq!(failed.status(), 500);
    let fail_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = failed.text().await.unwrap();
    assert!(
        !page.contains("ledger"),
        "the detail stays out of the page: {page}"
    );

    let panicked = send("/boom/panic?password=hunter2").await.unwrap();
    assert_eq!(
        panicked.status(),
        500,
        "a panic still gets the site's 500 page"
    );
    let panic_id = panicked.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        panicked.text().await.unwrap().contains(&panic_id),
        "the page names the request id"
    );

    let tagged = |id: String| move |e: &serde_json::Value| e["tags"]["request_id"] == id.as_str();
    let error = stand_in.wait_for_event("for the 500", tagged(fail_id.clone()));
    let crash = stand_in.wait_for_event("for the panic", tagged(panic_id.clone()));
    for event in [&error, &crash] {
        assert_eq!(event["release"], "abc123", "{event:#}");
        assert_eq!(event["environment"], "testing", "{event:#}");
    }
    assert_eq!(error["request"]["method"], "GET", "{error:#}");
    assert!(
        error["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/boom/fail"),
        "{error:#}"
    );
    let exception = &crash["exception"]["values"][0];
    assert_eq!(exception["mechanism"]["type"], "panic", "{crash:#}");
    assert!(
        exception["value"]
            .as_str()
            .unwrap()
            .contains("the ledger caught fire"),
        "{crash:#}"
    );

    // Give a duplicate the time to arrive, then count: one report per failure.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let events = stand_in.events();
    for id in [&fail_id, &panic_id] {
        let n = events
            .iter()
            .filter(|e| e["tags"]["request_id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "one report for request {id}: {events:#?}");
    }

    let received = stand_in.received();
    assert!(received[0]
        .request_line
        .starts_with("POST /api/42/envelope/"));
    for r in &received {
        for secret in SECRETS {
            assert!(
                !r.body.contains(secret),
                "{secret} was reported: {}",
                r.body
            );
        }
    }
}
