//! The quotes' section: list, search, filters, sorting, paging, bulk delete, forms with
//! errors beside their fields, stale edits refused, history, import and export.

use quotes_core::{QuoteId, QuoteQuery, QuoteStore};
use web::admin::Action;

use crate::helpers::*;

const LIST: &str = "/admin/quotes/quote/";

fn texts(store: &dyn QuoteStore) -> Vec<String> {
    store
        .search(
            &QuoteQuery::default(),
            quotes_core::PageRequest::new(1, 100).unwrap(),
        )
        .unwrap()
        .items
        .into_iter()
        .map(|q| q.text.as_str().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_list_searches_filters_sorts_and_pages() {
    for backend in BOTH {
        let site = site(backend, 2);
        let a = site.add_quote(
            "All warfare is based on deception.",
            "Sun Tzu",
            Some("Art of War"),
        );
        let b = site.add_quote("Know yourself.", "Socrates", None);
        let c = site.add_quote("Water shapes its course.", "Sun Tzu", Some("Art of War"));
        let boss = site.as_user("boss").await;
        let page = boss.get(LIST).await;
        assert_eq!(page.status, 200, "{backend}");
        assert_eq!(
            row_ids(&page.body),
            [a.to_string(), b.to_string()],
            "2 a page"
        );
        assert!(page.body.contains("3 quotes"), "the total");
        assert!(page.body.contains("Page 1 of 2"));
        let second = boss.get(&format!("{LIST}?p=2")).await;
        assert_eq!(row_ids(&second.body), [c.to_string()]);
        assert_eq!(boss.get(&format!("{LIST}?p=3")).await.status, 404);
        assert_eq!(boss.get(&format!("{LIST}?p=x")).await.status, 400);

        let found = boss.get(&format!("{LIST}?q=DECEPTION")).await.body;
        assert_eq!(row_ids(&found), [a.to_string()], "search ignores case");
        let by_author = boss.get(&format!("{LIST}?f_author=Socrates")).await.body;
        assert_eq!(row_ids(&by_author), [b.to_string()]);
        assert!(
            by_author.contains("Sun Tzu (2)"),
            "filter choices with counts"
        );
        let no_source = boss.get(&format!("{LIST}?f_source=~none")).await.body;
        assert_eq!(row_ids(&no_source), [b.to_string()]);
        let sorted = boss.get(&format!("{LIST}?o=-text")).await.body;
        assert_eq!(
            row_ids(&sorted),
            [c.to_string(), b.to_string()],
            "by text, descending"
        );
        assert!(sorted.contains("aria-sort=\"descending\""));
        assert_eq!(boss.get(&format!("{LIST}?o=password")).await.status, 400);
        assert_eq!(boss.get(&format!("{LIST}?f_nonsense=1")).await.status, 400);

        let all = boss.get(&format!("{LIST}?select=all")).await.body;
        assert_eq!(
            all.matches(" checked>").count(),
            2,
            "select all on this page"
        );
        assert!(boss.get(LIST).await.body.matches(" checked>").count() == 0);
    }
}

#[actix_web::test]
async fn adding_shows_each_error_beside_its_field_and_writes_nothing() {
    for backend in BOTH {
        let site = site(backend, 100);
        let boss = site.as_user("boss").await;
        let add = format!("{LIST}add/");
        let page = boss
            .post(
                &add,
                &add,
                &[("text", "  "), ("author", "Sun\nTzu"), ("source", "(open")],
            )
            .await;
        assert_eq!(page.status, 200, "{backend}");
        let errors = field_errors(&page.body);
        assert_eq!(
            errors.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            ["text", "author", "source"],
            "{}",
            page.body
        );
        assert_eq!(errors[1].1, "Author must be a single line");
        assert!(page.body.contains(">(open<") || page.body.contains("value=\"(open\""));
        assert_eq!(site.quotes.count().unwrap(), 0, "nothing written");

        let page = boss
            .post(
                &add,
                &add,
                &[
                    ("text", "Be extremely subtle."),
                    ("author", "Sun Tzu"),
                    ("source", ""),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(
            page.location.as_deref(),
            Some("/admin/quotes/quote/?done=added")
        );
        assert!(boss
            .get(page.location.as_deref().unwrap())
            .await
            .body
            .contains("The quote was added."));
        assert_eq!(texts(&*site.quotes), ["Be extremely subtle."]);
        let public = boss.get("/quotes").await.body;
        assert!(
            public.contains("Be extremely subtle."),
            "on the site at once"
        );

        let twice = boss
            .post(
                &add,
                &add,
                &[("text", "Be extremely subtle."), ("author", "Sun Tzu")],
            )
            .await;
        assert_eq!(twice.status, 200);
        assert!(twice
            .body
            .contains("A quote with this text and author exists already."));
        let recent = site.history.recent(10).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].change.action, Action::Add);
        assert_eq!(recent[0].change.actor.name, "boss");
    }
}

#[actix_web::test]
async fn a_change_is_recorded_with_before_and_after() {
    for backend in BOTH {
        let site = site(backend, 100);
        let id = site.add_quote("Old wording.", "Sun Tzu", None);
        let boss = site.as_user("boss").await;
        let form = format!("{LIST}{id}/change/");
        let shown = boss.get(&form).await;
        assert_eq!(shown.status, 200, "{backend}");
        assert!(shown.body.contains(">Old wording.</textarea>"));
        let v = version(&shown.body);
        let page = boss
            .post(
                &form,
                &form,
                &[
                    ("text", "New wording."),
                    ("author", "Sun Tzu"),
                    ("source", "Art of War"),
                    ("version", &v),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let stored = site.quotes.get(QuoteId(id)).unwrap();
        assert_eq!(stored.text.as_str(), "New wording.");
        let history = boss.get(&format!("{LIST}{id}/history/")).await;
        assert_eq!(history.status, 200);
        let body = history.body;
        assert!(body.contains("<strong>Change</strong> by boss"), "{body}");
        assert!(
            body.contains(
                "<td class=\"before\">Old wording.</td><td class=\"after\">New wording.</td>"
            ),
            "{body}"
        );
        assert!(body.contains("<tr data-field=\"source\"><th scope=\"row\">source</th><td class=\"before\"></td><td class=\"after\">Art of War</td>"), "{body}");
        assert!(
            !body.contains("data-field=\"author\""),
            "unchanged fields are left out"
        );
        let index = boss.get("/admin/").await.body;
        assert!(
            index.contains(&format!("/admin/quotes/quote/{id}/history/")),
            "recent actions"
        );
    }
}

#[actix_web::test]
async fn an_edit_based_on_a_stale_form_is_refused_with_the_current_values() {
    for backend in BOTH {
        let site = site(backend, 100);
        let id = site.add_quote("First.", "Sun Tzu", None);
        let (ann, bob) = (site.as_user("boss").await, site.as_user("staff").await);
        let form = format!("{LIST}{id}/change/");
        let v_ann = version(&ann.get(&form).await.body);
        let v_bob = version(&bob.get(&form).await.body);
        let first = ann
            .post(
                &form,
                &form,
                &[
                    ("text", "Ann's."),
                    ("author", "Sun Tzu"),
                    ("version", &v_ann),
                ],
            )
            .await;
        assert_eq!(first.status, 303, "{backend}");
        let second = bob
            .post(
                &form,
                &form,
                &[
                    ("text", "Bob's."),
                    ("author", "Sun Tzu"),
                    ("version", &v_bob),
                ],
            )
            .await;
        assert_eq!(second.status, 409, "{}", second.body);
        assert!(second
            .body
            .contains("was changed by someone else while you edited it"));
        assert!(
            second.body.contains(">Ann&#x27;s.</textarea>"),
            "the current values: {}",
            second.body
        );
        assert!(
            second.body.contains("<dd>Bob&#x27;s.</dd>"),
            "what Bob typed, to copy"
        );
        assert_eq!(
            site.quotes.get(QuoteId(id)).unwrap().text.as_str(),
            "Ann's."
        );
        let again = bob
            .post(
                &form,
                &form,
                &[
                    ("text", "Bob's."),
                    ("author", "Sun Tzu"),
                    ("version", &version(&second.body)),
                ],
            )
            .await;
        assert_eq!(
            again.status, 303,
            "based on the current version it goes through"
        );
    }
}

#[actix_web::test]
async fn deleting_asks_first_and_records_what_went() {
    for backend in BOTH {
        let site = site(backend, 100);
        let keep = site.add_quote("Keep.", "Sun Tzu", None);
        let one = site.add_quote("One.", "Sun Tzu", None);
        let two = site.add_quote("Two.", "Sun Tzu", None);
        let boss = site.as_user("boss").await;
        let (one_s, two_s) = (one.to_string(), two.to_string());
        let confirm = boss
            .post(
                LIST,
                LIST,
                &[
                    ("action", "delete_selected"),
                    ("ids", &one_s),
                    ("ids", &two_s),
                ],
            )
            .await;
        assert_eq!(confirm.status, 200, "{backend}");
        assert!(
            confirm.body.contains("These 2 quotes will be deleted:"),
            "{}",
            confirm.body
        );
        assert!(confirm.body.contains(">One.</li>") && confirm.body.contains(">Two.</li>"));
        assert_eq!(site.quotes.count().unwrap(), 3, "nothing gone yet");
        let done = boss
            .post(
                LIST,
                &format!("{LIST}delete-selected/"),
                &[("ids", &one_s), ("ids", &two_s)],
            )
            .await;
        assert_eq!(
            done.location.as_deref(),
            Some("/admin/quotes/quote/?done=deleted&n=2")
        );
        assert_eq!(texts(&*site.quotes), ["Keep."]);
        let none = boss
            .post(LIST, LIST, &[("action", "delete_selected")])
            .await;
        assert_eq!(
            none.location.as_deref(),
            Some("/admin/quotes/quote/?done=none")
        );

        let single = format!("{LIST}{keep}/delete/");
        assert!(boss
            .get(&single)
            .await
            .body
            .contains("This quote will be deleted:"));
        let gone = boss.post(&single, &single, &[]).await;
        assert_eq!(gone.status, 303);
        assert_eq!(site.quotes.count().unwrap(), 0);
        let history = boss.get(&format!("{LIST}{one}/history/")).await;
        assert_eq!(history.status, 200, "a deleted quote keeps its history");
        assert!(history.body.contains("<strong>Delete</strong> by boss"));
        assert!(history.body.contains("<td class=\"before\">One.</td>"));
    }
}

#[actix_web::test]
async fn import_is_all_or_nothing_and_export_follows_the_list() {
    for backend in BOTH {
        let site = site(backend, 100);
        site.add_quote("Already here.", "Sun Tzu", None);
        let boss = site.as_user("boss").await;
        let import = format!("{LIST}import/");
        let bad = b"First new quote.\n\xe2\x80\x94 Laozi\n\nA quote with no author line.\n";
        let page = boss
            .upload(&import, &import, &[], ("file", "bad.txt", bad))
            .await;
        assert_eq!(page.status, 200, "{backend}: {}", page.body);
        assert!(
            page.body.contains("Line 4:"),
            "the line at fault: {}",
            page.body
        );
        assert_eq!(site.quotes.count().unwrap(), 1, "nothing added");

        let good = "First new quote.\n— Laozi (Tao Te Ching)\n\nAlready here.\n— Sun Tzu\n";
        let page = boss
            .upload(&import, &import, &[], ("file", "good.txt", good.as_bytes()))
            .await;
        assert_eq!(
            page.location.as_deref(),
            Some("/admin/quotes/quote/?done=imported&n=1&existing=1"),
            "{}",
            page.body
        );
        assert_eq!(site.quotes.count().unwrap(), 2);
        let recent = site.history.recent(5).unwrap();
        assert_eq!(recent[0].change.object_label, "First new quote.");

        let export = boss.get(&format!("{LIST}export/?f_author=Laozi")).await;
        assert_eq!(export.status, 200);
        let exported = quotes_core::quotes_file::parse("export", &export.body).unwrap();
        assert_eq!(
            exported,
            [
                quotes_core::NewQuote::parse("First new quote.", "Laozi", Some("Tao Te Ching"))
                    .unwrap()
            ],
            "only what the filter shows: {}",
            export.body
        );
        let empty = boss
            .upload(&import, &import, &[], ("file", "e.txt", b""))
            .await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("Choose a file to import."));
    }
}

#[actix_web::test]
async fn a_large_file_is_imported() {
    let site = site(web::Backend::Postgres, 100);
    let boss = site.as_user("boss").await;
    let import = format!("{LIST}import/");
    let text: String = (0..1500)
        .map(|i| {
            format!(
                "Quote number {i}, long enough to make the file large: {}\n— Author {i}\n\n",
                "x".repeat(150)
            )
        })
        .collect();
    assert!(text.len() > 256 * 1024, "{} bytes", text.len());
    let page = boss
        .upload(&import, &import, &[], ("file", "big.txt", text.as_bytes()))
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/admin/quotes/quote/?done=imported&n=1500&existing=0"),
        "{}",
        page.body
    );
    assert_eq!(site.quotes.count().unwrap(), 1500);
}
