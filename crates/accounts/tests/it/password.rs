//! Changing one's password: the rules name themselves beside their field, nothing changes
//! on an error, and a change ends the user's other sessions.

use accounts::AccountsSettings;

use crate::helpers::*;

#[actix_web::test]
async fn anonymous_visitors_are_sent_to_log_in() {
    let site = site(web::Backend::Memory, AccountsSettings::default());
    let page = Browser::of(&site).get("/accounts/password").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/accounts/login?next=/accounts/password"))
    );
}

#[actix_web::test]
async fn a_change_ends_the_other_sessions_and_keeps_this_one() {
    for backend in BOTH {
        let site = site(backend, AccountsSettings::default());
        let (here, there) = (Browser::of(&site), Browser::of(&site));
        here.login("ada", GOOD).await;
        there.login("ada", GOOD).await;
        let new = "Zr8$kq3!Wm2v";
        let page = here
            .post(
                "/accounts/password",
                "/accounts/password",
                &[
                    ("old_password", GOOD),
                    ("new_password1", new),
                    ("new_password2", new),
                ],
            )
            .await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/accounts/password?changed=1")),
            "{backend}: {}",
            page.body
        );
        assert!(here
            .get("/accounts/password?changed=1")
            .await
            .body
            .contains("Your password was changed."));
        assert_eq!(
            here.whoami().await,
            "ada staff=false superuser=false",
            "this session goes on"
        );
        assert_eq!(
            there.whoami().await,
            "anonymous",
            "{backend}: the other one ended"
        );
        let fresh = Browser::of(&site);
        assert_eq!(
            fresh.login("ada", GOOD).await.status,
            200,
            "the old password is refused"
        );
        assert_eq!(fresh.login("ada", new).await.status, 303);
    }
}

#[actix_web::test]
async fn each_refusal_is_shown_beside_its_field_and_nothing_changes() {
    let site = site(web::Backend::Memory, AccountsSettings::default());
    let b = Browser::of(&site);
    b.login("ada", GOOD).await;
    let page = b
        .post(
            "/accounts/password",
            "/accounts/password",
            &[
                ("old_password", "wrong"),
                ("new_password1", "ada12"),
                ("new_password2", "ada13"),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    for (field, message) in [
        (
            "old_password",
            "Your old password was entered incorrectly. Please enter it again.",
        ),
        (
            "new_password1",
            "This password is too short: it must be at least 10 characters, not 5.",
        ),
        (
            "new_password1",
            "This password is too similar to the username or email.",
        ),
        (
            "new_password2",
            "The two password fields didn&#x27;t match.",
        ),
    ] {
        assert!(
            page.body.contains(&format!(
                r#"<span class="field-error" data-field="{field}">{message}</span>"#
            )),
            "{field}: {message}: {}",
            page.body
        );
    }
    let again = Browser::of(&site);
    assert_eq!(
        again.login("ada", GOOD).await.status,
        303,
        "the password is as it was"
    );
}
