//! What a build that leaves a store out says when configuration asks for it.

#[cfg(not(feature = "store-memory"))]
#[test]
fn asking_for_the_memory_store_names_the_feature() {
    use crate::helpers::*;
    let r = run(quotes(&[("QUOTES_STORE", "memory")]).arg("migrate"));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: this build has no memory store: rebuild with --features store-memory, or set DATABASE_URL\n"
    );
}

#[cfg(not(feature = "store-pg"))]
#[test]
fn asking_for_postgres_names_the_feature() {
    use crate::helpers::*;
    let r = run(quotes(&[("DATABASE_URL", "postgres://127.0.0.1/quotes")]).arg("migrate"));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: this build has no PostgreSQL store: rebuild with --features store-pg, or set QUOTES_STORE=memory\n"
    );
}
