//! What the shell does for every component's security: the site's secret key, the client's
//! address behind trusted proxies, who is signed in (request data that an accounts
//! component provides), and CSRF protection of every unsafe request, so that a component
//! writes nothing for it.
//!
//! CSRF, as Django does it: a token in a hidden `csrf_token` field (or an `X-CSRF-Token`
//! header) must match the request's binding, and the `Origin` (else `Referer`) header, when
//! a browser sends one, must name this host. The binding is the session when a component
//! says who is signed in ([`SessionBinding`]), else a random id in the `quotes_csrf` cookie
//! that the shell sets on the first HTML page. Tokens are HMAC-SHA256 of the binding under
//! the secret key, compared in constant time.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppError;

/// The site's secret key: signs cookies and CSRF tokens. At least 32 bytes.
#[derive(Clone)]
pub struct SecretKey(Arc<[u8]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// The fewest bytes a secret key may have.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

impl SecretKey {
    /// A key from configuration; refuses one shorter than [`MIN_SECRET_KEY_BYTES`].
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            key.len() >= MIN_SECRET_KEY_BYTES,
            "the secret key has {} bytes, fewer than {MIN_SECRET_KEY_BYTES}",
            key.len()
        );
        Ok(Self(Arc::from(key)))
    }

    /// A key of 64 random bytes, for a process that was given none (its cookies end with it).
    pub fn random() -> Self {
        Self(Arc::from(random_bytes::<64>().as_slice()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key size");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac
    }

    /// HMAC-SHA256 of `data` for `purpose`, as lowercase hex.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> String {
        hex(&self.mac(purpose, data).finalize().into_bytes())
    }

    /// Whether `tag` is [`SecretKey::sign`] of `data`, compared in constant time.
    pub fn verify(&self, purpose: &str, data: &[u8], tag: &str) -> bool {
        match unhex(tag) {
            Some(tag) => self.mac(purpose, data).verify_slice(&tag).is_ok(),
            None => false,
        }
    }
}

/// `N` bytes from the operating system's random number generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the operating system gives random numbers");
    bytes
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Who is signed in, as the component that keeps accounts tells the rest of the site (a
/// request extension; read it with [`identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    pub username: String,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// The signed-in user of this request, if any.
pub fn identity(req: &HttpRequest) -> Option<Identity> {
    req.extensions().get::<Identity>().cloned()
}

/// What this request's CSRF token is bound to when someone is signed in: a value only the
/// session knows (a request extension, set by the component that keeps sessions).
#[derive(Clone)]
pub struct SessionBinding(pub String);

impl fmt::Debug for SessionBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionBinding(…)")
    }
}

/// The client's address: the peer's, or the `X-Forwarded-For` entry a trusted proxy added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client's address of this request.
pub fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().map(|c| c.0)
}

/// This request's CSRF token, for templates (`csrf_token`) and for clients that send it in
/// `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// How the shell treats cookies and clients; set from the settings.
#[derive(Debug, Clone)]
pub struct Security {
    pub key: SecretKey,
    /// Proxies whose `X-Forwarded-For` is believed (the deploy's nginx).
    pub trusted_proxies: Vec<IpAddr>,
    /// Cookies only over HTTPS (production).
    pub secure_cookies: bool,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            key: SecretKey::random(),
            trusted_proxies: Vec::new(),
            secure_cookies: false,
        }
    }
}

/// The cookie that binds an anonymous visitor's CSRF tokens.
pub const CSRF_COOKIE: &str = "quotes_csrf";
/// The form field and header that carry a token.
pub const CSRF_FIELD: &str = "csrf_token";
const CSRF_HEADER: &str = "x-csrf-token";
/// The most of a form the check reads to find its token.
const FORM_LIMIT: usize = 256 * 1024;

impl Security {
    /// The client behind the proxies this site trusts: walking `X-Forwarded-For` from the
    /// right, the first address that is not a trusted proxy.
    pub fn client_of(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for.into_iter().flat_map(|v| v.rsplit(',')) {
            match hop.trim().parse::<IpAddr>() {
                Ok(addr) => {
                    client = addr;
                    if !self.trusted_proxies.contains(&addr) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        Some(client)
    }

    fn token_for(&self, binding: &str) -> String {
        self.key.sign("csrf", binding.as_bytes())
    }
}

/// Where a request's CSRF token comes from.
enum Binding {
    Session(String),
    Anonymous { id: String, new: bool },
}

impl Binding {
    fn key(&self) -> String {
        match self {
            Binding::Session(s) => format!("s:{s}"),
            Binding::Anonymous { id, .. } => format!("a:{id}"),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The site's security settings and the paths whose handlers take unsafe methods, in the
/// order the router tries them.
pub(crate) struct Guard {
    pub security: Security,
    /// Every claimed path, and whether its resource takes unsafe methods.
    pub routes: Vec<(actix_web::dev::ResourceDef, bool)>,
}

impl Guard {
    /// Whether an unsafe request to `path` reaches a handler that takes it (else the router
    /// answers 404 or 405, and there is nothing to guard).
    fn guards(&self, path: &str) -> bool {
        self.routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .is_some_and(|(_, takes_unsafe)| *takes_unsafe)
    }
}

/// Gives the request its token and checks unsafe methods; runs after the components'
/// middleware (which may bind the session) and before the routes (`end`).
pub(crate) async fn csrf(
    guard: Arc<Guard>,
    mut req: ServiceRequest,
    end: actix_web::middleware::Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let session = req
        .extensions()
        .get::<SessionBinding>()
        .map(|s| s.0.clone());
    let binding = match session {
        Some(s) => Binding::Session(s),
        None => match req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            Some(id) => Binding::Anonymous { id, new: false },
            None => Binding::Anonymous {
                id: hex(&random_bytes::<16>()),
                new: true,
            },
        },
    };
    let security = &guard.security;
    let token = security.token_for(&binding.key());
    req.extensions_mut().insert(CsrfToken(token));

    if !is_safe(req.method()) && guard.guards(req.path()) {
        if let Err(why) = check(security, &binding, &mut req).await {
            tracing::warn!(reason = %why, path = %req.path(), "CSRF check failed");
            return Ok(req.error_response(AppError::forbidden(format!(
                "CSRF verification failed: {why} Reload the page and try again."
            ))));
        }
    }

    let mut res = end.call(req).await?;
    if let Binding::Anonymous { id, new: true } = binding {
        let is_html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if is_html {
            let cookie = Cookie::build(CSRF_COOKIE, id)
                .path("/")
                .http_only(true)
                .secure(security.secure_cookies)
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(365))
                .finish();
            if let Err(e) = res.response_mut().add_cookie(&cookie) {
                tracing::error!(error = %e, "cannot set the CSRF cookie");
            }
        }
    }
    Ok(res)
}

/// Why an unsafe request fails the check, as the 403 page says it.
async fn check(
    security: &Security,
    binding: &Binding,
    req: &mut ServiceRequest,
) -> Result<(), &'static str> {
    check_origin(req)?;
    if let Binding::Anonymous { new: true, .. } = binding {
        return Err("the CSRF cookie is missing (cookies must be on for this site).");
    }
    let submitted = match req.headers().get(CSRF_HEADER) {
        Some(v) => v
            .to_str()
            .map(str::to_owned)
            .map_err(|_| "the token is not text.")?,
        None => form_token(req).await?,
    };
    if security
        .key
        .verify("csrf", binding.key().as_bytes(), &submitted)
    {
        Ok(())
    } else {
        Err("the CSRF token is wrong or out of date.")
    }
}

/// An `Origin` (or, without one, a `Referer`) must name the host the request went to.
fn check_origin(req: &ServiceRequest) -> Result<(), &'static str> {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return Ok(());
    };
    let from = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        // Privacy settings can hide both; the token still has to match.
        None => Ok(()),
        Some("null") => Err("the request came from a page without an origin."),
        Some(from) => {
            let authority = from
                .split_once("://")
                .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
            if authority.is_some_and(|a| a.eq_ignore_ascii_case(host)) {
                Ok(())
            } else {
                Err("the request came from another site.")
            }
        }
    }
}

/// The `csrf_token` field of an urlencoded or multipart form; the body is put back for the
/// handler.
async fn form_token(req: &mut ServiceRequest) -> Result<String, &'static str> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let multipart = content_type.starts_with("multipart/form-data");
    if !form && !multipart {
        return Err("the CSRF token is missing (send it in X-CSRF-Token).");
    }
    let body = read_body(req).await?;
    let token = if form {
        form_urlencoded_field(&body, CSRF_FIELD)
    } else {
        multipart_field(&body, CSRF_FIELD)
    };
    req.set_payload(Payload::from(body));
    token.ok_or("the CSRF token is missing from the form.")
}

async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, &'static str> {
    let too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > FORM_LIMIT);
    if too_large {
        return Err("the form is too large to check.");
    }
    req.extract::<Bytes>()
        .await
        .map_err(|_| "the form could not be read.")
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a small text part of a multipart body: the part whose headers say
/// `name="…"`.
fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let at = text.find(&marker)?;
    let rest = &text[at..];
    let start = rest.find("\r\n\r\n")? + 4;
    let end = rest[start..].find("\r\n")?;
    Some(rest[start..start + end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_data_and_purpose() {
        let key = SecretKey::new(&[7; 32]).unwrap();
        let tag = key.sign("csrf", b"a:1");
        assert_eq!(tag.len(), 64);
        assert!(key.verify("csrf", b"a:1", &tag));
        assert!(!key.verify("csrf", b"a:2", &tag));
        assert!(!key.verify("other", b"a:1", &tag));
        assert!(!key.verify("csrf", b"a:1", "zz"));
        assert!(!key.verify("csrf", b"a:1", ""));
        assert!(SecretKey::new(b"short").is_err());
    }

    #[test]
    fn the_client_is_found_behind_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let s = Security {
            trusted_proxies: vec![ip("127.0.0.1"), ip("10.0.0.2")],
            ..Security::default()
        };
        assert_eq!(
            s.client_of(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            s.client_of(Some(ip("127.0.0.1")), Some("1.2.3.4, 203.0.113.9")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            s.client_of(Some(ip("127.0.0.1")), Some("203.0.113.9, 10.0.0.2")),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            s.client_of(Some(ip("127.0.0.1")), None),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            s.client_of(Some(ip("127.0.0.1")), Some("garbage")),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn form_fields_are_found_in_both_encodings() {
        assert_eq!(
            form_urlencoded_field(b"a=1&csrf_token=ab%2Fc&b=2", "csrf_token").as_deref(),
            Some("ab/c")
        );
        let multipart = b"--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.txt\"\r\n\r\ndata\r\n--X--\r\n";
        assert_eq!(
            multipart_field(multipart, "csrf_token").as_deref(),
            Some("abc123")
        );
        assert_eq!(multipart_field(multipart, "missing"), None);
    }
}
