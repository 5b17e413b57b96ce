//! The wiki in a real browser: a red link to a missing page and the page created from it;
//! one page edited from two browsers at once, merged when the edits do not overlap and a
//! conflict to resolve when they do; and a page's history, a diff, a revert, search and
//! recent changes.

use crate::harness::{Api, Browser, SUPERUSER};

const SAVE: &str = "form.wiki-edit button[name=save]";
const PREVIEW: &str = "form.wiki-edit button[name=preview]";
const CONTENT: &str = "textarea[name=content]";

/// Signs in as the superuser on the login page `b` shows; gives the address it lands on.
async fn sign_in(b: &Browser) -> String {
    b.fill("input[name=username]", SUPERUSER.0).await;
    b.fill("input[name=password]", SUPERUSER.1).await;
    b.follow("form.stacked button[type=submit]").await
}

/// Opens `page`'s edit form, signing in first, as someone who is not yet would.
async fn sign_in_to_edit(b: &Browser, page: &str) {
    let edit = format!("/wiki/{page}/_edit/");
    b.goto(&edit).await;
    let next: String = edit.replace('/', "%2F");
    assert_eq!(
        b.path().await,
        format!("/accounts/login?next={next}"),
        "writing takes signing in"
    );
    assert_eq!(sign_in(b).await, edit, "and back to the edit form");
}

/// Fills the edit form that `b` shows and saves it; gives the address it lands on.
async fn save(b: &Browser, content: &str, message: &str) -> String {
    b.fill(CONTENT, content).await;
    b.fill("input[name=message]", message).await;
    b.follow(SAVE).await
}

/// Reads the console since the last read: a page answered with `status` logs that, and
/// nothing else may be there.
async fn console_shows_only(b: &Browser, status: u16) {
    let expected = format!("the server responded with a status of {status}");
    let errors = b.console_errors().await;
    let unexpected: Vec<&String> = errors.iter().filter(|e| !e.contains(&expected)).collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
}

/// `attribute` of every element matching `css`, in page order.
async fn attributes(b: &Browser, css: &str, attribute: &str) -> Vec<String> {
    let mut values = Vec::new();
    for element in b.hooks(css).await {
        let value = element.attr(attribute).await.unwrap_or_else(|e| {
            panic!("reading {attribute} of {css}: {e}");
        });
        values.push(value.unwrap_or_default());
    }
    values
}

const RED: &str = "rgb(204, 0, 0)";

const ART_OF_WAR: &str = "All warfare is based on deception.\n\n\
    The ground is in [[Terrain]], the plans in [[Laying Plans|the first chapter]].\n";

const TERRAIN: &str = "# Six kinds of terrain\n\n\
    Accessible ground, entangling ground, temporising ground, narrow passes, \
    precipitous heights, and positions at a great distance.\n\n\
    Back to [[Art of War]].\n";

/// A visitor finds a missing page and is asked to sign in to create it; the page they write
/// links two more missing pages, shown red; one is followed, previewed and created, and is
/// red no more.
pub async fn wiki_red_link_leads_to_a_page_to_create(api: Api, b: Browser) {
    b.goto("/").await;
    assert_eq!(b.follow("a[data-nav='wiki']").await, "/wiki/");
    // A new wiki has no front page either: it is offered like any missing page.
    assert_eq!(b.status().await, 404);
    assert_eq!(b.text("main h1").await, "Wiki");
    assert_eq!(
        b.text(".wiki-missing p").await,
        "This page does not exist yet."
    );
    b.goto("/wiki/art-of-war/").await;
    assert_eq!(b.status().await, 404);
    assert_eq!(
        b.text("main h1").await,
        "Art of war",
        "a title from the slug"
    );
    assert_eq!(
        b.text(".wiki-missing p").await,
        "This page does not exist yet."
    );
    assert_eq!(b.count("a.wiki-create").await, 0, "visitors do not write");
    console_shows_only(&b, 404).await;
    assert_eq!(
        b.follow(".wiki-missing a").await,
        "/accounts/login?next=%2Fwiki%2Fart-of-war%2F_edit%2F"
    );
    assert_eq!(sign_in(&b).await, "/wiki/art-of-war/_edit/");
    assert_eq!(b.text("main h1").await, "New page: Art of war");
    assert_eq!(b.value("input[name=base]").await, "", "no revision yet");
    b.fill("input[name=title]", "The Art of War").await;
    assert_eq!(
        save(&b, ART_OF_WAR, "chapter one").await,
        "/wiki/art-of-war/"
    );
    assert_eq!(b.text("main h1").await, "The Art of War");
    assert_eq!(b.text(".wiki-revision").await, "revision 1");
    assert!(
        b.text(".wiki-body")
            .await
            .starts_with("All warfare is based on deception."),
        "{}",
        b.text(".wiki-body").await
    );

    // Both wiki links lead to pages that do not exist: red, and to their create form.
    assert_eq!(
        attributes(&b, ".wiki-body a.wikilink", "data-wiki").await,
        ["terrain", "laying-plans"]
    );
    assert_eq!(b.count(".wiki-body a.wikilink.missing").await, 2);
    let terrain = ".wiki-body a.wikilink[data-wiki='terrain']";
    assert_eq!(
        b.attribute(terrain, "href").await.as_deref(),
        Some("/wiki/terrain/")
    );
    assert_eq!(b.style(terrain, "color").await, RED);
    assert_eq!(
        b.text(".wiki-body a.wikilink[data-wiki='laying-plans']")
            .await,
        "the first chapter",
        "a link's label"
    );
    b.screenshot("red-links").await;

    assert_eq!(b.follow(terrain).await, "/wiki/terrain/");
    assert_eq!(b.status().await, 404);
    assert_eq!(b.text("main h1").await, "Terrain");
    console_shows_only(&b, 404).await;
    assert_eq!(b.follow("a.wiki-create").await, "/wiki/terrain/_edit/");
    assert_eq!(b.text("main h1").await, "New page: Terrain");
    assert_eq!(b.value("input[name=title]").await, "Terrain");

    // A preview shows the page, keeps the draft and saves nothing.
    b.fill(CONTENT, TERRAIN).await;
    assert_eq!(b.follow(PREVIEW).await, "/wiki/terrain/_edit/");
    assert_eq!(
        b.text(".wiki-preview .wiki-body h1").await,
        "Six kinds of terrain"
    );
    assert_eq!(b.value(CONTENT).await, TERRAIN, "the draft is kept");
    assert_eq!(api.status("/wiki/terrain/").await, 404, "nothing saved");
    b.screenshot("preview").await;

    assert_eq!(save(&b, TERRAIN, "six kinds").await, "/wiki/terrain/");
    assert_eq!(api.status("/wiki/terrain/").await, 200);
    assert_eq!(api.status("/api/wiki/pages/terrain").await, 200);
    assert_eq!(
        b.text(".wiki-body h1#h-six-kinds-of-terrain").await,
        "Six kinds of terrain"
    );
    let back = ".wiki-body a.wikilink[data-wiki='art-of-war']";
    assert_eq!(
        b.attribute(back, "class").await.as_deref(),
        Some("wikilink"),
        "a link to a page that exists is not red"
    );
    assert_ne!(b.style(back, "color").await, RED);

    assert_eq!(b.follow(back).await, "/wiki/art-of-war/");
    assert_eq!(
        b.attribute(terrain, "class").await.as_deref(),
        Some("wikilink"),
        "the created page's link is red no more"
    );
    assert_ne!(b.style(terrain, "color").await, RED);
    assert_eq!(
        attributes(&b, ".wiki-body a.wikilink.missing", "data-wiki").await,
        ["laying-plans"]
    );
    b.screenshot("one-red-link-left").await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
}

const PLANS: [&str; 5] = [
    "The art of war is of vital importance to the State.",
    "It is a matter of life and death, a road either to safety or to ruin.",
    "It is governed by five constant factors.",
    "These are the Moral Law, Heaven, Earth, the Commander, Method and discipline.",
    "He who knows them will be victorious.",
];

/// The plans with line `n` (from 0) replaced, as the textarea holds it (lines end in `\n`).
fn plans(changes: &[(usize, &str)]) -> String {
    let mut lines = PLANS.to_vec();
    for &(n, line) in changes {
        lines[n] = line;
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Two browsers, each signed in on its own, edit one page from the same revision: edits to
/// one line meet a conflict (409, a draft with both between markers, nothing saved), which
/// the second resolves; edits to different lines merge on their own.
pub async fn wiki_edits_from_two_browsers_conflict_or_merge(_api: Api, first: Browser) {
    sign_in_to_edit(&first, "plans").await;
    first.fill("input[name=title]", "Laying Plans").await;
    assert_eq!(save(&first, &plans(&[]), "").await, "/wiki/plans/");

    // Its own cookies: the second browser is not signed in until it signs in.
    let second = first.open_another("second").await;
    sign_in_to_edit(&second, "plans").await;
    first.goto("/wiki/plans/_edit/").await;
    for b in [&first, &second] {
        assert_eq!(b.value("input[name=base]").await, "1");
    }

    let first_line = "It is a matter of life and death: study it with care.";
    let second_line = "It is a matter of life and death, never to be neglected.";
    let first_text = plans(&[(1, first_line)]);
    assert_eq!(save(&first, &first_text, "").await, "/wiki/plans/");
    assert_eq!(first.text(".wiki-revision").await, "revision 2");
    let second_text = plans(&[(1, second_line)]);
    assert_eq!(
        save(&second, &second_text, "second thoughts").await,
        "/wiki/plans/_edit/"
    );
    assert_eq!(second.status().await, 409);
    // The stylesheet shows the heading in capitals.
    assert_eq!(
        second.text(".wiki-conflict h2").await.to_lowercase(),
        "someone saved this page while you were editing it"
    );
    let draft = format!(
        "{}\n<<<<<<< your edit\n{second_line}\n=======\n{first_line}\n>>>>>>> the page now\n{}\n{}\n{}\n",
        PLANS[0], PLANS[2], PLANS[3], PLANS[4]
    );
    assert_eq!(second.value(CONTENT).await, draft);
    assert_eq!(second.value("textarea.wiki-mine").await, second_text);
    assert_eq!(second.value("textarea.wiki-theirs").await, first_text);
    assert_eq!(
        second.value("input[name=base]").await,
        "2",
        "the draft is based on the page now"
    );
    assert_eq!(
        second.value("input[name=message]").await,
        "second thoughts",
        "the message is kept"
    );
    second.screenshot("conflict").await;
    console_shows_only(&second, 409).await;
    first.goto("/wiki/plans/").await;
    assert_eq!(
        first.text(".wiki-revision").await,
        "revision 2",
        "nothing saved"
    );
    assert!(first.text(".wiki-body").await.contains(first_line));

    // The markers must go before the draft saves.
    assert_eq!(second.follow(SAVE).await, "/wiki/plans/_edit/");
    assert_eq!(second.status().await, 400);
    assert!(
        second
            .text(".field-error[data-field=content]")
            .await
            .starts_with("still holds conflict markers"),
        "{}",
        second.text(".field-error[data-field=content]").await
    );
    assert_eq!(second.value(CONTENT).await, draft, "the draft is kept");
    console_shows_only(&second, 400).await;

    let both = "It is a matter of life and death, never to be neglected: study it with care.";
    let resolved = plans(&[(1, both)]);
    assert_eq!(
        save(&second, &resolved, "both thoughts").await,
        "/wiki/plans/"
    );
    assert_eq!(second.text(".wiki-revision").await, "revision 3");
    let body = second.text(".wiki-body").await;
    assert!(body.contains(both), "{body}");
    assert!(
        !body.contains("<<<<<<<") && !body.contains(second_line),
        "{body}"
    );
    second.screenshot("resolved").await;
    first.goto("/wiki/plans/").await;
    assert!(first.text(".wiki-body").await.contains(both));

    // Edits to different lines from one revision merge, and the second editor is told.
    first.goto("/wiki/plans/_edit/").await;
    second.goto("/wiki/plans/_edit/").await;
    let line3 = "It is governed by five constant factors, to be weighed with care.";
    let line5 = "He who knows them will be victorious; he who knows them not will fail.";
    let first_text = plans(&[(1, both), (2, line3)]);
    assert_eq!(save(&first, &first_text, "factors").await, "/wiki/plans/");
    let second_text = plans(&[(1, both), (4, line5)]);
    assert_eq!(
        save(&second, &second_text, "victory").await,
        "/wiki/plans/?merged=4"
    );
    assert_eq!(
        second.text(".wiki-notice[role=status]").await,
        "Saved: your edit was merged with changes saved meanwhile (revision 4)."
    );
    assert_eq!(second.text(".wiki-revision").await, "revision 5");
    let body = second.text(".wiki-body").await;
    assert!(body.contains(line3) && body.contains(line5), "{body}");
    second.screenshot("merged").await;
    assert_eq!(
        second.follow("a[data-action=history]").await,
        "/wiki/plans/_history/"
    );
    assert_eq!(
        attributes(&second, "tr[data-revision]", "data-revision").await,
        ["5", "4", "3", "2", "1"]
    );
    assert_eq!(
        second.text("tr[data-revision='5'] td:nth-child(4)").await,
        "Laying Plans — victory (merged with revision 4)"
    );
    // The merged revision's diff shows the one line this browser changed, no more.
    assert_eq!(
        second
            .follow("tr[data-revision='5'] a[data-action=diff]")
            .await,
        "/wiki/plans/_diff/?from=4&to=5"
    );
    assert_eq!(
        attributes(&second, ".wiki-diff span", "class").await,
        [
            "diff-equal",
            "diff-equal",
            "diff-equal",
            "diff-equal",
            "diff-delete",
            "diff-insert"
        ]
    );
    let errors = first.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    let errors = second.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
}

const DECEPTION: &str = "All warfare is based on deception.\n";
const CALCULATIONS: &str = "The general who wins makes many calculations before the battle.\n\n\
    The general who loses makes but few.\n";

/// Two pages, one edited and reverted: its history lists each revision, a diff marks the
/// word that changed, a revert brings the first text back as a new revision, search finds
/// each page by its current words only, and recent changes lists every edit, newest first.
pub async fn wiki_history_diff_revert_search_and_recent_changes(_api: Api, b: Browser) {
    sign_in_to_edit(&b, "deception").await;
    assert_eq!(save(&b, DECEPTION, "").await, "/wiki/deception/");
    b.goto("/wiki/calculations/_edit/").await;
    assert_eq!(
        save(&b, CALCULATIONS, "from chapter one").await,
        "/wiki/calculations/"
    );
    assert_eq!(
        b.follow("a[data-action=edit]").await,
        "/wiki/calculations/_edit/"
    );
    let countless = CALCULATIONS.replace("many", "countless");
    assert_eq!(
        save(&b, &countless, "stronger").await,
        "/wiki/calculations/"
    );
    assert!(b
        .text(".wiki-body")
        .await
        .contains("countless calculations"));

    assert_eq!(
        b.follow("a[data-action=history]").await,
        "/wiki/calculations/_history/"
    );
    assert_eq!(b.text("main h1").await, "History of Calculations");
    assert_eq!(
        attributes(&b, "tr[data-revision]", "data-revision").await,
        ["2", "1"]
    );
    assert_eq!(
        b.text("tr[data-revision='2'] td:nth-child(3)").await,
        SUPERUSER.0
    );
    assert_eq!(
        b.text("tr[data-revision='2'] td:nth-child(4)").await,
        "Calculations — stronger"
    );
    assert_eq!(
        b.count("tr[data-revision='1'] a[data-action=diff]").await,
        0,
        "nothing before the first"
    );

    assert_eq!(
        b.follow("tr[data-revision='2'] a[data-action=diff]").await,
        "/wiki/calculations/_diff/?from=1&to=2"
    );
    assert_eq!(b.text("main h1").await, "Calculations: revision 1 → 2");
    assert_eq!(b.count(".wiki-diff .diff-delete").await, 1);
    assert_eq!(b.count(".wiki-diff .diff-insert").await, 1);
    assert_eq!(
        b.text(".wiki-diff .diff-delete").await,
        "- The general who wins makes many calculations before the battle."
    );
    assert_eq!(b.text(".wiki-diff .diff-delete mark").await, "many");
    assert_eq!(b.text(".wiki-diff .diff-insert mark").await, "countless");
    assert!(
        b.text(".wiki-diff").await.contains("The general who loses"),
        "unchanged lines are shown"
    );
    b.screenshot("diff").await;

    b.goto("/wiki/calculations/_history/").await;
    assert_eq!(
        b.count("tr[data-revision='2'] form.wiki-revert").await,
        0,
        "the current revision has nothing to revert to"
    );
    assert_eq!(
        b.follow("tr[data-revision='1'] form.wiki-revert button")
            .await,
        "/wiki/calculations/"
    );
    assert_eq!(b.text(".wiki-revision").await, "revision 3");
    let body = b.text(".wiki-body").await;
    assert!(
        body.contains("many calculations") && !body.contains("countless"),
        "{body}"
    );
    b.goto("/wiki/calculations/_history/").await;
    assert_eq!(
        attributes(&b, "tr[data-revision]", "data-revision").await,
        ["3", "2", "1"]
    );
    assert_eq!(
        b.text("tr[data-revision='3'] td:nth-child(4)").await,
        "Calculations — Reverted to revision 1"
    );
    assert_eq!(b.count("form.wiki-revert").await, 2, "for 1 and 2, not 3");
    readable_time(&b, "tr[data-revision='3'] td:nth-child(2) time").await;
    b.screenshot("history").await;

    // An old revision can still be read, marked as old.
    assert_eq!(
        b.follow("tr[data-revision='2'] td:first-child a").await,
        "/wiki/calculations/?revision=2"
    );
    assert_eq!(
        b.text(".wiki-notice").await,
        "You are reading revision 2, not the current one (3). See the current page."
    );
    assert!(b
        .text(".wiki-body")
        .await
        .contains("countless calculations"));

    // Search, from the box every page has, finds each page by what it says now.
    b.fill("form.wiki-find input[name=q]", "calculations").await;
    assert_eq!(
        b.follow("form.wiki-find button").await,
        "/wiki/_search/?q=calculations"
    );
    assert_eq!(
        b.value("form.wiki-search input[name=q]").await,
        "calculations"
    );
    assert_eq!(
        attributes(&b, "ol.wiki-hits li", "data-path").await,
        ["calculations"]
    );
    assert_eq!(b.text("ol.wiki-hits li a").await, "Calculations");
    assert_eq!(
        b.text("ol.wiki-hits li .snippet mark").await.to_lowercase(),
        "calculations"
    );
    b.screenshot("search").await;
    assert_eq!(b.follow("ol.wiki-hits li a").await, "/wiki/calculations/");
    b.goto("/wiki/_search/").await;
    b.fill("form.wiki-search input[name=q]", "warfare").await;
    assert_eq!(
        b.follow("form.wiki-search button").await,
        "/wiki/_search/?q=warfare"
    );
    assert_eq!(
        attributes(&b, "ol.wiki-hits li", "data-path").await,
        ["deception"]
    );
    b.goto("/wiki/_search/?q=countless").await;
    assert_eq!(b.count("ol.wiki-hits li").await, 0, "only in revision 2");
    assert_eq!(b.text(".empty-state").await, "No page matches countless.");

    // Recent changes: every edit, the newest first.
    assert_eq!(
        b.follow("footer a[href='/wiki/_recent/']").await,
        "/wiki/_recent/"
    );
    let rows = "table.wiki-recent tbody tr";
    let shown: Vec<(String, String)> = attributes(&b, rows, "data-path")
        .await
        .into_iter()
        .zip(attributes(&b, rows, "data-revision").await)
        .collect();
    let expected = [
        ("calculations", "3"),
        ("calculations", "2"),
        ("calculations", "1"),
        ("deception", "1"),
    ]
    .map(|(p, n)| (p.to_owned(), n.to_owned()));
    assert_eq!(shown, expected);
    let first = format!("{rows}[data-path='calculations'][data-revision='3']");
    assert_eq!(
        b.text(&format!("{first} td:nth-child(4)")).await,
        SUPERUSER.0
    );
    assert_eq!(
        b.text(&format!("{first} td:nth-child(5)")).await,
        "Reverted to revision 1"
    );
    assert_eq!(
        b.text(&format!("{rows}[data-path='deception'] td:nth-child(3)"))
            .await,
        "1 (new)"
    );
    readable_time(&b, &format!("{first} td:first-child time")).await;
    assert_eq!(
        b.count("form.wiki-find input[name=q]").await,
        1,
        "recent changes has the search box too"
    );
    b.screenshot("recent").await;
    assert_eq!(
        b.follow(&format!("{rows}[data-revision='2'] td:nth-child(3) a"))
            .await,
        "/wiki/calculations/_diff/?from=1&to=2"
    );
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
}

/// The `<time>` at `css` shows its moment to the minute, in UTC, for people
/// (`2026-11-29 15:48 UTC`), and to the second for machines (`2026-11-29T15:48:43Z`).
async fn readable_time(b: &Browser, css: &str) {
    let shown = b.text(css).await;
    let exact = b.attribute(css, "datetime").await.unwrap_or_default();
    assert_eq!(exact.len(), "2026-11-29T15:48:43Z".len(), "{exact}");
    assert!(exact.ends_with('Z'), "{exact}");
    assert_eq!(
        shown,
        format!("{} {} UTC", &exact[..10], &exact[11..16]),
        "{css}"
    );
}
