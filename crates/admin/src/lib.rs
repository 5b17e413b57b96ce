//! The admin component: `/admin/` for staff, as Django's admin site. It renders the sections
//! every component offers through the seam (`Running::admin_sections`, see `web::admin`)
//! — list pages with search, filters, sorting, paging and bulk delete; add, change and
//! delete forms with errors beside their fields and stale edits refused; imports and
//! exports — and keeps the change history (`web::admin::History`) that it and every
//! component's management commands write to: who, when, and each field before and after.
//!
//! It knows no store but its history's and no other component: what it manages comes from
//! the sections, who is signed in from `web::Identity`, where to sign in from the
//! `web::admin::LoginUrl` resource.
//!
//! Architecture invariant: `open_history` is the one place that names a concrete history
//! store or checks this crate's `memory` and `pg` features.

pub mod history;
mod pages;

use std::sync::Arc;

use serde::Deserialize;
use web::actix_web::web::{get, post, Data};
use web::actix_web::HttpRequest;
use web::admin::{History, HistoryHandle, LoginUrl};
use web::{Component, Context, NavLink, Routes, Running, StaticFile};

/// The component, as the registry in `cli` lists it.
#[derive(Debug, Default, Clone, Copy)]
pub struct AdminComponent;

/// `[admin]` in the settings (`QUOTES__ADMIN__PER_PAGE=100`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Rows on a list page (Django's `list_per_page`).
    pub per_page: u32,
    /// The largest file an import takes, in bytes.
    pub max_upload_bytes: usize,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            per_page: 100,
            max_upload_bytes: 5 * 1024 * 1024,
        }
    }
}

impl Component for AdminComponent {
    fn name(&self) -> &'static str {
        "admin"
    }

    fn start(&self, ctx: &mut Context<'_>) -> anyhow::Result<Box<dyn Running>> {
        let settings: AdminSettings = ctx.settings()?;
        anyhow::ensure!(
            (1..=1000).contains(&settings.per_page),
            "[admin] per_page must be between 1 and 1000, not {}",
            settings.per_page
        );
        anyhow::ensure!(
            settings.max_upload_bytes <= web::security::MULTIPART_LIMIT,
            "[admin] max_upload_bytes may be {} at most (what the site reads of a form), not {}",
            web::security::MULTIPART_LIMIT,
            settings.max_upload_bytes
        );
        let history = open_history(ctx)?;
        // Every component records its changes here, whenever it started.
        let handle = ctx
            .resource::<HistoryHandle>()
            .ok_or_else(|| anyhow::anyhow!("the site has no history slot"))?;
        anyhow::ensure!(
            handle.keep(history.clone()),
            "another component keeps the site's history already"
        );
        let login_url = ctx.resource::<LoginUrl>().map(|l| l.0);
        Ok(Box::new(Admin::new(history, login_url, settings)))
    }
}

/// The history for the site's backend.
fn open_history(ctx: &Context<'_>) -> anyhow::Result<Arc<dyn History>> {
    match ctx.backend() {
        #[cfg(feature = "memory")]
        web::Backend::Memory => Ok(Arc::new(history::MemoryHistory::default())),
        #[cfg(feature = "pg")]
        web::Backend::Postgres => {
            let db = ctx
                .resource::<db::Database>()
                .ok_or_else(|| anyhow::anyhow!("the site provides no PostgreSQL pool"))?;
            Ok(Arc::new(history::PgHistory::new(&db)?))
        }
        // Reached only in a build that left this backend out.
        #[allow(unreachable_patterns)]
        backend => anyhow::bail!("this build of the admin component has no {backend} store"),
    }
}

/// The running component. Tests make one directly.
pub struct Admin {
    state: Data<pages::State>,
}

impl Admin {
    /// The admin on `history`, sending anonymous visitors to `login_url` (none: nobody can
    /// sign in, so nobody gets in).
    pub fn new(
        history: Arc<dyn History>,
        login_url: Option<String>,
        settings: AdminSettings,
    ) -> Self {
        Self {
            state: Data::new(pages::State {
                history,
                login_url,
                settings,
            }),
        }
    }
}

impl Running for Admin {
    fn routes(&self, routes: &mut Routes) {
        use pages::*;
        const SECTION: &str = "/admin/{component}/{section}";
        routes
            .data(self.state.clone())
            .get("/admin", to_index)
            .get("/admin/", index)
            .resource(&format!("{SECTION}/"), |r| {
                r.route(get().to(list)).route(post().to(bulk_action))
            })
            .resource(&format!("{SECTION}/delete-selected/"), |r| {
                r.route(post().to(delete_selected))
            })
            .resource(&format!("{SECTION}/add/"), |r| {
                r.route(get().to(add_form)).route(post().to(add))
            })
            .resource(&format!("{SECTION}/import/"), |r| {
                r.route(get().to(import_form)).route(post().to(import))
            })
            .get(&format!("{SECTION}/export/"), export)
            .resource(&format!("{SECTION}/{{id}}/change/"), |r| {
                r.route(get().to(change_form)).route(post().to(change))
            })
            .resource(&format!("{SECTION}/{{id}}/delete/"), |r| {
                r.route(get().to(delete_form)).route(post().to(delete))
            })
            .get(&format!("{SECTION}/{{id}}/history/"), object_history);
    }

    fn templates(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "admin/index.html",
                include_str!("../templates/admin/index.html"),
            ),
            (
                "admin/list.html",
                include_str!("../templates/admin/list.html"),
            ),
            (
                "admin/form.html",
                include_str!("../templates/admin/form.html"),
            ),
            (
                "admin/confirm_delete.html",
                include_str!("../templates/admin/confirm_delete.html"),
            ),
            (
                "admin/history.html",
                include_str!("../templates/admin/history.html"),
            ),
            (
                "admin/import.html",
                include_str!("../templates/admin/import.html"),
            ),
            (
                "admin/macros.html",
                include_str!("../templates/admin/macros.html"),
            ),
        ]
    }

    fn static_files(&self) -> Vec<StaticFile> {
        vec![StaticFile::css(
            "admin.css",
            include_str!("../static/admin.css"),
        )]
    }

    /// "Admin" for staff only, beside who is signed in.
    fn nav(&self, req: &HttpRequest) -> Vec<NavLink> {
        match web::identity(req) {
            Some(who) if who.is_staff => vec![NavLink::new("Admin", "/admin/").in_account_area()],
            _ => Vec::new(),
        }
    }
}
