//! The component started as `quotes serve` starts it: its settings section, and its store on
//! each backend (on PostgreSQL, with its migrations registered with the shared pool).

use quotes_component::Quotes;
use web::{Backend, Site};

use crate::helpers::info;

fn settings(toml: &str) -> config::Config {
    config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()
        .unwrap()
}

async fn per_page_of(site: Site) -> serde_json::Value {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let options = web::ServerOptions {
        workers: 1,
        ..web::ServerOptions::default()
    };
    actix_web::rt::spawn(web::serve(listener, site, &options).unwrap());
    let body: serde_json::Value = reqwest::get(format!("{base}/api/quotes"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    serde_json::json!([body["per_page"], body["total"]])
}

#[actix_web::test]
async fn starts_on_memory_with_its_settings() {
    let mut site = Site::new(info()).settings(settings("[quotes]\nper_page = 3\n"));
    site.start(&Quotes).unwrap();
    assert_eq!(per_page_of(site).await, serde_json::json!([3, 0]));
}

#[actix_web::test]
async fn starts_on_postgres_and_registers_its_migrations() {
    let db = db::testing::TestDatabase::empty(&[]);
    let mut site = Site::new(info()).backend(Backend::Postgres);
    site.provide(db.database().clone());
    site.start(&Quotes).unwrap();
    assert_eq!(
        db.database().migrate().unwrap(),
        quotes_store_pg::MIGRATIONS.names(),
        "starting the component registered the quotes migrations"
    );
    assert_eq!(per_page_of(site).await, serde_json::json!([50, 0]));
}

#[test]
fn postgres_without_a_pool_says_so() {
    let mut site = Site::new(info()).backend(Backend::Postgres);
    let err = site.start(&Quotes).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "starting the quotes component: the site provides no PostgreSQL pool"
    );
}
