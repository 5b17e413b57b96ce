//! `quotes serve` with any store: bad input stops it before it binds.

use crate::helpers::*;

#[test]
fn a_bad_quotes_file_stops_serve_before_it_binds() {
    let r = run(quotes(&any_store()).args(["serve", "--load-quotes", "crates/cli/Cargo.toml"]));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with("error: crates/cli/Cargo.toml:"),
        "{}",
        r.stderr
    );
}

#[cfg(feature = "store-memory")]
#[test]
fn a_failure_other_than_a_taken_port_exits_with_1() {
    let r = run(quotes(&[("QUOTES_STORE", "nonsense")]).arg("serve"));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
}
