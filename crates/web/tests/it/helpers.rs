//! A test site on a free port, and made-up components to put in it.

use std::net::TcpListener;

use web::{BuildInfo, ServerOptions, Site};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the server")
    }

    /// GET `path` and return (status, body).
    pub async fn text(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }
}

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
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}
