//! Logging in and out: the session holds, changes at login, ends at logout; next= stays on
//! the site; unknown users and wrong passwords look the same; forms need their token.

use accounts::{AccountsSettings, Flags};

use crate::helpers::*;

#[actix_web::test]
async fn log_in_see_your_name_log_out() {
    for backend in BOTH {
        let site = site(backend, AccountsSettings::default());
        let b = Browser::of(&site);
        assert_eq!(b.whoami().await, "anonymous");
        let home = b.get("/accounts/login").await.body;
        assert!(home.contains(r#"data-nav="log in">Log in</a>"#), "{home}");

        let page = b.login("ada", GOOD).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/")),
            "{backend}: {}",
            page.body
        );
        assert_eq!(b.whoami().await, "ada staff=false superuser=false");
        let html = b.get("/accounts/login").await.body;
        assert!(html.contains(r#"data-nav="ada">ada</a>"#), "{html}");
        assert!(
            html.contains(r#"action="/accounts/logout"><input type="hidden" name="csrf_token""#),
            "{html}"
        );
        let user = site.store.find("ada").unwrap().unwrap();
        assert!(user.last_login.is_some(), "the login is recorded");

        let old = b.session_cookie().expect("a session cookie");
        let page = b.post("/accounts/password", "/accounts/logout", &[]).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/")));
        assert_eq!(b.whoami().await, "anonymous");
        assert_eq!(
            b.whoami_with(&old).await,
            "anonymous",
            "{backend}: the old cookie no longer works"
        );
    }
}

#[actix_web::test]
async fn the_session_id_changes_at_login_and_the_old_one_ends() {
    for backend in BOTH {
        let site = site(backend, AccountsSettings::default());
        let b = Browser::of(&site);
        b.login("ada", GOOD).await;
        let first = b.session_cookie().unwrap();
        b.login("ada", GOOD).await;
        let second = b.session_cookie().unwrap();
        assert_ne!(first, second, "{backend}");
        assert_eq!(b.whoami_with(&first).await, "anonymous");
        assert_eq!(
            b.whoami_with(&second).await,
            "ada staff=false superuser=false"
        );
    }
}

#[actix_web::test]
async fn a_forged_or_tampered_cookie_is_anonymous() {
    let site = site(web::Backend::Memory, AccountsSettings::default());
    let b = Browser::of(&site);
    b.login("ada", GOOD).await;
    let good = b.session_cookie().unwrap();
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(b.whoami_with(&tampered).await, "anonymous");
    assert_eq!(b.whoami_with("0123456789abcdef").await, "anonymous");
}

#[actix_web::test]
async fn next_goes_to_local_paths_only() {
    let site = site(web::Backend::Memory, AccountsSettings::default());
    for (next, to) in [
        ("/whoami?x=1", "/whoami?x=1"),
        ("https://elsewhere.example/", "/"),
        ("//elsewhere.example/", "/"),
    ] {
        let b = Browser::of(&site);
        let page = b
            .post(
                "/accounts/login",
                "/accounts/login",
                &[("username", "ada"), ("password", GOOD), ("next", next)],
            )
            .await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some(to)),
            "{next}"
        );
    }
    let b = Browser::of(&site);
    let form = b
        .get("/accounts/login?next=https://elsewhere.example/")
        .await
        .body;
    assert!(form.contains(r#"name="next" value="/""#), "{form}");
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    for backend in BOTH {
        let site = site(backend, AccountsSettings::default());
        add_user(&*site.store, "off", GOOD, Flags::default());
        let b = Browser::of(&site);
        let wrong = b.login("ada", "not her password").await;
        let unknown = b.login("ghost", "not her password").await;
        let inactive = b.login("off", GOOD).await;
        for page in [&wrong, &unknown, &inactive] {
            assert_eq!(page.status, 200);
            assert!(
                page.body.contains("Please enter a correct username and password. Note that both fields may be case-sensitive."),
                "{}",
                page.body
            );
        }
        let same = |p: &Page, name: &str| {
            // Tokens are masked anew on every page; the rest must be the same.
            let body = p.body.replace(&format!("value=\"{name}\""), "value=\"\"");
            let marker = "name=\"csrf_token\" value=\"";
            let at = body.find(marker).unwrap() + marker.len();
            let end = at + body[at..].find('"').unwrap();
            format!("{}{}", &body[..at], &body[end..])
        };
        assert_eq!(same(&wrong, "ada"), same(&unknown, "ghost"), "{backend}");
        assert_eq!(same(&wrong, "ada"), same(&inactive, "off"));
        assert!(
            !wrong.body.contains("not her password"),
            "a password is never shown back"
        );
        assert_eq!(b.whoami().await, "anonymous");
    }
}

#[actix_web::test]
async fn posting_without_the_token_is_refused() {
    let site = site(web::Backend::Memory, AccountsSettings::default());
    let b = Browser::of(&site);
    b.get("/accounts/login").await;
    let page = b
        .post_raw(
            "/accounts/login",
            &[("username", "ada"), ("password", GOOD)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("CSRF verification failed"),
        "{}",
        page.body
    );
    assert_eq!(b.whoami().await, "anonymous");
    b.login("ada", GOOD).await;
    let page = b.post_raw("/accounts/logout", &[]).await;
    assert_eq!(page.status, 403, "logging out needs the token too");
    assert_eq!(b.whoami().await, "ada staff=false superuser=false");
    let anonymous_token = Browser::of(&site).token("/accounts/login").await;
    let page = b
        .post_raw("/accounts/logout", &[("csrf_token", &anonymous_token)])
        .await;
    assert_eq!(
        page.status, 403,
        "another visitor's token does not pass for a session"
    );
}

#[actix_web::test]
async fn an_idle_session_ends() {
    let settings = AccountsSettings {
        session_idle_secs: 1,
        ..AccountsSettings::default()
    };
    let site = site(web::Backend::Memory, settings);
    let b = Browser::of(&site);
    b.login("ada", GOOD).await;
    assert_ne!(b.whoami().await, "anonymous");
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(b.whoami().await, "anonymous");
}
