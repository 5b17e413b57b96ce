//! The wiki's section, served by the admin like any other: staff add a page with a path of
//! several levels, change it from its revision (a stale form is refused), lock it, delete it
//! (the wiki hides it, the admin still finds it) and restore it; ids hold no slash.

use wiki_adapter::WikiPath;

use crate::helpers::*;

const LIST: &str = "/admin/wiki/page/";

#[actix_web::test]
async fn staff_add_change_lock_delete_and_restore_wiki_pages() {
    for backend in BOTH {
        let site = site(backend, 100);
        let staff = site.as_user("staff").await;
        let index = staff.get("/admin/").await.body;
        assert!(index.contains("Wiki pages"), "{backend}: {index}");

        let add = format!("{LIST}add/");
        let bad = staff
            .post(&add, &add, &[("path", "Tactics/Terrain"), ("title", "")])
            .await;
        assert_eq!(bad.status, 200, "{backend}");
        let fields: Vec<String> = field_errors(&bad.body).into_iter().map(|e| e.0).collect();
        assert_eq!(fields, ["path"], "{}", bad.body);
        let page = staff
            .post(
                &add,
                &add,
                &[
                    ("path", "tactics/terrain"),
                    ("title", "Terrain"),
                    ("content", "Six **kinds** of ground."),
                    ("message", "first draft"),
                ],
            )
            .await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/admin/wiki/page/?done=added")),
            "{}",
            page.body
        );
        let public = staff.get("/wiki/tactics/terrain/").await.body;
        assert!(public.contains("<strong>kinds</strong>"), "{public}");
        assert_eq!(row_ids(&staff.get(LIST).await.body), ["tactics.terrain"]);

        // Change it, locked; a form from before the change is refused, nothing lost.
        let form = format!("{LIST}tactics.terrain/change/");
        let shown = staff.get(&form).await;
        assert_eq!(shown.status, 200);
        let v = version(&shown.body);
        assert_eq!(v, "1");
        let fields = [
            ("title", "Terrain"),
            ("content", "Nine kinds of ground."),
            ("locked", "on"),
            ("version", "1"),
        ];
        assert_eq!(staff.post(&form, &form, &fields).await.status, 303);
        let path = WikiPath::parse("tactics/terrain").unwrap();
        let (info, current) = site.wiki.page(&path).unwrap().unwrap();
        assert!(info.state.locked);
        assert_eq!(
            (current.content.as_str(), current.author.as_deref()),
            ("Nine kinds of ground.", Some("staff"))
        );
        let stale = staff.post(&form, &form, &fields).await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        assert_eq!(site.wiki.page(&path).unwrap().unwrap().0.revision, 2);

        // Delete: the wiki hides it, the admin keeps it; untick "Deleted" to restore.
        let delete = format!("{LIST}tactics.terrain/delete/");
        assert_eq!(staff.post(&delete, &delete, &[]).await.status, 303);
        let visitor = site.as_user("visitor").await;
        assert_eq!(visitor.get("/wiki/tactics/terrain/").await.status, 404);
        let deleted = staff.get(&format!("{LIST}?f_state=deleted")).await.body;
        assert_eq!(row_ids(&deleted), ["tactics.terrain"]);
        let shown = staff.get(&form).await.body;
        let fields = [
            ("title", "Terrain"),
            ("content", "Nine kinds of ground."),
            ("version", &version(&shown)),
        ];
        assert_eq!(staff.post(&form, &form, &fields).await.status, 303);
        let page = visitor.get("/wiki/tactics/terrain/").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Nine kinds of ground."));
        assert_eq!(site.wiki.history(&path).unwrap().len(), 4);

        // The root page's id is `~`; plain users do not get in.
        let root = staff
            .post(
                &add,
                &add,
                &[("path", ""), ("title", "Home"), ("content", "Hi")],
            )
            .await;
        assert_eq!(root.status, 303, "{}", root.body);
        assert_eq!(staff.get(&format!("{LIST}~/change/")).await.status, 200);
        assert_ne!(visitor.get(LIST).await.status, 200);
        let history = staff.get(&format!("{LIST}tactics.terrain/history/")).await;
        assert!(history.body.contains("by staff"), "{}", history.body);
    }
}
