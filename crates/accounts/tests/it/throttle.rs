//! Login throttling: past the limit of failures in the window, every try waits (429 with
//! Retry-After), whether or not the user exists; it resets once the window has passed.

use accounts::AccountsSettings;

use crate::helpers::*;

fn strict() -> AccountsSettings {
    AccountsSettings {
        throttle_failures: 3,
        throttle_window_secs: 2,
        ..AccountsSettings::default()
    }
}

#[actix_web::test]
async fn too_many_failures_wait_then_it_resets() {
    for backend in BOTH {
        let site = site(backend, strict());
        let b = Browser::of(&site);
        for _ in 0..3 {
            assert_eq!(b.login("ada", "wrong password").await.status, 200);
        }
        let page = b.login("ada", GOOD).await;
        assert_eq!(page.status, 429, "{backend}: even the right password waits");
        let wait: u64 = page.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "Retry-After: {wait}");
        assert!(
            page.body
                .contains("Too many failed logins. Try again in 1 minute."),
            "{}",
            page.body
        );
        assert_eq!(b.whoami().await, "anonymous");

        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(
            b.login("ada", GOOD).await.status,
            303,
            "{backend}: the window has passed"
        );
    }
}

#[actix_web::test]
async fn a_throttled_name_tells_nothing_about_whether_it_exists() {
    for backend in BOTH {
        let site = site(backend, strict());
        // Each name from its own address, so that only the name's count matters.
        for (name, addr) in [("ada", "192.0.2.1"), ("ghost", "192.0.2.2")] {
            let b = Browser::of(&site);
            let mut last = None;
            for _ in 0..4 {
                let token = b.token("/accounts/login").await;
                let res = b
                    .client
                    .post(format!("{}/accounts/login", b.base))
                    .header("x-forwarded-for", addr)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("username={name}&password=wrong&csrf_token={token}"))
                    .send()
                    .await
                    .unwrap();
                last = Some(res.status().as_u16());
            }
            assert_eq!(last, Some(429), "{backend}: {name}");
        }
    }
}

#[actix_web::test]
async fn one_address_trying_many_names_waits_too() {
    let site = site(web::Backend::Memory, strict());
    let b = Browser::of(&site);
    for name in ["a1", "a2", "a3"] {
        assert_eq!(b.login(name, "wrong").await.status, 200);
    }
    assert_eq!(
        b.login("ada", GOOD).await.status,
        429,
        "the address is at its limit"
    );
}
