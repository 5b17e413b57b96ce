//! Where a page lives: a path of slugs, `tactics/terrain`; the root page is the empty path.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::store::WikiError;

/// The deepest a page may sit.
pub const MAX_DEPTH: usize = 10;

/// The longest slug, in characters.
pub const MAX_SLUG: usize = 80;

/// A page's path: up to [`MAX_DEPTH`] slugs of lowercase ASCII letters, digits and dashes
/// (not at either end). The wiki's own views are words that start with `_` (`_edit`,
/// `_history`), which no slug can, so no page can hide a view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WikiPath(String);

impl WikiPath {
    /// The root page.
    pub fn root() -> Self {
        Self::default()
    }

    /// Reads `tactics/terrain`, `/tactics/terrain/` or `` (the root); names the slug at
    /// fault.
    pub fn parse(raw: &str) -> Result<Self, WikiError> {
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let slugs: Vec<&str> = trimmed.split('/').collect();
        if slugs.len() > MAX_DEPTH {
            return Err(WikiError::invalid(
                "path",
                format!(
                    "pages nest at most {MAX_DEPTH} levels deep, not {}",
                    slugs.len()
                ),
            ));
        }
        for slug in &slugs {
            check_slug(slug)?;
        }
        Ok(Self(slugs.join("/")))
    }

    /// A wiki link's target as written, `[[Tactics/Terrain]]`: lower-cased, spaces and
    /// underscores become dashes.
    pub fn from_link(target: &str) -> Result<Self, WikiError> {
        let slugged: String = target
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Self::parse(&slugged)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The page's address: `/wiki/` or `/wiki/tactics/terrain/`.
    pub fn url(&self) -> String {
        if self.is_root() {
            "/wiki/".to_owned()
        } else {
            format!("/wiki/{}/", self.0)
        }
    }

    /// The page above, `None` for the root.
    pub fn parent(&self) -> Option<WikiPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rsplit_once('/') {
            Some((parent, _)) => Self(parent.to_owned()),
            None => Self::root(),
        })
    }

    /// The page `slug` below this one.
    pub fn child(&self, slug: &str) -> Result<WikiPath, WikiError> {
        check_slug(slug)?;
        let path = if self.is_root() {
            slug.to_owned()
        } else {
            format!("{}/{slug}", self.0)
        };
        Self::parse(&path)
    }

    /// The last slug; `""` for the root.
    pub fn slug(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// How many slugs deep (the root is 0).
    pub fn depth(&self) -> usize {
        if self.is_root() {
            0
        } else {
            self.0.split('/').count()
        }
    }

    /// Every page from the root down to this one's parent, for breadcrumbs.
    pub fn ancestors(&self) -> Vec<WikiPath> {
        let mut out = Vec::new();
        let mut at = self.parent();
        while let Some(p) = at {
            at = p.parent();
            out.push(p);
        }
        out.reverse();
        out
    }
}

fn check_slug(slug: &str) -> Result<(), WikiError> {
    let bad = |why: &str| Err(WikiError::invalid("path", format!("{slug:?} {why}")));
    if slug.is_empty() {
        return bad("is empty: a path has no // in it");
    }
    if slug.chars().count() > MAX_SLUG {
        return bad(&format!("is longer than {MAX_SLUG} characters"));
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may hold only lowercase letters, digits and dashes");
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return bad("may not start or end with a dash");
    }
    Ok(())
}

impl fmt::Display for WikiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WikiPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_slugs_and_views_cannot_be_pages() {
        assert_eq!(
            WikiPath::parse("/tactics/terrain/").unwrap().as_str(),
            "tactics/terrain"
        );
        assert!(WikiPath::parse("").unwrap().is_root());
        assert!(WikiPath::parse("/").unwrap().is_root());
        for bad in [
            "Tactics",
            "a//b",
            "_edit",
            "a/_history",
            "-a",
            "a-",
            "a b",
            "é",
            "a.b",
            "<script>",
        ] {
            let error = WikiPath::parse(bad).unwrap_err();
            assert!(error.to_string().contains("path"), "{bad}: {error}");
        }
        let deep = ["a"; MAX_DEPTH + 1].join("/");
        assert!(WikiPath::parse(&deep).is_err());
        assert!(WikiPath::parse(&["a"; MAX_DEPTH].join("/")).is_ok());
    }

    #[test]
    fn links_parents_children_and_ancestors() {
        assert_eq!(
            WikiPath::from_link("Tactics/Terrain Types")
                .unwrap()
                .as_str(),
            "tactics/terrain-types"
        );
        let p = WikiPath::parse("a/b/c").unwrap();
        assert_eq!(p.url(), "/wiki/a/b/c/");
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert_eq!(p.slug(), "c");
        assert_eq!(p.depth(), 3);
        let ancestors: Vec<_> = p.ancestors().iter().map(|a| a.url()).collect();
        assert_eq!(ancestors, ["/wiki/", "/wiki/a/", "/wiki/a/b/"]);
        assert_eq!(WikiPath::root().child("x").unwrap().as_str(), "x");
        assert!(WikiPath::root().parent().is_none());
    }
}
