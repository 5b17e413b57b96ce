//! The read-only JSON API.

use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

async fn list_pages_with_total(b: Backend) {
    let app = spawn_app(b, 5);
    let (status, body) = app.json("/api/quotes?page=2&per_page=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["page"].as_u64(),
            body["per_page"].as_u64(),
            body["total"].as_u64()
        ),
        (Some(2), Some(2), Some(5))
    );
    assert_eq!(body["num_pages"], 3);
    let items = body["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|q| q["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(items[0]["text"], "Quote 3");
    assert_eq!(items[0]["author"], "Author");
    assert_eq!(items[0]["source"], serde_json::Value::Null);
    assert!(items[0]["created_at"].as_str().unwrap().ends_with('Z'));
}

async fn get_and_random(b: Backend) {
    let app = spawn_app(b, 2);
    let (status, body) = app.json("/api/quotes/2").await;
    assert_eq!((status, body["text"].as_str()), (200, Some("Quote 2")));
    let (status, body) = app.json("/api/quotes/random").await;
    assert_eq!(status, 200);
    assert!(matches!(body["id"].as_i64(), Some(1 | 2)));
}

async fn errors_are_json_with_a_message(b: Backend) {
    let app = spawn_app(b, 0);
    for (path, status, error) in [
        ("/api/quotes/7", 404, "no such quote"),
        ("/api/quotes/x", 404, "There is no quote with id \"x\"."),
        ("/api/quotes/random", 404, "There are no quotes yet."),
        (
            "/api/quotes?per_page=0",
            400,
            "per_page is not valid: must be between 1 and 1000",
        ),
        ("/api/nothing", 404, "There is no page at /api/nothing."),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{path}");
        assert_eq!(body["status"], status, "{path}");
    }
}

#[actix_web::test]
async fn outage_is_503_json_without_internals() {
    let app = spawn_on(Arc::new(FailingStore(down)));
    let res = app.get("/api/quotes").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["error"],
        json!("the service is temporarily unavailable, please try again shortly")
    );
}

on_both_stores!(
    list_pages_with_total,
    get_and_random,
    errors_are_json_with_a_message,
);
