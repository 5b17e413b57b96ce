//! The components of the site, in order, as Django's INSTALLED_APPS lists apps. Each is a
//! Cargo feature of this crate (on by default); `[components] NAME = false` in the settings
//! (`QUOTES__COMPONENTS__NAME=false`) switches a compiled-in one off. Components start in
//! this order: a later one may use what an earlier one provides, and routes of earlier ones
//! are matched first.

use web::Component;

/// Every component compiled into this build.
pub fn installed() -> Vec<Box<dyn Component>> {
    vec![
        // First: who is signed in is known to every later component's pages.
        #[cfg(feature = "accounts")]
        Box::new(accounts::AccountsComponent),
        // It keeps the site's change history, where every component records.
        #[cfg(feature = "admin")]
        Box::new(admin::AdminComponent),
        // Before the components whose pages it keeps.
        #[cfg(feature = "cache")]
        Box::new(cache::CacheComponent),
        #[cfg(feature = "quotes")]
        Box::new(quotes_component::Quotes),
        #[cfg(feature = "wiki")]
        Box::new(wiki_adapter::WikiComponent),
        // `cargo xtask new-component NAME` adds its line above this one.
    ]
}
