//! The site's own commands in any build: settings errors name the key, and bad values are
//! refused in one line.

use crate::helpers::*;

#[test]
fn a_bad_setting_names_the_key() {
    let r = run(quotes(&[("PORT", "eighty")]).arg("migrate"));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with("error: reading configuration: "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("server.port"), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "one line for the operator: {}",
        r.stderr
    );
}

#[test]
fn postgres_without_a_url_says_what_to_set() {
    let r = run(quotes(&[("QUOTES_STORE", "postgres")]).arg("migrate"));
    assert_eq!(r.code, Some(1));
    #[cfg(feature = "store-pg")]
    assert_eq!(
        r.stderr,
        "error: QUOTES_STORE=postgres needs a database URL: set DATABASE_URL\n"
    );
    #[cfg(not(feature = "store-pg"))]
    assert_eq!(
        r.stderr,
        "error: this build has no PostgreSQL store: rebuild with --features store-pg, or set QUOTES_STORE=memory\n"
    );
}

#[test]
fn wait_for_db_refuses_a_bad_timeout() {
    let r = run(quotes(&[]).args(["wait-for-db", "--timeout", "soon"]));
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("invalid value 'soon' for '--timeout <TIMEOUT>'"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unrelated_variable_that_is_not_utf8_is_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let mut cmd = quotes(&[]);
    cmd.env("UNRELATED", std::ffi::OsStr::from_bytes(b"\xff"))
        .env("QUOTES__COMPONENTS__NOPE", "true")
        .arg("migrate");
    let r = run(&mut cmd);
    // Past the settings, to the next one-line error: no panic.
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .starts_with("error: [components] names nope, which this build does not have"),
        "{}",
        r.stderr
    );
}
