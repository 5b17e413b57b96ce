//! Page links for any paged list, for the `pager` macro in `macros.html`.

use serde::Serialize;

/// Where a paged list stands and the links to its neighbours, as Django's `Page` offers
/// them to templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pager {
    pub page: u32,
    pub per_page: u32,
    pub num_pages: u32,
    pub total: u64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Links to `base?page=N`, with `&per_page=M` unless `per_page` is the list's default.
    /// An empty list has one (empty) page.
    pub fn new(base: &str, page: u32, per_page: u32, total: u64, default_per_page: u32) -> Self {
        let per_page = per_page.max(1);
        let num_pages =
            u32::try_from(total.div_ceil(u64::from(per_page)).max(1)).unwrap_or(u32::MAX);
        let link = |n: u32| {
            if per_page == default_per_page {
                format!("{base}?page={n}")
            } else {
                format!("{base}?page={n}&per_page={per_page}")
            }
        };
        Self {
            page,
            per_page,
            num_pages,
            total,
            previous: (page > 1).then(|| link(page - 1)),
            next: (page < num_pages).then(|| link(page + 1)),
        }
    }

    /// Links that carry a keyset cursor: the next page starts after `last` (the id of this
    /// page's last item), the previous one ends before `first`, so following them costs the
    /// same on page 2 and on page 20,000. The first page keeps its plain link.
    #[must_use]
    pub fn with_keyset(
        mut self,
        first: impl std::fmt::Display,
        last: impl std::fmt::Display,
    ) -> Self {
        if let Some(next) = &mut self.next {
            next.push_str(&format!("&after={last}"));
        }
        if self.page > 2 {
            if let Some(previous) = &mut self.previous {
                previous.push_str(&format!("&before={first}"));
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Pager;

    #[test]
    fn links_to_neighbours_and_keeps_a_custom_page_size() {
        let p = Pager::new("/x", 2, 10, 25, 50);
        assert_eq!(p.num_pages, 3);
        assert_eq!(p.previous.as_deref(), Some("/x?page=1&per_page=10"));
        assert_eq!(p.next.as_deref(), Some("/x?page=3&per_page=10"));
        let p = Pager::new("/x", 1, 50, 0, 50);
        assert_eq!((p.num_pages, p.previous, p.next), (1, None, None));
        let p = Pager::new("/x", 2, 50, 100, 50);
        assert_eq!((p.previous.as_deref(), p.next), (Some("/x?page=1"), None));
    }

    #[test]
    fn keyset_links_carry_the_ids_at_the_page_edges() {
        let p = Pager::new("/x", 3, 10, 100, 50).with_keyset(21, 30);
        assert_eq!(
            p.previous.as_deref(),
            Some("/x?page=2&per_page=10&before=21")
        );
        assert_eq!(p.next.as_deref(), Some("/x?page=4&per_page=10&after=30"));
        let p = Pager::new("/x", 2, 50, 100, 50).with_keyset(51, 100);
        assert_eq!((p.previous.as_deref(), p.next), (Some("/x?page=1"), None));
    }
}
