//! Acceptance tests: the real `quotes` binary, used through headless Chromium as a person
//! would use the site, once on each store the build has.
//!
//! A scenario is an `async fn(Api, Browser)` in `scenarios.rs` plus one line below naming the
//! quotes it starts with. Screenshots go to `target/acceptance/<scenario>-<store>.png`.

mod harness;
mod scenarios;

/// Generates one test per scenario and store. This is the only place that checks the store
/// features, so every scenario runs unchanged on every store the build has.
macro_rules! scenarios {
    ($($scenario:ident($($fixture:expr),*);)*) => {
        /// Every scenario against the memory store, loaded by `quotes serve --load-quotes`.
        #[cfg(feature = "store-memory")]
        mod memory {
            use crate::harness::{self, Store};
            // The glob brings in the fixtures named in the list; the tests' names shadow the
            // scenario functions, which are called by path.
            use crate::scenarios::{self, *};

            fn store() -> Store {
                Store {
                    name: "memory",
                    database: None,
                }
            }

            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    let store = store();
                    let fixtures = [$($fixture),*];
                    let name = stringify!($scenario);
                    harness::run(store, name, &fixtures, scenarios::$scenario).await;
                }
            )*
        }

        /// Every scenario against a fresh PostgreSQL database of its own, loaded by
        /// `quotes load-quotes`. Needs TEST_DATABASE_URL, and fails without it.
        #[cfg(feature = "store-pg")]
        mod postgres {
            use crate::harness::{self, Store};
            use crate::scenarios::{self, *};

            fn store() -> Store {
                let db = quotes_store_pg::testing::TestDatabase::new();
                Store {
                    name: "postgres",
                    database: Some((db.url().to_owned(), Box::new(db))),
                }
            }

            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    // Creating the database blocks; it may wait on other tests' template lock.
                    let store = tokio::task::spawn_blocking(store)
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    let fixtures = [$($fixture),*];
                    let name = stringify!($scenario);
                    harness::run(store, name, &fixtures, scenarios::$scenario).await;
                }
            )*
        }
    };
}

scenarios! {
    home_shows_hello_and_a_stored_quote(SUN_TZU);
    walk_the_quotes_page_by_page(SUN_TZU);
    markup_in_a_quote_shows_as_plain_text(MARKUP);
    unknown_address_shows_404_with_a_way_home(SUN_TZU);
    stylesheet_applies_and_console_stays_clean(SUN_TZU);
}
