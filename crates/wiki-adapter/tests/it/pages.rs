use wiki_adapter::WikiSettings;

use crate::{on_both_stores, spawn, Backend};

on_both_stores!(
    a_red_link_leads_to_creating_its_page,
    edits_from_an_old_revision_merge_or_meet_a_conflict_and_lose_nothing,
    history_diff_and_revert,
    anonymous_visitors_read_and_sign_in_to_write,
    anonymous_writes_when_allowed_keep_the_address,
    markup_in_titles_content_and_paths_renders_inert,
    each_limit_is_a_4xx_naming_its_field_and_saves_nothing,
    preview_saves_nothing,
    the_api_gives_a_page_as_json,
    search_finds_pages_best_first_with_marked_snippets,
    recent_changes_list_every_edit_newest_first,
    saves_beyond_the_hourly_limit_get_429_and_save_nothing,
    a_browsers_line_endings_are_kept_as_line_feeds_so_diffs_show_only_changes,
    feeds_give_recent_changes_and_a_pages_history_as_atom
);

const SUN: &str = "sun";

async fn a_red_link_leads_to_creating_its_page(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    let (status, html) = app.get("/wiki/tactics/", Some(SUN)).await;
    assert_eq!(status, 404);
    assert!(html.contains("Create this page"), "{html}");
    let (status, to, _) = app
        .save(
            "tactics/",
            SUN,
            "",
            "Tactics",
            "# Tactics\n\nSee [[Tactics/Terrain]].",
        )
        .await;
    assert_eq!((status, to.as_deref()), (303, Some("/wiki/tactics/")));
    let (status, html) = app.get("/wiki/tactics/", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("class=\"wikilink missing\"")
            && html.contains("href=\"/wiki/tactics/terrain/\""),
        "a red link: {html}"
    );
    let (status, html) = app.get("/wiki/tactics/terrain/", Some(SUN)).await;
    assert_eq!(status, 404);
    assert!(html.contains("Create this page"));
    let (status, _, _) = app
        .save("tactics/terrain/", SUN, "", "Terrain", "Six kinds.")
        .await;
    assert_eq!(status, 303);
    let (_, html) = app.get("/wiki/tactics/", None).await;
    assert!(!html.contains("wikilink missing"), "no longer red: {html}");
    assert!(
        html.contains("Pages below") && html.contains("href=\"/wiki/tactics/terrain/\">Terrain<"),
        "{html}"
    );
    let (_, html) = app.get("/wiki/tactics/terrain/", None).await;
    assert!(
        html.contains("<a href=\"/wiki/\">Wiki</a> › <a href=\"/wiki/tactics/\">tactics</a>"),
        "breadcrumbs: {html}"
    );
    // Without the trailing slash, the page's own address.
    let res = app
        .client
        .get(app.url("/wiki/tactics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/wiki/tactics/");
}

const FIVE: &str = "one\ntwo\nthree\nfour\nfive\n";

async fn edits_from_an_old_revision_merge_or_meet_a_conflict_and_lose_nothing(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("plan/", SUN, "", "Plan", FIVE).await;
    // Two people open revision 1; the first saves a change to the first line…
    let (status, _, _) = app
        .save("plan/", "ann", "1", "Plan", "ONE\ntwo\nthree\nfour\nfive\n")
        .await;
    assert_eq!(status, 303);
    // …the second, a change to the last line: merged, and said so.
    let (status, to, _) = app
        .save("plan/", "bob", "1", "Plan", "one\ntwo\nthree\nfour\nFIVE\n")
        .await;
    assert_eq!((status, to.as_deref()), (303, Some("/wiki/plan/?merged=2")));
    let (_, html) = app.get("/wiki/plan/?merged=2", None).await;
    assert!(
        html.contains("merged with changes saved meanwhile"),
        "{html}"
    );
    let (info, now) = app.store.page(&"plan".parse_path()).unwrap().unwrap();
    assert_eq!(info.revision, 3);
    assert_eq!(now.content, "ONE\ntwo\nthree\nfour\nFIVE\n");
    assert!(
        now.message.contains("merged with revision 2"),
        "{}",
        now.message
    );
    // A third, from revision 1 too, changes the first line otherwise: a conflict, nothing saved.
    let (status, _, html) = app
        .save("plan/", "cy", "1", "Plan", "uno\ntwo\nthree\nfour\nfive\n")
        .await;
    assert_eq!(status, 409);
    assert!(
        html.contains("Someone saved this page while you were editing it"),
        "{html}"
    );
    assert!(html.contains("&lt;&lt;&lt;&lt;&lt;&lt;&lt; your edit\nuno\n=======\nONE\n&gt;&gt;&gt;&gt;&gt;&gt;&gt; the page now"), "the draft: {html}");
    assert!(
        html.contains("class=\"wiki-mine\" readonly rows=\"8\">uno\ntwo"),
        "their own text: {html}"
    );
    assert!(
        html.contains("name=\"base\" value=\"3\""),
        "the draft is based on the page now"
    );
    assert_eq!(
        app.store
            .page(&"plan".parse_path())
            .unwrap()
            .unwrap()
            .0
            .revision,
        3
    );
    // Saving the draft with its markers is refused; resolved, it lands.
    let draft = "<<<<<<< your edit\nuno\n=======\nONE\n>>>>>>> the page now\ntwo\n";
    let (status, _, html) = app.save("plan/", "cy", "3", "Plan", draft).await;
    assert_eq!(status, 400);
    assert!(html.contains("data-field=\"content\""), "{html}");
    let (status, _, _) = app
        .save(
            "plan/",
            "cy",
            "3",
            "Plan",
            "uno / ONE\ntwo\nthree\nfour\nFIVE\n",
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(app.store.history(&"plan".parse_path()).unwrap().len(), 4);
}

async fn history_diff_and_revert(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save(
        "war/",
        SUN,
        "",
        "War",
        "All warfare is based on deception.\n",
    )
    .await;
    app.save(
        "war/",
        SUN,
        "1",
        "War",
        "All warfare is based on surprise.\n",
    )
    .await;
    let (status, html) = app.get("/wiki/war/_history/", None).await;
    assert_eq!(status, 200);
    let rows: Vec<_> = html
        .match_indices("data-revision=\"")
        .map(|(i, _)| &html[i + 15..i + 16])
        .collect();
    assert_eq!(rows, ["2", "1"], "newest first");
    let at = app.store.history(&"war".parse_path()).unwrap()[0].created_at;
    assert!(
        html.contains(&format!(
            "<time datetime=\"{}\">{}</time>",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        "times to the minute, not RFC 3339 with microseconds: {html}"
    );
    let (status, html) = app.get("/wiki/war/_diff/?from=1&to=2", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<mark>deception.</mark>") || html.contains("<mark>deception</mark>"),
        "word level: {html}"
    );
    assert!(
        html.contains("class=\"diff-delete\"") && html.contains("class=\"diff-insert\""),
        "{html}"
    );
    let (status, to, _) = app
        .post(
            "/wiki/war/_revert/",
            "/wiki/war/_history/",
            Some(SUN),
            &[("revision", "1"), ("base", "2")],
        )
        .await;
    assert_eq!((status, to.as_deref()), (303, Some("/wiki/war/")));
    let (info, now) = app.store.page(&"war".parse_path()).unwrap().unwrap();
    assert_eq!(
        (info.revision, now.content.as_str()),
        (3, "All warfare is based on deception.\n")
    );
    assert_eq!(now.message, "Reverted to revision 1");
    assert_eq!(
        app.store.revision(&"war".parse_path(), 2).unwrap().content,
        "All warfare is based on surprise.\n",
        "nothing is lost"
    );
    let (_, html) = app.get("/wiki/war/?revision=2", None).await;
    assert!(
        html.contains("You are reading revision 2") && html.contains("surprise"),
        "{html}"
    );
    let (status, _) = app.get("/wiki/war/_diff/?from=9", None).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/wiki/war/?revision=x", None).await;
    assert_eq!(status, 400);
}

async fn anonymous_visitors_read_and_sign_in_to_write(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("open/", SUN, "", "Open", "Anyone reads.").await;
    let (status, html) = app.get("/wiki/open/", None).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("data-action=\"edit\""),
        "no edit link for visitors"
    );
    let res = app
        .client
        .get(app.url("/wiki/open/_edit/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/accounts/login?next=%2Fwiki%2Fopen%2F_edit%2F"
    );
    // A post without a signed-in user (its token from a page anyone gets) is refused.
    let (status, _, _) = app
        .post(
            "/wiki/open/_edit/",
            "/wiki/open/_edit/",
            Some(SUN),
            &[("title", "x"), ("content", "x"), ("base", "1")],
        )
        .await;
    assert_eq!(status, 303, "the signed-in user may");
    let token = app.token("/wiki/open/_edit/", Some(SUN)).await;
    let res = app
        .client
        .post(app.url("/wiki/open/_edit/"))
        .header("origin", &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(crate::form_body(&[
            ("title", "x"),
            ("content", "vandal"),
            ("base", "2"),
            ("csrf_token", &token),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store
            .page(&"open".parse_path())
            .unwrap()
            .unwrap()
            .1
            .content,
        "x"
    );
}

async fn anonymous_writes_when_allowed_keep_the_address(b: Backend) {
    let app = spawn(
        b,
        WikiSettings {
            anonymous_write: true,
            ..WikiSettings::default()
        },
    );
    let edit = "/wiki/_edit/";
    let (status, _, _) = app
        .post(
            edit,
            edit,
            None,
            &[("title", "Home"), ("content", "Welcome."), ("base", "")],
        )
        .await;
    assert_eq!(status, 303);
    let history = app.store.history(&wiki_adapter::WikiPath::root()).unwrap();
    assert_eq!(history[0].author, None);
    assert_eq!(history[0].address.as_deref(), Some("127.0.0.1"));
    let (_, html) = app.get("/wiki/_history/", None).await;
    assert!(html.contains("127.0.0.1"), "{html}");
}

async fn markup_in_titles_content_and_paths_renders_inert(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    let title = "<script>alert('t')</script>";
    let content = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))\n\n[[<b>bold</b>]]";
    let (status, _, _) = app.save("xss/", SUN, "", title, content).await;
    assert_eq!(status, 303);
    for path in [
        "/wiki/xss/",
        "/wiki/xss/_history/",
        "/wiki/xss/_edit/",
        "/wiki/xss/_diff/?from=1&to=1",
    ] {
        let (status, html) = app.get(path, Some(SUN)).await;
        assert_eq!(status, 200, "{path}");
        let lower = html.to_lowercase();
        // The source shows on the edit and diff pages, escaped: no tag of it may be live.
        for bad in [
            "<script>alert",
            "<img src=x",
            "href=\"javascript:",
            "data-wiki=\"<",
        ] {
            assert!(!lower.contains(bad), "{path} holds {bad}: {html}");
        }
        let live_handler = lower
            .split('<')
            .skip(1)
            .filter_map(|tag| tag.split('>').next())
            .find(|tag| tag.contains("onerror") || tag.contains("onload"));
        assert_eq!(live_handler, None, "{path}: {html}");
    }
    let (status, html) = app
        .get("/wiki/%3Cscript%3Ealert(1)%3C%2Fscript%3E/", None)
        .await;
    assert_eq!(status, 404);
    assert!(!html.to_lowercase().contains("<script>alert"), "{html}");
}

async fn each_limit_is_a_4xx_naming_its_field_and_saves_nothing(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    let long_title = "t".repeat(201);
    let (status, _, html) = app.save("limits/", SUN, "", &long_title, "x").await;
    assert_eq!(status, 400);
    assert!(html.contains("data-field=\"title\""), "{html}");
    let big = "x".repeat(500 * 1024 + 1);
    let (status, _, html) = app.save("limits/", SUN, "", "Limits", &big).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("data-field=\"content\"") && html.contains("500 KB"),
        "{}",
        &html[..html.len().min(2000)]
    );
    assert!(
        app.store.page(&"limits".parse_path()).unwrap().is_none(),
        "nothing half-saved"
    );
    let deep = format!("/wiki/{}_edit/", "a/".repeat(11));
    let (status, _) = app.get(&deep, Some(SUN)).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/wiki/Tactics/", None).await;
    assert_eq!(status, 404, "slugs are lowercase");
    let (status, _) = app.get("/wiki/tactics/_nope/", None).await;
    assert_eq!(status, 404);
}

async fn preview_saves_nothing(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    let edit = "/wiki/draft/_edit/";
    let (status, _, html) = app
        .post(
            edit,
            edit,
            Some(SUN),
            &[
                ("title", "Draft"),
                ("content", "# Heading\n\n*soft*"),
                ("base", ""),
                ("preview", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<h1 id=\"h-heading\">Heading</h1>") && html.contains("<em>soft</em>"),
        "{html}"
    );
    assert!(html.contains("# Heading"), "the text stays in the form");
    assert!(app.store.page(&"draft".parse_path()).unwrap().is_none());
}

async fn the_api_gives_a_page_as_json(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save(
        "laws/",
        SUN,
        "",
        "Laws",
        "Five **constant** factors; see [[Tactics]].",
    )
    .await;
    let res = app
        .client
        .get(app.url("/api/wiki/pages/laws"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["title"], "Laws");
    assert_eq!(json["revision"], 1);
    assert_eq!(
        json["markdown"],
        "Five **constant** factors; see [[Tactics]]."
    );
    let html = json["html"].as_str().unwrap();
    assert!(
        html.contains("<strong>constant</strong>") && html.contains("wikilink missing"),
        "{html}"
    );
    let res = app
        .client
        .get(app.url("/api/wiki/pages/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let json: serde_json::Value = res.json().await.unwrap();
    assert!(
        json["error"].as_str().unwrap().contains("nowhere"),
        "{json}"
    );
}

/// `"plan".parse_path()` in the tests.
trait ParsePath {
    fn parse_path(&self) -> wiki_adapter::WikiPath;
}

impl ParsePath for str {
    fn parse_path(&self) -> wiki_adapter::WikiPath {
        wiki_adapter::WikiPath::parse(self).unwrap()
    }
}

async fn search_finds_pages_best_first_with_marked_snippets(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("terrain/", SUN, "", "Terrain", "Six kinds of ground.")
        .await;
    app.save(
        "war/",
        SUN,
        "",
        "War",
        "Know the terrain. <script>alert(1)</script>",
    )
    .await;
    let (status, html) = app.get("/wiki/_search/?q=terrain", None).await;
    assert_eq!(status, 200);
    let order: Vec<_> = html
        .match_indices("<li data-path=\"")
        .map(|(i, _)| html[i + 15..].split('"').next().unwrap())
        .collect();
    assert_eq!(order, ["terrain", "war"], "the title match first: {html}");
    assert!(html.contains("<mark>terrain</mark>"), "{html}");
    assert!(
        !html.contains("<script>alert"),
        "snippets are escaped: {html}"
    );
    let (status, html) = app.get("/wiki/_search/?q=nothing-like-it", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("No page matches"), "{html}");
    let res = app
        .client
        .get(app.url("/api/wiki/search?q=ground"))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["hits"][0]["path"], "terrain");
    assert_eq!(json["hits"][0]["url"], "/wiki/terrain/");
    assert!(
        json["hits"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>ground</mark>"),
        "{json}"
    );
    let (status, _) = app.get("/wiki/terrain/_search/", None).await;
    assert_eq!(status, 404, "search lives at the root only");
    // Every page, missing or not, has a search box that asks this page.
    for page in ["/wiki/war/", "/wiki/nowhere/"] {
        let (_, html) = app.get(page, None).await;
        assert_eq!(search_boxes(&html), 1, "{page}: {html}");
    }
}

/// How many forms in `html` ask the wiki's search with a `q`.
fn search_boxes(html: &str) -> usize {
    html.split("<form method=\"get\" action=\"/wiki/_search/\"")
        .skip(1)
        .filter(|form| form.split("</form>").next().unwrap().contains("name=\"q\""))
        .count()
}

async fn recent_changes_list_every_edit_newest_first(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("a/", SUN, "", "A", "one").await;
    app.save("b/", "ann", "", "B", "one").await;
    app.save("a/", SUN, "1", "A", "two").await;
    let (status, html) = app.get("/wiki/_recent/", None).await;
    assert_eq!(status, 200);
    let rows: Vec<_> = html
        .match_indices("<tr data-path=\"")
        .map(|(i, _)| {
            let rest = &html[i + 15..];
            let path = rest.split('"').next().unwrap();
            let revision = rest
                .split("data-revision=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            format!("{path}@{revision}")
        })
        .collect();
    assert_eq!(rows, ["a@2", "b@1", "a@1"], "{html}");
    assert_eq!(search_boxes(&html), 1, "{html}");
    let at = app.store.recent(0, 1).unwrap()[0].created_at;
    assert!(
        html.contains(&format!(
            "<time datetime=\"{}\">{}</time>",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        "{html}"
    );
    let res = app
        .client
        .get(app.url("/api/wiki/recent"))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["changes"][1]["author"], "ann");
    assert_eq!(json["has_next"], false);
    let (status, _) = app.get("/wiki/_recent/?page=0", None).await;
    assert_eq!(status, 400);
}

async fn saves_beyond_the_hourly_limit_get_429_and_save_nothing(b: Backend) {
    let app = spawn(
        b,
        WikiSettings {
            edits_per_hour: 2,
            ..WikiSettings::default()
        },
    );
    assert_eq!(app.save("busy/", SUN, "", "Busy", "1").await.0, 303);
    assert_eq!(app.save("busy/", SUN, "1", "Busy", "2").await.0, 303);
    let edit = "/wiki/busy/_edit/";
    let (status, _, body) = app
        .post(
            edit,
            edit,
            Some(SUN),
            &[("title", "Busy"), ("content", "3"), ("base", "2")],
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("2 an hour"), "{body}");
    // A preview is no save, and another user has a limit of their own.
    let (status, _, _) = app
        .post(
            edit,
            edit,
            Some(SUN),
            &[
                ("title", "Busy"),
                ("content", "3"),
                ("base", "2"),
                ("preview", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.save("busy/", "ann", "2", "Busy", "3").await.0, 303);
    let history = app
        .store
        .history(&wiki_adapter::WikiPath::parse("busy").unwrap())
        .unwrap();
    assert_eq!(history.len(), 3);
}

async fn feeds_give_recent_changes_and_a_pages_history_as_atom(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    app.save("a/", SUN, "", "A & <b>co</b>", "one").await;
    app.save("b/", "ann", "", "B", "one").await;
    app.post(
        "/wiki/a/_edit/",
        "/wiki/a/_edit/",
        Some(SUN),
        &[
            ("title", "A & <b>co</b>"),
            ("content", "two"),
            ("base", "1"),
            ("message", "more <ground>"),
        ],
    )
    .await;
    let app = &app;
    let feed = |path: &'static str| async move {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let kind = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, kind, res.text().await.unwrap())
    };
    let (status, kind, xml) = feed("/wiki/_feed/").await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(kind.as_deref(), Some("application/atom+xml; charset=utf-8"));
    let parsed: atom_syndication::Feed = xml.parse().expect("valid Atom");
    let entries: Vec<(String, String, String)> = parsed
        .entries()
        .iter()
        .map(|e| {
            (
                e.title().to_string(),
                e.authors()[0].name().to_owned(),
                e.links()[0].href().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "A & <b>co</b> (revision 2)".to_owned(),
                "sun".to_owned(),
                app.url("/wiki/a/_diff/?from=1&to=2")
            ),
            (
                "B (revision 1)".into(),
                "ann".into(),
                app.url("/wiki/b/?revision=1")
            ),
            (
                "A & <b>co</b> (revision 1)".into(),
                "sun".into(),
                app.url("/wiki/a/?revision=1")
            ),
        ]
    );
    assert_eq!(
        parsed.entries()[0].summary().map(|t| t.as_str()),
        Some("more <ground>")
    );
    assert!(!xml.contains("<b>co"), "markup escaped: {xml}");
    assert_eq!(parsed.id(), app.url("/wiki/_feed/"));

    // One page's feed is its history; the pages link to their feeds.
    let (status, _, xml) = feed("/wiki/a/_feed/").await;
    assert_eq!(status, 200);
    let parsed: atom_syndication::Feed = xml.parse().unwrap();
    assert_eq!(parsed.entries().len(), 2);
    assert_eq!(parsed.title().as_str(), "Wiki: A & <b>co</b>");
    let (_, html) = app.get("/wiki/_recent/", None).await;
    assert!(html.contains("type=\"application/atom+xml\""), "{html}");
    let (_, html) = app.get("/wiki/a/_history/", None).await;
    assert!(html.contains("href=\"/wiki/a/_feed/\""), "{html}");
    let (status, _, _) = feed("/wiki/nowhere/_feed/").await;
    assert_eq!(status, 404);
}

async fn a_browsers_line_endings_are_kept_as_line_feeds_so_diffs_show_only_changes(b: Backend) {
    let app = spawn(b, WikiSettings::default());
    // What a textarea sends: CR LF.
    let crlf = |text: &str| text.replace('\n', "\r\n");
    app.save("plan/", SUN, "", "Plan", &crlf(FIVE)).await;
    let first = crlf("ONE\ntwo\nthree\nfour\nfive\n");
    assert_eq!(app.save("plan/", "ann", "1", "Plan", &first).await.0, 303);
    let last = crlf("one\ntwo\nthree\nfour\nFIVE\n");
    let (_, to, _) = app.save("plan/", "bob", "1", "Plan", &last).await;
    assert_eq!(to.as_deref(), Some("/wiki/plan/?merged=2"));
    let plan = "plan".parse_path();
    assert_eq!(app.store.revision(&plan, 1).unwrap().content, FIVE);
    assert_eq!(
        app.store.revision(&plan, 3).unwrap().content,
        "ONE\ntwo\nthree\nfour\nFIVE\n"
    );
    // The merged revision's diff: the one line bob changed, no more.
    let (_, html) = app.get("/wiki/plan/_diff/?from=2&to=3", None).await;
    assert_eq!(html.matches("class=\"diff-delete\"").count(), 1, "{html}");
    assert_eq!(html.matches("class=\"diff-insert\"").count(), 1, "{html}");
    assert_eq!(html.matches("class=\"diff-equal\"").count(), 4, "{html}");
}
