//! The admin seam: what a component offers the admin site, as a Django app's `admin.py`
//! does, and the change history every component writes to.
//!
//! A component returns [`AdminSection`]s from `Running::admin_sections`; each is served at
//! `/admin/<component>/<slug>/` by whichever component renders admin pages, which knows no
//! store: a section lists, reads and writes its own data, and checks its own rules
//! (reusing the domain's parsing, so an admin form refuses what a file load would). Records
//! travel as text: field name → value.
//!
//! The [`History`] is kept by one component (the admin), which puts it into the site's
//! [`HistoryHandle`], a resource every component sees whatever the order they start in; a
//! component that changes data outside the admin (a management command) records its changes
//! there too, and they go nowhere on a site without a history. Nothing here knows a
//! component.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// A column of a section's list page.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: &'static str,
    pub label: &'static str,
    pub sortable: bool,
}

/// A filter of a list page: its choices come from [`AdminSection::choices`].
#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    pub name: &'static str,
    pub label: &'static str,
}

/// How a form field is shown and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    TextArea,
    Email,
    /// On or off; an absent checkbox is off.
    Checkbox,
    /// Never shown back, never recorded in the history (only that it was set).
    Password,
}

/// A field of a section's add and change forms.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// A line under the field.
    pub help: &'static str,
    /// Set when the object is made, read-only after (a username).
    pub add_only: bool,
    /// The value an add form starts with (`"true"` for a checkbox that starts on).
    pub initial: &'static str,
}

/// What a section is: its names, list page, form and abilities.
#[derive(Debug, Clone, Serialize)]
pub struct SectionMeta {
    /// In the address: `/admin/<component>/<slug>/`.
    pub slug: &'static str,
    /// Plural, capitalised: "Quotes".
    pub title: &'static str,
    /// Singular, lower case: "quote".
    pub singular: &'static str,
    /// Only superusers may see it (users and their rights); else every staff user.
    pub superuser_only: bool,
    pub columns: Vec<Column>,
    /// What the search box looks in, for its placeholder: "text, author or source".
    pub search_help: &'static str,
    pub filters: Vec<Filter>,
    pub fields: Vec<Field>,
    /// A file format the section imports (its name, e.g. "quotes file"), if any.
    pub import: Option<&'static str>,
    /// Whether the (filtered) list can be downloaded in that format.
    pub export: bool,
}

/// The order of a list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub column: String,
    pub descending: bool,
}

/// What a list page asks for. `search` is as typed (trimmed); filters are `(name, value)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub search: String,
    pub filters: Vec<(String, String)>,
    pub order: Option<Order>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl ListQuery {
    /// The value chosen for filter `name`, if any.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every row that matches, for an export: the same search, filters and order.
    pub fn all(&self) -> ListQuery {
        ListQuery {
            page: 1,
            per_page: u32::MAX,
            ..self.clone()
        }
    }
}

/// One row of a list page: a cell per column, in the columns' order.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub label: String,
    pub cells: Vec<String>,
}

/// A page of rows, and how many match in all.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub rows: Vec<Row>,
    pub total: u64,
}

/// An object as its form shows it: each field's value as text (`"true"`/`"false"` for a
/// checkbox, nothing for a password), and a version that changes whenever the object does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub id: String,
    pub label: String,
    pub values: BTreeMap<String, String>,
    /// Opaque; a change based on another version is refused ([`AdminError::Stale`]).
    pub version: String,
}

/// A submitted form: field name → value as posted (a checkbox that is on is present).
pub type FormData = BTreeMap<String, String>;

/// Who changes data: a signed-in user, or a management command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    /// The username, or `command <name>`.
    pub name: String,
}

impl Actor {
    pub fn user(id: i64, name: impl Into<String>) -> Self {
        Self {
            user_id: Some(id),
            name: name.into(),
        }
    }

    pub fn command(name: &str) -> Self {
        Self {
            user_id: None,
            name: format!("command {name}"),
        }
    }
}

/// A field at fault, or the form as a whole (`field` empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A domain's refusal (a lower-case phrase: "title: at most 200 characters") shown as a
    /// sentence beside its field: the first letter capitalised.
    pub fn sentence(field: impl Into<String>, reason: &str) -> Self {
        let mut chars = reason.chars();
        let message: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        Self::new(field, message)
    }
}

/// What an admin operation can end in, besides success.
#[derive(Debug)]
pub enum AdminError {
    NotFound,
    /// The form's values are refused; nothing was written.
    Invalid(Vec<FieldError>),
    /// The object changed since the form was shown; here it is now. Nothing was written.
    Stale(Record),
    /// Not allowed, with the reason to show (deleting yourself).
    Refused(String),
    /// The store cannot answer now.
    Unavailable(String),
    /// A fault; the detail is logged, never shown.
    Internal(String),
}

/// The outcome of an import: what was added (for the history), and how many were there.
#[derive(Debug, Clone)]
pub struct Imported {
    pub added: Vec<Record>,
    pub existing: usize,
}

/// A download of a list.
#[derive(Debug, Clone)]
pub struct Export {
    pub file_name: String,
    pub content_type: &'static str,
    pub body: String,
}

/// A kind of object a component lets staff manage. Runs on blocking threads.
pub trait AdminSection: Send + Sync + 'static {
    fn meta(&self) -> &SectionMeta;

    /// The page of rows `query` asks for, and the total that match.
    fn list(&self, query: &ListQuery) -> Result<Listing, AdminError>;

    /// The choices of filter `name`: `(value, label)`.
    fn choices(&self, filter: &str) -> Result<Vec<(String, String)>, AdminError> {
        let _ = filter;
        Ok(Vec::new())
    }

    fn get(&self, id: &str) -> Result<Record, AdminError>;

    fn create(&self, form: &FormData, actor: &Actor) -> Result<Record, AdminError>;

    /// Changes the object if it is still at `version`.
    fn update(
        &self,
        id: &str,
        version: &str,
        form: &FormData,
        actor: &Actor,
    ) -> Result<Record, AdminError>;

    fn delete(&self, id: &str, actor: &Actor) -> Result<(), AdminError>;

    /// Whether `actor` may delete `id` (`AdminError::Refused` with the reason), asked of every
    /// selected object before a bulk delete touches any, so that it goes whole or not at all.
    fn can_delete(&self, id: &str, actor: &Actor) -> Result<(), AdminError> {
        let _ = (id, actor);
        Ok(())
    }

    /// Loads a file ([`SectionMeta::import`]), all or nothing.
    fn import(&self, content: &[u8], actor: &Actor) -> Result<Imported, AdminError> {
        let _ = (content, actor);
        Err(AdminError::Refused("this section imports nothing".into()))
    }

    /// Every row `query` matches, as a file ([`SectionMeta::export`]).
    fn export(&self, query: &ListQuery) -> Result<Export, AdminError> {
        let _ = query;
        Err(AdminError::Refused("this section exports nothing".into()))
    }
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Change,
    Delete,
}

/// One field's value before and after (`None`: the object did not exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One add, change or delete, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `<component>/<slug>`, e.g. `quotes/quote`.
    pub section: String,
    pub object_id: String,
    pub object_label: String,
    pub action: Action,
    pub actor: Actor,
    pub fields: Vec<FieldChange>,
}

/// What a password field shows in the history instead of its value.
pub const PASSWORD_SET: &str = "(set)";

impl Change {
    /// The change from `before` to `after` (either absent for an add or a delete): every
    /// field for an add or a delete, the ones that differ for a change. A password's value
    /// never enters the history, only that it was set.
    pub fn between(
        section: &str,
        fields: &[Field],
        actor: &Actor,
        before: Option<&Record>,
        after: Option<&Record>,
    ) -> Option<Change> {
        let (action, record) = match (before, after) {
            (None, Some(after)) => (Action::Add, after),
            (Some(_), Some(after)) => (Action::Change, after),
            (Some(before), None) => (Action::Delete, before),
            (None, None) => return None,
        };
        let value = |r: Option<&Record>, f: &Field| -> Option<String> {
            let r = r?;
            if f.kind == FieldKind::Password {
                return None;
            }
            Some(r.values.get(f.name).cloned().unwrap_or_default())
        };
        let changes = fields
            .iter()
            .filter(|f| f.kind != FieldKind::Password)
            .map(|f| FieldChange {
                field: f.name.to_owned(),
                before: value(before, f),
                after: value(after, f),
            })
            .filter(|c| action != Action::Change || c.before != c.after)
            .collect();
        Some(Change {
            section: section.to_owned(),
            object_id: record.id.clone(),
            object_label: record.label.clone(),
            action,
            actor: actor.clone(),
            fields: changes,
        })
    }

    /// The same change, noting that a password was set (its value never recorded).
    pub fn with_password_set(mut self, field: &str) -> Change {
        self.fields.push(FieldChange {
            field: field.to_owned(),
            before: None,
            after: Some(PASSWORD_SET.to_owned()),
        });
        self
    }
}

/// A recorded change, with when it was recorded (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub change: Change,
}

/// Where changes are kept. Errors are text for the log: a failed record never undoes the
/// change it describes.
pub trait History: Send + Sync + 'static {
    fn record(&self, changes: &[Change]) -> Result<(), String>;
    /// Every change of one object, newest first.
    fn of_object(&self, section: &str, object_id: &str) -> Result<Vec<Entry>, String>;
    /// The newest `limit` changes, newest first.
    fn recent(&self, limit: usize) -> Result<Vec<Entry>, String>;
}

/// The site's history: a resource every site has (`ctx.resource::<HistoryHandle>()`),
/// empty until the component that keeps a history [`HistoryHandle::keep`]s it there. Clones
/// share it, so a component started before the keeper records into it all the same.
#[derive(Clone, Default)]
pub struct HistoryHandle(Arc<std::sync::OnceLock<Arc<dyn History>>>);

impl std::fmt::Debug for HistoryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HistoryHandle")
            .field(&self.0.get().is_some())
            .finish()
    }
}

impl HistoryHandle {
    /// A handle already holding `history` (for tests and sites put together by hand).
    pub fn of(history: Arc<dyn History>) -> Self {
        let handle = Self::default();
        handle.keep(history);
        handle
    }

    /// Makes `history` the site's; a second keeper is refused (`false`).
    pub fn keep(&self, history: Arc<dyn History>) -> bool {
        self.0.set(history).is_ok()
    }

    /// The history, when the site keeps one.
    pub fn get(&self) -> Option<&Arc<dyn History>> {
        self.0.get()
    }

    /// Records `changes`, when the site keeps a history; logs (never fails) when it cannot
    /// take them: the change itself is done.
    pub fn record(&self, changes: &[Change]) {
        let Some(history) = self.0.get() else {
            return;
        };
        if changes.is_empty() {
            return;
        }
        if let Err(e) = history.record(changes) {
            tracing::error!(error = %e, changes = changes.len(), "could not record changes in the history");
        }
    }
}

/// Where visitors sign in, a resource the component that keeps accounts provides: the
/// admin sends anonymous visitors there (with `?next=`).
#[derive(Debug, Clone)]
pub struct LoginUrl(pub String);

/// Every component's sections, as the site serves them: `(component, section)`.
#[derive(Clone, Default)]
pub struct Sections(pub Vec<(&'static str, Arc<dyn AdminSection>)>);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(c, s)| format!("{c}/{}", s.meta().slug)))
            .finish()
    }
}

impl Sections {
    pub fn get(&self, component: &str, slug: &str) -> Option<&Arc<dyn AdminSection>> {
        self.0
            .iter()
            .find(|(c, s)| *c == component && s.meta().slug == slug)
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        let field = |name, kind| Field {
            name,
            label: name,
            kind,
            required: false,
            help: "",
            add_only: false,
            initial: "",
        };
        vec![
            field("text", FieldKind::TextArea),
            field("author", FieldKind::Text),
            field("password", FieldKind::Password),
        ]
    }

    fn record(text: &str, author: &str) -> Record {
        Record {
            id: "7".into(),
            label: text.into(),
            values: [("text", text), ("author", author), ("password", "hunter2")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            version: "v".into(),
        }
    }

    #[test]
    fn a_change_keeps_before_and_after_of_what_differs_and_never_a_password() {
        let actor = Actor::user(1, "boss");
        let before = record("Old text", "Sun Tzu");
        let after = record("New text", "Sun Tzu");
        let change = Change::between(
            "quotes/quote",
            &fields(),
            &actor,
            Some(&before),
            Some(&after),
        )
        .unwrap();
        assert_eq!(change.action, Action::Change);
        assert_eq!(
            change.fields,
            [FieldChange {
                field: "text".into(),
                before: Some("Old text".into()),
                after: Some("New text".into()),
            }]
        );
        let add = Change::between("quotes/quote", &fields(), &actor, None, Some(&after)).unwrap();
        assert_eq!((add.action, add.fields.len()), (Action::Add, 2));
        let delete =
            Change::between("quotes/quote", &fields(), &actor, Some(&before), None).unwrap();
        assert_eq!(delete.action, Action::Delete);
        assert!(delete.fields.iter().all(|f| f.after.is_none()));
        let text = format!("{add:?}{delete:?}{change:?}");
        assert!(!text.contains("hunter2"), "{text}");
        let set = add.with_password_set("password");
        assert_eq!(
            set.fields.last().unwrap().after.as_deref(),
            Some(PASSWORD_SET)
        );
    }
}
