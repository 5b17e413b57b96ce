//! The shared PostgreSQL layer on a real server: settings, waiting, and migrations of
//! several components applied as one. The components here are made-up sets under
//! `tests/migrations/`; `TEST_DATABASE_URL` must name a running server (`cargo xtask test`
//! starts one).

mod migrations;
mod waiting;

use db::Migrations;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};

static ALPHA_EMBEDDED: EmbeddedMigrations = embed_migrations!("tests/migrations/alpha");
static BETA_EMBEDDED: EmbeddedMigrations = embed_migrations!("tests/migrations/beta");
static CLASH_EMBEDDED: EmbeddedMigrations = embed_migrations!("tests/migrations/clash");

/// Versions 000000 and 000002.
const ALPHA: Migrations = Migrations::new("alpha", &ALPHA_EMBEDDED);
/// Version 000001, between alpha's two.
const BETA: Migrations = Migrations::new("beta", &BETA_EMBEDDED);
/// Version 000000, alpha's first version again.
const CLASH: Migrations = Migrations::new("clash", &CLASH_EMBEDDED);

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
