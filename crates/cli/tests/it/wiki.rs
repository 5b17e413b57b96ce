//! `quotes wiki-import DIR` and `quotes wiki-export DIR` on PostgreSQL: a folder of
//! Markdown pages in, the same folder out, twice adds nothing, a bad file loads nothing.

use test_support::files_under;

use crate::helpers::*;

#[test]
fn wiki_import_then_export_gives_the_same_folder_and_twice_adds_nothing() {
    let db = SiteDb::migrated();
    let import = |dir: &str| run(quotes(&db.env()).args(["wiki-import", dir]));
    let r = import("fixtures/wiki");
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            Some(0),
            "3 pages created, 0 changed, 0 already as the files have them\n",
            ""
        )
    );
    let r = import("fixtures/wiki");
    assert_eq!(
        r.stdout,
        "0 pages created, 0 changed, 3 already as the files have them\n"
    );
    assert_eq!(db.sql("SELECT count(*) FROM wiki_revisions"), "3");
    assert_eq!(
        db.sql("SELECT path FROM wiki_pages WHERE locked"),
        "laying-plans/five-factors"
    );

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("exported");
    let r = run(quotes(&db.env()).args(["wiki-export", dir.to_str().unwrap()]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, format!("3 pages written to {}\n", dir.display()));
    assert_eq!(
        files_under(&dir),
        files_under(&workspace_root().join("fixtures/wiki"))
    );
    let r = run(quotes(&db.env()).args(["wiki-export", dir.to_str().unwrap()]));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
}

#[test]
fn a_bad_page_among_good_ones_loads_nothing_and_is_named() {
    let db = SiteDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let good = "+++\ntitle = \"Fine\"\n+++\nfine\n";
    std::fs::write(dir.path().join("fine.md"), good).unwrap();
    let bad = dir.path().join("broken.md");
    std::fs::write(&bad, "+++\ntitle = \"Broken\"\nauthor = \"sun\"\n+++\n").unwrap();
    let r = run(quotes(&db.env()).args(["wiki-import", dir.path().to_str().unwrap()]));
    assert_eq!(r.code, Some(1));
    let first_line = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first_line.starts_with(&format!("error: {}:3: ", bad.display())),
        "{}",
        r.stderr
    );
    assert_eq!(db.sql("SELECT count(*) FROM wiki_pages"), "0");
}
