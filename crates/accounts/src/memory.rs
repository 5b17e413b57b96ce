//! Accounts in memory: complete and fast, gone when the process ends (so sessions do not
//! hold across replicas; PostgreSQL's do).

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use chrono::{DateTime, Utc};

use crate::store::{
    AccountsError, AttemptStore, Flags, NewUser, Profile, Session, SessionStore, User, UserId,
    UserStore,
};

/// Users, sessions and failed logins behind one lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    users: BTreeMap<UserId, User>,
    next_id: i64,
    sessions: HashMap<String, Session>,
    /// Attempts by key: (id, time).
    failures: HashMap<String, Vec<(i64, DateTime<Utc>)>>,
    next_attempt: i64,
}

impl MemoryStore {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl UserStore for MemoryStore {
    fn create(&self, user: NewUser) -> Result<User, AccountsError> {
        let mut inner = self.write();
        let key = user.username.key();
        if inner.users.values().any(|u| u.username.key() == key) {
            return Err(AccountsError::Taken(user.username.as_str().to_owned()));
        }
        inner.next_id += 1;
        let created = User {
            id: UserId(inner.next_id),
            username: user.username,
            email: user.email,
            password_hash: user.password_hash,
            flags: user.flags,
            last_login: None,
            date_joined: Utc::now(),
        };
        inner.users.insert(created.id, created.clone());
        Ok(created)
    }

    fn get(&self, id: UserId) -> Result<User, AccountsError> {
        self.read()
            .users
            .get(&id)
            .cloned()
            .ok_or(AccountsError::NotFound)
    }

    fn find(&self, username: &str) -> Result<Option<User>, AccountsError> {
        let key = username.trim().to_ascii_lowercase();
        Ok(self
            .read()
            .users
            .values()
            .find(|u| u.username.key() == key)
            .cloned())
    }

    fn list(&self) -> Result<Vec<User>, AccountsError> {
        Ok(self.read().users.values().cloned().collect())
    }

    fn set_password(&self, id: UserId, password_hash: &str) -> Result<(), AccountsError> {
        let mut inner = self.write();
        let user = inner.users.get_mut(&id).ok_or(AccountsError::NotFound)?;
        password_hash.clone_into(&mut user.password_hash);
        Ok(())
    }

    fn set_flags(&self, id: UserId, flags: Flags) -> Result<User, AccountsError> {
        let mut inner = self.write();
        let user = inner.users.get_mut(&id).ok_or(AccountsError::NotFound)?;
        user.flags = flags;
        Ok(user.clone())
    }

    fn update_profile_if(
        &self,
        id: UserId,
        expected: &Profile,
        profile: &Profile,
        password_hash: Option<&str>,
    ) -> Result<User, AccountsError> {
        let mut inner = self.write();
        let user = inner.users.get_mut(&id).ok_or(AccountsError::NotFound)?;
        if &user.profile() != expected {
            return Err(AccountsError::Stale);
        }
        user.email = profile.email.clone();
        user.flags = profile.flags;
        if let Some(hash) = password_hash {
            user.password_hash = hash.to_owned();
        }
        Ok(user.clone())
    }

    fn delete(&self, id: UserId) -> Result<(), AccountsError> {
        let mut inner = self.write();
        inner.users.remove(&id).ok_or(AccountsError::NotFound)?;
        inner.sessions.retain(|_, s| s.user_id != id);
        Ok(())
    }

    fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), AccountsError> {
        let mut inner = self.write();
        let user = inner.users.get_mut(&id).ok_or(AccountsError::NotFound)?;
        user.last_login = Some(at);
        Ok(())
    }

    fn ping(&self) -> Result<(), AccountsError> {
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    fn create_session(&self, session: Session) -> Result<(), AccountsError> {
        let mut inner = self.write();
        if !inner.users.contains_key(&session.user_id) {
            return Err(AccountsError::NotFound);
        }
        if inner.sessions.contains_key(&session.key_digest) {
            return Err(AccountsError::Conflict(
                "a session with this key exists".into(),
            ));
        }
        inner.sessions.insert(session.key_digest.clone(), session);
        Ok(())
    }

    fn session(&self, key_digest: &str) -> Result<Option<Session>, AccountsError> {
        Ok(self.read().sessions.get(key_digest).cloned())
    }

    fn touch_session(&self, key_digest: &str, at: DateTime<Utc>) -> Result<(), AccountsError> {
        if let Some(session) = self.write().sessions.get_mut(key_digest) {
            session.last_seen = at;
        }
        Ok(())
    }

    fn delete_session(&self, key_digest: &str) -> Result<(), AccountsError> {
        self.write().sessions.remove(key_digest);
        Ok(())
    }

    fn delete_sessions_of(&self, user: UserId, keep: Option<&str>) -> Result<u64, AccountsError> {
        let mut inner = self.write();
        let before = inner.sessions.len();
        inner
            .sessions
            .retain(|key, s| s.user_id != user || Some(key.as_str()) == keep);
        Ok((before - inner.sessions.len()) as u64)
    }

    fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, AccountsError> {
        let mut inner = self.write();
        let before = inner.sessions.len();
        inner
            .sessions
            .retain(|_, s| s.expires_at > now && s.last_seen >= idle_before);
        Ok((before - inner.sessions.len()) as u64)
    }
}

impl AttemptStore for MemoryStore {
    fn record_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, AccountsError> {
        let mut inner = self.write();
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            inner.next_attempt += 1;
            let id = inner.next_attempt;
            inner
                .failures
                .entry(key.clone())
                .or_default()
                .push((id, at));
            ids.push(id);
        }
        Ok(ids)
    }

    fn failures_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, AccountsError> {
        let mut times: Vec<_> = self
            .read()
            .failures
            .get(key)
            .into_iter()
            .flatten()
            .map(|(_, t)| *t)
            .filter(|t| *t >= since)
            .collect();
        times.sort();
        Ok(times)
    }

    fn forget_attempts(&self, ids: &[i64]) -> Result<(), AccountsError> {
        let mut inner = self.write();
        for attempts in inner.failures.values_mut() {
            attempts.retain(|(id, _)| !ids.contains(id));
        }
        inner.failures.retain(|_, a| !a.is_empty());
        Ok(())
    }

    fn clear_failures(&self, key: &str) -> Result<(), AccountsError> {
        self.write().failures.remove(key);
        Ok(())
    }

    fn purge_attempts(&self, before: DateTime<Utc>) -> Result<u64, AccountsError> {
        let mut inner = self.write();
        let mut dropped = 0;
        for attempts in inner.failures.values_mut() {
            let n = attempts.len();
            attempts.retain(|(_, t)| *t >= before);
            dropped += (n - attempts.len()) as u64;
        }
        inner.failures.retain(|_, a| !a.is_empty());
        Ok(dropped)
    }
}
