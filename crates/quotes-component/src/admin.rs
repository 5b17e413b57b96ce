//! The quotes' section of the admin site (`/admin/quotes/quote/`): search by text, author
//! or source, filters by author and source, add / change / delete with the domain's own
//! rules (a bad author gets the message a quotes file would), edits that never overwrite
//! someone else's, and quotes files in and out.

use std::sync::Arc;

use quotes_core::{
    quotes_file, Invalid, NewQuote, PageRequest, Quote, QuoteId, QuoteOrder, QuoteQuery,
    QuoteStore, StoreError, MAX_PER_PAGE,
};
use web::admin::{
    Actor, AdminError, AdminSection, Change, Column, Export, Field, FieldError, FieldKind, Filter,
    FormData, Imported, ListQuery, Listing, Record, Row, SectionMeta,
};
use web::ErrorChain;

/// `<component>/<slug>` of this section, as the history keys it.
pub const SECTION: &str = "quotes/quote";

/// The filter value that stands for "no source".
const NO_SOURCE: &str = "~none";

pub(crate) struct QuotesAdmin {
    store: Arc<dyn QuoteStore>,
    meta: SectionMeta,
}

/// What the section is: its columns, filters and form.
pub fn meta() -> SectionMeta {
    let field = |name, label, kind, required, help| Field {
        name,
        label,
        kind,
        required,
        help,
        add_only: false,
        initial: "",
    };
    let column = |name, label| Column {
        name,
        label,
        sortable: true,
    };
    SectionMeta {
        slug: "quote",
        title: "Quotes",
        singular: "quote",
        superuser_only: false,
        columns: vec![
            column("text", "Text"),
            column("author", "Author"),
            column("source", "Source"),
            column("created", "Added"),
        ],
        search_help: "text, author or source",
        filters: vec![
            Filter {
                name: "author",
                label: "Author",
            },
            Filter {
                name: "source",
                label: "Source",
            },
        ],
        fields: vec![
            field(
                "text",
                "Text",
                FieldKind::TextArea,
                true,
                "Up to 2000 characters.",
            ),
            field(
                "author",
                "Author",
                FieldKind::Text,
                true,
                "One line, up to 200 characters.",
            ),
            field(
                "source",
                "Source",
                FieldKind::Text,
                false,
                "Optional: the book or speech; one line, balanced parentheses.",
            ),
        ],
        import: Some("quotes file"),
        export: true,
    }
}

impl QuotesAdmin {
    pub(crate) fn new(store: Arc<dyn QuoteStore>) -> Self {
        Self {
            store,
            meta: meta(),
        }
    }
}

/// A quote as the admin's form shows it.
pub fn record(q: &Quote) -> Record {
    let content = q.content();
    Record {
        id: q.id.0.to_string(),
        label: short(q.text.as_str(), 60),
        values: [
            ("text", q.text.as_str()),
            ("author", q.author.as_str()),
            ("source", q.source.as_ref().map_or("", |s| s.as_str())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        version: version(&content),
    }
}

/// The changes `load-quotes` made, for the history.
pub fn added_by(command: &str, quotes: &[Quote]) -> Vec<Change> {
    let fields = meta().fields;
    let actor = Actor::command(command);
    quotes
        .iter()
        .filter_map(|q| Change::between(SECTION, &fields, &actor, None, Some(&record(q))))
        .collect()
}

/// A digest of the content: what an edit was based on.
fn version(content: &NewQuote) -> String {
    let text = format!(
        "{}\u{0}{}\u{0}{}",
        content.text.as_str(),
        content.author.as_str(),
        content.source.as_ref().map_or("\u{1}", |s| s.as_str())
    );
    // FNV-1a: the same everywhere, and plenty to tell one content from another.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The first `max` characters, with an ellipsis when there were more.
fn short(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

fn parse_id(id: &str) -> Result<QuoteId, AdminError> {
    id.parse().map_err(|_| AdminError::NotFound)
}

fn store_failure(e: StoreError) -> AdminError {
    match e {
        StoreError::NotFound => AdminError::NotFound,
        StoreError::Conflict(_) => AdminError::Invalid(vec![FieldError::new(
            "text",
            "A quote with this text and author exists already.",
        )]),
        StoreError::Invalid(i) => AdminError::Invalid(vec![invalid(i)]),
        StoreError::Unavailable(source) => {
            AdminError::Unavailable(format!("{:#}", ErrorChain(&*source)))
        }
        other => AdminError::Internal(other.to_string()),
    }
}

/// A domain refusal beside the field it names (its message is the one a quotes file gets).
fn invalid(e: Invalid) -> FieldError {
    let field = match &e {
        Invalid::Empty { field }
        | Invalid::TooLong { field, .. }
        | Invalid::Nul { field }
        | Invalid::Multiline { field }
        | Invalid::Unbalanced { field }
        | Invalid::Other { field, .. } => *field,
    };
    let field = match field {
        "quote" => "text",
        other => other,
    };
    FieldError::sentence(field, &e.to_string())
}

/// The quote a form describes, or every field's refusal at once.
fn from_form(form: &FormData) -> Result<NewQuote, AdminError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let source = Some(get("source")).filter(|s| !s.trim().is_empty());
    let mut errors = Vec::new();
    // Each part on its own, so that every field at fault is named, not just the first.
    if let Err(e) = quotes_core::QuoteText::parse(get("text")) {
        errors.push(invalid(e));
    }
    if let Err(e) = quotes_core::Author::parse(get("author")) {
        errors.push(invalid(e));
    }
    if let Some(Err(e)) = source.map(quotes_core::Source::parse) {
        errors.push(invalid(e));
    }
    if !errors.is_empty() {
        return Err(AdminError::Invalid(errors));
    }
    NewQuote::parse(get("text"), get("author"), source)
        .map_err(|e| AdminError::Invalid(vec![invalid(e)]))
}

fn query(q: &ListQuery) -> QuoteQuery {
    let order = q.order.as_ref();
    QuoteQuery {
        contains: Some(q.search.clone()).filter(|s| !s.is_empty()),
        author: q.filter("author").map(str::to_owned),
        source: q.filter("source").map(|s| match s {
            NO_SOURCE => None,
            other => Some(other.to_owned()),
        }),
        order: match order.map(|o| o.column.as_str()) {
            Some("text") => QuoteOrder::Text,
            Some("author") => QuoteOrder::Author,
            Some("source") => QuoteOrder::Source,
            Some("created") => QuoteOrder::Created,
            _ => QuoteOrder::Id,
        },
        descending: order.is_some_and(|o| o.descending),
    }
}

impl AdminSection for QuotesAdmin {
    fn meta(&self) -> &SectionMeta {
        &self.meta
    }

    fn list(&self, q: &ListQuery) -> Result<Listing, AdminError> {
        let page = PageRequest::new(q.page.max(1), q.per_page.clamp(1, MAX_PER_PAGE))
            .map_err(|e| AdminError::Invalid(vec![invalid(e)]))?;
        let found = self.store.search(&query(q), page).map_err(store_failure)?;
        let rows = found
            .items
            .iter()
            .map(|q| Row {
                id: q.id.0.to_string(),
                label: short(q.text.as_str(), 60),
                cells: vec![
                    short(q.text.as_str(), 90),
                    q.author.as_str().to_owned(),
                    q.source
                        .as_ref()
                        .map_or_else(|| "—".to_owned(), |s| s.as_str().to_owned()),
                    q.created_at.format("%Y-%m-%d %H:%M").to_string(),
                ],
            })
            .collect();
        Ok(Listing {
            rows,
            total: found.total,
        })
    }

    fn choices(&self, filter: &str) -> Result<Vec<(String, String)>, AdminError> {
        let label = |(v, n): (String, u64)| (v.clone(), format!("{v} ({n})"));
        match filter {
            "author" => Ok(self
                .store
                .authors()
                .map_err(store_failure)?
                .into_iter()
                .map(label)
                .collect()),
            "source" => {
                let mut choices = vec![(NO_SOURCE.to_owned(), "(none)".to_owned())];
                choices.extend(
                    self.store
                        .sources()
                        .map_err(store_failure)?
                        .into_iter()
                        .map(label),
                );
                Ok(choices)
            }
            _ => Ok(Vec::new()),
        }
    }

    fn get(&self, id: &str) -> Result<Record, AdminError> {
        let q = self.store.get(parse_id(id)?).map_err(store_failure)?;
        Ok(record(&q))
    }

    fn create(&self, form: &FormData, _actor: &Actor) -> Result<Record, AdminError> {
        let quote = from_form(form)?;
        let stored = self.store.insert(quote).map_err(store_failure)?;
        Ok(record(&stored))
    }

    fn update(
        &self,
        id: &str,
        version: &str,
        form: &FormData,
        _actor: &Actor,
    ) -> Result<Record, AdminError> {
        let id = parse_id(id)?;
        let quote = from_form(form)?;
        let current = self.store.get(id).map_err(store_failure)?;
        if record(&current).version != version {
            return Err(AdminError::Stale(record(&current)));
        }
        match self.store.update_if(id, &current.content(), quote) {
            Ok(q) => Ok(record(&q)),
            Err(StoreError::Stale) => {
                let now = self.store.get(id).map_err(store_failure)?;
                Err(AdminError::Stale(record(&now)))
            }
            Err(e) => Err(store_failure(e)),
        }
    }

    fn delete(&self, id: &str, _actor: &Actor) -> Result<(), AdminError> {
        self.store.delete(parse_id(id)?).map_err(store_failure)
    }

    fn import(&self, content: &[u8], _actor: &Actor) -> Result<Imported, AdminError> {
        let batch = quotes_file::parse_bytes("upload", content).map_err(|e| {
            AdminError::Invalid(vec![FieldError::new(
                "file",
                format!("Line {}: {}", e.line, e.message),
            )])
        })?;
        if batch.is_empty() {
            return Err(AdminError::Invalid(vec![FieldError::new(
                "file",
                "The file holds no quote.",
            )]));
        }
        let report = self
            .store
            .get_or_create_all(&batch)
            .map_err(store_failure)?;
        Ok(Imported {
            added: report.new_quotes.iter().map(record).collect(),
            existing: report.existing,
        })
    }

    fn export(&self, q: &ListQuery) -> Result<Export, AdminError> {
        let search = query(q);
        let mut quotes = Vec::new();
        for n in 1.. {
            let page = PageRequest::new(n, MAX_PER_PAGE).expect("a valid page");
            let found = self.store.search(&search, page).map_err(store_failure)?;
            let done = found.items.len() < MAX_PER_PAGE as usize;
            quotes.extend(found.items.iter().map(Quote::content));
            if done {
                break;
            }
        }
        Ok(Export {
            file_name: "quotes.txt".into(),
            content_type: "text/plain; charset=utf-8",
            body: quotes_file::write(&quotes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str, author: &str, source: &str) -> FormData {
        [("text", text), ("author", author), ("source", source)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_form_gets_every_field_at_fault_with_the_files_words() {
        let Err(AdminError::Invalid(errors)) = from_form(&form("", "Sun\nTzu", "(open")) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["text", "author", "source"]);
        assert_eq!(errors[1].message, "Author must be a single line");
        assert!(
            from_form(&form("Text", "Sun Tzu", " ")).is_ok(),
            "a blank source is none"
        );
    }

    #[test]
    fn versions_follow_the_content() {
        let a = NewQuote::parse("t", "a", None).unwrap();
        let b = NewQuote::parse("t", "a", Some("s")).unwrap();
        assert_ne!(version(&a), version(&b));
        assert_eq!(version(&a), version(&a.clone()));
        assert_eq!(short("abcdef", 3), "abc…");
        assert_eq!(short("ab", 3), "ab");
    }
}
