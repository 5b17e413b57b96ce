//! The wiki's admin section, as the admin component uses it (through `admin_sections`), on
//! both stores: list, find and filter pages, add one, change it (refused from an old
//! revision), lock it, delete it (hidden, kept) and restore it.

use std::sync::Arc;

use web::admin::{Actor, AdminError, AdminSection, FormData, ListQuery};
use web::Running;
use wiki_adapter::{Wiki, WikiPath, WikiSettings, WikiStore};

fn section(store: Arc<dyn WikiStore>) -> Arc<dyn AdminSection> {
    let sections = Wiki::new(store, WikiSettings::default()).admin_sections();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].meta().slug, "page");
    sections[0].clone()
}

fn form(fields: &[(&str, &str)]) -> FormData {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn query(search: &str, state: Option<&str>) -> ListQuery {
    ListQuery {
        search: search.to_owned(),
        filters: state
            .map(|s| vec![("state".to_owned(), s.to_owned())])
            .unwrap_or_default(),
        order: None,
        page: 1,
        per_page: 50,
    }
}

fn ids(s: &dyn AdminSection, search: &str, state: Option<&str>) -> Vec<String> {
    let listing = s.list(&query(search, state)).unwrap();
    assert_eq!(listing.total as usize, listing.rows.len());
    listing.rows.into_iter().map(|r| r.id).collect()
}

fn staff_manage_pages(store: Arc<dyn WikiStore>) {
    let s = section(store.clone());
    let boss = Actor::user(1, "boss");
    let home = s
        .create(
            &form(&[("path", ""), ("title", "Home"), ("content", "Hi")]),
            &boss,
        )
        .unwrap();
    assert_eq!((home.id.as_str(), home.version.as_str()), ("~", "1"));
    let terrain = s
        .create(
            &form(&[
                ("path", "tactics/terrain"),
                ("title", "Terrain"),
                ("content", "Six kinds\r\nof ground"),
                ("locked", "on"),
            ]),
            &boss,
        )
        .unwrap();
    assert_eq!(terrain.id, "tactics.terrain");
    assert_eq!(terrain.values["locked"], "true");
    let path = WikiPath::parse("tactics/terrain").unwrap();
    let (info, current) = store.page(&path).unwrap().unwrap();
    assert!(info.state.locked);
    assert_eq!(current.content, "Six kinds\nof ground");
    assert_eq!(
        (current.author.as_deref(), current.message.as_str()),
        (Some("boss"), "Added in the admin")
    );
    assert!(current.html.contains("Six kinds"), "rendered");

    // Bad input names its field; nothing is saved.
    for (fields, field) in [
        (vec![("path", "Bad Path"), ("title", "x")], "path"),
        (vec![("path", "ok"), ("title", "")], "title"),
        (
            vec![("path", "tactics/terrain"), ("title", "Again")],
            "path",
        ),
    ] {
        match s.create(&form(&fields), &boss) {
            Err(AdminError::Invalid(errors)) => assert_eq!(errors[0].field, field),
            other => panic!("{fields:?}: {other:?}"),
        }
    }
    assert!(store
        .page(&WikiPath::parse("ok").unwrap())
        .unwrap()
        .is_none());

    // Listed, found by path or title, filtered by state.
    assert_eq!(ids(&*s, "", None), ["~", "tactics.terrain"]);
    assert_eq!(ids(&*s, "TERR", None), ["tactics.terrain"]);
    assert_eq!(ids(&*s, "", Some("locked")), ["tactics.terrain"]);
    let row = &s.list(&query("terrain", None)).unwrap().rows[0];
    assert_eq!(row.cells[0], "/wiki/tactics/terrain/");
    assert_eq!(row.cells[4], "locked");

    // A change from the current revision lands as a revision; from an old one it is refused
    // with the page as it is now.
    let change = form(&[
        ("title", "Terrain"),
        ("content", "Nine kinds"),
        ("message", "more ground"),
    ]);
    let changed = s.update("tactics.terrain", "1", &change, &boss).unwrap();
    assert_eq!(changed.version, "2");
    assert_eq!(changed.values["locked"], "false", "unticked: unlocked");
    assert_eq!(store.page(&path).unwrap().unwrap().1.message, "more ground");
    match s.update("tactics.terrain", "1", &change, &boss) {
        Err(AdminError::Stale(now)) => assert_eq!(now.version, "2"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.get("nowhere"), Err(AdminError::NotFound)));

    // Delete hides the page and keeps it; ticking "deleted" off restores it.
    s.delete("tactics.terrain", &boss).unwrap();
    let (info, current) = store.page(&path).unwrap().unwrap();
    assert!(info.state.deleted);
    assert_eq!((info.revision, current.content.as_str()), (3, "Nine kinds"));
    assert_eq!(ids(&*s, "", Some("deleted")), ["tactics.terrain"]);
    assert_eq!(ids(&*s, "", Some("shown")), ["~"]);
    let record = s.get("tactics.terrain").unwrap();
    assert_eq!(record.values["deleted"], "true");
    let restore = form(&[("title", "Terrain"), ("content", "Nine kinds")]);
    s.update("tactics.terrain", &record.version, &restore, &boss)
        .unwrap();
    assert!(!store.page(&path).unwrap().unwrap().0.state.deleted);
    assert_eq!(
        store.history(&path).unwrap().len(),
        4,
        "every step a revision"
    );
}

#[test]
fn staff_manage_pages_on_memory() {
    staff_manage_pages(Arc::new(wiki_adapter::memory::MemoryStore::default()));
}

#[test]
fn staff_manage_pages_on_postgres() {
    let db = db::testing::TestDatabase::migrated(&[wiki_adapter::pg::MIGRATIONS]);
    let store = wiki_adapter::pg::PgStore::new(db.database()).unwrap();
    staff_manage_pages(Arc::new(store));
}
