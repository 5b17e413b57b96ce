//! The quotes component's integration tests: the real server on port 0 with the quotes
//! component on each store, driven over HTTP.

mod api;
mod caching;
mod helpers;
mod pages;
mod start;
