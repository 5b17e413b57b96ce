//! A test site on a free port, and made-up components to put in it.

use std::net::TcpListener;

use web::{BuildInfo, ServerOptions, Site};

/// The site under test.
pub type TestApp = test_support::Http;

pub fn info() -> BuildInfo {
    BuildInfo {
        name: "site",
        version: "9.9.9",
        commit: "abc123".into(),
    }
}

/// Serves `site` on a free port with one worker.
pub fn spawn(site: Site) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    let server = web::serve(listener, site, &options).expect("server starts");
    actix_web::rt::spawn(server);
    TestApp::on_port(port)
}
