//! The web crate's integration tests: the real server on port 0, driven over HTTP.

mod api;
mod helpers;
mod pages;
mod seam;
