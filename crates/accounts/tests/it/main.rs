//! The accounts component in a real site on port 0, on each store, driven over HTTP as a
//! browser would (cookies kept, forms posted with their CSRF token).

mod helpers;
mod login;
mod password;
mod throttle;
