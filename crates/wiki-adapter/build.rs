//! Rebuilds this crate when `migrations/` changes: `embed_migrations!` reads the folder at
//! compile time, and cargo would not otherwise notice a newly added migration.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
