//! The admin in a real browser: a superuser signs in, adds a quote and sees it on the site,
//! finds it, edits it, reads its history, deletes two quotes at once, and imports a file
//! with a bad line (nothing added, the line named) and then a good one.

use crate::harness::{Api, Browser, SUPERUSER};

const LIST: &str = "/admin/quotes/quote/";

/// A file of `content` in a fresh folder, for the browser to upload.
fn file(name: &str, content: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, path.display().to_string())
}

pub async fn staff_manage_quotes_in_the_admin(api: Api, b: Browser) {
    let start = api.quotes().await.len();
    b.goto("/admin/").await;
    assert_eq!(
        b.path().await,
        "/accounts/login?next=%2Fadmin%2F",
        "sign in first"
    );
    b.fill("input[name=username]", SUPERUSER.0).await;
    b.fill("input[name=password]", SUPERUSER.1).await;
    assert_eq!(
        b.follow("form.stacked button[type=submit]").await,
        "/admin/",
        "and back to the admin"
    );
    assert!(b.text("h1").await.contains("Site administration"));
    b.screenshot("index").await;

    // Add a quote; it is on the site at once.
    assert_eq!(
        b.follow("tr[data-section=quotes] a.admin-add").await,
        "/admin/quotes/quote/add/"
    );
    b.fill(
        "textarea[name=text]",
        "Victorious warriors win first and then go to war.",
    )
    .await;
    b.fill("input[name=author]", "Sun Tzu").await;
    b.fill("input[name=source]", "The Art of War").await;
    assert_eq!(
        b.follow("form.admin-form button[type=submit]").await,
        "/admin/quotes/quote/?done=added"
    );
    assert_eq!(b.text("p.notice").await, "The quote was added.");
    b.goto("/quotes?per_page=100").await;
    assert!(b
        .text("main")
        .await
        .contains("Victorious warriors win first and then go to war."));

    // Find it, and edit it.
    b.goto(LIST).await;
    b.fill("input[name=q]", "win first").await;
    assert_eq!(
        b.follow(".admin-search button").await,
        "/admin/quotes/quote/?q=win+first"
    );
    assert_eq!(b.count("tbody tr[data-id]").await, 1);
    let id = b.attribute("tbody tr[data-id]", "data-id").await.unwrap();
    assert_eq!(
        b.follow("tbody tr[data-id] td a").await,
        format!("/admin/quotes/quote/{id}/change/")
    );
    b.fill(
        "textarea[name=text]",
        "Victorious warriors win first, and only then go to war.",
    )
    .await;
    assert_eq!(
        b.follow("form.admin-form button[type=submit]").await,
        "/admin/quotes/quote/?done=changed"
    );

    // A form with errors keeps what was typed and names each field at fault.
    b.goto(&format!("{LIST}{id}/change/")).await;
    b.fill("input[name=author]", "").await;
    b.fill("input[name=source]", "(unbalanced").await;
    assert_eq!(
        b.follow("form.admin-form button[type=submit]").await,
        format!("/admin/quotes/quote/{id}/change/")
    );
    assert_eq!(
        b.text(".field-error[data-field=author]").await,
        "Author is empty"
    );
    assert_eq!(
        b.text(".field-error[data-field=source]").await,
        "Source has unbalanced parentheses"
    );
    b.screenshot("form-with-errors").await;

    // Its history holds the change, before and after.
    b.goto(&format!("{LIST}{id}/history/")).await;
    assert_eq!(
        b.text("li[data-action=change] tr[data-field=text] td.before")
            .await,
        "Victorious warriors win first and then go to war."
    );
    assert_eq!(
        b.text("li[data-action=change] tr[data-field=text] td.after")
            .await,
        "Victorious warriors win first, and only then go to war."
    );
    assert_eq!(b.count("li[data-action=add]").await, 1);
    b.screenshot("history").await;

    // Delete two at once, after a confirmation that lists them.
    b.goto(LIST).await;
    let rows = b.hooks("tbody tr[data-id]").await;
    let mut two = Vec::new();
    for row in rows.iter().take(2) {
        two.push(row.attr("data-id").await.unwrap().unwrap());
    }
    for id in &two {
        b.click(&format!("tr[data-id='{id}'] input[type=checkbox]"))
            .await;
    }
    assert_eq!(b.follow(".admin-bulk button").await, LIST);
    assert_eq!(b.count("ul.admin-doomed li").await, 2);
    assert_eq!(
        b.follow("form button.danger").await,
        "/admin/quotes/quote/?done=deleted&n=2"
    );
    assert_eq!(b.text("p.notice").await, "Deleted 2 quotes.");
    assert_eq!(api.quotes().await.len(), start + 1 - 2);
    b.screenshot("list").await;

    // A file with a bad line adds nothing and names the line; a good one is loaded.
    let (_bad_dir, bad) = file(
        "bad.txt",
        "He will win who knows when to fight.\n— Sun Tzu\n\nA quote whose author line is missing.\n",
    );
    b.goto(&format!("{LIST}import/")).await;
    b.fill("input[type=file]", &bad).await;
    assert_eq!(
        b.follow("form.stacked button[type=submit]").await,
        "/admin/quotes/quote/import/"
    );
    assert!(
        b.text("ul.admin-errors").await.starts_with("Line 4:"),
        "the line at fault"
    );
    assert_eq!(api.quotes().await.len(), start - 1, "nothing added");
    let (_good_dir, good) = file(
        "good.txt",
        "He will win who knows when to fight.\n— Sun Tzu (The Art of War)\n",
    );
    b.fill("input[type=file]", &good).await;
    assert_eq!(
        b.follow("form.stacked button[type=submit]").await,
        "/admin/quotes/quote/?done=imported&n=1&existing=0"
    );
    assert_eq!(api.quotes().await.len(), start);
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
}
