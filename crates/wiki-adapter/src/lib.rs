//! wiki-adapter: the wiki, as a `web::Component` (its pages arrive with the wiki issue).
