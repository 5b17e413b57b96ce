//! An HTTP client for a test server on 127.0.0.1 that never follows redirects, so that a
//! test sees each answer as the server gave it.

/// A server under test, by its base address.
#[derive(Debug, Clone)]
pub struct Http {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    /// The server listening on `port` of 127.0.0.1.
    pub fn on_port(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

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

    /// GET `path` and return (status, JSON body).
    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }
}
