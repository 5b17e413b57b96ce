//! Integration tests of the PostgreSQL store beyond the shared contract: migrations,
//! batches, statement counts and behaviour with the database slow, busy or gone.
//!
//! Each test gets a database of its own from `TestDatabase`; `TEST_DATABASE_URL` must name a
//! running server (`cargo xtask test` starts one).

mod availability;
mod batch;
mod counting;
mod migrations;
mod pick;
mod plans;
mod schema;

use diesel::{Connection, PgConnection};
use quotes_core::{NewQuote, PageRequest};

fn nq(text: &str, author: &str) -> NewQuote {
    NewQuote::parse(text, author, None).expect("valid test quote")
}

fn page(n: u32, per: u32) -> PageRequest {
    PageRequest::new(n, per).expect("valid page")
}

/// A connection outside the store, to change the database behind its back.
fn raw(url: &str) -> PgConnection {
    PgConnection::establish(url).expect("connect to the test database")
}

/// Every migration in the crate's `migrations/` folder, in the order they apply.
fn all_migrations() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the migrations folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("up.sql").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A store on a pool of its own with `settings`.
fn store_on(settings: &db::PgSettings) -> quotes_store_pg::PgStore {
    let db = db::Database::connect(settings).expect("valid settings");
    quotes_store_pg::PgStore::new(&db).expect("the quotes migrations register")
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
