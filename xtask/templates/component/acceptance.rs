//! The __name__ component in a real browser: its page, its link and its stylesheet.

use crate::harness::{Api, Browser};

/// Someone follows the __Name__ link and finds the page, styled, with its empty state.
pub async fn __name___page_is_linked_and_styled(api: Api, b: Browser) {
    assert_eq!(api.status("/api/__name__").await, 200);
    b.goto("/").await;
    assert_eq!(b.follow("a[data-nav='__name__']").await, "/__name__");
    assert_eq!(b.text("h1.__name__-title").await, "__Name__");
    assert_eq!(b.text(".empty-state p").await, "Nothing here yet.");
    assert_ne!(
        b.style("h1.__name__-title", "color").await,
        b.style("main p", "color").await,
        "the component's stylesheet applies"
    );
    assert!(b.console_errors().await.is_empty());
}
