//! The rows diesel reads and writes, and their conversion to and from the domain's types.
//! They stay in this crate: the rest of the workspace sees only `quotes_core::Quote`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use quotes_core::{Author, NewQuote, Quote, QuoteId, QuoteText, Source};

use crate::schema::quotes;

/// A stored row that the domain refuses (written by another tool, or an older rule).
#[derive(Debug, thiserror::Error)]
#[error("quote {id} in the database is not valid")]
pub struct BadRow {
    id: i64,
    #[source]
    invalid: quotes_core::Invalid,
}

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = quotes, check_for_backend(diesel::pg::Pg))]
pub(crate) struct QuoteRow {
    pub id: i64,
    pub text: String,
    pub author: String,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<QuoteRow> for Quote {
    type Error = BadRow;

    /// Parses again what the database holds: the CHECK constraints mirror the domain's
    /// rules, but a row written by another tool must not slip past them unchecked.
    fn try_from(row: QuoteRow) -> Result<Quote, BadRow> {
        let id = row.id;
        let bad = |invalid| BadRow { id, invalid };
        Ok(Quote {
            id: QuoteId(row.id),
            text: QuoteText::parse(&row.text).map_err(bad)?,
            author: Author::parse(&row.author).map_err(bad)?,
            source: row
                .source
                .as_deref()
                .map(Source::parse)
                .transpose()
                .map_err(bad)?,
            created_at: row.created_at,
        })
    }
}

/// A quote's content as written by `insert` and `update`.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = quotes, treat_none_as_null = true)]
pub(crate) struct ContentRow<'a> {
    pub text: &'a str,
    pub author: &'a str,
    pub source: Option<&'a str>,
    pub same_key: String,
}

impl<'a> From<&'a NewQuote> for ContentRow<'a> {
    fn from(quote: &'a NewQuote) -> Self {
        ContentRow {
            text: quote.text.as_str(),
            author: quote.author.as_str(),
            source: quote.source.as_ref().map(Source::as_str),
            same_key: same_key(quote),
        }
    }
}

/// `NewQuote::same_key` as one string. Normalised parts hold no line feed, so joining them
/// with one keeps distinct pairs distinct.
pub(crate) fn same_key(quote: &NewQuote) -> String {
    let (text, author) = quote.same_key();
    format!("{text}\n{author}")
}
