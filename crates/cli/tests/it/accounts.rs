//! The accounts component's commands and a login, run as an operator and a visitor would:
//! createsuperuser is safe to run on every deploy, and no password reaches a log or the
//! terminal.

use crate::helpers::*;

const PASSWORD: &str = "Tr0ub4dor&3-horse";
const NEW_PASSWORD: &str = "Gl4ss-Elephant!9";

#[cfg(feature = "store-pg")]
fn superuser_env(db: &SiteDb) -> Vec<(&'static str, &str)> {
    let mut env = db.env();
    env.extend([
        ("QUOTES_SUPERUSER_USERNAME", "boss"),
        ("QUOTES_SUPERUSER_EMAIL", "boss@example.org"),
        ("QUOTES_SUPERUSER_PASSWORD", PASSWORD),
    ]);
    env
}

#[cfg(feature = "store-pg")]
fn no_password_in(r: &Run) {
    for secret in [PASSWORD, NEW_PASSWORD] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "a password was shown: {} {}",
            r.stdout,
            r.stderr
        );
    }
}

#[cfg(feature = "store-pg")]
#[test]
fn createsuperuser_without_input_is_idempotent() {
    let db = SiteDb::migrated();
    let env = superuser_env(&db);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input"]));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "superuser boss created\n"),
        "{}",
        r.stderr
    );
    no_password_in(&r);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input"]));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            Some(0),
            "a user named boss exists already; nothing changed (--update-password sets its password)\n"
        )
    );
    let mut update = env.clone();
    update.retain(|(k, _)| *k != "QUOTES_SUPERUSER_PASSWORD");
    update.push(("QUOTES_SUPERUSER_PASSWORD", NEW_PASSWORD));
    let r = run(quotes(&update).args(["createsuperuser", "--no-input", "--update-password"]));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "password of boss updated; 0 session(s) ended\n"),
        "{}",
        r.stderr
    );
    no_password_in(&r);
    let r = run(quotes(&db.env()).args(["users", "--superusers"]));
    assert_eq!(r.stdout, "boss\n");
    let r = run(quotes(&db.env()).arg("users"));
    assert!(
        r.stdout.contains("boss") && r.stdout.contains("boss@example.org"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("1 user(s)\n"), "{}", r.stdout);
}

#[cfg(feature = "store-pg")]
#[test]
fn createsuperuser_leaves_a_user_that_is_no_superuser_alone_and_says_so() {
    let db = SiteDb::migrated();
    let answers = format!("plain\n\n{PASSWORD}\n{PASSWORD}\n");
    assert_eq!(
        run_with_input(&db.env(), &["createsuperuser"], &answers).code,
        Some(0)
    );
    // Make `plain` an ordinary user behind the command's back, as the admin would.
    use accounts::UserStore;
    let store = db.accounts();
    let user = store.find("plain").unwrap().unwrap();
    store
        .set_flags(
            user.id,
            accounts::Flags {
                is_active: true,
                ..accounts::Flags::default()
            },
        )
        .unwrap();
    let mut env = db.env();
    env.extend([
        ("QUOTES_SUPERUSER_USERNAME", "plain"),
        ("QUOTES_SUPERUSER_PASSWORD", PASSWORD),
    ]);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: a user named plain exists but is not an active superuser; nothing changed (pick another name, or change that user's rights in the admin)\n"
    );
    assert!(!store.find("plain").unwrap().unwrap().flags.is_superuser);
}

#[cfg(feature = "store-pg")]
#[test]
fn createsuperuser_leaves_no_password_in_its_debug_log() {
    let db = SiteDb::migrated();
    let mut env = superuser_env(&db);
    env.extend([("RUST_LOG", "debug"), ("QUOTES_LOG_FORMAT", "json")]);
    for args in [
        &["createsuperuser", "--no-input"][..],
        &["createsuperuser", "--no-input", "--update-password"][..],
    ] {
        let r = run(quotes(&env).args(args));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(
            r.stderr.contains("\"message\":\"superuser"),
            "the log was read: {}",
            r.stderr
        );
        no_password_in(&r);
    }
}

#[cfg(feature = "store-pg")]
#[test]
fn createsuperuser_refuses_a_weak_password_by_rule_and_adds_nobody() {
    let db = SiteDb::migrated();
    let mut env = db.env();
    env.extend([
        ("QUOTES_SUPERUSER_USERNAME", "boss"),
        ("QUOTES_SUPERUSER_PASSWORD", "password123"),
    ]);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: the password is refused: This password is too common. (password_too_common)\n"
    );
    assert!(!r.stderr.contains("password123"));
    assert_eq!(
        run(quotes(&db.env()).args(["users", "--superusers"])).stdout,
        ""
    );
    let r = run(quotes(&db.env()).args(["createsuperuser", "--no-input"]));
    assert_eq!(
        r.stderr,
        "error: --no-input needs QUOTES_SUPERUSER_USERNAME (and QUOTES_SUPERUSER_PASSWORD)\n"
    );
}

/// Runs `quotes args…` with `input` on its stdin.
#[cfg(feature = "store-pg")]
fn run_with_input(env: &[(&str, &str)], args: &[&str], input: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = quotes(env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[cfg(feature = "store-pg")]
#[test]
fn createsuperuser_and_changepassword_ask_when_run_by_hand() {
    let db = SiteDb::migrated();
    let answers = format!("ada\nada@example.org\n{PASSWORD}\n{PASSWORD}\n");
    let r = run_with_input(&db.env(), &["createsuperuser"], &answers);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "superuser ada created\n"),
        "{}",
        r.stderr
    );
    no_password_in(&r);
    let r = run_with_input(
        &db.env(),
        &["changepassword", "ADA"],
        &format!("{NEW_PASSWORD}\nsomething else\n"),
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: the two passwords differ; nothing changed\n"
    );
    let r = run_with_input(
        &db.env(),
        &["changepassword", "ADA"],
        &format!("{NEW_PASSWORD}\n{NEW_PASSWORD}\n"),
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "password changed for ada; 0 session(s) ended\n"),
        "{}",
        r.stderr
    );
    no_password_in(&r);
    let r = run_with_input(&db.env(), &["changepassword", "nobody"], "");
    assert_eq!(r.stderr, "error: there is no user named nobody\n");
}

/// Logs in through the real server as a browser would; returns the status of the login.
#[cfg(feature = "store-memory")]
fn login(base: &str, client: &reqwest::blocking::Client, user: &str, password: &str) -> u16 {
    let page = client
        .get(format!("{base}/accounts/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).expect("a login form") + marker.len();
    let token = &page[at..at + page[at..].find('"').unwrap()];
    client
        .post(format!("{base}/accounts/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={user}&password={}&csrf_token={token}",
            password.replace('&', "%26")
        ))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[cfg(feature = "store-memory")]
fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

#[cfg(feature = "store-memory")]
#[test]
fn a_login_and_a_failed_one_leave_no_password_in_the_log() {
    let env = [
        ("QUOTES_STORE", "memory"),
        ("QUOTES_SUPERUSER_USERNAME", "boss"),
        ("QUOTES_SUPERUSER_PASSWORD", PASSWORD),
        ("QUOTES_LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
    ];
    let server = Server::start(&env, &["--create-superuser"]);
    let client = browser();
    assert_eq!(
        login(&server.base, &client, "boss", NEW_PASSWORD),
        200,
        "a wrong password"
    );
    assert_eq!(login(&server.base, &client, "boss", PASSWORD), 303);
    let home = client
        .get(format!("{}/", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains(r#"data-nav="boss">boss</a>"#), "{home}");
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(
        log.contains("logged in") && log.contains("login refused"),
        "{log}"
    );
    for secret in [PASSWORD, NEW_PASSWORD, &PASSWORD.replace('&', "%26")] {
        assert!(!log.contains(secret), "the log holds a password");
    }
    // Request lines, for shipping: the route's pattern, and who was signed in.
    let requests: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .map(|l| l["fields"].clone())
        .collect();
    let form = requests
        .iter()
        .find(|f| f["method"] == "GET" && f["path"] == "/accounts/login")
        .expect("a line for the login form");
    assert_eq!(form["route"], "/accounts/login", "{form}");
    assert!(
        form.get("user").is_none(),
        "nobody was signed in yet: {form}"
    );
    let home = requests
        .iter()
        .find(|f| f["path"] == "/")
        .expect("a line for the home page");
    assert_eq!(home["route"], "/", "{home}");
    assert!(home["user"].as_i64().is_some(), "the user's id: {home}");
}

#[test]
fn production_refuses_to_serve_without_a_real_secret_key() {
    let config = workspace_root().join("config");
    let config = config.to_str().unwrap();
    let mut env = any_store();
    env.extend([
        ("QUOTES_ENV", "production"),
        ("QUOTES_CONFIG_DIR", config),
        ("PORT", "0"),
    ]);
    let r = run(quotes(&env).arg("serve"));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: QUOTES_ENV=production needs a secret key: set QUOTES__SECRET_KEY (or SECRET_KEY) to 32 or more random bytes, e.g. QUOTES__SECRET_KEY=$(openssl rand -hex 32)\n"
    );
    let mut placeholder = env.clone();
    placeholder.push((
        "SECRET_KEY",
        "change-me-to-64-random-hex-digits-from-openssl",
    ));
    let r = run(quotes(&placeholder).arg("serve"));
    assert_eq!(
        r.stderr,
        "error: the secret key is an example's placeholder: set a random one, e.g. QUOTES__SECRET_KEY=$(openssl rand -hex 32)\n"
    );
    env.push(("SECRET_KEY", "tiny-key"));
    let r = run(quotes(&env).arg("migrate"));
    assert!(
        r.stderr.starts_with("error: secret_key is too short;"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("tiny-key"), "the key is never shown");
}

#[test]
fn check_deploy_names_each_risk_with_an_id_and_fails_on_errors() {
    let r = run(quotes(&any_store()).args(["check", "--deploy"]));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout
            .contains("quotes.E001: error: no secret key is set"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("quotes.W002: warning: cookies are sent without Secure"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    hint: "), "{}", r.stdout);
    let key = "k3Jx9Qp2Lm7Vb4Nc8Zt1Wy6Hs5Rd0Fg3Aq9Ue2Io7Pl4Kj8Mn";
    let mut env = any_store();
    env.extend([
        ("SECRET_KEY", key),
        ("QUOTES__SERVER__SECURE_COOKIES", "true"),
        ("QUOTES__SERVER__HOST", "0.0.0.0"),
    ]);
    let r = run(quotes(&env).args(["check", "--deploy"]));
    assert_eq!(r.code, Some(0), "warnings only: {}", r.stdout);
    assert!(
        !r.stdout.contains("E001") && !r.stdout.contains("W002"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("quotes.W003: warning: the app listens on 0.0.0.0 with no trusted proxy"),
        "{}",
        r.stdout
    );
    env.push(("QUOTES__SERVER__TRUSTED_PROXIES", "127.0.0.1,::1"));
    let r = run(quotes(&env).args(["check", "--deploy"]));
    assert!(!r.stdout.contains("W003"), "{}", r.stdout);
    assert!(!r.stdout.contains(key), "the key is never shown");
    let r = run(quotes(&any_store()).arg("check"));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "check identified 0 issues (0 errors)\n")
    );
}
