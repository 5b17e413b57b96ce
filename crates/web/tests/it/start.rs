//! Starting components: their settings sections, the backend and shared resources, and the
//! checks that stop start-up with a message naming the components at fault.

use serde::Deserialize;
use web::{Backend, Component, Context, Routes, Running, Site, StaticFile};

use crate::helpers::*;

/// A component that greets, with a setting, and paths given by the test.
struct Greeter {
    name: &'static str,
    paths: Vec<&'static str>,
    template: &'static str,
    file: &'static str,
}

impl Greeter {
    fn new(name: &'static str, paths: &[&'static str]) -> Self {
        Self {
            name,
            paths: paths.to_vec(),
            template: "",
            file: "",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GreeterSettings {
    greeting: String,
    times: u32,
}

impl Default for GreeterSettings {
    fn default() -> Self {
        Self {
            greeting: "hello".into(),
            times: 1,
        }
    }
}

/// What a started greeter saw.
#[derive(Clone, Debug, PartialEq)]
struct Seen(String);

struct Greeting {
    paths: Vec<&'static str>,
    template: &'static str,
    file: &'static str,
}

async fn ok() -> &'static str {
    "ok"
}

impl Running for Greeting {
    fn routes(&self, routes: &mut Routes) {
        for path in &self.paths {
            routes.get(path, ok);
        }
    }
    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        if self.template.is_empty() {
            Vec::new()
        } else {
            vec![(self.template, "x")]
        }
    }
    fn static_files(&self) -> Vec<StaticFile> {
        if self.file.is_empty() {
            Vec::new()
        } else {
            vec![StaticFile::css(self.file, "")]
        }
    }
}

impl Component for Greeter {
    fn name(&self) -> &'static str {
        self.name
    }
    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: GreeterSettings = ctx.settings()?;
        let earlier = ctx.resource::<Seen>().map(|s| s.0).unwrap_or_default();
        ctx.provide(Seen(format!(
            "{earlier}{} {} {}x on {};",
            self.name,
            settings.greeting,
            settings.times,
            ctx.backend()
        )));
        Ok(Box::new(Greeting {
            paths: self.paths.clone(),
            template: self.template,
            file: self.file,
        }))
    }
}

fn settings(toml: &str) -> config::Config {
    config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()
        .unwrap()
}

fn start_err(site: &mut Site, component: Greeter) -> String {
    format!("{:#}", site.start(&component).unwrap_err())
}

#[test]
fn each_component_reads_its_own_section_and_sees_what_earlier_ones_provide() {
    let mut site = Site::new(info())
        .backend(Backend::Postgres)
        .settings(settings("[one]\ngreeting = \"hi\"\ntimes = 3\n[two]\n"));
    site.start(&Greeter::new("one", &["/one"])).unwrap();
    site.start(&Greeter::new("two", &["/two"])).unwrap();
    assert_eq!(
        site.resource::<Seen>(),
        Some(Seen(
            "one hi 3x on PostgreSQL;two hello 1x on PostgreSQL;".into()
        ))
    );
    assert_eq!(site.names(), ["one", "two"]);
}

#[test]
fn a_bad_setting_names_its_section_and_field() {
    let mut site = Site::new(info()).settings(settings("[one]\ngretting = \"hi\"\n"));
    let err = start_err(&mut site, Greeter::new("one", &[]));
    assert!(
        err.starts_with("starting the one component: reading the [one] settings: ")
            && err.contains("unknown field `gretting`"),
        "{err}"
    );
    let mut site = Site::new(info()).settings(settings("[one]\ntimes = \"many\"\n"));
    let err = start_err(&mut site, Greeter::new("one", &[]));
    assert!(err.contains("one.times"), "{err}");
}

#[test]
fn two_components_claiming_one_path_stop_start_up_naming_both() {
    let mut site = Site::new(info());
    site.start(&Greeter::new("one", &["/", "/one"])).unwrap();
    assert_eq!(
        start_err(&mut site, Greeter::new("two", &["/two", "/"])),
        "components one and two both claim /"
    );
    assert_eq!(site.names(), ["one"], "the refused component does not join");
    // Nothing of the refused one stays behind: fixed, it starts.
    site.start(&Greeter::new("two", &["/two"])).unwrap();
    assert_eq!(site.names(), ["one", "two"]);
    assert_eq!(
        start_err(&mut site, Greeter::new("three", &["/three", "/three"])),
        "component three claims /three twice"
    );
}

#[test]
fn routes_must_stay_under_the_components_prefixes() {
    let mut site = Site::new(info());
    site.start(&Greeter::new(
        "one",
        &["/one", "/one/{id}", "/api/one", "/api/one/x"],
    ))
    .unwrap();
    for (path, expected) in [
        (
            "/onetwo",
            "component two claims /onetwo, outside its prefixes /two and /api/two",
        ),
        (
            "/api/x",
            "component two claims /api/x, outside its prefixes /two and /api/two",
        ),
        (
            "/healthz",
            "component two claims /healthz, which the site serves itself",
        ),
        (
            "/static/two/x",
            "component two claims /static/two/x, which the site serves itself",
        ),
    ] {
        assert_eq!(start_err(&mut site, Greeter::new("two", &[path])), expected);
    }
}

#[test]
fn names_are_checked() {
    let mut site = Site::new(info());
    for (name, expected) in [
        ("Two", "component name \"Two\" must be lowercase letters and digits, starting with a letter"),
        ("my-notes", "component name \"my-notes\" must be lowercase letters and digits, starting with a letter"),
        ("static", "component name static is taken by the site itself"),
        ("database", "component name database is taken by the site itself"),
    ] {
        assert_eq!(start_err(&mut site, Greeter::new(name, &[])), expected);
    }
    site.start(&Greeter::new("one", &[])).unwrap();
    assert_eq!(
        start_err(&mut site, Greeter::new("one", &[])),
        "two components are named one"
    );
}

#[test]
fn templates_and_static_files_live_in_the_components_folder() {
    let mut site = Site::new(info());
    let mut bad = Greeter::new("one", &[]);
    bad.template = "page.html";
    assert_eq!(
        start_err(&mut site, bad),
        "component one's template page.html must be named one/…"
    );
    let mut bad = Greeter::new("one", &[]);
    bad.file = "../secret.css";
    assert_eq!(
        start_err(&mut site, bad),
        "component one's static file \"../secret.css\" needs a relative path such as style.css"
    );
}
