//! A wiki moved as a folder of Markdown files (`quotes wiki-export` / `wiki-import`): from
//! the memory store to PostgreSQL and back out, with nothing lost, nothing doubled, and a bad
//! file loading nothing.

use wiki_adapter::files::{export, read};
use wiki_adapter::memory::MemoryStore;
use wiki_adapter::pg::{PgStore, MIGRATIONS};
use wiki_adapter::{markdown, Imported, NewRevision, PageState, WikiPath, WikiStore};

fn save(s: &dyn WikiStore, path: &str, title: &str, content: &str, state: Option<PageState>) {
    let path = WikiPath::parse(path).unwrap();
    let base = s.page(&path).unwrap().map(|(info, _)| info.revision);
    let revision = NewRevision {
        title: title.into(),
        html: markdown::render(content).html,
        content: content.into(),
        author: Some("sun".into()),
        address: None,
        message: String::new(),
        state,
    };
    s.save(&path, base, revision).unwrap();
}

#[test]
fn a_wiki_moves_between_stores_through_files_without_loss() {
    let memory = MemoryStore::default();
    save(&memory, "", "Home", "Welcome. See [[Tactics]].\n", None);
    save(
        &memory,
        "tactics",
        "Tactics",
        "# Six kinds\n\n[TOC]\n",
        None,
    );
    save(
        &memory,
        "tactics",
        "Tactics",
        "# Six kinds of ground\n",
        None,
    );
    let odd = "Title \"quoted\" = +++ ünïcode";
    save(
        &memory,
        "tactics/terrain",
        odd,
        "+++\nnot front matter\n+++\nno newline",
        None,
    );
    let locked = PageState {
        deleted: false,
        locked: true,
    };
    save(
        &memory,
        "orders",
        "Orders",
        "March.\r\nHalt.\r\n",
        Some(locked),
    );
    let gone = PageState {
        deleted: true,
        locked: false,
    };
    save(&memory, "spam", "Spam", "buy now", Some(gone));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wiki");
    assert_eq!(export(&memory, &out).unwrap(), 5);
    let files = test_support::files_under(&out);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "_index.md",
            "orders.md",
            "spam.md",
            "tactics.md",
            "tactics/terrain.md"
        ]
    );
    assert_eq!(
        files["tactics.md"],
        "+++\ntitle = \"Tactics\"\n+++\n# Six kinds of ground\n"
    );
    assert!(files["orders.md"].contains("locked = true\n"));
    assert!(files["spam.md"].contains("deleted = true\n"));
    // A folder that is not empty is refused, and left as it was.
    let err = export(&memory, &out).unwrap_err().to_string();
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(test_support::files_under(&out), files);

    let db = db::testing::TestDatabase::migrated(&[MIGRATIONS]);
    let pg = PgStore::new(db.database()).unwrap();
    let created = Imported {
        created: 5,
        changed: 0,
        unchanged: 0,
    };
    assert_eq!(pg.import(read(&out).unwrap()).unwrap(), created);
    let again = Imported {
        created: 0,
        changed: 0,
        unchanged: 5,
    };
    assert_eq!(
        pg.import(read(&out).unwrap()).unwrap(),
        again,
        "twice adds nothing"
    );
    let terrain = WikiPath::parse("tactics/terrain").unwrap();
    let (info, page) = pg.page(&terrain).unwrap().unwrap();
    assert_eq!((info.title.as_str(), info.revision), (odd, 1));
    assert_eq!(page.content, "+++\nnot front matter\n+++\nno newline");
    assert_eq!(page.message, "Imported by quotes wiki-import");
    let orders = pg
        .page(&WikiPath::parse("orders").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (orders.0.state, orders.1.content.as_str()),
        (locked, "March.\r\nHalt.\r\n")
    );

    // Out of PostgreSQL: the same files, byte for byte.
    let back = dir.path().join("back");
    assert_eq!(export(&pg, &back).unwrap(), 5);
    assert_eq!(test_support::files_under(&back), files);
}

#[test]
fn a_bad_file_loads_nothing_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("tactics")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "ignored").unwrap();
    std::fs::write(root.join("_index.md"), "+++\ntitle = \"Home\"\n+++\nhi\n").unwrap();
    std::fs::write(root.join("tactics.md"), "+++\ntitle = \"Tactics\"\n+++\n").unwrap();
    let store = MemoryStore::default();
    for (file, text, expected) in [
        (
            "tactics/terrain.md",
            "+++\ntitle = \"T\"\nsize = 3\n+++\n",
            "tactics/terrain.md:3: ",
        ),
        (
            "tactics/Terrain.md",
            "+++\ntitle = \"T\"\n+++\n",
            "is not a page's path",
        ),
        ("notes.txt", "x", "not a page"),
    ] {
        let bad = root.join(file);
        std::fs::write(&bad, text).unwrap();
        let err = format!("{:#}", read(root).unwrap_err());
        assert!(err.contains(expected), "{file}: {err}");
        assert!(err.contains(file), "{file}: {err}");
        std::fs::remove_file(&bad).unwrap();
    }
    // A title past the limit is refused by the store, for the whole batch.
    std::fs::write(
        root.join("tactics/long.md"),
        format!("+++\ntitle = \"{}\"\n+++\n", "t".repeat(201)),
    )
    .unwrap();
    let err = store.import(read(root).unwrap()).unwrap_err().to_string();
    assert!(
        err.contains("title") && err.contains("/wiki/tactics/long/"),
        "{err}"
    );
    assert!(
        store.page(&WikiPath::root()).unwrap().is_none(),
        "nothing loaded"
    );
    std::fs::remove_file(root.join("tactics/long.md")).unwrap();
    assert_eq!(store.import(read(root).unwrap()).unwrap().created, 2);
}
