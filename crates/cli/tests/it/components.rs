//! The registry: the components a build has run unless settings switch them off, the site
//! works with any of them left out, and a site may override any template.

use crate::helpers::*;

/// The components this build has, in registry order.
fn compiled_in() -> Vec<&'static str> {
    cli::registry::installed()
        .iter()
        .map(|c| c.name())
        .collect()
}

#[test]
fn settings_naming_a_component_the_build_lacks_are_refused() {
    let r = run(quotes(&[("QUOTES__COMPONENTS__WIKKI", "true")]).arg("migrate"));
    assert_eq!(r.code, Some(1));
    let have = compiled_in();
    let have = if have.is_empty() {
        "none".to_owned()
    } else {
        have.join(", ")
    };
    assert_eq!(
        r.stderr,
        format!(
            "error: [components] names wikki, which this build does not have (it has: {have})\n"
        )
    );
}

#[cfg(feature = "store-memory")]
#[test]
fn switching_off_a_component_the_build_lacks_is_allowed() {
    // One settings file may serve builds with and without a component.
    let r = run(quotes(&[("QUOTES__COMPONENTS__WIKKI", "false")]).arg("wait-for-db"));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "the memory store needs no database\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn help_lists_the_commands_of_the_components_built_in() {
    let r = run(quotes(&[]).arg("--help"));
    assert_eq!(r.code, Some(0));
    for site in ["serve", "migrate", "wait-for-db"] {
        assert!(r.stdout.contains(site), "{}", r.stdout);
    }
    assert_eq!(
        r.stdout.contains("load-quotes"),
        cfg!(feature = "quotes"),
        "{}",
        r.stdout
    );
}

#[cfg(feature = "store-memory")]
#[test]
fn healthz_lists_the_components_that_run() {
    let server = Server::start(&[], &[]);
    let body: serde_json::Value = server.get("/healthz").json().unwrap();
    assert_eq!(body["components"], serde_json::json!(compiled_in()));
    // Whatever is built in, the shell serves a home page, its stylesheet and 404s.
    assert_eq!(server.get("/").status(), 200);
    assert_eq!(server.get("/static/style.css").status(), 200);
    assert_eq!(server.get("/no/such/page").status(), 404);
}

#[cfg(feature = "store-memory")]
#[test]
fn a_template_folder_overrides_the_sites_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("error.html"),
        r#"{% extends "base.html" %}{% block content %}<p id="ours">{{ status }}: {{ message }}</p>{% endblock content %}"#,
    )
    .unwrap();
    let templates = dir.path().to_str().unwrap();
    let server = Server::start(&[("QUOTES__SERVER__TEMPLATES_DIR", templates)], &[]);
    let html = server.get("/no/such/page").text().unwrap();
    assert!(
        html.contains(r#"<p id="ours">404: There is no page at /no/such/page.</p>"#),
        "{html}"
    );

    std::fs::write(dir.path().join("eror.html"), "typo").unwrap();
    let r =
        run(quotes(&[("QUOTES__SERVER__TEMPLATES_DIR", templates), ("PORT", "0")]).arg("serve"));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .contains("the template override eror.html replaces no template"),
        "{}",
        r.stderr
    );
}

#[cfg(all(feature = "quotes", feature = "store-memory"))]
#[test]
fn a_component_switched_off_is_not_served_and_its_commands_say_why() {
    let off = [("QUOTES__COMPONENTS__QUOTES", "false")];
    let server = Server::start(&off, &[]);
    let body: serde_json::Value = server.get("/healthz").json().unwrap();
    let others: Vec<_> = compiled_in()
        .into_iter()
        .filter(|c| *c != "quotes")
        .collect();
    assert_eq!(body["components"], serde_json::json!(others));
    assert_eq!(server.get("/quotes").status(), 404);
    let home = server.get("/").text().unwrap();
    assert!(home.contains("<h1>Hello, World!</h1>"), "{home}");
    assert!(!home.contains("data-quote-id"), "{home}");
    let r = run(quotes(&off).args(["load-quotes", "fixtures/quotes.txt"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: load-quotes belongs to the quotes component, which the settings switch off ([components] quotes = false)\n"
    );
    let r = run(quotes(&off).args(["serve", "--load-quotes", "fixtures/quotes.txt"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: --load-quotes belongs to the quotes component, which the settings switch off ([components] quotes = false)\n"
    );
}

#[cfg(all(feature = "quotes", feature = "store-memory"))]
#[test]
fn a_components_settings_section_is_read_and_checked() {
    let server = Server::start(
        &[("QUOTES__QUOTES__PER_PAGE", "5")],
        &["--load-quotes", "fixtures/quotes.txt"],
    );
    let body: serde_json::Value = server.get("/api/quotes").json().unwrap();
    assert_eq!(body["per_page"], 5);
    let r = run(quotes(&[("QUOTES__QUOTES__PER_PAGE", "5000")]).arg("serve"));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: starting the quotes component: [quotes] per_page must be between 1 and 1000, not 5000\n"
    );
    let r = run(quotes(&[("QUOTES__QUOTES__PAGE_SIZE", "5")]).arg("serve"));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .starts_with("error: starting the quotes component: reading the [quotes] settings: ")
            && r.stderr.contains("page_size"),
        "{}",
        r.stderr
    );
}

#[cfg(all(not(feature = "quotes"), feature = "store-pg"))]
#[test]
fn without_the_quotes_component_its_tables_are_not_made() {
    let db = SiteDb::empty();
    let r = run(quotes(&db.env()).arg("migrate"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!r.stdout.contains("quotes"), "{}", r.stdout);
    let r = run(quotes(&db.env()).arg("migrate"));
    assert_eq!(r.stdout, "no migrations to apply: the schema is current\n");
}

/// The admin is a component like any other: switched off, `/admin/` is a 404 and the rest
/// of the site works; on, it asks visitors to sign in.
#[cfg(all(feature = "admin", feature = "store-memory"))]
#[test]
fn the_admin_switched_off_is_a_404_and_the_site_works() {
    let on = Server::start(&[("QUOTES_STORE", "memory")], &[]);
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let asked = client.get(format!("{}/admin/", on.base)).send().unwrap();
    assert_eq!(asked.status(), 303, "sign in first");
    let off = Server::start(
        &[
            ("QUOTES_STORE", "memory"),
            ("QUOTES__COMPONENTS__ADMIN", "false"),
        ],
        &[],
    );
    assert_eq!(off.get("/admin/").status(), 404);
    assert_eq!(off.get("/healthz").status(), 200);
    let body: serde_json::Value = off.get("/healthz").json().unwrap();
    assert!(!body["components"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("admin")));
}

/// What a management command changes is in the admin's history, with the command as who.
#[cfg(all(feature = "admin", feature = "quotes", feature = "store-pg"))]
#[test]
fn load_quotes_records_what_it_added_in_the_history() {
    let db = SiteDb::migrated();
    let r = run(quotes(&db.env()).args(["load-quotes", "fixtures/quotes.txt"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let again = run(quotes(&db.env()).args(["load-quotes", "fixtures/quotes.txt"]));
    assert_eq!(again.code, Some(0));
    assert_eq!(
        db.sql("select actor_name, action, count(*) from admin_history group by 1, 2"),
        "command load-quotes|add|17",
        "one entry per quote added, none for the second load"
    );
    // The accounts' commands too, though accounts start before the admin; never a password.
    let password = "Tr0ub4dor&3-horse-history";
    let mut env = db.env();
    env.extend([
        ("QUOTES_SUPERUSER_USERNAME", "root"),
        ("QUOTES_SUPERUSER_PASSWORD", password),
    ]);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input", "--update-password"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(quotes(&env).args(["createsuperuser", "--no-input", "--update-password"]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let rows = db.sql(
        "select actor_name, action, object_label, fields from admin_history \
         where section = 'accounts/user' order by id",
    );
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 2, "{rows}");
    assert!(
        lines[0].starts_with("command createsuperuser|add|root|"),
        "{rows}"
    );
    assert!(
        lines[1].starts_with("command createsuperuser --update-password|change|root|")
            && lines[1].contains("(set)"),
        "{rows}"
    );
    assert!(!rows.contains(password), "no password in the history");
}
