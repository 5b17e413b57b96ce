//! Metrics in Prometheus's text format at `GET /metrics`, for the operator only.
//!
//! Any crate records through the `metrics` facade (`metrics::counter!(..)`): the shell counts
//! requests by route pattern (never the raw path, so a crawler cannot grow the series) and
//! status, times them in a histogram and counts those in flight; the PostgreSQL layer reports
//! its pool; a component adds its own. The recorder is the process's global one, installed
//! once by the first site served with metrics on.
//!
//! `/metrics` answers only clients in `allow` (the address after trusted proxies, see
//! `security`), and 404 to anyone else, as if it did not exist; nginx in front refuses it too.
//! Given a port of its own (`ServerOptions::metrics_listener`), it is served there only, and
//! that port serves nothing else: a proxy or a Service that routes the site's port never
//! reaches it.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware;
use actix_web::{web, HttpRequest, HttpResponse};
use ipnet::IpNet;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::{client_addr, AppError, BuildInfo};

/// Requests answered, by `method`, `route` (the pattern) and `status`.
pub const REQUESTS: &str = "http_requests_total";
/// How long requests took, by `method` and `route`, in seconds.
pub const DURATION: &str = "http_request_duration_seconds";
/// Requests being served now.
pub const IN_FLIGHT: &str = "http_requests_in_flight";
/// 1, labelled with the site's `name`, `version` and `commit`.
pub const BUILD_INFO: &str = "build_info";

/// The buckets of every histogram, in seconds: from a cached page to a slow query.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

/// Who may read `/metrics`.
#[derive(Debug, Clone)]
pub struct MetricsOptions {
    pub allow: Vec<IpNet>,
}

impl Default for MetricsOptions {
    /// This machine only.
    fn default() -> Self {
        Self {
            allow: vec![
                "127.0.0.1/32".parse().expect("a network"),
                "::1/128".parse().expect("a network"),
            ],
        }
    }
}

/// What the `/metrics` handler needs.
pub(crate) struct MetricsState {
    handle: PrometheusHandle,
    allow: Vec<IpNet>,
    /// The port `/metrics` has to itself, if any.
    port: Option<u16>,
}

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process's recorder (once; later calls share it) and a thread that keeps
/// histograms drained between scrapes, so memory stays flat when nobody scrapes.
pub fn install() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map_err(|e| e.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)
                .map_err(|_| "another metrics recorder is installed in this process".to_owned())?;
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
}

pub(crate) fn state(
    options: &MetricsOptions,
    info: &BuildInfo,
    port: Option<u16>,
) -> std::io::Result<MetricsState> {
    let handle = install().map_err(std::io::Error::other)?;
    metrics::gauge!(
        BUILD_INFO,
        "name" => info.name,
        "version" => info.version,
        "commit" => info.commit.clone()
    )
    .set(1.0);
    metrics::describe_counter!(
        REQUESTS,
        "Requests answered, by method, route pattern and status"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "How long requests took, by method and route pattern"
    );
    metrics::describe_gauge!(IN_FLIGHT, "Requests being served now");
    Ok(MetricsState {
        handle,
        allow: options.allow.clone(),
        port,
    })
}

/// With a metrics port: `/metrics` there and nowhere else, and nothing else there.
pub(crate) async fn split_ports(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let port = req
        .app_data::<web::Data<MetricsState>>()
        .and_then(|s| s.port);
    let on_metrics_port = port.is_some() && Some(req.app_config().local_addr().port()) == port;
    if port.is_some() && on_metrics_port != (req.path() == "/metrics") {
        let refused = req.error_response(AppError::not_found("There is no page at this address."));
        return Ok(refused.map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Counts and times each request under its route's pattern.
pub(crate) async fn record(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = method_label(req.method());
    let started = Instant::now();
    let in_flight = InFlight::enter();
    let result = next.call(req).await;
    drop(in_flight);
    let (route, status) = match &result {
        Ok(res) => (route_label(res.request()), res.status().as_u16()),
        Err(e) => (
            UNMATCHED.to_owned(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    result
}

/// The in-flight gauge, taken down again however the request ends (even cancelled).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics::gauge!(IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
    }
}

/// The pattern the request matched (`/quotes/{id}`), else `unmatched`.
fn route_label(req: &HttpRequest) -> String {
    req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned())
}

/// A known method's name; anything else is `other`, so a client cannot invent series.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`: the text format, for clients in the allow-list; 404 for the rest.
pub(crate) async fn render(
    req: HttpRequest,
    state: web::Data<MetricsState>,
) -> Result<HttpResponse, AppError> {
    let allowed = client_addr(&req)
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .is_some_and(|ip| allows(&state.allow, ip));
    if !allowed {
        return Err(AppError::not_found("There is no page at this address."));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.handle.render()))
}

fn allows(allow: &[IpNet], ip: IpAddr) -> bool {
    // An IPv4 client on an IPv6 socket shows as ::ffff:a.b.c.d.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    allow.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_networks_may_read() {
        let allow = MetricsOptions::default().allow;
        assert!(allows(&allow, "127.0.0.1".parse().unwrap()));
        assert!(allows(&allow, "::1".parse().unwrap()));
        assert!(allows(&allow, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!allows(&allow, "10.0.0.7".parse().unwrap()));
        assert!(!allows(&[], "127.0.0.1".parse().unwrap()));
        let lan: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(allows(&lan, "10.0.0.7".parse().unwrap()));
    }

    #[test]
    fn invented_methods_share_one_label() {
        let odd = actix_web::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&actix_web::http::Method::GET), "GET");
    }
}
