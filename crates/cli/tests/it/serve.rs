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

/// A supervisor (deploy's handover) tells a port held by another program from any other
/// failure by the exit code.
#[cfg(feature = "store-memory")]
#[test]
fn a_port_held_by_another_program_exits_with_98() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = run(quotes(&[("QUOTES_STORE", "memory"), ("PORT", &port)]).arg("serve"));
    assert_eq!(r.code, Some(98), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("binding 127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    let r = run(quotes(&[("QUOTES_STORE", "nonsense")]).arg("serve"));
    assert_eq!(r.code, Some(1), "any other failure: {}", r.stderr);
}
