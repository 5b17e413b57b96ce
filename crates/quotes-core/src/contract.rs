//! The contract every [`QuoteStore`] keeps, as one suite that each backend runs with its own
//! constructor:
//!
//! ```text
//! quotes_core::quote_store_contract!(quotes_store_memory::MemoryStore::default());
//! ```
//!
//! A new backend is done when it passes this suite unchanged.

use std::collections::HashSet;

use chrono::Utc;

use crate::{
    Cursor, Listing, NewQuote, PageRequest, QuoteId, QuoteOrder, QuoteQuery, QuoteStore, StoreError,
};

/// Expands to one `#[test]` per contract case; `$make` is evaluated afresh for each test and
/// must give something that derefs to a `QuoteStore` (a store, `Box` or `Arc`).
#[macro_export]
macro_rules! quote_store_contract {
    ($make:expr) => {
        $crate::quote_store_contract!(@cases $make;
            empty_store,
            insert_then_get_round_trips,
            ids_are_distinct,
            list_pages_in_id_order,
            count_follows_inserts_and_deletes,
            update_keeps_id_and_creation_time,
            update_into_another_quotes_key_conflicts,
            delete_removes,
            duplicate_insert_conflicts,
            get_or_create_all_is_idempotent,
            get_or_create_all_leaves_existing_untouched,
            pick_is_stable_and_reaches_every_quote,
            concurrent_inserts,
            concurrent_get_or_create_all,
            unicode_round_trips,
            length_limits_round_trip,
            ping_answers,
            get_or_create_all_returns_what_it_added,
            update_if_writes_only_over_what_was_read,
            search_finds_by_any_field_ignoring_case,
            search_filters_by_author_and_source,
            search_orders_and_pages,
            authors_and_sources_are_tallied,
            search_folds_every_letter_not_only_ascii,
            list_pages_from_either_end_with_gaps,
            list_from_pages_by_keyset,
            stats_follow_every_write_and_only_writes,
            pick_skips_gaps_in_the_ids,
            listing_reads_stats_page_and_pick_together
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

fn nq(text: &str, author: &str) -> NewQuote {
    NewQuote::parse(text, author, None).expect("valid test quote")
}

fn page(n: u32, per: u32) -> PageRequest {
    PageRequest::new(n, per).expect("valid page")
}

pub fn empty_store(s: &dyn QuoteStore) {
    assert_eq!(s.count().unwrap(), 0);
    let p = s.list(page(1, 10)).unwrap();
    assert!(p.items.is_empty());
    assert_eq!(p.total, 0);
    assert!(s.pick(0).unwrap().is_none());
    assert!(s.pick(u64::MAX).unwrap().is_none());
    assert!(matches!(s.get(QuoteId(1)), Err(StoreError::NotFound)));
    assert!(matches!(s.delete(QuoteId(1)), Err(StoreError::NotFound)));
    assert!(matches!(
        s.update(QuoteId(1), nq("a", "b")),
        Err(StoreError::NotFound)
    ));
}

pub fn insert_then_get_round_trips(s: &dyn QuoteStore) {
    let before = Utc::now() - chrono::Duration::seconds(5);
    let new = NewQuote::parse(
        "All warfare is based on deception.",
        "Sun Tzu",
        Some("The Art of War"),
    )
    .unwrap();
    let stored = s.insert(new.clone()).unwrap();
    assert_eq!(stored.content(), new);
    assert!(
        stored.created_at >= before
            && stored.created_at <= Utc::now() + chrono::Duration::seconds(5)
    );
    assert_eq!(s.get(stored.id).unwrap(), stored);

    let without_source = s.insert(nq("Two\nlines", "Anon")).unwrap();
    assert_eq!(s.get(without_source.id).unwrap().source, None);
    assert_eq!(
        s.get(without_source.id).unwrap().text.as_str(),
        "Two\nlines"
    );
}

pub fn ids_are_distinct(s: &dyn QuoteStore) {
    let ids: HashSet<_> = (0..20)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    assert_eq!(ids.len(), 20);
}

pub fn list_pages_in_id_order(s: &dyn QuoteStore) {
    let ids: Vec<_> = (0..7)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    let mut seen = Vec::new();
    for (n, len) in [(1, 3), (2, 3), (3, 1)] {
        let p = s.list(page(n, 3)).unwrap();
        assert_eq!((p.page, p.per_page, p.total, p.items.len()), (n, 3, 7, len));
        seen.extend(p.items.iter().map(|q| q.id));
    }
    assert_eq!(
        seen, ids,
        "pages are in id order and cover every quote once"
    );
    let beyond = s.list(page(4, 3)).unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 7);
    assert!(s.list(page(u32::MAX, 1000)).unwrap().items.is_empty());
    assert_eq!(s.list(page(1, 1000)).unwrap().items.len(), 7);
}

pub fn count_follows_inserts_and_deletes(s: &dyn QuoteStore) {
    let a = s.insert(nq("a", "x")).unwrap();
    s.insert(nq("b", "x")).unwrap();
    assert_eq!(s.count().unwrap(), 2);
    s.delete(a.id).unwrap();
    assert_eq!(s.count().unwrap(), 1);
}

pub fn update_keeps_id_and_creation_time(s: &dyn QuoteStore) {
    let q = s.insert(nq("before", "x")).unwrap();
    let new = NewQuote::parse("after", "y", Some("z")).unwrap();
    let updated = s.update(q.id, new.clone()).unwrap();
    assert_eq!((updated.id, updated.created_at), (q.id, q.created_at));
    assert_eq!(updated.content(), new);
    assert_eq!(s.get(q.id).unwrap(), updated);
    // Updating a quote to its own key is no conflict.
    s.update(q.id, NewQuote::parse("after ", "y", None).unwrap())
        .unwrap();
}

pub fn update_into_another_quotes_key_conflicts(s: &dyn QuoteStore) {
    let a = s.insert(nq("a", "x")).unwrap();
    let b = s.insert(nq("b", "x")).unwrap();
    assert!(matches!(
        s.update(b.id, nq(" a ", "x")),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get(b.id).unwrap(), b, "a refused update changes nothing");
    assert_eq!(s.get(a.id).unwrap(), a);
}

pub fn delete_removes(s: &dyn QuoteStore) {
    let q = s.insert(nq("a", "x")).unwrap();
    s.delete(q.id).unwrap();
    assert!(matches!(s.get(q.id), Err(StoreError::NotFound)));
    assert!(matches!(s.delete(q.id), Err(StoreError::NotFound)));
    // The key is free again.
    s.insert(nq("a", "x")).unwrap();
}

pub fn duplicate_insert_conflicts(s: &dyn QuoteStore) {
    s.insert(nq("All  warfare\nis deception.", "Sun Tzu"))
        .unwrap();
    let dup = s.insert(nq("All warfare is deception.", " Sun   Tzu"));
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(s.count().unwrap(), 1);
    // Another author or another case is another quote.
    s.insert(nq("All warfare is deception.", "Anon")).unwrap();
    s.insert(nq("all warfare is deception.", "Sun Tzu"))
        .unwrap();
    assert_eq!(s.count().unwrap(), 3);
}

pub fn get_or_create_all_is_idempotent(s: &dyn QuoteStore) {
    let batch = vec![nq("a", "x"), nq("b", "x"), nq("a", "x"), nq("c", "y")];
    let first = s.get_or_create_all(&batch).unwrap();
    assert_eq!((first.added, first.existing), (3, 1));
    let again = s.get_or_create_all(&batch).unwrap();
    assert_eq!((again.added, again.existing), (0, 4));
    assert_eq!(s.count().unwrap(), 3);
    let spaced = s
        .get_or_create_all(&[nq(" a\n", "x "), nq("d", "x")])
        .unwrap();
    assert_eq!((spaced.added, spaced.existing), (1, 1));
    let empty = s.get_or_create_all(&[]).unwrap();
    assert_eq!((empty.added, empty.existing), (0, 0));
}

pub fn get_or_create_all_leaves_existing_untouched(s: &dyn QuoteStore) {
    let edited = s
        .insert(NewQuote::parse("a", "x", Some("edited by hand")).unwrap())
        .unwrap();
    s.get_or_create_all(&[NewQuote::parse("a", "x", Some("from the file")).unwrap()])
        .unwrap();
    assert_eq!(s.get(edited.id).unwrap(), edited);
}

pub fn pick_is_stable_and_reaches_every_quote(s: &dyn QuoteStore) {
    let ids: HashSet<_> = (0..5)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    for seed in [0, 1, 7, u64::MAX] {
        let a = s.pick(seed).unwrap().expect("a quote");
        assert_eq!(
            Some(a.clone()),
            s.pick(seed).unwrap(),
            "same seed, same quote"
        );
        assert!(ids.contains(&a.id));
    }
    let picked: HashSet<_> = (0..5)
        .map(|seed| s.pick(seed).unwrap().unwrap().id)
        .collect();
    assert_eq!(picked, ids, "five consecutive seeds reach all five quotes");
}

pub fn concurrent_inserts(s: &dyn QuoteStore) {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let ids: Vec<QuoteId> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| s.insert(nq(&format!("t{t} q{i}"), "a")).unwrap().id)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), THREADS * EACH);
    assert_eq!(s.count().unwrap(), (THREADS * EACH) as u64);
}

pub fn concurrent_get_or_create_all(s: &dyn QuoteStore) {
    let batch: Vec<_> = (0..30).map(|i| nq(&format!("shared {i}"), "a")).collect();
    let reports: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| s.get_or_create_all(&batch).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(s.count().unwrap(), 30, "each quote stored once");
    assert_eq!(reports.iter().map(|r| r.added).sum::<usize>(), 30);
    assert!(reports.iter().all(|r| r.added + r.existing == 30));
}

pub fn unicode_round_trips(s: &dyn QuoteStore) {
    for (text, author) in [
        ("兵者，詭道也。", "孫子"),
        ("Ünïcödé façade — “quoted” ‘marks’ 🐉🏯", "Zoë Ω"),
        ("مرحبا بالعالم", "עברית"),
        ("e\u{301} combining and zero\u{200b}width", "a\u{0308}"),
        ("<script>alert('x')</script> & \"amp\"", "O'Brien & Co"),
    ] {
        let q = s.insert(nq(text, author)).unwrap();
        let got = s.get(q.id).unwrap();
        assert_eq!((got.text.as_str(), got.author.as_str()), (text, author));
    }
}

pub fn length_limits_round_trip(s: &dyn QuoteStore) {
    let text = "兵".repeat(crate::QuoteText::MAX_CHARS);
    let author = "é".repeat(crate::Author::MAX_CHARS);
    let source = "s".repeat(crate::Source::MAX_CHARS);
    let q = s
        .insert(NewQuote::parse(&text, &author, Some(&source)).unwrap())
        .unwrap();
    let got = s.get(q.id).unwrap();
    assert_eq!(got.text.as_str(), text);
    assert_eq!(got.author.as_str(), author);
    assert_eq!(got.source.unwrap().as_str(), source);
}

pub fn ping_answers(s: &dyn QuoteStore) {
    s.ping().unwrap();
}

fn nqs(text: &str, author: &str, source: Option<&str>) -> NewQuote {
    NewQuote::parse(text, author, source).expect("valid test quote")
}

/// The texts of a search's page.
fn texts(s: &dyn QuoteStore, query: &QuoteQuery, p: PageRequest) -> Vec<String> {
    s.search(query, p)
        .expect("search")
        .items
        .into_iter()
        .map(|q| q.text.as_str().to_owned())
        .collect()
}

pub fn get_or_create_all_returns_what_it_added(s: &dyn QuoteStore) {
    s.insert(nq("already", "a")).unwrap();
    let report = s
        .get_or_create_all(&[nq("first", "a"), nq("already", "a"), nq("second", "b")])
        .unwrap();
    assert_eq!((report.added, report.existing), (2, 1));
    let added: Vec<&str> = report.new_quotes.iter().map(|q| q.text.as_str()).collect();
    assert_eq!(added, ["first", "second"], "the new quotes, in batch order");
    for q in &report.new_quotes {
        assert_eq!(&s.get(q.id).unwrap(), q, "as stored");
    }
    assert!(s
        .get_or_create_all(&[nq("first", "a")])
        .unwrap()
        .new_quotes
        .is_empty());
}

pub fn update_if_writes_only_over_what_was_read(s: &dyn QuoteStore) {
    let q = s.insert(nqs("original", "a", Some("src"))).unwrap();
    let read = q.content();
    let edited = s.update_if(q.id, &read, nq("edited", "a")).unwrap();
    assert_eq!(edited.text.as_str(), "edited");
    assert_eq!((edited.id, edited.created_at), (q.id, q.created_at));
    // A second change based on the first read is stale: nothing is written.
    let err = s.update_if(q.id, &read, nq("clobbered", "a")).unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    assert_eq!(s.get(q.id).unwrap().text.as_str(), "edited");
    // The source takes part: a read without it is not the stored quote.
    let other = s.insert(nqs("with source", "b", Some("s"))).unwrap();
    let err = s
        .update_if(other.id, &nq("with source", "b"), nq("x", "b"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    let err = s
        .update_if(QuoteId(999_999), &read, nq("x", "a"))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // The key rule still holds.
    let err = s
        .update_if(other.id, &other.content(), nq("edited", "a"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

pub fn search_finds_by_any_field_ignoring_case(s: &dyn QuoteStore) {
    s.insert(nqs(
        "All warfare is based on deception.",
        "Sun Tzu",
        Some("Art of War"),
    ))
    .unwrap();
    s.insert(nqs("Know yourself.", "Socrates", None)).unwrap();
    s.insert(nqs("100% sure_thing", "Nobody", Some("WARP drive")))
        .unwrap();
    let contains = |needle: &str| QuoteQuery {
        contains: Some(needle.to_owned()),
        ..QuoteQuery::default()
    };
    let all = page(1, 50);
    assert_eq!(
        texts(s, &contains("DECEPTION"), all),
        ["All warfare is based on deception."]
    );
    assert_eq!(texts(s, &contains("socr"), all), ["Know yourself."]);
    assert_eq!(
        texts(s, &contains("war"), all),
        ["All warfare is based on deception.", "100% sure_thing"],
        "text and source both count"
    );
    // LIKE's wildcards are plain text here.
    assert_eq!(texts(s, &contains("0% s"), all), ["100% sure_thing"]);
    assert!(texts(s, &contains("%"), all).len() == 1);
    assert!(texts(s, &contains("_"), all).len() == 1);
    assert!(texts(s, &contains("nowhere"), all).is_empty());
    assert_eq!(s.search(&contains("o"), page(1, 1)).unwrap().total, 3);
}

pub fn search_filters_by_author_and_source(s: &dyn QuoteStore) {
    s.insert(nqs("one", "Sun Tzu", Some("Art of War"))).unwrap();
    s.insert(nqs("two", "Sun Tzu", None)).unwrap();
    s.insert(nqs("three", "Sun Tzu jr", Some("Art of War")))
        .unwrap();
    let all = page(1, 50);
    let by = |author: Option<&str>, source: Option<Option<&str>>| QuoteQuery {
        author: author.map(str::to_owned),
        source: source.map(|s| s.map(str::to_owned)),
        ..QuoteQuery::default()
    };
    assert_eq!(
        texts(s, &by(Some("Sun Tzu"), None), all),
        ["one", "two"],
        "exactly"
    );
    assert_eq!(
        texts(s, &by(None, Some(Some("Art of War"))), all),
        ["one", "three"]
    );
    assert_eq!(texts(s, &by(None, Some(None)), all), ["two"], "no source");
    assert_eq!(
        texts(s, &by(Some("Sun Tzu"), Some(Some("Art of War"))), all),
        ["one"]
    );
    let both = QuoteQuery {
        contains: Some("wo".into()),
        author: Some("Sun Tzu".into()),
        ..QuoteQuery::default()
    };
    assert_eq!(texts(s, &both, all), ["two"]);
}

pub fn search_orders_and_pages(s: &dyn QuoteStore) {
    s.insert(nqs("b text", "zeta", Some("m"))).unwrap();
    s.insert(nqs("C text", "alpha", None)).unwrap();
    s.insert(nqs("a text", "Beta", Some("k"))).unwrap();
    s.insert(nqs("d text", "alpha", Some("z"))).unwrap();
    let all = page(1, 50);
    let order = |order, descending| QuoteQuery {
        order,
        descending,
        ..QuoteQuery::default()
    };
    assert_eq!(
        texts(s, &order(QuoteOrder::Id, false), all),
        ["b text", "C text", "a text", "d text"]
    );
    assert_eq!(
        texts(s, &order(QuoteOrder::Text, false), all),
        ["a text", "b text", "C text", "d text"],
        "ignoring case"
    );
    assert_eq!(
        texts(s, &order(QuoteOrder::Author, false), all),
        ["C text", "d text", "a text", "b text"],
        "ties by id"
    );
    assert_eq!(
        texts(s, &order(QuoteOrder::Author, true), all),
        ["b text", "a text", "d text", "C text"],
        "descending reverses it all"
    );
    assert_eq!(
        texts(s, &order(QuoteOrder::Source, false), all),
        ["C text", "a text", "b text", "d text"],
        "no source first"
    );
    assert_eq!(
        texts(s, &order(QuoteOrder::Created, true), all)[0],
        "d text"
    );
    let second = s
        .search(&order(QuoteOrder::Text, false), page(2, 3))
        .unwrap();
    assert_eq!(second.total, 4);
    assert_eq!(
        second
            .items
            .iter()
            .map(|q| q.text.as_str())
            .collect::<Vec<_>>(),
        ["d text"]
    );
}

pub fn authors_and_sources_are_tallied(s: &dyn QuoteStore) {
    assert!(s.authors().unwrap().is_empty() && s.sources().unwrap().is_empty());
    s.insert(nqs("1", "Sun Tzu", Some("Art of War"))).unwrap();
    s.insert(nqs("2", "Sun Tzu", None)).unwrap();
    s.insert(nqs("3", "Laozi", Some("Art of War"))).unwrap();
    s.insert(nqs("4", "Laozi", Some("Tao Te Ching"))).unwrap();
    let own = |v: Vec<(&str, u64)>| -> Vec<(String, u64)> {
        v.into_iter().map(|(s, n)| (s.to_owned(), n)).collect()
    };
    assert_eq!(
        s.authors().unwrap(),
        own(vec![("Laozi", 2), ("Sun Tzu", 2)])
    );
    assert_eq!(
        s.sources().unwrap(),
        own(vec![("Art of War", 2), ("Tao Te Ching", 1)])
    );
}

pub fn search_folds_every_letter_not_only_ascii(s: &dyn QuoteStore) {
    s.insert(nqs("Le cœur a ses raisons.", "Émile Zola", None))
        .unwrap();
    s.insert(nqs("Zebra.", "zed", None)).unwrap();
    let contains = QuoteQuery {
        contains: Some("ÉMILE".into()),
        ..QuoteQuery::default()
    };
    assert_eq!(texts(s, &contains, page(1, 10)), ["Le cœur a ses raisons."]);
    let by_author = QuoteQuery {
        order: QuoteOrder::Author,
        ..QuoteQuery::default()
    };
    assert_eq!(
        texts(s, &by_author, page(1, 10)),
        ["Zebra.", "Le cœur a ses raisons."],
        "lower-cased, then by code point: z before é"
    );
}

pub fn list_pages_from_either_end_with_gaps(s: &dyn QuoteStore) {
    let mut ids: Vec<_> = (0..13)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    // Gaps in the ids, at the start, in the middle and at the end.
    for at in [12, 6, 0] {
        s.delete(ids.remove(at)).unwrap();
    }
    let mut seen = Vec::new();
    for (n, len) in [(1, 3), (2, 3), (3, 3), (4, 1)] {
        let p = s.list(page(n, 3)).unwrap();
        assert_eq!((p.total, p.items.len()), (10, len), "page {n}");
        seen.extend(p.items.iter().map(|q| q.id));
    }
    assert_eq!(seen, ids, "pages near either end and in between agree");
    let p = s.list(page(2, 4)).unwrap();
    assert_eq!(p.items.iter().map(|q| q.id).collect::<Vec<_>>(), ids[4..8]);
    assert!(s.list(page(5, 3)).unwrap().items.is_empty());
}

pub fn list_from_pages_by_keyset(s: &dyn QuoteStore) {
    let ids: Vec<_> = (0..7)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    let from = |cursor, per| -> Vec<QuoteId> {
        s.list_from(cursor, per)
            .unwrap()
            .into_iter()
            .map(|q| q.id)
            .collect()
    };
    assert_eq!(from(Cursor::After(ids[2]), 3), ids[3..6]);
    assert_eq!(from(Cursor::After(ids[5]), 3), ids[6..]);
    assert_eq!(from(Cursor::After(ids[6]), 3), []);
    assert_eq!(from(Cursor::After(QuoteId(i64::MIN)), 2), ids[..2]);
    assert_eq!(from(Cursor::Before(ids[3]), 3), ids[..3], "in id order");
    assert_eq!(from(Cursor::Before(ids[1]), 3), ids[..1]);
    assert_eq!(from(Cursor::Before(ids[0]), 3), []);
    assert_eq!(from(Cursor::Before(QuoteId(i64::MAX)), 2), ids[5..]);
    // A cursor need not be a quote that still exists.
    s.delete(ids[3]).unwrap();
    assert_eq!(from(Cursor::After(ids[3]), 2), ids[4..6]);
    assert_eq!(from(Cursor::Before(ids[3]), 2), ids[1..3]);
}

pub fn stats_follow_every_write_and_only_writes(s: &dyn QuoteStore) {
    let empty = s.stats().unwrap();
    assert_eq!(empty.count, 0);
    let a = s.insert(nq("a", "x")).unwrap();
    let one = s.stats().unwrap();
    assert_eq!(one.count, 1);
    assert!(
        one.generation > empty.generation,
        "an insert moves the version"
    );
    assert_eq!(one.epoch, empty.epoch, "one store, one epoch");
    assert!(one.changed_at.is_some());
    assert!(one.changed_at >= empty.changed_at);

    // Reads and writes that change nothing leave the version.
    s.get(a.id).unwrap();
    s.list(page(1, 10)).unwrap();
    s.pick(3).unwrap();
    s.get_or_create_all(&[nq("a", "x")]).unwrap();
    assert!(s.delete(QuoteId(a.id.0 + 1000)).is_err());
    assert!(matches!(
        s.update_if(a.id, &nq("not", "this"), nq("b", "x")),
        Err(StoreError::Stale)
    ));
    assert!(s.insert(nq("a", "x")).is_err());
    assert_eq!(s.stats().unwrap(), one, "nothing changed, nothing moved");

    let mut last = one;
    let mut moved = |what: &str, count: u64| {
        let now = s.stats().unwrap();
        assert!(now.generation > last.generation, "{what} moves the version");
        assert_eq!(now.count, count, "{what}");
        assert!(now.changed_at >= last.changed_at, "{what}");
        last = now;
    };
    s.update(a.id, nq("a2", "x")).unwrap();
    moved("an update", 1);
    s.update_if(a.id, &nq("a2", "x"), nq("a3", "x")).unwrap();
    moved("an update_if", 1);
    s.get_or_create_all(&[nq("a3", "x"), nq("b", "x"), nq("c", "x")])
        .unwrap();
    moved("a load that adds", 3);
    s.delete(a.id).unwrap();
    moved("a delete", 2);
    assert_eq!(s.count().unwrap(), 2);
}

pub fn pick_skips_gaps_in_the_ids(s: &dyn QuoteStore) {
    let ids: Vec<_> = (0..6)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    for gone in [&ids[0], &ids[2], &ids[3], &ids[5]] {
        s.delete(*gone).unwrap();
    }
    let picked: HashSet<_> = (0..20)
        .map(|seed| s.pick(seed).unwrap().expect("a quote").id)
        .collect();
    assert_eq!(picked, HashSet::from([ids[1], ids[4]]));
}

pub fn listing_reads_stats_page_and_pick_together(s: &dyn QuoteStore) {
    let ids: Vec<_> = (0..7)
        .map(|i| s.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    let ids_of = |l: &Listing| l.page.items.iter().map(|q| q.id).collect::<Vec<_>>();
    let by_number = s.listing(page(2, 3), None, 11).unwrap();
    assert_eq!(by_number.stats, s.stats().unwrap());
    assert_eq!(by_number.page, s.list(page(2, 3)).unwrap());
    assert_eq!(by_number.featured, s.pick(11).unwrap());
    let after = s
        .listing(page(2, 3), Some(Cursor::After(ids[1])), 11)
        .unwrap();
    assert_eq!(ids_of(&after), ids[2..5], "the cursor wins over the number");
    assert_eq!((after.page.page, after.page.total), (2, 7));
    let before = s
        .listing(page(2, 3), Some(Cursor::Before(ids[6])), 0)
        .unwrap();
    assert_eq!(ids_of(&before), ids[3..6]);
    // A cursor past the end (the quotes after it were deleted) falls back to the number.
    let stale = s
        .listing(page(3, 3), Some(Cursor::After(ids[6])), 0)
        .unwrap();
    assert_eq!(ids_of(&stale), ids[6..]);
    let empty_store_page = s.listing(page(9, 3), None, 0).unwrap();
    assert!(empty_store_page.page.is_out_of_range());
}
