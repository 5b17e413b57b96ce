//! Error reports to Sentry: on when the process has a Sentry client, which the composition
//! root makes from `SENTRY_DSN` with [`client_options`]. Then every answer of 500 or more and
//! every panic while serving is reported with the request id (a tag), the release (the
//! commit) and the environment, and with what the log said at WARN and ERROR during that
//! request as breadcrumbs (the composition root installs that layer).
//!
//! A report never holds a cookie, a password, a session id or a form: the request's body is
//! never read, its query string and every header but a short allow-list are dropped, and no
//! user is attached.

use std::any::Any;
use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{middleware, HttpMessage, ResponseError};
use futures_util::FutureExt;
use sentry::integrations::actix::Sentry;
use sentry::protocol::Event;

use crate::{AppError, RequestId};

/// The request headers a report keeps; every other one (cookies, authorization, CSRF
/// tokens, forwarded addresses) is dropped.
const KEPT_HEADERS: [&str; 5] = [
    "host",
    "user-agent",
    "accept",
    "content-type",
    "x-request-id",
];

/// The client's options for `dsn`: release and environment as given, nothing personal, no
/// request bodies, every event scrubbed by [`scrub`] before it leaves.
pub fn client_options(
    dsn: sentry::types::Dsn,
    release: String,
    environment: String,
) -> sentry::ClientOptions {
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(Cow::Owned(release));
    options.environment = Some(Cow::Owned(environment));
    options.send_default_pii = false;
    options.max_request_body_size = sentry::MaxRequestBodySize::None;
    options.before_send = Some(Arc::new(|event| Some(scrub(event))));
    options.shutdown_timeout = Duration::from_secs(2);
    options
}

/// Takes out of `event` what could identify or authenticate someone.
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = event.request.as_mut() {
        request.data = None;
        request.cookies = None;
        request.query_string = None;
        request.env.clear();
        request
            .headers
            .retain(|name, _| KEPT_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
    }
    event.user = None;
    event
}

/// Whether reports go anywhere: the process has an enabled Sentry client.
pub(crate) fn enabled() -> bool {
    sentry::Hub::main()
        .client()
        .is_some_and(|client| client.is_enabled())
}

/// sentry's actix middleware: a hub per request, and a report for each answer of 500 or more.
pub(crate) fn middleware() -> Sentry {
    Sentry::builder()
        .capture_server_errors(true)
        .start_transaction(false)
        .finish()
}

/// Tags the request's reports with its id (runs inside [`middleware`], on the request's hub).
pub(crate) async fn tag_request(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(id) = req.extensions().get::<RequestId>() {
        let id = id.0.clone();
        sentry::configure_scope(|scope| scope.set_tag("request_id", id));
    }
    next.call(req).await
}

/// A handler that panics gets the site's 500 page, with its request id, instead of a
/// connection cut off without an answer; the panic itself is logged (and reported once, by
/// the panic hook Sentry installs, with the request's tags: the answer carries no error for
/// the middleware to report again). Wraps each component resource: the request may be held
/// only once routing is done.
pub(crate) async fn catch_panic(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            let error = AppError::internal(format!("a handler panicked: {what}"));
            Ok(ServiceResponse::new(request, error.error_response()))
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Request, User};

    #[test]
    fn scrubbing_leaves_no_cookie_query_header_or_user() {
        let mut event = Event {
            request: Some(Request {
                url: "http://example.test/quotes?password=hunter2#frag"
                    .parse()
                    .ok(),
                method: Some("POST".into()),
                data: Some("username=boss&password=hunter2".into()),
                query_string: Some("password=hunter2".into()),
                cookies: Some("quotes_session=s3ss10n".into()),
                headers: [
                    ("Cookie", "quotes_session=s3ss10n"),
                    ("Authorization", "Basic Ym9zczpodW50ZXIy"),
                    ("X-CSRF-Token", "t0k3n"),
                    ("Referer", "http://example.test/?password=hunter2"),
                    ("User-Agent", "test"),
                    ("X-Request-Id", "abc"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                env: [("REMOTE_ADDR".to_owned(), "203.0.113.9".to_owned())]
                    .into_iter()
                    .collect(),
            }),
            user: Some(User {
                username: Some("boss".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        event = scrub(event);
        let text = serde_json::to_string(&event).unwrap();
        for secret in [
            "hunter2",
            "s3ss10n",
            "t0k3n",
            "Ym9zc",
            "203.0.113.9",
            "boss",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let request = event.request.unwrap();
        assert_eq!(request.url.unwrap().as_str(), "http://example.test/quotes");
        let mut kept: Vec<_> = request.headers.keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["User-Agent", "X-Request-Id"]);
    }
}
