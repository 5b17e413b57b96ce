//! One suite for every backend (memory, and a real Redis server), and the settings that
//! pick them.

use std::time::Duration;

use cache::{open, BackendKind, CacheSettings};
use test_support::redis::RedisServer;
use web::actix_web::web::Bytes;
use web::CacheHandle;

fn suite(c: &CacheHandle) {
    assert_eq!(c.get("k"), None);
    c.set("k", Bytes::from_static(b"v1"), Duration::from_secs(60));
    assert_eq!(c.get("k").as_deref(), Some(&b"v1"[..]));
    c.set("k", Bytes::from_static(b"v2"), Duration::from_secs(60));
    assert_eq!(c.get("k").as_deref(), Some(&b"v2"[..]), "a set replaces");
    c.delete("k");
    assert_eq!(c.get("k"), None);
    // Values are bytes, any bytes, up to a page of a thousand quotes and more.
    let big = Bytes::from((0..=255u8).cycle().take(1 << 20).collect::<Vec<_>>());
    c.set("big", big.clone(), Duration::from_secs(60));
    assert_eq!(c.get("big"), Some(big));
    // Each entry lives as long as it was told.
    c.set(
        "short",
        Bytes::from_static(b"x"),
        Duration::from_millis(150),
    );
    assert!(c.get("short").is_some());
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.get("short"), None, "expired");
}

#[test]
fn the_memory_backend_keeps_the_contract() {
    let c = open(&CacheSettings::default()).unwrap().unwrap();
    assert_eq!(c.backend(), "memory");
    assert!(!c.blocks());
    suite(&c);
}

#[test]
fn the_memory_backend_stays_within_its_bound() {
    let settings = CacheSettings {
        max_mib: 1,
        ..Default::default()
    };
    let c = open(&settings).unwrap().unwrap();
    let value = Bytes::from(vec![b'x'; 100 * 1024]);
    for i in 0..100 {
        c.set(&format!("k{i}"), value.clone(), Duration::from_secs(60));
    }
    let kept = (0..100)
        .filter(|i| c.get(&format!("k{i}")).is_some())
        .count();
    assert!(kept <= 20, "about 1 MiB of 100 KiB values, not {kept}");
}

fn redis_settings(url: String) -> CacheSettings {
    CacheSettings {
        backend: BackendKind::Redis,
        redis_url: Some(url),
        ..Default::default()
    }
}

#[test]
fn the_redis_backend_keeps_the_contract() {
    let server = RedisServer::start().unwrap();
    let c = open(&redis_settings(server.url())).unwrap().unwrap();
    assert_eq!(c.backend(), "redis");
    assert!(c.blocks());
    suite(&c);
}

#[test]
fn a_redis_that_is_down_misses_quickly_and_comes_back() {
    let mut server = RedisServer::start().unwrap();
    let c = open(&redis_settings(server.url())).unwrap().unwrap();
    c.set("k", Bytes::from_static(b"v"), Duration::from_secs(60));
    server.stop().unwrap();
    let started = std::time::Instant::now();
    for _ in 0..100 {
        assert_eq!(c.get("k"), None);
        c.set("k", Bytes::from_static(b"v"), Duration::from_secs(60));
    }
    // Not a speed figure: without the back-off, each call would wait for a refused connect
    // and the pool's timeout, and a hundred of them for many seconds.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a hundred misses without waiting on the network: {:?}",
        started.elapsed()
    );
    server.restart().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    c.set("k", Bytes::from_static(b"again"), Duration::from_secs(60));
    assert_eq!(c.get("k").as_deref(), Some(&b"again"[..]));
}

#[test]
fn a_wrong_password_is_a_miss_not_an_error() {
    let server = RedisServer::start().unwrap();
    let url = server.url().replace(server.password(), "wrong");
    let c = open(&redis_settings(url)).unwrap().unwrap();
    c.set("k", Bytes::from_static(b"v"), Duration::from_secs(60));
    assert_eq!(c.get("k"), None);
}

#[test]
fn settings_pick_the_backend_and_name_what_is_wrong() {
    assert!(open(&CacheSettings {
        backend: BackendKind::None,
        ..Default::default()
    })
    .unwrap()
    .is_none());
    let error = open(&CacheSettings {
        backend: BackendKind::Redis,
        redis_url: None,
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("QUOTES__CACHE__REDIS_URL"),
        "{error}"
    );
    let error = open(&redis_settings("http://nope".into())).unwrap_err();
    assert!(format!("{error:#}").contains("redis_url"), "{error:#}");
    let parsed: CacheSettings = config::Config::builder()
        .add_source(config::File::from_str(
            "backend = \"redis\"\nredis_url = \"redis://127.0.0.1:1/0\"",
            config::FileFormat::Toml,
        ))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap();
    assert_eq!(parsed.backend, BackendKind::Redis);
    assert_eq!(cache::compiled_in(), ["none", "memory", "redis"]);
}
