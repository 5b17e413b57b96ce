//! `/metrics`: requests counted under their route's pattern, a latency histogram, requests in
//! flight, build info; readable from the allow-list only, whatever a proxy forwards.

use std::net::TcpListener;

use actix_web::HttpResponse;
use web::{AppError, MetricsOptions, Routes, Running, Security, ServerOptions, Site};

use crate::helpers::*;

struct Things;

async fn thing() -> HttpResponse {
    HttpResponse::Ok().body("a thing")
}

async fn broken() -> Result<HttpResponse, AppError> {
    Err(AppError::internal("it broke"))
}

impl Running for Things {
    fn routes(&self, routes: &mut Routes) {
        routes
            .get("/things/broken", broken)
            .get("/things/{id}", thing);
    }
}

fn spawn_with_metrics(site: Site, metrics: MetricsOptions) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let options = ServerOptions {
        workers: 1,
        metrics: Some(metrics),
        ..ServerOptions::default()
    };
    actix_web::rt::spawn(web::serve(listener, site, &options).expect("server starts"));
    TestApp::on_port(port)
}

/// The line of `text` for `name` whose labels include every one of `labels`.
fn sample<'a>(text: &'a str, name: &str, labels: &[&str]) -> Option<&'a str> {
    text.lines().find(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            && labels.iter().all(|l| line.contains(l))
    })
}

fn value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn requests_are_counted_by_route_pattern_and_timed_in_buckets() {
    let app = spawn_with_metrics(
        Site::new(info()).with("things", Things),
        MetricsOptions::default(),
    );
    for path in ["/things/1", "/things/2", "/things/abc"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(app.get("/things/broken").await.status(), 500);
    assert_eq!(app.get("/no/such/page/42").await.status(), 404);

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();

    let route = r#"route="/things/{id}""#;
    let ok = sample(
        &text,
        "http_requests_total",
        &[route, r#"status="200""#, r#"method="GET""#],
    )
    .unwrap_or_else(|| panic!("no count for {route}:\n{text}"));
    assert_eq!(value(ok), 3.0, "{ok}");
    let failed = sample(
        &text,
        "http_requests_total",
        &[r#"route="/things/broken""#, r#"status="500""#],
    )
    .unwrap_or_else(|| panic!("no 500 count:\n{text}"));
    assert_eq!(value(failed), 1.0);
    assert!(
        sample(
            &text,
            "http_requests_total",
            &[r#"route="unmatched""#, r#"status="404""#]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        !text.contains("/things/1") && !text.contains("/no/such/page"),
        "raw paths never become labels:\n{text}"
    );

    let finite = sample(
        &text,
        "http_request_duration_seconds_bucket",
        &[route, r#"le="10""#],
    )
    .unwrap_or_else(|| panic!("no buckets for {route}:\n{text}"));
    assert_eq!(value(finite), 3.0, "all three took under 10 s: {finite}");
    let all = sample(
        &text,
        "http_request_duration_seconds_bucket",
        &[route, r#"le="+Inf""#],
    )
    .unwrap();
    assert_eq!(value(all), 3.0);
    let count = sample(&text, "http_request_duration_seconds_count", &[route]).unwrap();
    assert_eq!(value(count), 3.0);
    assert!(
        sample(&text, "http_request_duration_seconds_sum", &[route]).is_some(),
        "{text}"
    );
    let in_flight = sample(&text, "http_requests_in_flight", &[])
        .unwrap_or_else(|| panic!("no in-flight gauge:\n{text}"));
    // The scrape itself at least (the recorder is the process's: other tests run beside).
    assert!(value(in_flight) >= 1.0, "{in_flight}");
    let build = sample(
        &text,
        "build_info",
        &[r#"name="site""#, r#"version="9.9.9""#, r#"commit="abc123""#],
    )
    .unwrap_or_else(|| panic!("no build info:\n{text}"));
    assert_eq!(value(build), 1.0);
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
}

#[actix_web::test]
async fn only_the_allow_list_may_read_metrics_even_through_a_trusted_proxy() {
    let security = Security {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Security::default()
    };
    let app = spawn_with_metrics(
        Site::new(info()).security(security),
        MetricsOptions::default(),
    );
    assert_eq!(app.get("/metrics").await.status(), 200, "this machine may");
    // What nginx sends for a visitor from elsewhere: the visitor is the client, not nginx.
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "a visitor through the proxy may not");

    let closed = spawn_with_metrics(Site::new(info()), MetricsOptions { allow: Vec::new() });
    assert_eq!(closed.get("/metrics").await.status(), 404);
    assert_eq!(
        spawn(Site::new(info())).get("/metrics").await.status(),
        404,
        "off unless asked for"
    );
}

/// Routes of their own, so that the counts of the test above stay exact (one recorder per
/// process).
struct Others;

impl Running for Others {
    fn routes(&self, routes: &mut Routes) {
        routes.get("/others/{id}", thing);
    }
}

#[actix_web::test]
async fn a_metrics_port_of_its_own_serves_metrics_only_and_the_site_none() {
    let site_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let site = TestApp::on_port(site_listener.local_addr().unwrap().port());
    let metrics = TestApp::on_port(metrics_listener.local_addr().unwrap().port());
    let options = ServerOptions {
        workers: 1,
        metrics: Some(MetricsOptions::default()),
        metrics_listener: Some(std::sync::Arc::new(metrics_listener)),
        ..ServerOptions::default()
    };
    let server = web::serve(
        site_listener,
        Site::new(info()).with("others", Others),
        &options,
    )
    .expect("server starts");
    actix_web::rt::spawn(server);
    assert_eq!(site.get("/others/7").await.status(), 200);
    assert_eq!(
        site.get("/metrics").await.status(),
        404,
        "not on the site's port"
    );
    assert_eq!(
        metrics.get("/others/7").await.status(),
        404,
        "nothing else on the metrics port"
    );
    assert_eq!(metrics.get("/").await.status(), 404);
    let res = metrics.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
}
