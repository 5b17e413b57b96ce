//! The contract every [`ItemStore`] keeps, as one suite each backend runs with its own
//! constructor: `__name__::item_store_contract!(Box::new(MemoryStore::default()));`. A new
//! backend is done when it passes this suite unchanged.

use crate::{ItemStore, StoreError, MAX_TEXT};

/// One `#[test]` per case; `$make` is evaluated afresh for each test and must give something
/// that derefs to an `ItemStore` (a `Box`, or a test database that holds a store).
#[macro_export]
macro_rules! item_store_contract {
    ($make:expr) => {
        $crate::item_store_contract!(@cases $make;
            an_empty_store_has_nothing,
            added_items_come_back_newest_first,
            text_is_trimmed_and_checked_and_a_refused_item_adds_nothing,
            unicode_and_markup_come_back_unchanged,
            concurrent_adds_all_land,
            ping_answers
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

pub fn an_empty_store_has_nothing(s: &dyn ItemStore) {
    assert_eq!(s.count().unwrap(), 0);
    assert!(s.recent(10).unwrap().is_empty());
}

pub fn added_items_come_back_newest_first(s: &dyn ItemStore) {
    let first = s.add("first").unwrap();
    let second = s.add("second").unwrap();
    assert!(second.id > first.id, "ids grow: {first:?} {second:?}");
    let recent = s.recent(10).unwrap();
    assert_eq!(recent, vec![second.clone(), first]);
    assert_eq!(s.recent(1).unwrap(), vec![second]);
    assert_eq!(s.count().unwrap(), 2);
}

pub fn text_is_trimmed_and_checked_and_a_refused_item_adds_nothing(s: &dyn ItemStore) {
    assert_eq!(s.add("  padded \n").unwrap().text, "padded");
    for bad in ["", "   ", &"x".repeat(MAX_TEXT + 1)] {
        assert!(
            matches!(s.add(bad), Err(StoreError::Invalid(_))),
            "{bad:?} must be refused"
        );
    }
    assert_eq!(s.add(&"é".repeat(MAX_TEXT)).unwrap().text.chars().count(), MAX_TEXT);
    assert_eq!(s.count().unwrap(), 2);
}

pub fn unicode_and_markup_come_back_unchanged(s: &dyn ItemStore) {
    let text = "<b>bold</b> & \"quoted\" — 孫子 🐉";
    s.add(text).unwrap();
    assert_eq!(s.recent(1).unwrap()[0].text, text);
}

pub fn concurrent_adds_all_land(s: &dyn ItemStore) {
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..10 {
                    s.add(&format!("{t}-{i}")).unwrap();
                }
            });
        }
    });
    let items = s.recent(100).unwrap();
    assert_eq!(items.len(), 40);
    let mut ids: Vec<_> = items.iter().map(|i| i.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every item has an id of its own");
}

pub fn ping_answers(s: &dyn ItemStore) {
    s.ping().unwrap();
}
