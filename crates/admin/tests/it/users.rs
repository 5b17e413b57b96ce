//! The users' section: superusers create users and set their flags and passwords (never
//! shown back, never in the history), and nobody locks themself out.

use crate::helpers::*;

const LIST: &str = "/admin/accounts/user/";

#[actix_web::test]
async fn a_superuser_adds_a_user_by_the_password_rules() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let add = format!("{LIST}add/");
        let form = boss.get(&add).await.body;
        assert!(
            form.contains("name=\"is_active\" value=\"on\" checked"),
            "active by default"
        );
        let weak = boss
            .post(
                &add,
                &add,
                &[
                    ("username", "carol"),
                    ("password", "1234567890123"),
                    ("is_active", "on"),
                ],
            )
            .await;
        assert_eq!(weak.status, 200, "{backend}");
        let errors = field_errors(&weak.body);
        assert_eq!(errors[0].0, "password", "{}", weak.body);
        assert!(site.accounts.find("carol").unwrap().is_none());
        let made = boss
            .post(
                &add,
                &add,
                &[
                    ("username", "carol"),
                    ("email", "carol@example.org"),
                    ("password", GOOD),
                    ("is_active", "on"),
                    ("is_staff", "on"),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let carol = site.accounts.find("carol").unwrap().unwrap();
        assert!(carol.flags.is_staff && carol.flags.is_active && !carol.flags.is_superuser);
        assert!(!made.body.contains(GOOD));
        let taken = boss
            .post(&add, &add, &[("username", "CAROL"), ("password", GOOD)])
            .await;
        assert_eq!(taken.status, 200);
        assert!(
            taken.body.contains("A user named CAROL exists already."),
            "{}",
            taken.body
        );
        let staff_now = site.as_user("carol").await;
        assert_eq!(
            staff_now.get("/admin/").await.status,
            200,
            "carol may use the admin"
        );
    }
}

#[actix_web::test]
async fn a_password_set_in_the_admin_is_never_shown_nor_recorded() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let staff = site.accounts.find("staff").unwrap().unwrap();
        let form = format!("{LIST}{}/change/", staff.id.0);
        let shown = boss.get(&form).await.body;
        assert!(shown.contains("<p class=\"readonly\" id=\"field-username\">staff</p>"));
        let new_password = "Xk4$vTq9!mZr";
        let page = boss
            .post(
                &form,
                &form,
                &[
                    ("email", "staff@example.org"),
                    ("password", new_password),
                    ("is_active", "on"),
                    ("is_staff", "on"),
                    ("version", &version(&shown)),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{backend}: {}", page.body);
        let history = boss
            .get(&format!("{LIST}{}/history/", staff.id.0))
            .await
            .body;
        assert!(
            history.contains("<td class=\"after\">(set)</td>"),
            "{history}"
        );
        for e in site.history.recent(10).unwrap() {
            assert!(!format!("{e:?}").contains(new_password));
        }
        assert!(!history.contains(new_password));
        let b = Browser::new(&site.base);
        assert_eq!(
            b.login("staff", GOOD).await.status,
            200,
            "the old password is refused"
        );
        assert_eq!(
            b.login("staff", new_password).await.status,
            303,
            "the new one works"
        );
    }
}

#[actix_web::test]
async fn nobody_removes_their_own_rights_or_deletes_themself() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let me = site.accounts.find("boss").unwrap().unwrap();
        let form = format!("{LIST}{}/change/", me.id.0);
        let v = version(&boss.get(&form).await.body);
        let page = boss
            .post(
                &form,
                &form,
                &[
                    ("email", "boss@example.org"),
                    ("is_active", "on"),
                    ("version", &v),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{backend}");
        let errors = field_errors(&page.body);
        assert!(
            errors.contains(&(
                "is_superuser".into(),
                "You cannot remove your own superuser status.".into()
            )),
            "{errors:?}"
        );
        assert!(errors.contains(&(
            "is_staff".into(),
            "You cannot remove your own staff status.".into()
        )));
        assert!(
            site.accounts.get(me.id).unwrap().flags.is_superuser,
            "unchanged"
        );
        let delete = format!("{LIST}{}/delete/", me.id.0);
        let refused = boss.post(&delete, &delete, &[]).await;
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("You cannot delete your own account."));
        assert!(site.accounts.get(me.id).is_ok());
        let visitor = site.accounts.find("visitor").unwrap().unwrap();
        let delete = format!("{LIST}{}/delete/", visitor.id.0);
        assert_eq!(
            boss.post(&delete, &delete, &[]).await.status,
            303,
            "another user may go"
        );
        assert!(site.accounts.find("visitor").unwrap().is_none());
    }
}

#[actix_web::test]
async fn a_bulk_delete_that_holds_yourself_deletes_nobody() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let me = site
            .accounts
            .find("boss")
            .unwrap()
            .unwrap()
            .id
            .0
            .to_string();
        let other = site
            .accounts
            .find("visitor")
            .unwrap()
            .unwrap()
            .id
            .0
            .to_string();
        let selection = [("ids", me.as_str()), ("ids", other.as_str())];
        let mut bulk = vec![("action", "delete_selected")];
        bulk.extend(selection);
        let confirm = boss.post(LIST, LIST, &bulk).await;
        assert_eq!(confirm.status, 200, "{backend}");
        assert!(
            confirm
                .body
                .contains("boss: You cannot delete your own account."),
            "{}",
            confirm.body
        );
        assert!(!confirm.body.contains("Yes, delete"), "no way to go on");
        let forced = boss
            .post(LIST, &format!("{LIST}delete-selected/"), &selection)
            .await;
        assert_eq!(forced.status, 403);
        assert!(
            forced.body.contains("Nothing was deleted."),
            "{}",
            forced.body
        );
        assert!(
            site.accounts.find("visitor").unwrap().is_some(),
            "all or nothing"
        );
    }
}

#[actix_web::test]
async fn your_own_new_password_keeps_you_signed_in_and_errors_keep_the_username() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let me = site.accounts.find("boss").unwrap().unwrap();
        let form = format!("{LIST}{}/change/", me.id.0);
        let v = version(&boss.get(&form).await.body);
        let bad = boss
            .post(
                &form,
                &form,
                &[
                    ("email", "not an email"),
                    ("is_active", "on"),
                    ("is_staff", "on"),
                    ("is_superuser", "on"),
                    ("version", &v),
                ],
            )
            .await;
        assert_eq!(bad.status, 200, "{backend}");
        assert!(
            bad.body
                .contains("<p class=\"readonly\" id=\"field-username\">boss</p>"),
            "{}",
            bad.body
        );
        let done = boss
            .post(
                &form,
                &form,
                &[
                    ("email", "boss@example.org"),
                    ("password", "Xk4$vTq9!mZr"),
                    ("is_active", "on"),
                    ("is_staff", "on"),
                    ("is_superuser", "on"),
                    ("version", &v),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(boss.get("/admin/").await.status, 200, "still signed in");
    }
}
