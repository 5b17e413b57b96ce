//! The contracts every accounts store keeps (users, sessions, failed logins), as one suite
//! each backend runs with its own constructor:
//! `accounts::account_store_contract!(Box::new(MemoryStore::default()));`.

use chrono::{Duration, Utc};

use crate::store::{
    AccountStore, AccountsError, Email, Flags, NewUser, Profile, Session, UserId, Username,
};

/// One `#[test]` per case; `$make` is evaluated afresh for each test and must give something
/// that derefs to an `AccountStore`.
#[macro_export]
macro_rules! account_store_contract {
    ($make:expr) => {
        $crate::account_store_contract!(@cases $make;
            users_start_empty,
            users_round_trip,
            usernames_are_unique_regardless_of_case,
            find_ignores_case,
            passwords_flags_and_logins_change,
            changing_a_missing_user_is_not_found,
            concurrent_creates_of_one_name_make_one_user,
            sessions_round_trip_and_touch,
            a_session_needs_its_user,
            deleting_a_users_sessions_can_keep_one,
            expired_and_idle_sessions_are_purged,
            failures_are_counted_per_key_and_cleared,
            racing_attempts_never_all_pass,
            logins_and_sessions_of_missing_or_duplicate_things_are_refused,
            profiles_change_only_over_what_was_read,
            deleting_a_user_ends_their_sessions
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let store = $make;
                $crate::contract::$case(&*store);
            }
        )*
    };
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).expect("a valid test username"),
        email: Email::parse_optional(&format!("{name}@example.org")).expect("a valid email"),
        password_hash: format!("hash-of-{name}"),
        flags: Flags {
            is_active: true,
            ..Flags::default()
        },
    }
}

fn session(key: &str, user: UserId, minutes_left: i64) -> Session {
    let now = Utc::now();
    Session {
        key_digest: key.to_owned(),
        user_id: user,
        created_at: now,
        last_seen: now,
        expires_at: now + Duration::minutes(minutes_left),
    }
}

pub fn users_start_empty(s: &dyn AccountStore) {
    assert!(s.list().unwrap().is_empty());
    assert!(s.find("nobody").unwrap().is_none());
    assert!(matches!(s.get(UserId(1)), Err(AccountsError::NotFound)));
    s.ping().unwrap();
}

pub fn users_round_trip(s: &dyn AccountStore) {
    let ada = s.create(new_user("Ada")).unwrap();
    assert_eq!(ada.username.as_str(), "Ada");
    assert_eq!(ada.email.as_ref().unwrap().as_str(), "Ada@example.org");
    assert_eq!(ada.password_hash, "hash-of-Ada");
    assert!(ada.flags.is_active && !ada.flags.is_staff && !ada.flags.is_superuser);
    assert_eq!(ada.last_login, None);
    assert_eq!(s.get(ada.id).unwrap(), ada);
    let mut no_email = new_user("grace");
    no_email.email = None;
    let grace = s.create(no_email).unwrap();
    assert_eq!(grace.email, None);
    assert_eq!(s.list().unwrap(), vec![ada, grace]);
}

pub fn usernames_are_unique_regardless_of_case(s: &dyn AccountStore) {
    s.create(new_user("ada")).unwrap();
    for taken in ["ada", "ADA", "Ada"] {
        assert!(
            matches!(s.create(new_user(taken)), Err(AccountsError::Taken(ref n)) if n == taken),
            "{taken}"
        );
    }
    assert_eq!(s.list().unwrap().len(), 1, "nothing added");
}

pub fn find_ignores_case(s: &dyn AccountStore) {
    let ada = s.create(new_user("Ada.L")).unwrap();
    assert_eq!(s.find("ada.l").unwrap(), Some(ada.clone()));
    assert_eq!(s.find(" ADA.L ").unwrap(), Some(ada));
    assert_eq!(s.find("ada").unwrap(), None);
}

pub fn passwords_flags_and_logins_change(s: &dyn AccountStore) {
    let ada = s.create(new_user("ada")).unwrap();
    s.set_password(ada.id, "new-hash").unwrap();
    let staff = Flags {
        is_active: true,
        is_staff: true,
        is_superuser: true,
    };
    assert_eq!(s.set_flags(ada.id, staff).unwrap().flags, staff);
    let at = Utc::now();
    s.record_login(ada.id, at).unwrap();
    let again = s.get(ada.id).unwrap();
    assert_eq!(again.password_hash, "new-hash");
    assert_eq!(again.flags, staff);
    let seen = again.last_login.unwrap();
    assert!((seen - at).num_milliseconds().abs() < 1, "{seen} vs {at}");
    assert_eq!(again.date_joined, ada.date_joined);
}

pub fn changing_a_missing_user_is_not_found(s: &dyn AccountStore) {
    let missing = UserId(999_999);
    assert!(matches!(
        s.set_password(missing, "h"),
        Err(AccountsError::NotFound)
    ));
    assert!(matches!(
        s.set_flags(missing, Flags::default()),
        Err(AccountsError::NotFound)
    ));
}

pub fn concurrent_creates_of_one_name_make_one_user(s: &dyn AccountStore) {
    let made: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn(move || {
                    s.create(new_user(if i % 2 == 0 { "twin" } else { "TWIN" }))
                        .is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(made.iter().filter(|ok| **ok).count(), 1, "{made:?}");
    assert_eq!(s.list().unwrap().len(), 1);
}

pub fn sessions_round_trip_and_touch(s: &dyn AccountStore) {
    let ada = s.create(new_user("ada")).unwrap();
    let mut one = session("digest-1", ada.id, 60);
    s.create_session(one.clone()).unwrap();
    let stored = s.session("digest-1").unwrap().unwrap();
    assert_eq!(stored.user_id, ada.id);
    assert!(
        (stored.expires_at - one.expires_at)
            .num_milliseconds()
            .abs()
            < 1
    );
    let later = Utc::now() + Duration::minutes(5);
    s.touch_session("digest-1", later).unwrap();
    one.last_seen = s.session("digest-1").unwrap().unwrap().last_seen;
    assert!((one.last_seen - later).num_milliseconds().abs() < 1);
    s.delete_session("digest-1").unwrap();
    assert_eq!(s.session("digest-1").unwrap(), None);
    s.delete_session("digest-1").unwrap();
    s.touch_session("digest-1", later).unwrap();
}

pub fn a_session_needs_its_user(s: &dyn AccountStore) {
    assert!(matches!(
        s.create_session(session("orphan", UserId(424_242), 60)),
        Err(AccountsError::NotFound)
    ));
    assert_eq!(s.session("orphan").unwrap(), None);
}

pub fn deleting_a_users_sessions_can_keep_one(s: &dyn AccountStore) {
    let ada = s.create(new_user("ada")).unwrap();
    let bob = s.create(new_user("bob")).unwrap();
    for key in ["a1", "a2", "a3"] {
        s.create_session(session(key, ada.id, 60)).unwrap();
    }
    s.create_session(session("b1", bob.id, 60)).unwrap();
    assert_eq!(s.delete_sessions_of(ada.id, Some("a2")).unwrap(), 2);
    assert!(s.session("a1").unwrap().is_none() && s.session("a3").unwrap().is_none());
    assert!(s.session("a2").unwrap().is_some(), "the kept one");
    assert!(s.session("b1").unwrap().is_some(), "another user's");
    assert_eq!(s.delete_sessions_of(ada.id, None).unwrap(), 1);
    assert!(s.session("a2").unwrap().is_none());
}

pub fn expired_and_idle_sessions_are_purged(s: &dyn AccountStore) {
    let ada = s.create(new_user("ada")).unwrap();
    let now = Utc::now();
    s.create_session(session("fresh", ada.id, 60)).unwrap();
    s.create_session(session("expired", ada.id, -1)).unwrap();
    let mut idle = session("idle", ada.id, 60);
    idle.last_seen = now - Duration::hours(3);
    s.create_session(idle).unwrap();
    assert_eq!(s.purge_sessions(now, now - Duration::hours(1)).unwrap(), 2);
    assert!(s.session("fresh").unwrap().is_some());
    assert!(s.session("expired").unwrap().is_none());
    assert!(s.session("idle").unwrap().is_none());
}

pub fn failures_are_counted_per_key_and_cleared(s: &dyn AccountStore) {
    let now = Utc::now();
    let keys = ["user:ada".to_owned(), "addr:192.0.2.1".to_owned()];
    let old = s
        .record_attempt(&keys, now - Duration::minutes(20))
        .unwrap();
    assert_eq!(old.len(), 2, "one attempt a key");
    s.record_attempt(&keys, now - Duration::minutes(2)).unwrap();
    let last = s
        .record_attempt(&keys[..1], now - Duration::minutes(1))
        .unwrap();
    let since = now - Duration::minutes(15);
    assert_eq!(s.failures_since("user:ada", since).unwrap().len(), 2);
    assert_eq!(s.failures_since("addr:192.0.2.1", since).unwrap().len(), 1);
    let times = s
        .failures_since("user:ada", now - Duration::hours(1))
        .unwrap();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    s.forget_attempts(&last).unwrap();
    assert_eq!(s.failures_since("user:ada", since).unwrap().len(), 1);
    assert_eq!(
        s.purge_attempts(now - Duration::minutes(10)).unwrap(),
        2,
        "the old ones"
    );
    assert_eq!(
        s.failures_since("user:ada", now - Duration::hours(1))
            .unwrap()
            .len(),
        1
    );
    s.clear_failures("user:ada").unwrap();
    assert!(s.failures_since("user:ada", since).unwrap().is_empty());
    assert_eq!(s.failures_since("addr:192.0.2.1", since).unwrap().len(), 1);
}

/// Twenty attempts at once, each recorded and then counted: however they interleave, no
/// more than the limit see a count within it (a throttle on this store cannot be raced).
pub fn racing_attempts_never_all_pass(s: &dyn AccountStore) {
    let limit = 5;
    let now = Utc::now();
    let admitted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(move || {
                    s.record_attempt(&["user:race".to_owned()], now).unwrap();
                    s.failures_since("user:race", now - Duration::minutes(1))
                        .unwrap()
                        .len()
                        <= limit
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum()
    });
    assert!(
        admitted <= limit,
        "{admitted} of 20 passed a limit of {limit}"
    );
}

pub fn logins_and_sessions_of_missing_or_duplicate_things_are_refused(s: &dyn AccountStore) {
    assert!(matches!(
        s.record_login(UserId(777_777), Utc::now()),
        Err(AccountsError::NotFound)
    ));
    let ada = s.create(new_user("ada")).unwrap();
    s.create_session(session("same", ada.id, 60)).unwrap();
    assert!(matches!(
        s.create_session(session("same", ada.id, 60)),
        Err(AccountsError::Conflict(_))
    ));
}

pub fn profiles_change_only_over_what_was_read(s: &dyn AccountStore) {
    let user = s.create(new_user("ann")).unwrap();
    let read = user.profile();
    let staff = Profile {
        email: None,
        flags: Flags {
            is_staff: true,
            ..read.flags
        },
    };
    let changed = s.update_profile_if(user.id, &read, &staff, None).unwrap();
    assert_eq!(changed.profile(), staff);
    assert_eq!(s.get(user.id).unwrap().profile(), staff, "stored");
    assert_eq!(
        changed.password_hash, user.password_hash,
        "the password stays"
    );
    // A second change based on the first read is stale and writes nothing, password included.
    let err = s
        .update_profile_if(user.id, &read, &read, Some("new-hash"))
        .unwrap_err();
    assert!(matches!(err, AccountsError::Stale), "{err:?}");
    let stored = s.get(user.id).unwrap();
    assert_eq!(stored.profile(), staff);
    assert_eq!(stored.password_hash, user.password_hash);
    let with_password = s
        .update_profile_if(user.id, &staff, &staff, Some("new-hash"))
        .unwrap();
    assert_eq!(
        with_password.password_hash, "new-hash",
        "set with the profile"
    );
    let err = s
        .update_profile_if(UserId(999_999), &read, &staff, None)
        .unwrap_err();
    assert!(matches!(err, AccountsError::NotFound), "{err:?}");
}

pub fn deleting_a_user_ends_their_sessions(s: &dyn AccountStore) {
    let gone = s.create(new_user("gone")).unwrap();
    let kept = s.create(new_user("kept")).unwrap();
    s.create_session(session("k1", gone.id, 60)).unwrap();
    s.create_session(session("k2", kept.id, 60)).unwrap();
    s.delete(gone.id).unwrap();
    assert!(matches!(s.get(gone.id), Err(AccountsError::NotFound)));
    assert!(
        s.session("k1").unwrap().is_none(),
        "their session went with them"
    );
    assert!(s.session("k2").unwrap().is_some());
    assert!(matches!(s.delete(gone.id), Err(AccountsError::NotFound)));
    assert_eq!(s.list().unwrap().len(), 1);
}
