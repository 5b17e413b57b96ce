//! Passwords: argon2id hashes in PHC format (through `password-auth`, never by hand), and
//! the rules a new password must pass, as Django's validators: long enough, not too close
//! to the username or email, not a common password, not all digits. Each refusal names its
//! rule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// How many password checks this process has run (to show that an unknown user costs one).
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many password checks (argon2 verifications) this process has run.
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::Relaxed)
}

/// A rule a new password broke, with Django's code for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.rule)
    }
}

/// How close a password may come to the username or email (Django's `max_similarity`).
const MAX_SIMILARITY: f64 = 0.7;

/// Every rule `password` breaks for a user with these names; none means it may be used.
pub fn check(password: &str, min_length: usize, names: &[&str]) -> Vec<Refusal> {
    let mut refused = Vec::new();
    let length = password.chars().count();
    if length < min_length {
        refused.push(Refusal {
            rule: "password_too_short",
            message: format!(
                "This password is too short: it must be at least {min_length} characters, not {length}."
            ),
        });
    }
    let lower = password.to_lowercase();
    let too_similar = names.iter().any(|name| {
        let name = name.to_lowercase();
        // The whole name and its parts (`ada.lovelace@example.org` → ada, lovelace, …).
        std::iter::once(name.as_str())
            .chain(name.split(|c: char| !c.is_alphanumeric()))
            .filter(|part| part.chars().count() >= 3)
            .any(|part| quick_ratio(&lower, part) >= MAX_SIMILARITY)
    });
    if too_similar {
        refused.push(Refusal {
            rule: "password_too_similar",
            message: "This password is too similar to the username or email.".into(),
        });
    }
    if passwords::analyzer::is_common_password(password)
        || passwords::analyzer::is_common_password(&lower)
    {
        refused.push(Refusal {
            rule: "password_too_common",
            message: "This password is too common.".into(),
        });
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        refused.push(Refusal {
            rule: "password_entirely_numeric",
            message: "This password is entirely numeric.".into(),
        });
    }
    refused
}

/// Python's `SequenceMatcher.quick_ratio`, which Django's similarity rule uses: twice the
/// characters the two share (as multisets) over their total length.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in b.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let mut shared = 0;
    for c in a.chars() {
        if let Some(n) = counts.get_mut(&c) {
            if *n > 0 {
                *n -= 1;
                shared += 1;
            }
        }
    }
    2.0 * shared as f64 / total as f64
}

/// An argon2id hash of `password` in PHC format, with a random salt.
pub fn hash(password: &str) -> String {
    password_auth::generate_hash(password)
}

/// Whether `password` matches `hash`. A malformed hash matches nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
    password_auth::verify_password(password, hash).is_ok()
}

/// Checks `password` against a hash nobody has, so that a login for an unknown user costs
/// the same hashing work as one for a known user and tells nothing by its timing.
pub fn verify_nobody(password: &str) {
    static NOBODY: OnceLock<String> = OnceLock::new();
    let hash = NOBODY.get_or_init(|| hash("nobody has this password"));
    let _ = verify(password, hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(password: &str, names: &[&str]) -> Vec<&'static str> {
        check(password, 10, names)
            .into_iter()
            .map(|r| r.rule)
            .collect()
    }

    #[test]
    fn each_refusal_names_its_rule() {
        assert_eq!(rules("Vq7!rmT2#pLx", &["ada"]), Vec::<&str>::new());
        assert_eq!(rules("short1!A", &[]), ["password_too_short"]);
        assert_eq!(
            rules("ada.lovelace!", &["ada.lovelace"]),
            ["password_too_similar"]
        );
        assert_eq!(
            rules("xK9!mq2Lv#", &["someone", "lovelace@example.org"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules("lovelace99x", &["ada", "lovelace@example.org"]),
            ["password_too_similar"]
        );
        assert_eq!(rules("password123", &[]), ["password_too_common"]);
        assert_eq!(
            rules("Password123", &[]),
            ["password_too_common"],
            "in any case"
        );
        assert_eq!(
            rules("1234567", &[]),
            [
                "password_too_short",
                "password_too_common",
                "password_entirely_numeric"
            ]
        );
        assert_eq!(rules("83749201637", &[]), ["password_entirely_numeric"]);
    }

    #[test]
    fn the_length_rule_follows_the_setting() {
        assert!(check("Vq7!rmT2", 8, &[]).is_empty());
        assert_eq!(
            check("Vq7!rmT2", 12, &[])[0].message,
            "This password is too short: it must be at least 12 characters, not 8."
        );
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(h, hash("correct horse battery staple"), "salted");
    }
}
