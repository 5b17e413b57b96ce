//! The contract every [`WikiStore`] keeps, as one suite each backend runs with its own
//! constructor: `wiki_adapter::wiki_store_contract!(Box::new(MemoryStore::default()));`.

use crate::path::WikiPath;
use crate::store::{
    Imported, NewRevision, PageFilter, PageState, WikiError, WikiStore, MARK_END, MARK_START,
    MAX_CONTENT, MAX_TITLE,
};

/// One `#[test]` per case; `$make` is evaluated afresh for each and must deref to a store.
#[macro_export]
macro_rules! wiki_store_contract {
    ($make:expr) => {
        $crate::wiki_store_contract!(@cases $make;
            an_empty_wiki_has_no_pages,
            a_page_is_created_once_then_edited_from_its_revision,
            every_revision_is_kept_and_listed_newest_first,
            a_refused_save_writes_nothing_and_names_the_field,
            children_are_the_pages_directly_below,
            existing_tells_which_links_are_pages,
            concurrent_saves_each_land_or_hear_the_page_moved_on,
            text_comes_back_as_it_was_written,
            search_finds_current_pages_and_ranks_titles_first,
            recent_changes_list_every_revision_newest_first,
            revisions_are_counted_by_who_saved_them,
            a_state_is_a_revision_and_saves_keep_it,
            deleted_pages_are_kept_but_hidden,
            pages_are_listed_by_filter_with_a_total,
            an_import_loads_all_or_nothing_and_twice_adds_nothing
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let store = $make;
                $crate::contract::$case(&*store);
            }
        )*
    };
}

fn path(p: &str) -> WikiPath {
    WikiPath::parse(p).expect("a valid test path")
}

fn rev(title: &str, content: &str) -> NewRevision {
    NewRevision {
        title: title.to_owned(),
        content: content.to_owned(),
        html: format!("<p>{content}</p>"),
        author: Some("sun".to_owned()),
        address: None,
        message: String::new(),
        state: None,
    }
}

fn with_state(title: &str, content: &str, deleted: bool, locked: bool) -> NewRevision {
    NewRevision {
        state: Some(PageState { deleted, locked }),
        ..rev(title, content)
    }
}

pub fn an_empty_wiki_has_no_pages(s: &dyn WikiStore) {
    assert!(s.page(&WikiPath::root()).unwrap().is_none());
    assert!(matches!(s.history(&path("a")), Err(WikiError::NotFound)));
    assert!(matches!(
        s.revision(&path("a"), 1),
        Err(WikiError::NotFound)
    ));
    assert!(s.children(&WikiPath::root()).unwrap().is_empty());
    assert!(s.existing(&[path("a")]).unwrap().is_empty());
    s.ping().unwrap();
}

pub fn a_page_is_created_once_then_edited_from_its_revision(s: &dyn WikiStore) {
    let p = path("tactics");
    assert_eq!(s.save(&p, None, rev("  Tactics ", "v1")).unwrap(), 1);
    let (info, current) = s.page(&p).unwrap().expect("the page");
    assert_eq!((info.title.as_str(), info.revision), ("Tactics", 1));
    assert_eq!((current.number, current.content.as_str()), (1, "v1"));
    assert_eq!(current.author.as_deref(), Some("sun"));
    assert!(matches!(
        s.save(&p, None, rev("Again", "x")),
        Err(WikiError::Exists)
    ));
    assert_eq!(s.save(&p, Some(1), rev("Tactics", "v2")).unwrap(), 2);
    assert!(matches!(
        s.save(&p, Some(1), rev("Tactics", "lost?")),
        Err(WikiError::Stale {
            base: 1,
            current: 2
        })
    ));
    assert!(matches!(
        s.save(&path("nowhere"), Some(1), rev("N", "x")),
        Err(WikiError::NotFound)
    ));
    let (info, current) = s.page(&p).unwrap().unwrap();
    assert_eq!((info.revision, current.content.as_str()), (2, "v2"));
    // The root page is a page like any other.
    assert_eq!(
        s.save(&WikiPath::root(), None, rev("Home", "welcome"))
            .unwrap(),
        1
    );
    assert_eq!(
        s.page(&WikiPath::root()).unwrap().unwrap().1.content,
        "welcome"
    );
}

pub fn every_revision_is_kept_and_listed_newest_first(s: &dyn WikiStore) {
    let p = path("a/b");
    s.save(&p, None, rev("B", "one")).unwrap();
    let mut second = rev("B2", "two two");
    second.message = "more".into();
    s.save(&p, Some(1), second).unwrap();
    s.save(&p, Some(2), rev("B3", "three")).unwrap();
    assert_eq!(s.revision(&p, 1).unwrap().content, "one");
    assert_eq!(s.revision(&p, 2).unwrap().title, "B2");
    assert!(matches!(s.revision(&p, 4), Err(WikiError::NotFound)));
    let history = s.history(&p).unwrap();
    let numbers: Vec<_> = history.iter().map(|h| h.number).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(history[1].message, "more");
    assert_eq!(history[1].size, "two two".len());
    assert!(history[0].created_at >= history[2].created_at);
}

pub fn a_refused_save_writes_nothing_and_names_the_field(s: &dyn WikiStore) {
    let p = path("limits");
    for (bad, field) in [
        (rev("", "x"), "title"),
        (rev(&"t".repeat(MAX_TITLE + 1), "x"), "title"),
        (rev("T", &"x".repeat(MAX_CONTENT + 1)), "content"),
        (rev("T", "nul \0 here"), "content"),
        (
            NewRevision {
                message: "m".repeat(501),
                ..rev("T", "x")
            },
            "message",
        ),
    ] {
        match s.save(&p, None, bad) {
            Err(WikiError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(s.page(&p).unwrap().is_none(), "nothing half-saved");
    assert_eq!(
        s.save(
            &p,
            None,
            rev(&"é".repeat(MAX_TITLE), &"x".repeat(MAX_CONTENT))
        )
        .unwrap(),
        1
    );
}

pub fn children_are_the_pages_directly_below(s: &dyn WikiStore) {
    for p in ["b", "a", "a/y", "a/x", "a/x/deep", "ab"] {
        s.save(&path(p), None, rev(p, "x")).unwrap();
    }
    let names = |p: &str| -> Vec<String> {
        s.children(&path(p))
            .unwrap()
            .into_iter()
            .map(|c| c.path.to_string())
            .collect()
    };
    assert_eq!(names(""), ["a", "ab", "b"]);
    assert_eq!(names("a"), ["a/x", "a/y"]);
    assert_eq!(names("a/x"), ["a/x/deep"]);
    assert!(names("b").is_empty());
}

pub fn existing_tells_which_links_are_pages(s: &dyn WikiStore) {
    s.save(&path("here"), None, rev("Here", "x")).unwrap();
    let found = s.existing(&[path("missing"), path("here")]).unwrap();
    assert_eq!(found, [path("here")]);
}

pub fn concurrent_saves_each_land_or_hear_the_page_moved_on(s: &dyn WikiStore) {
    const WRITERS: usize = 6;
    const EACH: usize = 5;
    let p = path("busy");
    s.save(&p, None, rev("Busy", "start")).unwrap();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let p = p.clone();
            scope.spawn(move || {
                for i in 0..EACH {
                    // Each edit is retried from the page's revision until it lands: none is lost.
                    loop {
                        let (info, _) = s.page(&p).unwrap().unwrap();
                        match s.save(&p, Some(info.revision), rev("Busy", &format!("{w}-{i}"))) {
                            Ok(_) => break,
                            Err(WikiError::Stale { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let history = s.history(&p).unwrap();
    assert_eq!(history.len(), 1 + WRITERS * EACH);
    let mut contents: Vec<String> = (2..=history.len() as u32)
        .map(|n| s.revision(&p, n).unwrap().content)
        .collect();
    contents.sort();
    contents.dedup();
    assert_eq!(
        contents.len(),
        WRITERS * EACH,
        "every edit is a revision of its own"
    );
}

pub fn text_comes_back_as_it_was_written(s: &dyn WikiStore) {
    let text = "# 孫子\n\n<b>bold</b> & \"quoted\" — 🐉\r\nline two\n";
    s.save(&path("u"), None, rev("孫子 & <co>", text)).unwrap();
    let (info, current) = s.page(&path("u")).unwrap().unwrap();
    assert_eq!(info.title, "孫子 & <co>");
    assert_eq!(current.content, text);
}

pub fn search_finds_current_pages_and_ranks_titles_first(s: &dyn WikiStore) {
    s.save(
        &path("terrain"),
        None,
        rev("Terrain", "Six kinds of ground."),
    )
    .unwrap();
    s.save(
        &path("war"),
        None,
        rev("War", "Know the terrain and the weather."),
    )
    .unwrap();
    s.save(&path("spies"), None, rev("Spies", "Five kinds of spies."))
        .unwrap();
    s.save(&path("old"), None, rev("Old", "It spoke of terrain once."))
        .unwrap();
    s.save(&path("old"), Some(1), rev("Old", "Nothing here now."))
        .unwrap();
    let paths = |q: &str| -> Vec<String> {
        s.search(q, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.path.to_string())
            .collect()
    };
    assert_eq!(
        paths("TERRAIN"),
        ["terrain", "war"],
        "the title first; current text only"
    );
    let mut kinds = paths("kinds");
    kinds.sort();
    assert_eq!(kinds, ["spies", "terrain"], "equal ranks, in either order");
    assert_eq!(paths("kinds -spies"), ["terrain"]);
    assert_eq!(paths("\"six kinds\""), ["terrain"]);
    assert_eq!(paths("weather or spies"), ["spies", "war"]);
    assert!(paths("nowhere").is_empty());
    assert!(paths("").is_empty());
    assert_eq!(s.search("kinds", 1).unwrap().len(), 1);
    let hit = &s.search("weather", 10).unwrap()[0];
    assert!(
        hit.snippet
            .contains(&format!("{MARK_START}weather{MARK_END}")),
        "{:?}",
        hit.snippet
    );
}

pub fn recent_changes_list_every_revision_newest_first(s: &dyn WikiStore) {
    s.save(&path("a"), None, rev("A", "1")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.save(&path("b"), None, rev("B", "1")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.save(&path("a"), Some(1), rev("A2", "2")).unwrap();
    let changes: Vec<(String, u32)> = s
        .recent(0, 10)
        .unwrap()
        .into_iter()
        .map(|c| (c.path.to_string(), c.number))
        .collect();
    assert_eq!(changes, [("a".into(), 2), ("b".into(), 1), ("a".into(), 1)]);
    let page: Vec<u32> = s
        .recent(1, 1)
        .unwrap()
        .into_iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(page, [1]);
    assert_eq!(s.recent(0, 10).unwrap()[0].title, "A2");
    assert!(s.recent(3, 10).unwrap().is_empty());
}

pub fn revisions_are_counted_by_who_saved_them(s: &dyn WikiStore) {
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    s.save(&path("a"), None, rev("A", "1")).unwrap();
    s.save(&path("a"), Some(1), rev("A", "2")).unwrap();
    let mut anonymous = rev("B", "1");
    anonymous.author = None;
    anonymous.address = Some("192.0.2.1".into());
    s.save(&path("b"), None, anonymous).unwrap();
    assert_eq!(s.revisions_since(Some("sun"), None, hour_ago).unwrap(), 2);
    assert_eq!(s.revisions_since(Some("ann"), None, hour_ago).unwrap(), 0);
    assert_eq!(
        s.revisions_since(None, Some("192.0.2.1"), hour_ago)
            .unwrap(),
        1
    );
    assert_eq!(
        s.revisions_since(None, Some("192.0.2.9"), hour_ago)
            .unwrap(),
        0
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(s.revisions_since(Some("sun"), None, later).unwrap(), 0);
}

pub fn a_state_is_a_revision_and_saves_keep_it(s: &dyn WikiStore) {
    let p = path("orders");
    s.save(&p, None, rev("Orders", "march")).unwrap();
    assert_eq!(
        s.page(&p).unwrap().unwrap().0.state,
        PageState::default(),
        "a new page is shown and unlocked"
    );
    assert_eq!(
        s.save(&p, Some(1), with_state("Orders", "march", false, true))
            .unwrap(),
        2
    );
    // An edit that says nothing of the state keeps it.
    s.save(&p, Some(2), rev("Orders", "march on")).unwrap();
    let (info, current) = s.page(&p).unwrap().unwrap();
    assert!(info.state.locked && current.state.locked && !info.state.deleted);
    let states: Vec<(u32, bool)> = s
        .history(&p)
        .unwrap()
        .iter()
        .map(|h| (h.number, h.state.locked))
        .collect();
    assert_eq!(states, [(3, true), (2, true), (1, false)]);
    assert!(!s.revision(&p, 1).unwrap().state.locked);
    // A page can be made locked, and unlocked again.
    let q = path("edicts");
    s.save(&q, None, with_state("Edicts", "x", false, true))
        .unwrap();
    assert!(s.page(&q).unwrap().unwrap().0.state.locked);
    s.save(&q, Some(1), with_state("Edicts", "x", false, false))
        .unwrap();
    assert!(!s.page(&q).unwrap().unwrap().0.state.locked);
}

pub fn deleted_pages_are_kept_but_hidden(s: &dyn WikiStore) {
    let (parent, child) = (path("terrain"), path("terrain/marsh"));
    s.save(&parent, None, rev("Terrain", "ground")).unwrap();
    s.save(&child, None, rev("Marsh", "wet ground")).unwrap();
    s.save(
        &child,
        Some(1),
        with_state("Marsh", "wet ground", true, false),
    )
    .unwrap();
    let (info, current) = s.page(&child).unwrap().expect("kept");
    assert!(info.state.deleted && current.state.deleted);
    assert_eq!((info.revision, current.content.as_str()), (2, "wet ground"));
    assert_eq!(s.history(&child).unwrap().len(), 2);
    assert!(s.children(&parent).unwrap().is_empty(), "not a child");
    assert_eq!(
        s.existing(&[child.clone(), parent.clone()]).unwrap(),
        vec![parent.clone()]
    );
    let found: Vec<String> = s
        .search("ground", 10)
        .unwrap()
        .into_iter()
        .map(|h| h.path.to_string())
        .collect();
    assert_eq!(found, ["terrain"], "not found");
    assert!(matches!(
        s.save(&child, None, rev("Marsh", "again")),
        Err(WikiError::Exists)
    ));
    // Restored: everything as it was, one revision more.
    s.save(
        &child,
        Some(2),
        with_state("Marsh", "wet ground", false, false),
    )
    .unwrap();
    assert_eq!(s.children(&parent).unwrap()[0].path, child);
    assert_eq!(
        s.existing(std::slice::from_ref(&child)).unwrap(),
        vec![child.clone()]
    );
    assert_eq!(s.search("wet", 10).unwrap().len(), 1);
    assert_eq!(s.page(&child).unwrap().unwrap().0.revision, 3);
}

pub fn pages_are_listed_by_filter_with_a_total(s: &dyn WikiStore) {
    for (p, title) in [
        ("", "Home"),
        ("spies", "The Use of Spies"),
        ("spies/local", "Local spies"),
        ("fire", "Attack by Fire"),
    ] {
        s.save(&WikiPath::parse(p).unwrap(), None, rev(title, "text"))
            .unwrap();
    }
    s.save(
        &path("fire"),
        Some(1),
        with_state("Attack by Fire", "text", true, false),
    )
    .unwrap();
    s.save(
        &path("spies/local"),
        Some(1),
        with_state("Local spies", "text", false, true),
    )
    .unwrap();
    let listed = |filter: PageFilter, offset, limit| {
        let (pages, total) = s.pages(&filter, offset, limit).unwrap();
        let paths: Vec<String> = pages.iter().map(|p| p.path.to_string()).collect();
        (paths, total)
    };
    assert_eq!(
        listed(PageFilter::default(), 0, 10),
        (
            vec![
                "".into(),
                "fire".into(),
                "spies".into(),
                "spies/local".into()
            ],
            4
        )
    );
    assert_eq!(
        listed(PageFilter::default(), 1, 2),
        (vec!["fire".into(), "spies".into()], 4)
    );
    let contains = |text: &str| PageFilter {
        contains: Some(text.into()),
        ..PageFilter::default()
    };
    // In the path or the title, whatever the case; LIKE's wildcards are plain characters.
    assert_eq!(listed(contains("SPIES"), 0, 10).1, 2);
    assert_eq!(listed(contains("use of"), 0, 10).0, ["spies"]);
    assert_eq!(listed(contains("%"), 0, 10).1, 0);
    assert_eq!(listed(contains("_"), 0, 10).1, 0);
    let deleted = PageFilter {
        deleted: Some(true),
        ..PageFilter::default()
    };
    assert_eq!(listed(deleted, 0, 10), (vec!["fire".into()], 1));
    let locked = PageFilter {
        locked: Some(true),
        deleted: Some(false),
        ..PageFilter::default()
    };
    assert_eq!(listed(locked, 0, 10), (vec!["spies/local".into()], 1));
    assert_eq!(listed(PageFilter::default(), 10, 10), (vec![], 4));
}

pub fn an_import_loads_all_or_nothing_and_twice_adds_nothing(s: &dyn WikiStore) {
    s.save(&path("kept"), None, rev("Kept", "as it was"))
        .unwrap();
    let batch = || {
        vec![
            (WikiPath::root(), rev("Home", "welcome\n")),
            (path("kept"), rev("Kept", "as it was")),
            (
                path("plans/nine"),
                with_state("Nine", "grounds", false, true),
            ),
        ]
    };
    assert_eq!(
        s.import(batch()).unwrap(),
        Imported {
            created: 2,
            changed: 0,
            unchanged: 1
        }
    );
    assert!(s.page(&path("plans/nine")).unwrap().unwrap().0.state.locked);
    assert_eq!(
        s.import(batch()).unwrap(),
        Imported {
            created: 0,
            changed: 0,
            unchanged: 3
        },
        "twice adds nothing"
    );
    assert_eq!(s.history(&path("kept")).unwrap().len(), 1);
    assert_eq!(s.recent(0, 100).unwrap().len(), 3);

    // One page refused: nothing of the batch lands, and the error names it.
    let mut changed = batch();
    changed[0].1.content = "welcome home\n".into();
    let mut refused = changed.clone();
    refused.push((path("z"), rev(&"t".repeat(MAX_TITLE + 1), "x")));
    match s.import(refused) {
        Err(WikiError::Invalid { field, reason }) => {
            assert_eq!(field, "title");
            assert!(reason.contains("/wiki/z/"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let mut twice = changed.clone();
    twice.push((path("kept"), rev("Kept", "other")));
    assert!(matches!(
        s.import(twice),
        Err(WikiError::Invalid { field: "path", .. })
    ));
    assert_eq!(
        s.page(&WikiPath::root()).unwrap().unwrap().1.content,
        "welcome\n"
    );
    assert!(s.page(&path("z")).unwrap().is_none());

    // A change is a new revision on top; a state left out stays.
    changed[2].1.state = None;
    changed[2].1.content = "nine grounds".into();
    assert_eq!(
        s.import(changed).unwrap(),
        Imported {
            created: 0,
            changed: 2,
            unchanged: 1
        }
    );
    let (info, current) = s.page(&path("plans/nine")).unwrap().unwrap();
    assert_eq!(
        (info.revision, current.content.as_str()),
        (2, "nine grounds")
    );
    assert!(info.state.locked);
    assert_eq!(s.page(&WikiPath::root()).unwrap().unwrap().0.revision, 2);
}
