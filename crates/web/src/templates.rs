//! Page rendering: one tera instance with the site's layout and every component's templates.

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;
use serde::Serialize;
use tera::{Context, Tera};

use crate::error::ErrorChain;
use crate::{AppError, BuildInfo, NavLink};

/// The site's own templates, embedded so that the binary is the whole app.
const SITE_TEMPLATES: [(&str, &str); 4] = [
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("index.html", include_str!("../templates/index.html")),
];

#[derive(Debug, Serialize)]
struct SiteContext {
    name: &'static str,
    version: String,
    commit: String,
}

/// Renders pages in the site's layout. Handlers get it as `web::Data<Templates>`.
#[derive(Debug)]
pub struct Templates {
    tera: Tera,
    nav: Vec<NavLink>,
    site: SiteContext,
}

impl Templates {
    pub(crate) fn new(
        extra: Vec<(&'static str, &'static str)>,
        nav: Vec<NavLink>,
        info: &BuildInfo,
    ) -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.set_escape_fn(escape_html);
        tera.add_raw_templates(SITE_TEMPLATES.into_iter().chain(extra))?;
        Ok(Self {
            tera,
            nav,
            site: SiteContext {
                name: "quotes",
                version: info.version.to_owned(),
                commit: info.commit.clone(),
            },
        })
    }

    /// A context holding what every page's layout needs.
    pub fn context(&self, current_path: &str) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("nav", &self.nav);
        ctx.insert("current_path", current_path);
        ctx
    }

    /// Renders `name` into a string; a template error is an internal error.
    pub fn render_to_string(&self, name: &str, ctx: &Context) -> Result<String, AppError> {
        self.tera
            .render(name, ctx)
            .map_err(|e| AppError::internal(format!("rendering {name}: {:#}", ErrorChain(&e))))
    }

    /// Renders `name` as a 200 HTML page.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<HttpResponse, AppError> {
        let body = self.render_to_string(name, ctx)?;
        Ok(HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(body))
    }
}

/// Escapes what HTML text and quoted attributes need. Tera's default also escapes `/`,
/// which only makes links unreadable in the page source.
fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_but_not_slashes() {
        assert_eq!(
            super::escape_html(r#"<a href="/x?a=1&b='2'">"#),
            "&lt;a href=&quot;/x?a=1&amp;b=&#x27;2&#x27;&quot;&gt;"
        );
    }
}
