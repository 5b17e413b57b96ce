//! Acceptance tests: the real `quotes` binary, used through headless Chromium as a person
//! would use the site, once on each store the build has.
//!
//! A scenario is an `async fn(Api, Browser)` in a module here (`scenarios.rs` holds the
//! quotes component's) plus one line below naming the quotes it starts with. Screenshots go
//! to `target/acceptance/<scenario>-<store>.png`.

#[cfg(feature = "accounts")]
mod accounts;
#[cfg(all(feature = "admin", feature = "quotes"))]
mod admin;
mod harness;
#[cfg(feature = "quotes")]
mod scenarios;
#[cfg(all(feature = "wiki", feature = "accounts"))]
mod wiki;

/// Generates one test per scenario and store. This is the only place that checks the store
/// and component features, so every scenario runs unchanged on every store the build has.
macro_rules! scenarios {
    ($($(#[$only:meta])* $module:ident::$scenario:ident($($fixture:expr),*);)*) => {
        /// Every scenario against the memory store, loaded by `quotes serve --load-quotes`.
        #[cfg(feature = "store-memory")]
        mod memory {
            use crate::harness::{self, Store};
            #[allow(unused_imports)]
            use crate::harness::Fixture;
            // The glob brings in the fixtures named in the list; the tests' names shadow the
            // scenario functions, which are called by path.
            #[cfg(feature = "quotes")]
            use crate::scenarios::*;

            fn store() -> Store {
                Store {
                    name: "memory",
                    database: None,
                }
            }

            $(
                $(#[$only])*
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    let store = store();
                    let fixtures: &[Fixture] = &[$($fixture),*];
                    let name = stringify!($scenario);
                    harness::run(store, name, fixtures, crate::$module::$scenario).await;
                }
            )*
        }

        /// Every scenario against a fresh PostgreSQL database of its own, loaded by
        /// `quotes load-quotes`. Needs TEST_DATABASE_URL, and fails without it.
        #[cfg(feature = "store-pg")]
        mod postgres {
            use crate::harness::{self, Store};
            #[allow(unused_imports)]
            use crate::harness::Fixture;
            #[cfg(feature = "quotes")]
            use crate::scenarios::*;

            /// An empty database; the harness runs `quotes migrate` on it, as a deploy does.
            fn store() -> Store {
                let db = db::testing::TestDatabase::empty(&[]);
                Store {
                    name: "postgres",
                    database: Some((db.url().to_owned(), Box::new(db))),
                }
            }

            $(
                $(#[$only])*
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    // Creating the database blocks; it may wait on other tests' template lock.
                    let store = tokio::task::spawn_blocking(store)
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    let fixtures: &[Fixture] = &[$($fixture),*];
                    let name = stringify!($scenario);
                    harness::run(store, name, fixtures, crate::$module::$scenario).await;
                }
            )*
        }
    };
}

scenarios! {
    #[cfg(feature = "quotes")]
    scenarios::home_shows_hello_and_a_stored_quote(SUN_TZU);
    #[cfg(feature = "quotes")]
    scenarios::walk_the_quotes_page_by_page(SUN_TZU);
    #[cfg(feature = "quotes")]
    scenarios::markup_in_a_quote_shows_as_plain_text(MARKUP);
    #[cfg(feature = "quotes")]
    scenarios::unknown_address_shows_404_with_a_way_home(SUN_TZU);
    #[cfg(feature = "quotes")]
    scenarios::stylesheet_applies_and_console_stays_clean(SUN_TZU);
    #[cfg(feature = "quotes")]
    scenarios::long_words_wrap_instead_of_scrolling_sideways(LONG_WORDS);
    #[cfg(feature = "accounts")]
    accounts::log_in_see_your_name_log_out();
    #[cfg(all(feature = "admin", feature = "quotes"))]
    admin::staff_manage_quotes_in_the_admin(SUN_TZU);
    #[cfg(all(feature = "wiki", feature = "accounts"))]
    wiki::wiki_red_link_leads_to_a_page_to_create();
    #[cfg(all(feature = "wiki", feature = "accounts"))]
    wiki::wiki_edits_from_two_browsers_conflict_or_merge();
    #[cfg(all(feature = "wiki", feature = "accounts"))]
    wiki::wiki_history_diff_revert_search_and_recent_changes();
    // `cargo xtask new-component NAME` adds its scenario above this line.
}
