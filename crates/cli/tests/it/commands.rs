//! Management commands: clear errors naming the file, line or setting at fault.

use std::io::Write;

use crate::helpers::*;

#[test]
fn load_quotes_names_file_and_line_of_a_parse_error() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "fine\n— A\n\nno author here\n\nalso fine\n— B\n").unwrap();
    let path = file.path().to_str().unwrap();
    let r = run(quotes(&[("QUOTES_STORE", "memory")]).args(["load-quotes", path]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!("error: {path}:4: quote has no author line\n")
    );
    assert_eq!(r.stdout, "", "nothing was loaded");
}

#[test]
fn load_quotes_of_a_missing_file_says_so() {
    let r = run(quotes(&[]).args(["load-quotes", "no/such.txt"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: reading no/such.txt: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_bad_setting_names_the_key() {
    let r = run(quotes(&[("PORT", "eighty")]).args(["load-quotes", "fixtures/quotes.txt"]));
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
        .args(["load-quotes", "no/such.txt"]);
    let r = run(&mut cmd);
    // Past the settings, to the command's own one-line error: no panic.
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: reading no/such.txt: No such file or directory (os error 2)\n"
    );
}
