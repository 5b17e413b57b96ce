//! Who may use the admin: staff; superusers see every section; anonymous visitors are sent
//! to sign in and come back; forms need their CSRF token.

use crate::helpers::*;

#[actix_web::test]
async fn anonymous_visitors_sign_in_first_and_come_back() {
    for backend in BOTH {
        let site = site(backend, 100);
        let b = Browser::new(&site.base);
        let page = b.get("/admin/quotes/quote/?q=war").await;
        assert_eq!(page.status, 303, "{backend}");
        assert_eq!(
            page.location.as_deref(),
            Some("/accounts/login?next=%2Fadmin%2Fquotes%2Fquote%2F%3Fq%3Dwar")
        );
        assert_eq!(b.get("/admin").await.location.as_deref(), Some("/admin/"));
        let login = b
            .post(
                "/accounts/login?next=%2Fadmin%2F",
                "/accounts/login?next=%2Fadmin%2F",
                &[
                    ("username", "staff"),
                    ("password", GOOD),
                    ("next", "/admin/"),
                ],
            )
            .await;
        assert_eq!(login.location.as_deref(), Some("/admin/"), "{backend}");
        assert_eq!(b.get("/admin/").await.status, 200);
    }
}

#[actix_web::test]
async fn a_user_who_is_not_staff_is_refused() {
    for backend in BOTH {
        let site = site(backend, 100);
        let b = site.as_user("visitor").await;
        let page = b.get("/admin/").await;
        assert_eq!(page.status, 403, "{backend}");
        assert!(
            page.body
                .contains("You are signed in as visitor, who is not staff"),
            "{}",
            page.body
        );
        assert_eq!(b.get("/admin/quotes/quote/").await.status, 403);
        let home = b.get("/").await.body;
        assert!(!home.contains("href=\"/admin/\""), "no admin link for them");
    }
}

#[actix_web::test]
async fn staff_manage_quotes_and_only_superusers_manage_users() {
    for backend in BOTH {
        let site = site(backend, 100);
        site.add_quote("A quote.", "Sun Tzu", None);
        let staff = site.as_user("staff").await;
        let index = staff.get("/admin/").await;
        assert_eq!(index.status, 200);
        assert!(index
            .body
            .contains("href=\"/admin/quotes/quote/\">Quotes</a>"));
        assert!(!index.body.contains("/admin/accounts/user/"), "{backend}");
        assert!(
            staff.get("/").await.body.contains("href=\"/admin/\""),
            "staff see the admin link"
        );
        let users = staff.get("/admin/accounts/user/").await;
        assert_eq!(users.status, 403);
        assert!(users.body.contains("Only superusers may manage users."));
        let boss = site.as_user("boss").await;
        assert!(boss
            .get("/admin/")
            .await
            .body
            .contains("href=\"/admin/accounts/user/\">Users</a>"));
        assert_eq!(boss.get("/admin/accounts/user/").await.status, 200);
        assert_eq!(boss.get("/admin/nothing/here/").await.status, 404);
    }
}

#[actix_web::test]
async fn every_form_needs_its_csrf_token() {
    let site = site(web::Backend::Memory, 100);
    let id = site.add_quote("Keep me.", "Sun Tzu", None);
    let b = site.as_user("boss").await;
    let path = format!("/admin/quotes/quote/{id}/delete/");
    let page = b.post_raw(&path, &[("ids", &id.to_string())]).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("CSRF verification failed"),
        "{}",
        page.body
    );
    assert_eq!(site.quotes.count().unwrap(), 1, "nothing deleted");
    let add = b
        .post_raw(
            "/admin/quotes/quote/add/",
            &[("text", "x"), ("author", "y")],
        )
        .await;
    assert_eq!(add.status, 403);
    assert_eq!(site.quotes.count().unwrap(), 1, "nothing added");
}

#[actix_web::test]
async fn recent_actions_show_staff_only_the_sections_they_may_see() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let add = "/admin/accounts/user/add/";
        let made = boss
            .post(
                add,
                add,
                &[
                    ("username", "secretagent"),
                    ("password", GOOD),
                    ("is_active", "on"),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{backend}: {}", made.body);
        let quote = "/admin/quotes/quote/add/";
        boss.post(
            quote,
            quote,
            &[("text", "Seen by staff."), ("author", "Sun Tzu")],
        )
        .await;
        assert!(
            boss.get("/admin/").await.body.contains("secretagent"),
            "the boss sees it"
        );
        let staff = site.as_user("staff").await.get("/admin/").await.body;
        assert!(staff.contains("Seen by staff."), "{staff}");
        assert!(
            !staff.contains("secretagent") && !staff.contains("accounts/user"),
            "nothing of the users' section: {staff}"
        );
    }
}
