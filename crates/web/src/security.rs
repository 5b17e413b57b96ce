//! What the shell does for every component's security: the site's secret key, the client's
//! address behind trusted proxies, who is signed in (request data that an accounts
//! component provides), and CSRF protection of every unsafe request, so that a component
//! writes nothing for it.
//!
//! CSRF, as Django does it: a token in a hidden `csrf_token` field (or an `X-CSRF-Token`
//! header) must match the request's binding, and the `Origin` (else `Referer`) header, when
//! a browser sends one, must name this host. The binding is the session when a component
//! says who is signed in ([`SessionBinding`]), else a random id in the `quotes_csrf` cookie
//! that the shell sets on the first HTML page. A token is HMAC-SHA256 of the binding under
//! the secret key, masked with a fresh random pad each time a page shows it (so that
//! compressed pages do not leak it, BREACH), and compared in constant time.
//!
//! Two halves: [`bind`] runs for every request after the components' middleware (which may
//! bind the session) and gives it its token; [`check`] wraps every resource a component
//! registers with `Routes::resource`, so it runs after the router has chosen that resource,
//! however the path was spelt, and refuses an unsafe method without a good token.

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

/// `N` bytes from this thread's cryptographically secure generator (ChaCha12, seeded and
/// reseeded from the operating system): every anonymous visitor's CSRF binding needs some,
/// and a system call per request was a visible part of a small answer's cost.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore as _;
    let mut bytes = [0; N];
    rand::rng().fill_bytes(&mut bytes);
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

/// This request's CSRF token, for templates (`csrf_token`, see [`CsrfToken::masked`]) and
/// for clients that send it in `X-CSRF-Token`.
#[derive(Clone)]
pub struct CsrfToken([u8; 32]);

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(…)")
    }
}

impl CsrfToken {
    /// A digest of the token that tells one visitor's pages from another's (for ETags);
    /// 64 bits of a 256-bit token give nothing away.
    pub fn fingerprint(&self) -> u64 {
        crate::cache::digest([self.0.as_slice()])
    }

    /// The token as a page shows it: a fresh random pad, then the token XOR the pad, as
    /// 128 hex digits. Every call gives another text for the same token.
    pub fn masked(&self) -> String {
        let pad = random_bytes::<32>();
        let mut out = pad.to_vec();
        out.extend(pad.iter().zip(self.0).map(|(p, t)| p ^ t));
        hex(&out)
    }
}

/// The token a masked text stands for.
fn unmask(masked: &str) -> Option<Vec<u8>> {
    let bytes = unhex(masked.trim())?;
    if bytes.len() != 64 {
        return None;
    }
    let (pad, token) = bytes.split_at(32);
    Some(pad.iter().zip(token).map(|(p, t)| p ^ t).collect())
}

/// What this request's token is bound to (set by [`bind`], read by [`check`]).
#[derive(Clone)]
struct CsrfBinding(Binding);

/// How the shell treats cookies and clients; set from the settings.
#[derive(Debug, Clone)]
pub struct Security {
    pub key: SecretKey,
    /// Proxies whose `X-Forwarded-For` is believed (the deploy's nginx; a container
    /// network).
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
/// The largest form a handler may take (and the check reads to find its token): a wiki
/// page's 500 KB of content, URL-encoded, fits.
pub const FORM_LIMIT: usize = 2 * 1024 * 1024;
/// The same for a form with files (an upload): they are read whole, then handed on.
pub const MULTIPART_LIMIT: usize = 8 * 1024 * 1024;

impl Security {
    fn trusts(&self, addr: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&addr))
    }

    /// The client behind the proxies this site trusts: walking `X-Forwarded-For` from the
    /// right, the first address that is not a trusted proxy.
    pub fn client_of(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for.into_iter().flat_map(|v| v.rsplit(',')) {
            match hop.trim().parse::<IpAddr>() {
                Ok(addr) => {
                    client = addr;
                    if !self.trusts(addr) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        Some(client)
    }

    fn token_for(&self, binding: &Binding) -> CsrfToken {
        let mac = self.key.mac("csrf", binding.key().as_bytes()).finalize();
        CsrfToken(mac.into_bytes().into())
    }
}

/// Where a request's CSRF token comes from.
#[derive(Clone)]
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

/// Gives the request its token; runs for every request after the components' middleware
/// (which may bind the session) and before the routes (`end`). Sets the visitor's cookie on
/// the first HTML page of a visitor without one.
pub(crate) async fn bind(
    security: Arc<Security>,
    req: ServiceRequest,
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
    req.extensions_mut().insert(security.token_for(&binding));
    req.extensions_mut().insert(CsrfBinding(binding.clone()));
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

/// The site's security settings as app data, for [`check`].
pub(crate) struct SecurityData(pub Arc<Security>);

/// Refuses an unsafe method without a good token; wraps every resource registered with
/// `Routes::resource`, so it runs once the router has chosen the resource.
pub(crate) async fn check<B: actix_web::body::MessageBody + 'static>(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    if is_safe(req.method()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let security = req
        .app_data::<actix_web::web::Data<SecurityData>>()
        .map(|d| d.0.clone());
    let binding = req.extensions().get::<CsrfBinding>().map(|b| b.0.clone());
    let verdict = match (security, binding) {
        (Some(security), Some(binding)) => verify(&security, &binding, &mut req).await,
        _ => Err("the site could not bind a token to this request."),
    };
    match verdict {
        Ok(()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(why) => {
            tracing::warn!(reason = %why, path = %req.path(), "CSRF check failed");
            Ok(req
                .error_response(AppError::forbidden(format!(
                    "CSRF verification failed: {why} Reload the page and try again."
                )))
                .map_into_right_body())
        }
    }
}

/// Why an unsafe request fails the check, as the 403 page says it.
async fn verify(
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
    let good = unmask(&submitted).is_some_and(|token| {
        security
            .key
            .mac("csrf", binding.key().as_bytes())
            .verify_slice(&token)
            .is_ok()
    });
    if good {
        Ok(())
    } else {
        Err("the CSRF token is wrong or out of date.")
    }
}

/// An `Origin` (or, without one, a `Referer`) must name the host the request went to.
fn check_origin(req: &ServiceRequest) -> Result<(), &'static str> {
    // HTTP/2 names the host in `:authority`, which actix reads for the connection info.
    let info = req.connection_info().clone();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(info.host());
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
    let limit = if form { FORM_LIMIT } else { MULTIPART_LIMIT };
    let body = read_body(req, limit).await?;
    let token = if form {
        form_urlencoded_field(&body, CSRF_FIELD)
    } else {
        multipart_field(&body, CSRF_FIELD)
    };
    req.set_payload(Payload::from(body));
    token.ok_or("the CSRF token is missing from the form.")
}

/// The whole body, at most `limit` bytes.
async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<Bytes, &'static str> {
    use futures_util::StreamExt;
    const TOO_LARGE: &str = "the form is too large to check.";
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(TOO_LARGE);
    }
    let mut payload = req.take_payload();
    let mut body = actix_web::web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| "the form could not be read.")?;
        if body.len() + chunk.len() > limit {
            return Err(TOO_LARGE);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a small text part of a multipart body: the part whose header says
/// `form-data; name="…"` and nothing more (a file part has a `filename` after it).
fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("form-data; name=\"{name}\"\r\n");
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
            trusted_proxies: vec![
                "127.0.0.1/32".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
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
        let decoy = b"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"csrf_token\"\r\n\r\nname=\"csrf_token\"\r\n\r\nforged\r\n--X--\r\n";
        assert_eq!(
            multipart_field(decoy, "csrf_token"),
            None,
            "not from a file's name or body"
        );
    }

    #[test]
    fn a_masked_token_unmasks_to_the_token_and_differs_each_time() {
        let token = CsrfToken([9; 32]);
        let (a, b) = (token.masked(), token.masked());
        assert_ne!(a, b);
        assert_eq!(a.len(), 128);
        assert_eq!(unmask(&a).unwrap(), vec![9; 32]);
        assert_eq!(unmask(&b).unwrap(), vec![9; 32]);
        assert_eq!(unmask("00"), None);
    }
}
