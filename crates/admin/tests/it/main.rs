//! The admin in a real site on port 0 (with the accounts and quotes components), on each
//! store, driven over HTTP as a browser would.

mod access;
mod helpers;
mod quotes;
mod users;
mod wiki;
