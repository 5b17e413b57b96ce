//! A browser for tests that drive a site over HTTP: keeps cookies, posts forms with the
//! page's CSRF token, uploads files.

use std::sync::Arc;

/// A browser: keeps cookies, posts forms with the page's CSRF token.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Browser {
    /// A browser for the site at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Self {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_provider(jar.clone())
                .build()
                .unwrap(),
            jar,
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, retry_after) = (header("location"), header("retry-after"));
        Page {
            status: res.status().as_u16(),
            location,
            retry_after,
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The CSRF token of the page at `path`.
    pub async fn token(&self, path: &str) -> String {
        let body = self.get(path).await.body;
        let marker = "name=\"csrf_token\" value=\"";
        let at = body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on {path}: {body}"))
            + marker.len();
        let end = at + body[at..].find('"').unwrap();
        body[at..end].to_owned()
    }

    /// Posts `fields` (and the token of the page at `form_page`) to `path`.
    pub async fn post(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.token(form_page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        Self::page(res).await
    }

    /// Posts a `multipart/form-data` form: `fields`, the token of the page at `form_page`,
    /// and one file part (`name`, file name, content), as a browser uploads a file.
    pub async fn upload(
        &self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Page {
        let token = self.token(form_page).await;
        let boundary = "----test-support-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields.iter().chain([&("csrf_token", token.as_str())]) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, file_name, content) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        Self::page(res).await
    }

    /// Signs in through the accounts component's form.
    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.post(
            "/accounts/login",
            "/accounts/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// The session cookie's value, if the browser holds one.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap();
        let cookies = self.jar.cookies(&url)?;
        cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("quotes_session="))
            .map(str::to_owned)
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
