//! Page rendering: one tera instance with the site's layout, every component's templates
//! and the site's overrides.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use anyhow::{bail, Context as _};
use serde::Serialize;
use tera::{Context, Tera};

use crate::component::NavArea;
use crate::error::ErrorChain;
use crate::security::{CsrfToken, Identity};
use crate::site::Part;
use crate::{AppError, NavLink, Site};

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
    /// Every component's stylesheets, in registry order, after the site's own.
    stylesheets: Vec<String>,
}

/// Renders pages in the site's layout. Handlers get it as `web::Data<Templates>`.
pub struct Templates {
    tera: Tera,
    parts: Vec<Part>,
    site: SiteContext,
    release: String,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The site's templates, then every component's, then the site's overrides; an override
    /// must replace a template that exists, so that a misspelt name is an error.
    pub(crate) fn new(site: &Site) -> anyhow::Result<Self> {
        let mut sources: Vec<(String, String)> = SITE_TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect();
        for part in &site.parts {
            for (name, source) in part.running.templates() {
                sources.push((name.to_owned(), source.to_owned()));
            }
        }
        for (name, source) in &site.overrides {
            let Some(slot) = sources.iter_mut().find(|(n, _)| n == name) else {
                bail!("the template override {name} replaces no template of the site or its components");
            };
            slot.1.clone_from(source);
        }
        let mut tera = Tera::default();
        tera.autoescape_on([".html"]);
        tera.set_escape_fn(escape_into);
        tera.add_raw_templates(sources)
            .map_err(|e| anyhow::anyhow!("{:#}", ErrorChain(&e)))
            .context("compiling the templates")?;
        let version = format!("{}-{}", site.info.version, site.info.commit);
        let stylesheets = site
            .parts
            .iter()
            .flat_map(|p| {
                p.running
                    .static_files()
                    .into_iter()
                    .filter(|f| f.path.ends_with(".css"))
                    .map(|f| format!("/static/{}/{}?v={version}", p.name, f.path))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Self {
            tera,
            release: version.clone(),
            parts: site.parts.clone(),
            site: SiteContext {
                name: site.info.name,
                version: site.info.version.to_owned(),
                commit: site.info.commit.clone(),
                stylesheets,
            },
        })
    }

    /// The release the pages are rendered by (`version-commit`): part of an HTML page's
    /// ETag, so that a new release's layout is not kept as fresh.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// A context holding what every page's layout needs: the site, the navigation for this
    /// request (`nav`, `footer_links`) and the current path.
    pub fn context(&self, req: &HttpRequest) -> Context {
        let links: Vec<NavLink> = self.parts.iter().flat_map(|p| p.running.nav(req)).collect();
        let in_area = |area| -> Vec<&NavLink> { links.iter().filter(|l| l.area == area).collect() };
        let (nav, footer, account) = (
            in_area(NavArea::Main),
            in_area(NavArea::Footer),
            in_area(NavArea::Account),
        );
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("nav", &nav);
        ctx.insert("footer_links", &footer);
        ctx.insert("account_links", &account);
        ctx.insert("current_path", req.path());
        let extensions = req.extensions();
        // A fresh mask for every page, so that compression leaks nothing of the token.
        let token = extensions
            .get::<CsrfToken>()
            .map_or_else(String::new, CsrfToken::masked);
        ctx.insert("csrf_token", &token);
        if let Some(user) = extensions.get::<Identity>() {
            ctx.insert("user", &user.username);
        }
        ctx
    }

    /// Renders `name` into a string; a template error is an internal error.
    pub fn render_to_string(&self, name: &str, ctx: &Context) -> Result<String, AppError> {
        self.tera
            .render(name, ctx)
            .map_err(|e| AppError::internal(format!("rendering {name}: {:#}", ErrorChain(&e))))
    }

    /// Renders `name` around `body`, HTML rendered earlier (a cached fragment, say) that the
    /// template shows with `{{ <slot> | safe }}`. The body is not copied: the answer is the
    /// page's head, `body` and its tail, as they are.
    pub fn render_around(
        &self,
        name: &str,
        ctx: &mut Context,
        slot: &str,
        body: Bytes,
    ) -> Result<Spliced, AppError> {
        // A marker no template writes and no escaped value can contain (a NUL).
        const MARKER: &str = "\0slot\0";
        ctx.insert(slot.to_owned(), MARKER);
        let page = self.render_to_string(name, ctx)?;
        let Some(at) = page.find(MARKER) else {
            return Err(AppError::internal(format!(
                "rendering {name}: the template does not show {{{{ {slot} | safe }}}}"
            )));
        };
        let page = Bytes::from(page);
        Ok(Spliced {
            parts: [page.slice(..at), body, page.slice(at + MARKER.len()..)]
                .into_iter()
                .collect(),
        })
    }

    /// Renders `name` as a 200 HTML page.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<HttpResponse, AppError> {
        let body = self.render_to_string(name, ctx)?;
        Ok(HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(body))
    }
}

/// A page made of parts (see [`Templates::render_around`]), sent as they are.
#[derive(Debug)]
pub struct Spliced {
    parts: std::collections::VecDeque<Bytes>,
}

impl MessageBody for Spliced {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.parts.iter().map(|p| p.len() as u64).sum())
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.parts.pop_front().map(Ok))
    }
}

/// Escapes what HTML text and attribute values need, straight into the page being
/// rendered. Tera's default also escapes `/`, which only makes links unreadable in the page
/// source. One pass over the bytes: runs of plain text are written whole.
fn escape_into(input: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let bytes = input.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#x27;",
            _ => continue,
        };
        out.write_all(&bytes[plain..i])?;
        out.write_all(entity)?;
        plain = i + 1;
    }
    out.write_all(&bytes[plain..])
}

#[cfg(test)]
fn escape_html(input: &str) -> String {
    let mut out = Vec::new();
    escape_into(input, &mut out).expect("writing to a Vec");
    String::from_utf8(out).expect("escaping keeps UTF-8")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_but_not_slashes() {
        assert_eq!(
            super::escape_html(r#"<a href="/x?a=1&b='2'">"#),
            "&lt;a href=&quot;/x?a=1&amp;b=&#x27;2&#x27;&quot;&gt;"
        );
        assert_eq!(super::escape_html("plain ünïcödé"), "plain ünïcödé");
        assert_eq!(super::escape_html("é<é>"), "é&lt;é&gt;");
        assert_eq!(super::escape_html(""), "");
        assert_eq!(super::escape_html("&"), "&amp;");
    }
}
