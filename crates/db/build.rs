//! Rebuilds the tests when their migration folders change (`embed_migrations!` reads them at
//! compile time).

fn main() {
    println!("cargo:rerun-if-changed=tests/migrations");
}
