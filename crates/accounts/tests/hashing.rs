//! An unknown user costs the same hashing work as a wrong password: one argon2 check each.
//! A test binary of its own, so that no other test's logins move the count.

use std::sync::Arc;

use accounts::{AccountStore, Accounts, AccountsSettings, Email, Flags, NewUser, Username};

#[actix_web::test]
async fn an_unknown_user_costs_one_password_check_like_a_known_one() {
    let store: Arc<dyn AccountStore> = Arc::new(accounts::memory::MemoryStore::default());
    store
        .create(NewUser {
            username: Username::parse("ada").unwrap(),
            email: Email::parse_optional("").unwrap(),
            password_hash: accounts::password::hash("Vq7!rmT2#pLx"),
            flags: Flags {
                is_active: true,
                ..Flags::default()
            },
        })
        .unwrap();
    let security = web::Security::default();
    let site = web::Site::new(web::BuildInfo {
        name: "quotes",
        version: "9.9.9",
        commit: "abc123".into(),
    })
    .security(security.clone())
    .with(
        "accounts",
        Accounts::new(store, AccountsSettings::default(), &security),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    actix_web::rt::spawn(web::serve(listener, site, &web::ServerOptions::default()).unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client
        .get(format!("{base}/accounts/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let token = &page[at..at + page[at..].find('"').unwrap()];
    let mut costs = Vec::new();
    for user in ["ada", "ghost"] {
        let before = accounts::password::verifications();
        let res = client
            .post(format!("{base}/accounts/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={user}&password=wrong-password&csrf_token={token}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        costs.push(accounts::password::verifications() - before);
    }
    assert_eq!(
        costs,
        [1, 1],
        "a wrong password and an unknown user: one check each"
    );
}
