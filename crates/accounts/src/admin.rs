//! The users' section of the admin site (`/admin/accounts/user/`), for superusers only:
//! create users, set active / staff / superuser, set a password (never shown back, checked
//! by the same rules as everywhere), see last logins. Nobody removes their own staff or
//! superuser flag, deactivates or deletes themself.

use std::sync::Arc;

use web::admin::{
    Actor, AdminError, AdminSection, Change, Column, Field, FieldError, FieldKind, Filter,
    FormData, ListQuery, Listing, Record, Row, SectionMeta,
};

use crate::store::{
    AccountStore, AccountsError, Email, Flags, NewUser, Profile, User, UserId, Username,
};
use crate::{password, Invalid};

/// `<component>/<slug>` of this section, as the history keys it.
pub const SECTION: &str = "accounts/user";

/// A user made outside the admin (by `createsuperuser`), for the history.
pub(crate) fn added(user: &User, actor: &Actor) -> Vec<Change> {
    Change::between(SECTION, &meta().fields, actor, None, Some(&record(user)))
        .into_iter()
        .collect()
}

/// A password set outside the admin (`changepassword`), for the history: never its value.
pub(crate) fn password_set(user: &User, actor: &Actor) -> Vec<Change> {
    let record = record(user);
    vec![Change {
        section: SECTION.to_owned(),
        object_id: record.id,
        object_label: record.label,
        action: web::admin::Action::Change,
        actor: actor.clone(),
        fields: Vec::new(),
    }
    .with_password_set("password")]
}

pub(crate) struct UsersAdmin {
    store: Arc<dyn AccountStore>,
    min_password_length: usize,
    meta: SectionMeta,
}

fn meta() -> SectionMeta {
    let field = |name, label, kind, required, help, initial| Field {
        name,
        label,
        kind,
        required,
        help,
        add_only: name == "username",
        initial,
    };
    let column = |name, label, sortable| Column {
        name,
        label,
        sortable,
    };
    let yes_no = |name, label| Filter { name, label };
    SectionMeta {
        slug: "user",
        title: "Users",
        singular: "user",
        superuser_only: true,
        columns: vec![
            column("username", "Username", true),
            column("email", "Email", true),
            column("is_staff", "Staff", true),
            column("is_superuser", "Superuser", true),
            column("is_active", "Active", true),
            column("last_login", "Last login", true),
        ],
        search_help: "username or email",
        filters: vec![
            yes_no("is_staff", "Staff"),
            yes_no("is_superuser", "Superuser"),
            yes_no("is_active", "Active"),
        ],
        fields: vec![
            field(
                "username",
                "Username",
                FieldKind::Text,
                true,
                "Letters, digits and @ . + - _ only; at most 150. It cannot be changed later.",
                "",
            ),
            field("email", "Email", FieldKind::Email, false, "Optional.", ""),
            field(
                "password",
                "Password",
                FieldKind::Password,
                true,
                "On a change, leave it empty to keep the current password. It is never shown.",
                "",
            ),
            field(
                "is_active",
                "Active",
                FieldKind::Checkbox,
                false,
                "Inactive users cannot sign in.",
                "true",
            ),
            field(
                "is_staff",
                "Staff",
                FieldKind::Checkbox,
                false,
                "May use the admin.",
                "",
            ),
            field(
                "is_superuser",
                "Superuser",
                FieldKind::Checkbox,
                false,
                "May manage everything, users included.",
                "",
            ),
        ],
        import: None,
        export: false,
    }
}

impl UsersAdmin {
    pub(crate) fn new(store: Arc<dyn AccountStore>, min_password_length: usize) -> Self {
        Self {
            store,
            min_password_length,
            meta: meta(),
        }
    }
}

fn yes(b: bool) -> String {
    b.to_string()
}

fn record(u: &User) -> Record {
    let p = u.profile();
    let email = p.email.as_ref().map_or("", |e| e.as_str());
    let version = format!(
        "{}:{}{}{}",
        email,
        u8::from(p.flags.is_active),
        u8::from(p.flags.is_staff),
        u8::from(p.flags.is_superuser)
    );
    Record {
        id: u.id.0.to_string(),
        label: u.username.as_str().to_owned(),
        values: [
            ("username", u.username.as_str().to_owned()),
            ("email", email.to_owned()),
            ("is_active", yes(p.flags.is_active)),
            ("is_staff", yes(p.flags.is_staff)),
            ("is_superuser", yes(p.flags.is_superuser)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        // The version is what a change may overwrite: the email and the flags.
        version,
    }
}

fn failure(e: AccountsError) -> AdminError {
    match e {
        AccountsError::NotFound => AdminError::NotFound,
        AccountsError::Taken(name) => AdminError::Invalid(vec![FieldError::new(
            "username",
            format!("A user named {name} exists already."),
        )]),
        AccountsError::Invalid(i) => AdminError::Invalid(vec![invalid(i)]),
        AccountsError::Unavailable(source) => AdminError::Unavailable(source.to_string()),
        other => AdminError::Internal(other.to_string()),
    }
}

fn invalid(e: Invalid) -> FieldError {
    FieldError::sentence(e.field, &e.to_string())
}

fn parse_id(id: &str) -> Result<UserId, AdminError> {
    id.parse::<i64>()
        .map(UserId)
        .map_err(|_| AdminError::NotFound)
}

fn checked(form: &FormData, name: &str) -> bool {
    form.get(name).is_some_and(|v| !v.is_empty())
}

fn flags(form: &FormData) -> Flags {
    Flags {
        is_active: checked(form, "is_active"),
        is_staff: checked(form, "is_staff"),
        is_superuser: checked(form, "is_superuser"),
    }
}

impl UsersAdmin {
    /// The password's hash, or every rule it breaks beside the field.
    fn password_hash(&self, raw: &str, names: &[&str]) -> Result<String, FieldError> {
        let refused = password::check(raw, self.min_password_length, names);
        if refused.is_empty() {
            return Ok(password::hash(raw));
        }
        let messages: Vec<String> = refused.iter().map(|r| r.message.clone()).collect();
        Err(FieldError::new("password", messages.join(" ")))
    }
}

fn sort_key(u: &User, column: &str) -> (String, i64) {
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    let key = match column {
        "email" => u
            .email
            .as_ref()
            .map_or(String::new(), |e| e.as_str().to_lowercase()),
        "is_staff" => flag(u.flags.is_staff),
        "is_superuser" => flag(u.flags.is_superuser),
        "is_active" => flag(u.flags.is_active),
        "last_login" => u.last_login.map_or(String::new(), |t| t.to_rfc3339()),
        _ => u.username.as_str().to_lowercase(),
    };
    (key, u.id.0)
}

impl AdminSection for UsersAdmin {
    fn meta(&self) -> &SectionMeta {
        &self.meta
    }

    fn list(&self, q: &ListQuery) -> Result<Listing, AdminError> {
        let needle = q.search.to_lowercase();
        let wanted = |name: &str, value: bool| q.filter(name).is_none_or(|v| v == yes(value));
        let mut users: Vec<User> = self
            .store
            .list()
            .map_err(failure)?
            .into_iter()
            .filter(|u| {
                needle.is_empty()
                    || u.username.as_str().to_lowercase().contains(&needle)
                    || u.email
                        .as_ref()
                        .is_some_and(|e| e.as_str().to_lowercase().contains(&needle))
            })
            .filter(|u| {
                wanted("is_staff", u.flags.is_staff)
                    && wanted("is_superuser", u.flags.is_superuser)
                    && wanted("is_active", u.flags.is_active)
            })
            .collect();
        let column = q.order.as_ref().map_or("username", |o| o.column.as_str());
        users.sort_by_cached_key(|u| sort_key(u, column));
        if q.order.as_ref().is_some_and(|o| o.descending) {
            users.reverse();
        }
        let total = users.len() as u64;
        let skip = (q.page.max(1) as usize - 1).saturating_mul(q.per_page as usize);
        let mark = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let rows = users
            .iter()
            .skip(skip)
            .take(q.per_page as usize)
            .map(|u| Row {
                id: u.id.0.to_string(),
                label: u.username.as_str().to_owned(),
                cells: vec![
                    u.username.as_str().to_owned(),
                    u.email
                        .as_ref()
                        .map_or("—".into(), |e| e.as_str().to_owned()),
                    mark(u.flags.is_staff),
                    mark(u.flags.is_superuser),
                    mark(u.flags.is_active),
                    u.last_login.map_or("never".into(), |t| {
                        t.format("%Y-%m-%d %H:%M UTC").to_string()
                    }),
                ],
            })
            .collect();
        Ok(Listing { rows, total })
    }

    fn choices(&self, _filter: &str) -> Result<Vec<(String, String)>, AdminError> {
        Ok(vec![
            ("true".into(), "Yes".into()),
            ("false".into(), "No".into()),
        ])
    }

    fn get(&self, id: &str) -> Result<Record, AdminError> {
        let user = self.store.get(parse_id(id)?).map_err(failure)?;
        Ok(record(&user))
    }

    fn create(&self, form: &FormData, _actor: &Actor) -> Result<Record, AdminError> {
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        let mut errors = Vec::new();
        let username = Username::parse(get("username")).map_err(|e| errors.push(invalid(e)));
        let email = Email::parse_optional(get("email")).map_err(|e| errors.push(invalid(e)));
        let raw = get("password");
        let hash = if raw.is_empty() {
            errors.push(FieldError::new("password", "A new user needs a password."));
            None
        } else {
            self.password_hash(raw, &[get("username"), get("email")])
                .map_err(|e| errors.push(e))
                .ok()
        };
        let (Ok(username), Ok(email), Some(password_hash), true) =
            (username, email, hash, errors.is_empty())
        else {
            return Err(AdminError::Invalid(errors));
        };
        let user = self
            .store
            .create(NewUser {
                username,
                email,
                password_hash,
                flags: flags(form),
            })
            .map_err(failure)?;
        Ok(record(&user))
    }

    fn update(
        &self,
        id: &str,
        version: &str,
        form: &FormData,
        actor: &Actor,
    ) -> Result<Record, AdminError> {
        let id = parse_id(id)?;
        let current = self.store.get(id).map_err(failure)?;
        if record(&current).version != version {
            return Err(AdminError::Stale(record(&current)));
        }
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        let mut errors = Vec::new();
        let email = Email::parse_optional(get("email")).map_err(|e| errors.push(invalid(e)));
        let wanted = flags(form);
        if actor.user_id == Some(id.0) {
            for (name, was, now, what) in [
                (
                    "is_superuser",
                    current.flags.is_superuser,
                    wanted.is_superuser,
                    "superuser status",
                ),
                (
                    "is_staff",
                    current.flags.is_staff,
                    wanted.is_staff,
                    "staff status",
                ),
                (
                    "is_active",
                    current.flags.is_active,
                    wanted.is_active,
                    "active status",
                ),
            ] {
                if was && !now {
                    errors.push(FieldError::new(
                        name,
                        format!("You cannot remove your own {what}."),
                    ));
                }
            }
        }
        let raw = get("password");
        let hash = if raw.is_empty() {
            None
        } else {
            self.password_hash(raw, &[current.username.as_str(), get("email")])
                .map_err(|e| errors.push(e))
                .ok()
        };
        let Ok(email) = email else {
            return Err(AdminError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AdminError::Invalid(errors));
        }
        let profile = Profile {
            email,
            flags: wanted,
        };
        // Profile and password in one write: all of it lands, or (stale) none.
        let updated =
            match self
                .store
                .update_profile_if(id, &current.profile(), &profile, hash.as_deref())
            {
                Ok(u) => u,
                Err(AccountsError::Stale) => {
                    let now = self.store.get(id).map_err(failure)?;
                    return Err(AdminError::Stale(record(&now)));
                }
                Err(e) => return Err(failure(e)),
            };
        // A new password, or a user switched off, ends their sessions, as Django does; your
        // own stay (Django keeps the one you are using; your other sessions end when you
        // change your password on your account's page). The change is done either way.
        if hash_or_off(raw, &profile.flags) && actor.user_id != Some(id.0) {
            if let Err(e) = self.store.delete_sessions_of(id, None) {
                tracing::error!(user = id.0, error = %e, "could not end the sessions of a changed user");
            }
        }
        Ok(record(&updated))
    }

    fn can_delete(&self, id: &str, actor: &Actor) -> Result<(), AdminError> {
        if actor.user_id == Some(parse_id(id)?.0) {
            return Err(AdminError::Refused(
                "You cannot delete your own account.".into(),
            ));
        }
        Ok(())
    }

    fn delete(&self, id: &str, actor: &Actor) -> Result<(), AdminError> {
        self.can_delete(id, actor)?;
        let id = parse_id(id)?;
        if actor.user_id == Some(id.0) {
            return Err(AdminError::Refused(
                "You cannot delete your own account.".into(),
            ));
        }
        self.store.delete(id).map_err(failure)
    }
}

fn hash_or_off(password: &str, flags: &Flags) -> bool {
    !password.is_empty() || !flags.is_active
}
