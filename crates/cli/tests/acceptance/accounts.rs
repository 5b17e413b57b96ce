//! The accounts component in a real browser: log in, see your name, log out.

use crate::harness::{Api, Browser, SUPERUSER};

/// Someone logs in from the navigation, lands where they were going, sees their name, and
/// logs out again.
pub async fn log_in_see_your_name_log_out(api: Api, b: Browser) {
    assert_eq!(api.status("/accounts/login").await, 200);
    b.goto("/quotes").await;
    assert_eq!(
        b.follow("a[data-nav='log in']").await,
        "/accounts/login?next=/quotes"
    );
    b.screenshot("login-form").await;
    b.fill("input[name=username]", SUPERUSER.0).await;
    b.fill("input[name=password]", "not the password").await;
    assert_eq!(
        b.follow("form.stacked button[type=submit]").await,
        "/accounts/login"
    );
    assert!(
        b.text(".form-error")
            .await
            .starts_with("Please enter a correct username and password."),
        "a wrong password is refused"
    );
    b.fill("input[name=username]", SUPERUSER.0).await;
    b.fill("input[name=password]", SUPERUSER.1).await;
    assert_eq!(
        b.follow("form.stacked button[type=submit]").await,
        "/quotes",
        "back where they came from"
    );
    assert_eq!(b.text("a[data-nav='boss']").await, SUPERUSER.0);
    assert_eq!(b.count("a[data-nav='log in']").await, 0);
    b.screenshot("signed-in").await;
    assert_eq!(b.follow("button[data-nav='log out']").await, "/");
    assert_eq!(b.count("a[data-nav='boss']").await, 0);
    assert_eq!(b.text("a[data-nav='log in']").await, "Log in");
    assert!(b.console_errors().await.is_empty());
}
