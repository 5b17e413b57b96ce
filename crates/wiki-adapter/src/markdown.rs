//! Markdown to the HTML a revision keeps: CommonMark with tables and strikethrough
//! (pulldown-cmark), wiki links `[[Tactics/Terrain]]` and `[[Tactics/Terrain|the ground]]`,
//! an anchor on every heading, `[TOC]` for a table of contents, then sanitised by ammonia:
//! no script, event handler, `javascript:` URL or other raw HTML outside its allow-list
//! reaches a browser.
//!
//! Whether a linked page exists changes after a revision is saved, so the kept HTML marks
//! every wiki link with its target (`data-wiki="tactics/terrain"`) and [`mark_missing`]
//! turns the links to pages that do not exist red when the page is shown.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::path::WikiPath;

/// What a rendering gives: the sanitised HTML and the pages it links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub links: Vec<WikiPath>,
}

/// Renders `markdown` as a revision keeps it.
pub fn render(markdown: &str) -> Rendered {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let events = coalesce_text(events);
    let mut links = Vec::new();
    let events = wiki_links(events, &mut links);
    let (events, headings) = anchor_headings(events);
    let events = table_of_contents(events, &headings);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, events.into_iter());
    let mut seen = HashSet::new();
    links.retain(|l| seen.insert(l.clone()));
    Rendered {
        html: sanitize(&raw),
        links,
    }
}

/// Adjacent text events as one, so that a `[[link]]` the parser cut up is seen whole.
fn coalesce_text(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut out: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut in_code = false;
    for event in events {
        match &event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            _ => {}
        }
        if let (false, Event::Text(text)) = (in_code, &event) {
            if let Some(Event::Text(previous)) = out.last_mut() {
                let joined = format!("{previous}{text}");
                *previous = CowStr::from(joined);
                continue;
            }
        }
        out.push(event);
    }
    out
}

/// Turns `[[Target]]` and `[[Target|label]]` in text (never in code) into links that carry
/// their target; a target that is no page path stays as text.
fn wiki_links<'a>(events: Vec<Event<'a>>, links: &mut Vec<WikiPath>) -> Vec<Event<'a>> {
    let mut out = Vec::with_capacity(events.len());
    let mut in_code = false;
    for event in events {
        match &event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            _ => {}
        }
        let Event::Text(text) = &event else {
            out.push(event);
            continue;
        };
        if in_code || !text.contains("[[") {
            out.push(event);
            continue;
        }
        let mut rest: &str = text;
        while let Some(start) = rest.find("[[") {
            let Some(len) = rest[start + 2..].find("]]") else {
                break;
            };
            let inner = &rest[start + 2..start + 2 + len];
            let (target, label) = inner.split_once('|').unwrap_or((inner, inner));
            match WikiPath::from_link(target) {
                Ok(path) if !target.trim().is_empty() => {
                    out.push(Event::Text(CowStr::from(rest[..start].to_owned())));
                    out.push(Event::Html(CowStr::from(format!(
                        "<a class=\"wikilink\" data-wiki=\"{}\" href=\"{}\">",
                        path.as_str(),
                        path.url()
                    ))));
                    out.push(Event::Text(CowStr::from(label.trim().to_owned())));
                    out.push(Event::Html(CowStr::from("</a>")));
                    links.push(path);
                }
                _ => out.push(Event::Text(CowStr::from(
                    rest[..start + 2 + len + 2].to_owned(),
                ))),
            }
            rest = &rest[start + 2 + len + 2..];
        }
        out.push(Event::Text(CowStr::from(rest.to_owned())));
    }
    out
}

/// A heading for the table of contents.
struct Heading {
    level: HeadingLevel,
    id: String,
    text: String,
}

/// Gives every heading an id made from its text (`terrain-types`, then `terrain-types-2`).
fn anchor_headings(events: Vec<Event<'_>>) -> (Vec<Event<'_>>, Vec<Heading>) {
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut headings = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    let mut open: Option<(usize, HeadingLevel, String)> = None;
    for event in events {
        match event {
            Event::Start(Tag::Heading {
                level,
                classes,
                attrs,
                ..
            }) => {
                open = Some((out.len(), level, String::new()));
                out.push(Event::Start(Tag::Heading {
                    level,
                    id: None,
                    classes,
                    attrs,
                }));
            }
            Event::End(TagEnd::Heading(level)) => {
                if let Some((at, _, text)) = open.take() {
                    let base = slugify(&text);
                    let n = used.entry(base.clone()).or_insert(0);
                    *n += 1;
                    let id = if *n == 1 { base } else { format!("{base}-{n}") };
                    if let Event::Start(Tag::Heading { id: slot, .. }) = &mut out[at] {
                        *slot = Some(CowStr::from(id.clone()));
                    }
                    headings.push(Heading { level, id, text });
                }
                out.push(Event::End(TagEnd::Heading(level)));
            }
            other => {
                if let (Some((_, _, text)), Event::Text(t) | Event::Code(t)) = (&mut open, &other) {
                    text.push_str(t);
                }
                out.push(other);
            }
        }
    }
    (out, headings)
}

fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "section".to_owned()
    } else {
        format!("h-{out}")
    }
}

/// Replaces a paragraph that says only `[TOC]` with a list of the headings.
fn table_of_contents<'a>(events: Vec<Event<'a>>, headings: &[Heading]) -> Vec<Event<'a>> {
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        let is_toc = matches!(
            (&events[i], events.get(i + 1), events.get(i + 2)),
            (Event::Start(Tag::Paragraph), Some(Event::Text(t)), Some(Event::End(TagEnd::Paragraph)))
                if t.trim() == "[TOC]"
        );
        if is_toc {
            out.push(Event::Html(CowStr::from(toc_html(headings))));
            i += 3;
        } else {
            out.push(events[i].clone());
            i += 1;
        }
    }
    out
}

fn toc_html(headings: &[Heading]) -> String {
    let mut html = String::from("<nav class=\"toc\"><p>Contents</p><ul>");
    for h in headings {
        let depth = h.level as usize;
        html.push_str(&format!(
            "<li class=\"toc-{depth}\"><a href=\"#{}\">{}</a></li>",
            h.id,
            escape(&h.text)
        ));
    }
    html.push_str("</ul></nav>");
    html
}

/// `text` safe inside HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Keeps what Markdown writes and nothing that runs: ammonia's allow-list, plus the ids of
/// headings, the wiki links' class and target, and the table of contents.
fn sanitize(html: &str) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["nav"])
        .add_tag_attributes("a", ["class", "data-wiki"])
        .add_tag_attributes("nav", ["class"])
        .add_tag_attributes("li", ["class"])
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .link_rel(Some("nofollow noopener noreferrer"));
    builder.clean(html).to_string()
}

/// The kept HTML with the links to pages not in `existing` marked `missing` (red, and
/// leading to "create this page").
pub fn mark_missing(html: &str, links: &[WikiPath], existing: &[WikiPath]) -> String {
    let mut out = html.to_owned();
    for link in links.iter().filter(|l| !existing.contains(l)) {
        let from = format!("class=\"wikilink\" data-wiki=\"{}\"", link.as_str());
        let to = format!(
            "class=\"wikilink missing\" title=\"This page does not exist yet: create it\" data-wiki=\"{}\"",
            link.as_str()
        );
        out = out.replace(&from, &to);
    }
    out
}

/// The wiki links in kept HTML, to find which are missing when it is shown.
pub fn linked_paths(html: &str) -> Vec<WikiPath> {
    let mut out = Vec::new();
    for part in html.split("data-wiki=\"").skip(1) {
        if let Some(end) = part.find('"') {
            if let Ok(path) = WikiPath::parse(&part[..end]) {
                if !out.contains(&path) {
                    out.push(path);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiki_links_carry_their_target_and_code_is_left_alone() {
        let r = render("See [[Tactics/Terrain]] and [[Laws|the laws]].\n\n`[[not a link]]`\n\n    [[nor this]]\n");
        assert!(r.html.contains("<a class=\"wikilink\" data-wiki=\"tactics/terrain\" href=\"/wiki/tactics/terrain/\""), "{}", r.html);
        assert!(r.html.contains(">the laws</a>"), "{}", r.html);
        assert!(r.html.contains("<code>[[not a link]]</code>"), "{}", r.html);
        assert!(r.html.contains("[[nor this]]"), "{}", r.html);
        let links: Vec<_> = r.links.iter().map(WikiPath::as_str).collect();
        assert_eq!(links, ["tactics/terrain", "laws"]);
        assert_eq!(linked_paths(&r.html), r.links);
        let shown = mark_missing(&r.html, &r.links, &[WikiPath::parse("laws").unwrap()]);
        assert!(shown.contains("class=\"wikilink missing\" title=\"This page does not exist yet: create it\" data-wiki=\"tactics/terrain\""), "{shown}");
        assert!(
            shown.contains("class=\"wikilink\" data-wiki=\"laws\""),
            "{shown}"
        );
    }

    #[test]
    fn headings_get_anchors_and_toc_lists_them() {
        let r = render("[TOC]\n\n# Terrain\n\n## Six kinds\n\n## Six kinds\n");
        assert!(
            r.html.contains("<h1 id=\"h-terrain\">Terrain</h1>"),
            "{}",
            r.html
        );
        assert!(r.html.contains("<h2 id=\"h-six-kinds-2\">"), "{}", r.html);
        assert!(r.html.contains("<nav class=\"toc\">"), "{}", r.html);
        assert!(
            r.html.contains(
                "<a href=\"#h-six-kinds\" rel=\"nofollow noopener noreferrer\">Six kinds</a>"
            ),
            "{}",
            r.html
        );
    }

    #[test]
    fn nothing_that_runs_survives() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "[[<script>alert(1)</script>]]",
            "![x](javascript:alert(1))",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "<form action=\"https://evil.example\"><input></form>",
            "<object data=\"x\"></object>",
            "# Heading <img src=x onerror=alert(1)>",
        ] {
            let html = render(payload).html.to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<iframe",
                "style=",
                "<form",
                "<object",
                "data:text",
            ] {
                assert!(!html.contains(bad), "{payload:?} left {bad:?}: {html}");
            }
        }
    }
}
