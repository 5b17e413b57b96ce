//! What staff do to pages: lock (only staff edit), delete (hidden, kept) and restore; each a
//! revision of its own, refused to everyone else.

use wiki_adapter::{WikiPath, WikiSettings};

use crate::{on_both_stores, spawn, Backend, TestApp};

on_both_stores!(
    a_locked_page_is_edited_by_staff_only,
    a_deleted_page_is_hidden_kept_and_restored
);

const SUN: &str = "sun";
/// Staff (the `!`).
const BOSS: &str = "boss!";

/// Saves as [`TestApp::save`] does, with a token from [`FORM`] (the page's own edit form may
/// be refused).
async fn save(
    app: &TestApp,
    page: &str,
    user: &str,
    base: &str,
    content: &str,
) -> (u16, Option<String>, String) {
    let fields = [
        ("title", "Title"),
        ("content", content),
        ("base", base),
        ("message", ""),
    ];
    app.post(&format!("/wiki/{page}_edit/"), FORM, Some(user), &fields)
        .await
}

fn path(p: &str) -> WikiPath {
    WikiPath::parse(p).unwrap()
}

/// A page with a form for anyone who writes (the root page's edit form), for a CSRF token.
const FORM: &str = "/wiki/_edit/";

/// POSTs a staff action (`_lock/`, `_delete/`…) on `page` as `user`.
async fn act(app: &TestApp, page: &str, view: &str, user: &str) -> (u16, Option<String>, String) {
    app.post(
        &format!("/wiki/{page}{view}/"),
        FORM,
        Some(user),
        &[("message", "by the book")],
    )
    .await
}

async fn a_locked_page_is_edited_by_staff_only(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("orders/", SUN, "", "Orders", "March at dawn.\n")
        .await;
    let (_, html) = app.get("/wiki/orders/", Some(SUN)).await;
    assert!(
        !html.contains("data-action=\"lock\""),
        "no staff buttons for sun"
    );
    let (_, html) = app.get("/wiki/orders/", Some(BOSS)).await;
    assert!(html.contains("data-action=\"lock\""), "{html}");

    let (status, _, html) = act(&app, "orders/", "_lock", SUN).await;
    assert_eq!(status, 403, "{html}");
    assert!(
        !app.store
            .page(&path("orders"))
            .unwrap()
            .unwrap()
            .0
            .state
            .locked
    );
    let (status, location, _) = act(&app, "orders/", "_lock", BOSS).await;
    assert_eq!((status, location.as_deref()), (303, Some("/wiki/orders/")));
    let (info, current) = app.store.page(&path("orders")).unwrap().unwrap();
    assert!(info.state.locked);
    assert_eq!(
        (
            info.revision,
            current.content.as_str(),
            current.message.as_str()
        ),
        (2, "March at dawn.\n", "Locked: by the book")
    );
    assert_eq!(current.author.as_deref(), Some("boss"));

    // Everyone else reads it, marked locked, with no edit link and no way to save.
    let (status, html) = app.get("/wiki/orders/", Some(SUN)).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-state=\"locked\"") && !html.contains("data-action=\"edit\""));
    assert!(html.contains("only staff may edit it"), "{html}");
    let (status, html) = app.get("/wiki/orders/_edit/", Some(SUN)).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("This page is locked"), "{html}");
    let edit = "/wiki/orders/_edit/";
    let fields = |base: &'static str| {
        [
            ("title", "Orders"),
            ("content", "Retreat.\n"),
            ("base", base),
            ("message", ""),
        ]
    };
    // From the current revision, and from the one before the lock (merged, then refused).
    for base in ["2", "1"] {
        let (status, _, html) = app.post(edit, FORM, Some(SUN), &fields(base)).await;
        assert_eq!(status, 403, "base {base}: {html}");
    }
    let (status, _, _) = app
        .post(
            "/wiki/orders/_revert/",
            FORM,
            Some(SUN),
            &[("revision", "1"), ("base", "2")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        app.store.page(&path("orders")).unwrap().unwrap().0.revision,
        2
    );

    // Staff edit it, and it stays locked; unlocked, anyone writes again.
    let (status, _, _) = app.save("orders/", BOSS, "2", "Orders", "Hold.\n").await;
    assert_eq!(status, 303);
    assert!(
        app.store
            .page(&path("orders"))
            .unwrap()
            .unwrap()
            .0
            .state
            .locked
    );
    let (status, _, _) = act(&app, "orders/", "_unlock", BOSS).await;
    assert_eq!(status, 303);
    let (status, _, _) = app.save("orders/", SUN, "4", "Orders", "Advance.\n").await;
    assert_eq!(status, 303);
    let (_, html) = app.get("/wiki/orders/_history/", Some(SUN)).await;
    assert!(
        html.contains("Unlocked") && html.contains("Locked: by the book"),
        "{html}"
    );
}

async fn a_deleted_page_is_hidden_kept_and_restored(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("home/", SUN, "", "Home", "See [[Spies]].\n").await;
    app.save("spies/", SUN, "", "Spies", "Five kinds of spies.\n")
        .await;
    let (status, html) = app.get("/wiki/spies/_delete/", Some(BOSS)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Delete Spies?") && html.contains("Nothing is erased"),
        "{html}"
    );
    let (status, _) = app.get("/wiki/spies/_delete/", Some(SUN)).await;
    assert_eq!(status, 404, "no confirmation page for sun");
    let (status, _, _) = act(&app, "spies/", "_delete", SUN).await;
    assert_eq!(status, 403);
    let (status, _, _) = act(&app, "spies/", "_delete", BOSS).await;
    assert_eq!(status, 303);

    // Gone for everyone else: the page, its history, its edit form, the API, search, links.
    for (who, url) in [
        (None, "/wiki/spies/"),
        (Some(SUN), "/wiki/spies/"),
        (Some(SUN), "/wiki/spies/_history/"),
        (Some(SUN), "/wiki/spies/_edit/"),
        (None, "/wiki/spies/?revision=1"),
        (None, "/wiki/spies/_diff/?from=1&to=2"),
        (None, "/api/wiki/pages/spies"),
    ] {
        let (status, html) = app.get(url, who).await;
        assert_eq!(status, 404, "{url}");
        assert!(html.contains("deleted"), "{url}: {html}");
        assert!(!html.contains("Five kinds"), "{url}: {html}");
    }
    let (_, html) = app.get("/wiki/home/", None).await;
    assert!(html.contains("wikilink missing"), "a red link now: {html}");
    let (_, html) = app.get("/wiki/_search/?q=spies", None).await;
    assert!(!html.contains("/wiki/spies/"), "{html}");
    let (status, _, _) = save(&app, "spies/", SUN, "", "Mine now.\n").await;
    assert_ne!(status, 303, "not made again over the deleted one");

    // Staff still see it, can restore it and nothing was lost.
    let (status, html) = app.get("/wiki/spies/", Some(BOSS)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Five kinds") && html.contains("data-action=\"restore\""),
        "{html}"
    );
    let (status, _, html) = save(&app, "spies/", BOSS, "2", "Edited.\n").await;
    assert_eq!(status, 409, "restore first: {html}");
    let (status, _, _) = act(&app, "spies/", "_restore", BOSS).await;
    assert_eq!(status, 303);
    let (status, html) = app.get("/wiki/spies/", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("Five kinds of spies."), "{html}");
    let (_, html) = app.get("/wiki/home/", None).await;
    assert!(!html.contains("wikilink missing"), "blue again: {html}");
    let messages: Vec<String> = app
        .store
        .history(&path("spies"))
        .unwrap()
        .into_iter()
        .map(|h| format!("{} {}", h.number, h.message))
        .collect();
    assert_eq!(
        messages,
        ["3 Restored: by the book", "2 Deleted: by the book", "1 "]
    );
}
