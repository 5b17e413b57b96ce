//! `/accounts/login`, `/accounts/logout` (POST) and `/accounts/password`.

use chrono::Utc;
use serde::Deserialize;
use web::actix_web::cookie::Cookie;
use web::actix_web::http::header;
use web::actix_web::web::{block, Data, Form, Query};
use web::actix_web::{HttpRequest, HttpResponse};
use web::{AppError, ErrorChain, Templates};

use crate::session::current;
use crate::store::{AccountsError, User};
use crate::{password, throttle, State};

/// One message for an unknown user and a wrong password alike (Django's words), so that
/// nobody learns which names exist.
const BAD_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// Where to go after logging in: a path on this site only; anything else (another site,
/// `//host`, a scheme) goes home.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `value` made safe as a query value: what would end or split it is percent-encoded.
pub(crate) fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn unavailable(e: AccountsError) -> AppError {
    match e {
        AccountsError::Unavailable(source) => {
            AppError::unavailable(format!("{:#}", ErrorChain(&*source)))
        }
        other => AppError::internal(other),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// The login form and what it shows after a failed try.
struct LoginPage<'a> {
    username: &'a str,
    next: &'a str,
    error: Option<String>,
}

fn login_page(req: &HttpRequest, t: &Templates, page: LoginPage<'_>) -> Result<String, AppError> {
    let mut ctx = t.context(req);
    ctx.insert("username", page.username);
    ctx.insert("next", page.next);
    ctx.insert("error", &page.error);
    t.render_to_string("accounts/login.html", &ctx)
}

pub(crate) async fn login_form(
    req: HttpRequest,
    query: Query<NextQuery>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    let page = LoginPage {
        username: "",
        next: &next,
        error: None,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(login_page(&req, &t, page)?))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// What a login try came to.
enum Outcome {
    Throttled(u64),
    Refused,
    In(Box<User>, Cookie<'static>),
}

pub(crate) async fn login(
    req: HttpRequest,
    form: Form<LoginForm>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let client = web::client_addr(&req);
    let keys = throttle::keys(&form.username, client);
    let replaced = current(&req).map(|c| c.key_digest);
    let work = state.clone();
    let username = form.username.clone();
    let typed = form.username.clone();
    // Hashing is slow on purpose: it runs on the blocking pool, never on the workers.
    let outcome = block(move || -> Result<Outcome, AccountsError> {
        let now = Utc::now();
        work.purge_now_and_then(now)?;
        let attempt = match work.throttle.attempt(&keys, now)? {
            throttle::Attempt::Throttled(wait) => return Ok(Outcome::Throttled(wait)),
            throttle::Attempt::Admitted(ids) => ids,
        };
        let user = work.store.find(&username)?;
        let good = match &user {
            Some(user) => {
                password::verify(&form.password, &user.password_hash) && user.flags.is_active
            }
            None => {
                password::verify_nobody(&form.password);
                false
            }
        };
        match user {
            Some(user) if good => {
                work.throttle.succeeded(&username, &attempt)?;
                let cookie = work.sessions.start(&user, replaced.as_deref(), now)?;
                work.store.record_login(user.id, now)?;
                Ok(Outcome::In(Box::new(user), cookie))
            }
            // The attempt stays recorded: it is a failure.
            _ => Ok(Outcome::Refused),
        }
    })
    .await?
    .map_err(unavailable)?;

    match outcome {
        Outcome::In(user, cookie) => {
            tracing::info!(user = user.id.0, "logged in");
            let mut res = see_other(&next);
            res.add_cookie(&cookie).map_err(AppError::internal)?;
            Ok(res)
        }
        Outcome::Refused => {
            tracing::info!(client = ?client, "login refused");
            let page = LoginPage {
                username: &typed,
                next: &next,
                error: Some(BAD_LOGIN.to_owned()),
            };
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(login_page(&req, &t, page)?))
        }
        Outcome::Throttled(wait) => {
            tracing::warn!(client = ?client, wait_secs = wait, "login throttled");
            let minutes = wait.div_ceil(60);
            let page = LoginPage {
                username: "",
                next: &next,
                error: Some(format!(
                    "Too many failed logins. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                )),
            };
            Ok(HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, wait.to_string()))
                .content_type("text/html; charset=utf-8")
                .body(login_page(&req, &t, page)?))
        }
    }
}

pub(crate) async fn logout(req: HttpRequest, state: Data<State>) -> Result<HttpResponse, AppError> {
    let removal = state.sessions.removal();
    if let Some(session) = current(&req) {
        let sessions = state.sessions.clone();
        block(move || sessions.store.delete_session(&session.key_digest))
            .await?
            .map_err(unavailable)?;
        tracing::info!(user = session.user.id.0, "logged out");
    }
    let mut res = see_other("/");
    res.add_cookie(&removal).map_err(AppError::internal)?;
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChangedQuery {
    changed: Option<String>,
}

/// Field errors of the password form, by field.
#[derive(Debug, Default, serde::Serialize)]
struct PasswordErrors {
    old_password: Vec<String>,
    new_password1: Vec<String>,
    new_password2: Vec<String>,
}

fn password_page(
    req: &HttpRequest,
    t: &Templates,
    errors: &PasswordErrors,
    changed: bool,
) -> Result<String, AppError> {
    let mut ctx = t.context(req);
    ctx.insert("errors", errors);
    ctx.insert("changed", &changed);
    t.render_to_string("accounts/password.html", &ctx)
}

fn to_login(req: &HttpRequest) -> HttpResponse {
    see_other(&format!("/accounts/login?next={}", query_value(req.path())))
}

pub(crate) async fn password_form(
    req: HttpRequest,
    query: Query<ChangedQuery>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    if current(&req).is_none() {
        return Ok(to_login(&req));
    }
    let body = password_page(
        &req,
        &t,
        &PasswordErrors::default(),
        query.changed.is_some(),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

pub(crate) async fn change_password(
    req: HttpRequest,
    form: Form<PasswordForm>,
    state: Data<State>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let Some(session) = current(&req) else {
        return Ok(to_login(&req));
    };
    let form = form.into_inner();
    let work = state.clone();
    let result = block(
        move || -> Result<(PasswordErrors, Option<Cookie<'static>>), AccountsError> {
            let user = work.store.get(session.user.id)?;
            let mut errors = PasswordErrors::default();
            if !password::verify(&form.old_password, &user.password_hash) {
                errors.old_password.push(
                    "Your old password was entered incorrectly. Please enter it again.".into(),
                );
            }
            if form.new_password1 != form.new_password2 {
                errors
                    .new_password2
                    .push("The two password fields didn't match.".into());
            }
            let names: Vec<&str> = std::iter::once(user.username.as_str())
                .chain(user.email.as_ref().map(|e| e.as_str()))
                .collect();
            errors.new_password1.extend(
                password::check(
                    &form.new_password1,
                    work.settings.min_password_length,
                    &names,
                )
                .into_iter()
                .map(|r| r.message),
            );
            let ok = errors.old_password.is_empty()
                && errors.new_password1.is_empty()
                && errors.new_password2.is_empty();
            if !ok {
                return Ok((errors, None));
            }
            work.store
                .set_password(user.id, &password::hash(&form.new_password1))?;
            // Every other session of this user ends; this one goes on under a new key.
            let ended = work
                .store
                .delete_sessions_of(user.id, Some(&session.key_digest))?;
            let cookie = work
                .sessions
                .start(&user, Some(&session.key_digest), Utc::now())?;
            tracing::info!(user = user.id.0, ended_sessions = ended, "password changed");
            Ok((errors, Some(cookie)))
        },
    )
    .await?
    .map_err(unavailable)?;
    match result {
        (_, Some(cookie)) => {
            let mut res = see_other("/accounts/password?changed=1");
            res.add_cookie(&cookie).map_err(AppError::internal)?;
            Ok(res)
        }
        (errors, None) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(password_page(&req, &t, &errors, false)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        for (next, to) in [
            (Some("/quotes?page=2"), "/quotes?page=2"),
            (Some("https://elsewhere.example/"), "/"),
            (Some("//elsewhere.example/"), "/"),
            (Some("/\\elsewhere.example"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("/a\nb"), "/"),
            (Some(""), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }
}
