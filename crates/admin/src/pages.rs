//! The admin's pages: the index, a section's list (search, filters, sorting, paging, bulk
//! delete), add / change / delete forms, an object's history, import and export.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_multipart::Multipart;
use futures_util::StreamExt;
use serde::Serialize;
use web::actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use web::actix_web::http::StatusCode;
use web::actix_web::web::{block, Data, Form, Path, Query};
use web::actix_web::{HttpRequest, HttpResponse, ResponseError};
use web::admin::{
    Actor, AdminError, AdminSection, Change, Entry, FieldError, FieldKind, FormData, History,
    ListQuery, Order, Record, SectionMeta, Sections,
};
use web::{identity, AppError, Identity, Templates};

use crate::AdminSettings;

/// What the handlers share.
pub(crate) struct State {
    pub history: Arc<dyn History>,
    /// Where anonymous visitors are sent to sign in; `None` on a site without accounts.
    pub login_url: Option<String>,
    pub settings: AdminSettings,
}

type Pairs = Vec<(String, String)>;

/// A form shown again with its errors answers 200, as Django's forms do (and the sign-in
/// form here): the page is what the browser asked for, and it says what to correct.
const FORM_ERRORS: StatusCode = StatusCode::OK;

/// The admin is for active staff: anyone else is sent to sign in, or refused.
fn staff(req: &HttpRequest, state: &State) -> Result<Identity, Box<HttpResponse>> {
    match identity(req) {
        Some(who) if who.is_staff => Ok(who),
        Some(who) => Err(Box::new(
            AppError::forbidden(format!(
                "You are signed in as {}, who is not staff: the admin is for staff only.",
                who.username
            ))
            .error_response(),
        )),
        None => match &state.login_url {
            Some(login) => {
                let here = req.uri().path_and_query().map_or("/admin/", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                Err(Box::new(see_other(format!("{login}?next={next}"))))
            }
            None => Err(Box::new(
                AppError::forbidden("This site has no sign-in, so nobody can use its admin.")
                    .error_response(),
            )),
        },
    }
}

/// Lets staff on, or answers for them.
macro_rules! staff_or_return {
    ($req:expr, $state:expr) => {
        match staff(&$req, &$state) {
            Ok(who) => who,
            Err(response) => return Ok(*response),
        }
    };
}

fn actor(who: &Identity) -> Actor {
    Actor::user(who.user_id, who.username.clone())
}

/// The section at `/admin/<component>/<slug>/`, if this user may see it.
fn section(
    sections: &Sections,
    who: &Identity,
    component: &str,
    slug: &str,
) -> Result<Arc<dyn AdminSection>, AppError> {
    let found = sections
        .get(component, slug)
        .ok_or_else(|| AppError::not_found("There is no such section in the admin."))?;
    if found.meta().superuser_only && !who.is_superuser {
        return Err(AppError::forbidden(format!(
            "Only superusers may manage {}.",
            found.meta().title.to_lowercase()
        )));
    }
    Ok(found.clone())
}

fn visible(sections: &Sections, who: &Identity) -> Vec<(&'static str, Arc<dyn AdminSection>)> {
    sections
        .0
        .iter()
        .filter(|(_, s)| !s.meta().superuser_only || who.is_superuser)
        .cloned()
        .collect()
}

/// Runs `f` on the blocking pool: sections may do synchronous I/O.
async fn run<T, F>(section: &Arc<dyn AdminSection>, f: F) -> Result<Result<T, AdminError>, AppError>
where
    F: FnOnce(&dyn AdminSection) -> Result<T, AdminError> + Send + 'static,
    T: Send + 'static,
{
    let section = section.clone();
    Ok(block(move || f(&*section)).await?)
}

/// An outcome the page does not handle itself, as the site's error page.
fn fail(e: AdminError) -> AppError {
    match e {
        AdminError::NotFound => AppError::not_found("There is no such object."),
        AdminError::Refused(why) => AppError::forbidden(why),
        AdminError::Invalid(errors) => AppError::bad_request(
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        AdminError::Stale(_) => {
            AppError::conflict("The object was changed by someone else; reload and try again.")
        }
        AdminError::Unavailable(detail) => AppError::unavailable(detail),
        AdminError::Internal(detail) => AppError::internal(detail),
    }
}

/// Records `changes` in the history; a failure is logged and never undoes the change.
async fn record(state: &Data<State>, changes: Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let history = state.history.clone();
    let n = changes.len();
    match block(move || history.record(&changes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, changes = n, "could not record the history"),
        Err(e) => tracing::error!(error = %e, changes = n, "could not record the history"),
    }
}

fn section_key(component: &str, meta: &SectionMeta) -> String {
    format!("{component}/{}", meta.slug)
}

fn base(component: &str, meta: &SectionMeta) -> String {
    format!("/admin/{component}/{}/", meta.slug)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

fn with_status(mut res: HttpResponse, status: StatusCode) -> HttpResponse {
    *res.status_mut() = status;
    res
}

/// `path?k=v&…`, encoded.
fn href(path: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{path}?{query}")
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `/admin` without its slash, as Django sends it on.
pub(crate) async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((LOCATION, "/admin/"))
        .finish()
}

#[derive(Serialize)]
struct SectionLink {
    component: &'static str,
    title: &'static str,
    href: String,
    count: Option<u64>,
    can_add: bool,
}

#[derive(Serialize)]
struct RecentEntry {
    entry: Entry,
    href: String,
}

/// "Recent actions": how many are shown, and how many are read to find them among the
/// sections the user may not see.
const RECENT_SHOWN: usize = 10;
const RECENT_LOOKED_AT: usize = 200;

pub(crate) async fn index(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let mut links = Vec::new();
    for (component, s) in visible(&sections, &who) {
        let query = ListQuery {
            search: String::new(),
            filters: Vec::new(),
            order: None,
            page: 1,
            per_page: 1,
        };
        let count = run(&s, move |s| s.list(&query))
            .await?
            .ok()
            .map(|l| l.total);
        links.push(SectionLink {
            component,
            title: s.meta().title,
            href: base(component, s.meta()),
            count,
            can_add: !s.meta().fields.is_empty(),
        });
    }
    let history = state.history.clone();
    let recent = block(move || history.recent(RECENT_LOOKED_AT))
        .await?
        .map_err(AppError::internal)?;
    // Only what this user may see: a staff user learns nothing of the users' section here.
    let recent: Vec<RecentEntry> = recent
        .into_iter()
        .filter(|entry| {
            let (component, slug) = entry.change.section.split_once('/').unwrap_or_default();
            section(&sections, &who, component, slug).is_ok()
        })
        .take(RECENT_SHOWN)
        .map(|entry| {
            let href = format!(
                "/admin/{}/{}/history/",
                entry.change.section,
                encode_id(&entry.change.object_id)
            );
            RecentEntry { entry, href }
        })
        .collect();
    let mut ctx = t.context(&req);
    ctx.insert("sections", &links);
    ctx.insert("recent", &recent);
    t.render("admin/index.html", &ctx)
}

/// An id as one path segment.
fn encode_id(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[derive(Serialize)]
struct ColumnView {
    label: &'static str,
    href: Option<String>,
    sorted: Option<&'static str>,
}

#[derive(Serialize)]
struct ChoiceView {
    label: String,
    href: String,
    selected: bool,
}

#[derive(Serialize)]
struct FilterView {
    label: &'static str,
    all_href: String,
    any: bool,
    choices: Vec<ChoiceView>,
}

#[derive(Serialize)]
struct RowView {
    id: String,
    label: String,
    cells: Vec<String>,
    href: String,
    checked: bool,
}

/// What a list page asks for, read from its query string; a bad value is a 400 that says
/// what is wrong.
fn list_query(meta: &SectionMeta, pairs: &Pairs, per_page: u32) -> Result<ListQuery, AppError> {
    let search = value(pairs, "q").unwrap_or_default().trim().to_owned();
    let mut filters = Vec::new();
    for (key, v) in pairs {
        if let Some(name) = key.strip_prefix("f_") {
            if !meta.filters.iter().any(|f| f.name == name) {
                return Err(AppError::bad_request(format!(
                    "{} cannot be filtered by {name:?}.",
                    meta.title
                )));
            }
            filters.push((name.to_owned(), v.clone()));
        }
    }
    let order = match value(pairs, "o").filter(|o| !o.is_empty()) {
        None => None,
        Some(o) => {
            let (column, descending) = match o.strip_prefix('-') {
                Some(c) => (c, true),
                None => (o, false),
            };
            if !meta.columns.iter().any(|c| c.sortable && c.name == column) {
                return Err(AppError::bad_request(format!(
                    "{} cannot be sorted by {column:?}.",
                    meta.title
                )));
            }
            Some(Order {
                column: column.to_owned(),
                descending,
            })
        }
    };
    let page = match value(pairs, "p").map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p.parse::<u32>().ok().filter(|&p| p >= 1).ok_or_else(|| {
            AppError::bad_request(format!("p must be a page number from 1, not {p:?}"))
        })?,
    };
    Ok(ListQuery {
        search,
        filters,
        order,
        page,
        per_page,
    })
}

/// The parameters that shape a list (search, filters, order), to carry into its links.
fn shaping(query: &ListQuery) -> Vec<(String, String)> {
    let mut keep = Vec::new();
    if !query.search.is_empty() {
        keep.push(("q".to_owned(), query.search.clone()));
    }
    for (name, v) in &query.filters {
        keep.push((format!("f_{name}"), v.clone()));
    }
    if let Some(o) = &query.order {
        let sign = if o.descending { "-" } else { "" };
        keep.push(("o".to_owned(), format!("{sign}{}", o.column)));
    }
    keep
}

/// The message a redirect back to the list asks for (`?done=…`): fixed words and numbers
/// only, so a link cannot make the admin say something else.
fn done_message(meta: &SectionMeta, pairs: &Pairs) -> Option<String> {
    let number = |k: &str| value(pairs, k).and_then(|n| n.parse::<u64>().ok());
    let plural = |n: u64| {
        if n == 1 {
            meta.singular.to_owned()
        } else {
            meta.title.to_lowercase()
        }
    };
    Some(match value(pairs, "done")? {
        "added" => format!("The {} was added.", meta.singular),
        "changed" => format!("The {} was changed.", meta.singular),
        "deleted" => {
            let n = number("n").unwrap_or(0);
            format!("Deleted {n} {}.", plural(n))
        }
        "imported" => {
            let n = number("n").unwrap_or(0);
            let existing = number("existing").unwrap_or(0);
            format!(
                "Imported {n} {}; {existing} were there already and were left as they are.",
                plural(n)
            )
        }
        "none" => format!(
            "Select one {} or more first: nothing was done.",
            meta.singular
        ),
        _ => return None,
    })
}

pub(crate) async fn list(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
    pairs: Query<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let meta = s.meta().clone();
    let query = list_query(&meta, &pairs, state.settings.per_page)?;
    let asked = query.clone();
    let listing = run(&s, move |s| s.list(&asked)).await?.map_err(fail)?;
    let num_pages =
        u32::try_from(listing.total.div_ceil(u64::from(query.per_page)).max(1)).unwrap_or(u32::MAX);
    if query.page > num_pages {
        return Err(AppError::not_found(format!(
            "There is no page {} of {}: the last is {num_pages}.",
            query.page,
            meta.title.to_lowercase()
        )));
    }
    let here = base(&component, &meta);
    let keep = shaping(&query);
    let without = |key: &str| -> Vec<(String, String)> {
        keep.iter().filter(|(k, _)| k != key).cloned().collect()
    };
    let columns = meta
        .columns
        .iter()
        .map(|c| {
            let sorted = query
                .order
                .as_ref()
                .filter(|o| o.column == c.name)
                .map(|o| {
                    if o.descending {
                        "descending"
                    } else {
                        "ascending"
                    }
                });
            let next = if sorted == Some("ascending") {
                format!("-{}", c.name)
            } else {
                c.name.to_owned()
            };
            let mut params = without("o");
            params.push(("o".into(), next));
            ColumnView {
                label: c.label,
                href: c.sortable.then(|| href(&here, &params)),
                sorted,
            }
        })
        .collect::<Vec<_>>();
    let mut filters = Vec::new();
    for f in &meta.filters {
        let name = f.name;
        let choices = run(&s, move |s| s.choices(name)).await?.map_err(fail)?;
        let key = format!("f_{name}");
        let chosen = query.filter(name);
        filters.push(FilterView {
            label: f.label,
            all_href: href(&here, &without(&key)),
            any: chosen.is_none(),
            choices: choices
                .into_iter()
                .map(|(v, label)| {
                    let mut params = without(&key);
                    params.push((key.clone(), v.clone()));
                    ChoiceView {
                        selected: chosen == Some(v.as_str()),
                        href: href(&here, &params),
                        label,
                    }
                })
                .collect(),
        });
    }
    let select_all = value(&pairs, "select") == Some("all");
    let rows: Vec<RowView> = listing
        .rows
        .into_iter()
        .map(|r| RowView {
            href: format!("{here}{}/change/", encode_id(&r.id)),
            checked: select_all,
            id: r.id,
            label: r.label,
            cells: r.cells,
        })
        .collect();
    let page_link = |p: u32| {
        let mut params = keep.clone();
        if p > 1 {
            params.push(("p".into(), p.to_string()));
        }
        href(&here, &params)
    };
    let mut all = keep.clone();
    if query.page > 1 {
        all.push(("p".into(), query.page.to_string()));
    }
    all.push(("select".into(), "all".into()));
    let mut ctx = t.context(&req);
    ctx.insert("meta", &meta);
    ctx.insert("component", &component);
    ctx.insert("base", &here);
    ctx.insert("columns", &columns);
    ctx.insert("filters", &filters);
    ctx.insert("rows", &rows);
    ctx.insert("total", &listing.total);
    ctx.insert("search", &query.search);
    ctx.insert("page", &query.page);
    ctx.insert("num_pages", &num_pages);
    ctx.insert(
        "previous",
        &(query.page > 1).then(|| page_link(query.page - 1)),
    );
    ctx.insert(
        "next",
        &(query.page < num_pages).then(|| page_link(query.page + 1)),
    );
    ctx.insert("select_all_href", &href(&here, &all));
    ctx.insert("export_href", &href(&format!("{here}export/"), &keep));
    ctx.insert("message", &done_message(&meta, &pairs));
    ctx.insert("shaping", &keep);
    t.render("admin/list.html", &ctx)
}

/// The ids a bulk form selected.
fn selected(pairs: &Pairs) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.clone())
        .collect()
}

/// The records of `ids` that exist.
async fn records_of(s: &Arc<dyn AdminSection>, ids: Vec<String>) -> Result<Vec<Record>, AppError> {
    run(s, move |s| {
        let mut found = Vec::new();
        for id in &ids {
            match s.get(id) {
                Ok(r) => found.push(r),
                Err(AdminError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    })
    .await?
    .map_err(fail)
}

/// A list's bulk action: "delete selected" asks for a confirmation first, listing what goes.
pub(crate) async fn bulk_action(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
    form: Form<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let here = base(&component, s.meta());
    if value(&form, "action") != Some("delete_selected") {
        return Err(AppError::bad_request("Choose an action: delete selected."));
    }
    let ids = selected(&form);
    if ids.is_empty() {
        return Ok(see_other(format!("{here}?done=none")));
    }
    let records = records_of(&s, ids).await?;
    let refused = refusals(&s, &records, &who).await?;
    let mut ctx = t.context(&req);
    ctx.insert("meta", s.meta());
    ctx.insert("base", &here);
    ctx.insert("refused", &refused);
    ctx.insert("records", &records);
    ctx.insert("action", &format!("{here}delete-selected/"));
    ctx.insert("cancel", &here);
    t.render("admin/confirm_delete.html", &ctx)
}

/// Why each of `records` may not be deleted by `who`, if any may not.
async fn refusals(
    s: &Arc<dyn AdminSection>,
    records: &[Record],
    who: &Identity,
) -> Result<Vec<String>, AppError> {
    let ids: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.id.clone(), r.label.clone()))
        .collect();
    let actor = actor(who);
    run(s, move |s| {
        let mut refused = Vec::new();
        for (id, label) in &ids {
            match s.can_delete(id, &actor) {
                Ok(()) | Err(AdminError::NotFound) => {}
                Err(AdminError::Refused(why)) => refused.push(format!("{label}: {why}")),
                Err(e) => return Err(e),
            }
        }
        Ok(refused)
    })
    .await?
    .map_err(fail)
}

/// Deletes `ids` (each of which the section allowed first), recording each; returns how
/// many went. A failure part way still records what went before it, then is reported.
async fn delete_each(
    state: &Data<State>,
    s: &Arc<dyn AdminSection>,
    component: &str,
    ids: Vec<String>,
    who: &Identity,
) -> Result<usize, AppError> {
    let actor = actor(who);
    let meta = s.meta().clone();
    let key = section_key(component, &meta);
    let (done, failure) = run(s, move |s| {
        let mut done = Vec::new();
        for id in &ids {
            let before = match s.get(id) {
                Ok(r) => r,
                Err(AdminError::NotFound) => continue,
                Err(e) => return Ok((done, Some(e))),
            };
            match s.delete(id, &actor) {
                Ok(()) => done.extend(Change::between(
                    &key,
                    &meta.fields,
                    &actor,
                    Some(&before),
                    None,
                )),
                Err(AdminError::NotFound) => {}
                Err(e) => return Ok((done, Some(e))),
            }
        }
        Ok((done, None))
    })
    .await?
    .map_err(fail)?;
    let n = done.len();
    record(state, done).await;
    match failure {
        Some(e) => Err(fail(e)),
        None => Ok(n),
    }
}

pub(crate) async fn delete_selected(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    path: Path<(String, String)>,
    form: Form<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let here = base(&component, s.meta());
    let ids = selected(&form);
    if ids.is_empty() {
        return Ok(see_other(format!("{here}?done=none")));
    }
    // All or nothing: one that may not go keeps every one.
    let records = records_of(&s, ids).await?;
    let refused = refusals(&s, &records, &who).await?;
    if !refused.is_empty() {
        return Err(AppError::forbidden(format!(
            "Nothing was deleted. {}",
            refused.join(" ")
        )));
    }
    let ids = records.into_iter().map(|r| r.id).collect();
    let n = delete_each(&state, &s, &component, ids, &who).await?;
    Ok(see_other(format!("{here}?done=deleted&n={n}")))
}

#[derive(Serialize)]
struct FieldView {
    name: &'static str,
    label: &'static str,
    kind: FieldKind,
    required: bool,
    help: &'static str,
    value: String,
    readonly: bool,
    errors: Vec<String>,
}

/// What a form page shows.
struct FormPage<'a> {
    meta: &'a SectionMeta,
    component: &'a str,
    /// The object changed; `None` on an add form.
    record: Option<&'a Record>,
    values: &'a BTreeMap<String, String>,
    errors: &'a [FieldError],
    /// The object changed meanwhile: what the user had typed, to copy from.
    yours: Option<&'a FormData>,
}

fn render_form(
    req: &HttpRequest,
    t: &Templates,
    page: FormPage<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let adding = page.record.is_none();
    let fields: Vec<FieldView> = page
        .meta
        .fields
        .iter()
        .map(|f| FieldView {
            name: f.name,
            label: f.label,
            kind: f.kind,
            // A password may stay as it is on a change.
            required: f.required && (adding || f.kind != FieldKind::Password),
            help: f.help,
            value: if f.kind == FieldKind::Password {
                String::new()
            } else {
                page.values.get(f.name).cloned().unwrap_or_default()
            },
            readonly: f.add_only && !adding,
            errors: page
                .errors
                .iter()
                .filter(|e| e.field == f.name)
                .map(|e| e.message.clone())
                .collect(),
        })
        .collect();
    let general: Vec<&str> = page
        .errors
        .iter()
        .filter(|e| !page.meta.fields.iter().any(|f| f.name == e.field))
        .map(|e| e.message.as_str())
        .collect();
    let here = base(page.component, page.meta);
    let yours: Option<Vec<(&str, &str)>> = page.yours.map(|y| {
        page.meta
            .fields
            .iter()
            .filter(|f| f.kind != FieldKind::Password)
            .filter_map(|f| y.get(f.name).map(|v| (f.label, v.as_str())))
            .collect()
    });
    let mut ctx = t.context(req);
    ctx.insert("meta", page.meta);
    ctx.insert("base", &here);
    ctx.insert("fields", &fields);
    ctx.insert("general_errors", &general);
    ctx.insert("record", &page.record);
    ctx.insert("yours", &yours);
    let object_href = page.record.map(|r| format!("{here}{}/", encode_id(&r.id)));
    ctx.insert("object_href", &object_href);
    ctx.insert(
        "action",
        &match &object_href {
            Some(object) => format!("{object}change/"),
            None => format!("{here}add/"),
        },
    );
    Ok(with_status(t.render("admin/form.html", &ctx)?, status))
}

/// A posted form, without the fields the admin itself adds.
fn form_data(pairs: &Pairs) -> FormData {
    pairs
        .iter()
        .filter(|(k, _)| k != "csrf_token" && k != "version")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The history entry of a change made through a form, noting a password that was set.
fn form_change(
    key: &str,
    meta: &SectionMeta,
    actor: &Actor,
    before: Option<&Record>,
    after: Option<&Record>,
    form: &FormData,
) -> Vec<Change> {
    let Some(mut change) = Change::between(key, &meta.fields, actor, before, after) else {
        return Vec::new();
    };
    for f in &meta.fields {
        if f.kind == FieldKind::Password && form.get(f.name).is_some_and(|v| !v.is_empty()) {
            change = change.with_password_set(f.name);
        }
    }
    if change.fields.is_empty() {
        return Vec::new();
    }
    vec![change]
}

pub(crate) async fn add_form(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let initial: BTreeMap<String, String> = s
        .meta()
        .fields
        .iter()
        .map(|f| (f.name.to_owned(), f.initial.to_owned()))
        .collect();
    render_form(
        &req,
        &t,
        FormPage {
            meta: s.meta(),
            component: &component,
            record: None,
            values: &initial,
            errors: &[],
            yours: None,
        },
        StatusCode::OK,
    )
}

/// A checkbox that is not posted is off.
fn checkbox_values(meta: &SectionMeta, form: &FormData) -> BTreeMap<String, String> {
    let mut values = form.clone();
    for f in &meta.fields {
        if f.kind == FieldKind::Checkbox {
            let on = form.get(f.name).is_some_and(|v| !v.is_empty());
            values.insert(f.name.to_owned(), on.to_string());
        }
    }
    values
}

pub(crate) async fn add(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
    pairs: Form<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let meta = s.meta().clone();
    let form = form_data(&pairs);
    let actor = actor(&who);
    let (posted, by) = (form.clone(), actor.clone());
    match run(&s, move |s| s.create(&posted, &by)).await? {
        Ok(after) => {
            let key = section_key(&component, &meta);
            record(
                &state,
                form_change(&key, &meta, &actor, None, Some(&after), &form),
            )
            .await;
            Ok(see_other(format!("{}?done=added", base(&component, &meta))))
        }
        Err(AdminError::Invalid(errors)) => render_form(
            &req,
            &t,
            FormPage {
                meta: &meta,
                component: &component,
                record: None,
                values: &checkbox_values(&meta, &form),
                errors: &errors,
                yours: None,
            },
            FORM_ERRORS,
        ),
        Err(e) => Err(fail(e)),
    }
}

pub(crate) async fn change_form(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug, id) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let record = run(&s, move |s| s.get(&id)).await?.map_err(fail)?;
    render_form(
        &req,
        &t,
        FormPage {
            meta: s.meta(),
            component: &component,
            record: Some(&record),
            values: &record.values,
            errors: &[],
            yours: None,
        },
        StatusCode::OK,
    )
}

pub(crate) async fn change(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String, String)>,
    pairs: Form<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug, id) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let meta = s.meta().clone();
    let form = form_data(&pairs);
    let version = value(&pairs, "version").unwrap_or_default().to_owned();
    let actor = actor(&who);
    let stale = |current: &Record| {
        render_form(
            &req,
            &t,
            FormPage {
                meta: &meta,
                component: &component,
                record: Some(current),
                values: &current.values,
                errors: &[FieldError::new(
                    "",
                    format!(
                        "This {} was changed by someone else while you edited it, so your changes were not saved. The form now shows its current values; what you had entered is below.",
                        meta.singular
                    ),
                )],
                yours: Some(&form),
            },
            StatusCode::CONFLICT,
        )
    };
    let wanted = id.clone();
    let before = run(&s, move |s| s.get(&wanted)).await?.map_err(fail)?;
    if before.version != version {
        return stale(&before);
    }
    let (posted, by, v, target) = (form.clone(), actor.clone(), version.clone(), id.clone());
    match run(&s, move |s| s.update(&target, &v, &posted, &by)).await? {
        Ok(after) => {
            let key = section_key(&component, &meta);
            record(
                &state,
                form_change(&key, &meta, &actor, Some(&before), Some(&after), &form),
            )
            .await;
            Ok(see_other(format!(
                "{}?done=changed",
                base(&component, &meta)
            )))
        }
        Err(AdminError::Invalid(errors)) => render_form(
            &req,
            &t,
            FormPage {
                meta: &meta,
                component: &component,
                record: Some(&before),
                // What was typed, over what is stored (a read-only field is not posted).
                values: &before
                    .values
                    .clone()
                    .into_iter()
                    .chain(checkbox_values(&meta, &form))
                    .collect(),
                errors: &errors,
                yours: None,
            },
            FORM_ERRORS,
        ),
        Err(AdminError::Stale(current)) => stale(&current),
        Err(e) => Err(fail(e)),
    }
}

pub(crate) async fn delete_form(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug, id) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let record = run(&s, move |s| s.get(&id)).await?.map_err(fail)?;
    let here = base(&component, s.meta());
    let mut ctx = t.context(&req);
    ctx.insert("meta", s.meta());
    ctx.insert("base", &here);
    ctx.insert(
        "action",
        &format!("{here}{}/delete/", encode_id(&record.id)),
    );
    ctx.insert(
        "cancel",
        &format!("{here}{}/change/", encode_id(&record.id)),
    );
    let refused = refusals(&s, std::slice::from_ref(&record), &who).await?;
    ctx.insert("refused", &refused);
    ctx.insert("records", &[record]);
    t.render("admin/confirm_delete.html", &ctx)
}

pub(crate) async fn delete(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    path: Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug, id) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let here = base(&component, s.meta());
    let wanted = id.clone();
    let by = actor(&who);
    match run(&s, move |s| s.can_delete(&wanted, &by)).await? {
        Ok(()) | Err(AdminError::NotFound) => {}
        Err(e) => return Err(fail(e)),
    }
    let n = delete_each(&state, &s, &component, vec![id], &who).await?;
    if n == 0 {
        return Err(AppError::not_found("There is no such object."));
    }
    Ok(see_other(format!("{here}?done=deleted&n={n}")))
}

pub(crate) async fn object_history(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug, id) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let key = section_key(&component, s.meta());
    let wanted = id.clone();
    let current = match run(&s, move |s| s.get(&wanted)).await? {
        Ok(r) => Some(r),
        Err(AdminError::NotFound) => None,
        Err(e) => return Err(fail(e)),
    };
    let history = state.history.clone();
    let object = id.clone();
    let entries = block(move || history.of_object(&key, &object))
        .await?
        .map_err(AppError::internal)?;
    let label = match (&current, entries.first()) {
        (Some(r), _) => r.label.clone(),
        (None, Some(e)) => e.change.object_label.clone(),
        (None, None) => return Err(AppError::not_found("There is no such object.")),
    };
    let here = base(&component, s.meta());
    let mut ctx = t.context(&req);
    ctx.insert("meta", s.meta());
    ctx.insert("base", &here);
    ctx.insert("label", &label);
    ctx.insert(
        "change_href",
        &current
            .as_ref()
            .map(|r| format!("{here}{}/change/", encode_id(&r.id))),
    );
    ctx.insert("entries", &entries);
    t.render("admin/history.html", &ctx)
}

pub(crate) async fn import_form(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    render_import(&req, &t, &component, s.meta(), &[], StatusCode::OK)
}

fn render_import(
    req: &HttpRequest,
    t: &Templates,
    component: &str,
    meta: &SectionMeta,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let Some(format) = meta.import else {
        return Err(AppError::not_found(format!(
            "{} cannot be imported.",
            meta.title
        )));
    };
    let mut ctx = t.context(req);
    ctx.insert("meta", meta);
    ctx.insert("base", &base(component, meta));
    ctx.insert("format", format);
    ctx.insert("errors", errors);
    Ok(with_status(t.render("admin/import.html", &ctx)?, status))
}

/// The `file` part of an upload, at most `max` bytes.
async fn uploaded_file(mut parts: Multipart, max: usize) -> Result<Option<Vec<u8>>, AppError> {
    let mut file = None;
    while let Some(part) = parts.next().await {
        let mut part =
            part.map_err(|e| AppError::bad_request(format!("The upload is broken: {e}")))?;
        let is_file = part.content_disposition().and_then(|d| d.get_name()) == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk =
                chunk.map_err(|e| AppError::bad_request(format!("The upload is broken: {e}")))?;
            if is_file && bytes.len() + chunk.len() > max {
                return Err(AppError::bad_request(format!(
                    "The file is larger than {max} bytes, the most an import takes."
                )));
            }
            if is_file {
                bytes.extend_from_slice(&chunk);
            }
        }
        if is_file {
            file = Some(bytes);
        }
    }
    Ok(file)
}

pub(crate) async fn import(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    t: Data<Templates>,
    path: Path<(String, String)>,
    parts: Multipart,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    let meta = s.meta().clone();
    if meta.import.is_none() {
        return Err(AppError::not_found(format!(
            "{} cannot be imported.",
            meta.title
        )));
    }
    let file = uploaded_file(parts, state.settings.max_upload_bytes).await?;
    let Some(content) = file.filter(|f| !f.is_empty()) else {
        return render_import(
            &req,
            &t,
            &component,
            &meta,
            &[FieldError::new("file", "Choose a file to import.")],
            FORM_ERRORS,
        );
    };
    let actor = actor(&who);
    let by = actor.clone();
    match run(&s, move |s| s.import(&content, &by)).await? {
        Ok(imported) => {
            let key = section_key(&component, &meta);
            let changes = imported
                .added
                .iter()
                .filter_map(|r| Change::between(&key, &meta.fields, &actor, None, Some(r)))
                .collect();
            record(&state, changes).await;
            Ok(see_other(format!(
                "{}?done=imported&n={}&existing={}",
                base(&component, &meta),
                imported.added.len(),
                imported.existing
            )))
        }
        Err(AdminError::Invalid(errors)) => {
            render_import(&req, &t, &component, &meta, &errors, FORM_ERRORS)
        }
        Err(e) => Err(fail(e)),
    }
}

pub(crate) async fn export(
    req: HttpRequest,
    state: Data<State>,
    sections: Data<Sections>,
    path: Path<(String, String)>,
    pairs: Query<Pairs>,
) -> Result<HttpResponse, AppError> {
    let who = staff_or_return!(req, state);
    let (component, slug) = path.into_inner();
    let s = section(&sections, &who, &component, &slug)?;
    if !s.meta().export {
        return Err(AppError::not_found(format!(
            "{} cannot be exported.",
            s.meta().title
        )));
    }
    let query = list_query(s.meta(), &pairs, state.settings.per_page)?.all();
    let file = run(&s, move |s| s.export(&query)).await?.map_err(fail)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, file.content_type))
        .insert_header((
            CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                file.file_name.replace('"', "")
            ),
        ))
        .body(file.body))
}
