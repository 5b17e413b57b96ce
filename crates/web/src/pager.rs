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
}
