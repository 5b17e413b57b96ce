//! The wiki's section of the admin site (`/admin/wiki/page/`): every page, deleted ones
//! too, found by path or title and filtered by state; add a page, change its title, text
//! and state (lock, delete, restore), each change a revision of its own signed by the staff
//! user; delete hides the page (a revision), as the wiki's own delete does: nothing is
//! erased. A change made from an old revision is refused with the page as it is now (the
//! admin's rule); the wiki's own edit form merges instead.

use std::sync::Arc;

use web::admin::{
    Actor, AdminError, AdminSection, Column, Field, FieldError, FieldKind, Filter, FormData,
    ListQuery, Listing, Record, Row, SectionMeta,
};
use web::ErrorChain;

use crate::markdown;
use crate::path::WikiPath;
use crate::store::{
    restate, NewRevision, PageFilter, PageInfo, PageState, Revision, WikiError, WikiStore,
};

/// The id of the root page (an empty path would make an empty address segment).
const ROOT_ID: &str = "~";

/// What a revision saved here says when the form gives no message.
const CHANGED: &str = "Changed in the admin";

pub(crate) struct PagesAdmin {
    store: Arc<dyn WikiStore>,
    meta: SectionMeta,
}

/// What the section is: its columns, filter and form.
pub fn meta() -> SectionMeta {
    let field = |name, label, kind, help| Field {
        name,
        label,
        kind,
        required: false,
        help,
        add_only: false,
        initial: "",
    };
    let column = |name, label| Column {
        name,
        label,
        sortable: false,
    };
    SectionMeta {
        slug: "page",
        title: "Wiki pages",
        singular: "wiki page",
        superuser_only: false,
        columns: vec![
            column("path", "Address"),
            column("title", "Title"),
            column("revision", "Revision"),
            column("updated", "Updated"),
            column("state", "State"),
        ],
        search_help: "path or title",
        filters: vec![Filter {
            name: "state",
            label: "State",
        }],
        fields: vec![
            Field {
                add_only: true,
                ..field(
                    "path",
                    "Path",
                    FieldKind::Text,
                    "Slugs of lowercase letters, digits and dashes, / between levels (tactics/terrain); empty for the wiki's front page.",
                )
            },
            Field {
                required: true,
                ..field("title", "Title", FieldKind::Text, "Up to 200 characters.")
            },
            field(
                "content",
                "Content",
                FieldKind::TextArea,
                "Markdown; [[Page/Below]] links a page. Up to 500 KB.",
            ),
            field(
                "message",
                "What you changed",
                FieldKind::Text,
                "Kept in the page's history.",
            ),
            field(
                "locked",
                "Locked",
                FieldKind::Checkbox,
                "Only staff may edit a locked page.",
            ),
            field(
                "deleted",
                "Deleted",
                FieldKind::Checkbox,
                "Hidden from everyone but staff, its history kept; untick to restore it.",
            ),
        ],
        import: None,
        export: false,
    }
}

impl PagesAdmin {
    pub(crate) fn new(store: Arc<dyn WikiStore>) -> Self {
        Self {
            store,
            meta: meta(),
        }
    }

    fn current(&self, path: &WikiPath) -> Result<(PageInfo, Revision), AdminError> {
        self.store
            .page(path)
            .map_err(failure)?
            .ok_or(AdminError::NotFound)
    }
}

/// The page's id in the admin's addresses: its path with `.` between slugs (no slug holds
/// one), `~` for the root.
pub fn id_of(path: &WikiPath) -> String {
    if path.is_root() {
        ROOT_ID.to_owned()
    } else {
        path.as_str().replace('/', ".")
    }
}

fn path_of(id: &str) -> Result<WikiPath, AdminError> {
    if id == ROOT_ID {
        return Ok(WikiPath::root());
    }
    match WikiPath::parse(&id.replace('.', "/")) {
        Ok(path) if !path.is_root() => Ok(path),
        _ => Err(AdminError::NotFound),
    }
}

fn state_label(state: PageState) -> &'static str {
    match (state.deleted, state.locked) {
        (true, _) => "deleted",
        (false, true) => "locked",
        (false, false) => "shown",
    }
}

fn flag(on: bool) -> String {
    if on { "true" } else { "false" }.to_owned()
}

/// A page as the admin's form shows it; its version is its revision number.
fn record(path: &WikiPath, current: &Revision) -> Record {
    Record {
        id: id_of(path),
        label: current.title.clone(),
        values: [
            ("path", path.as_str().to_owned()),
            ("title", current.title.clone()),
            ("content", current.content.clone()),
            ("message", String::new()),
            ("locked", flag(current.state.locked)),
            ("deleted", flag(current.state.deleted)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        version: current.number.to_string(),
    }
}

fn failure(e: WikiError) -> AdminError {
    match e {
        WikiError::NotFound => AdminError::NotFound,
        WikiError::Invalid { field, reason } => {
            AdminError::Invalid(vec![FieldError::sentence(field, &reason)])
        }
        WikiError::Exists => AdminError::Invalid(vec![FieldError::new(
            "path",
            "A page exists at this path (a deleted one, perhaps: the State filter finds it).",
        )]),
        WikiError::Unavailable(source) => {
            AdminError::Unavailable(format!("{:#}", ErrorChain(&*source)))
        }
        other => AdminError::Internal(other.to_string()),
    }
}

/// The revision a form describes, signed by `actor`.
fn revision(form: &FormData, actor: &Actor, default_message: &str) -> NewRevision {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let on = |k: &str| !get(k).is_empty();
    let message = match get("message").trim() {
        "" => default_message.to_owned(),
        m => m.to_owned(),
    };
    let content = crate::merge::from_textarea(get("content"));
    NewRevision {
        title: get("title").to_owned(),
        html: markdown::render(&content).html,
        content,
        author: Some(actor.name.clone()),
        address: None,
        message,
        state: Some(PageState {
            deleted: on("deleted"),
            locked: on("locked"),
        }),
    }
}

impl AdminSection for PagesAdmin {
    fn meta(&self) -> &SectionMeta {
        &self.meta
    }

    fn list(&self, q: &ListQuery) -> Result<Listing, AdminError> {
        let mut filter = PageFilter {
            contains: Some(q.search.clone()).filter(|s| !s.is_empty()),
            ..PageFilter::default()
        };
        match q.filter("state") {
            Some("shown") => filter.deleted = Some(false),
            Some("locked") => (filter.deleted, filter.locked) = (Some(false), Some(true)),
            Some("deleted") => filter.deleted = Some(true),
            _ => {}
        }
        let per_page = q.per_page.max(1) as usize;
        let offset = (q.page.max(1) as usize - 1).saturating_mul(per_page);
        let (pages, total) = self
            .store
            .pages(&filter, offset, per_page)
            .map_err(failure)?;
        let rows = pages
            .iter()
            .map(|p| Row {
                id: id_of(&p.path),
                label: p.title.clone(),
                cells: vec![
                    p.path.url(),
                    p.title.clone(),
                    p.revision.to_string(),
                    p.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                    state_label(p.state).to_owned(),
                ],
            })
            .collect();
        Ok(Listing { rows, total })
    }

    fn choices(&self, filter: &str) -> Result<Vec<(String, String)>, AdminError> {
        Ok(match filter {
            "state" => [
                ("shown", "Shown"),
                ("locked", "Locked"),
                ("deleted", "Deleted"),
            ]
            .into_iter()
            .map(|(v, l)| (v.to_owned(), l.to_owned()))
            .collect(),
            _ => Vec::new(),
        })
    }

    fn get(&self, id: &str) -> Result<Record, AdminError> {
        let path = path_of(id)?;
        let (_, current) = self.current(&path)?;
        Ok(record(&path, &current))
    }

    fn create(&self, form: &FormData, actor: &Actor) -> Result<Record, AdminError> {
        let raw = form.get("path").map(String::as_str).unwrap_or_default();
        let path = WikiPath::parse(raw).map_err(failure)?;
        self.store
            .save(&path, None, revision(form, actor, "Added in the admin"))
            .map_err(failure)?;
        self.get(&id_of(&path))
    }

    fn update(
        &self,
        id: &str,
        version: &str,
        form: &FormData,
        actor: &Actor,
    ) -> Result<Record, AdminError> {
        let path = path_of(id)?;
        let base: u32 = version.parse().map_err(|_| AdminError::NotFound)?;
        match self
            .store
            .save(&path, Some(base), revision(form, actor, CHANGED))
        {
            Ok(_) => self.get(id),
            Err(WikiError::Stale { .. }) => {
                let (_, now) = self.current(&path)?;
                Err(AdminError::Stale(record(&path, &now)))
            }
            Err(e) => Err(failure(e)),
        }
    }

    fn delete(&self, id: &str, actor: &Actor) -> Result<(), AdminError> {
        let path = path_of(id)?;
        let hide = |now: PageState| PageState {
            deleted: true,
            ..now
        };
        let by = Some(actor.name.clone());
        restate(&*self.store, &path, hide, by, None, "Deleted in the admin")
            .map(drop)
            .map_err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_name_each_other() {
        for raw in ["", "tactics", "tactics/terrain"] {
            let path = WikiPath::parse(raw).unwrap();
            assert_eq!(path_of(&id_of(&path)).unwrap(), path);
        }
        assert_eq!(id_of(&WikiPath::parse("a/b").unwrap()), "a.b");
        for bad in ["", ".", "A", "a..b", "_edit"] {
            assert!(matches!(path_of(bad), Err(AdminError::NotFound)), "{bad}");
        }
    }
}
