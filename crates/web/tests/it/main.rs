//! The shell and the seam, with made-up components only: the real server on port 0,
//! driven over HTTP.

mod csrf;
mod helpers;
mod metrics;
mod seam;
mod shell;
mod start;
