//! A quote and the newtypes that check its parts once, at the edge.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why a value was refused. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters (it has {len})")]
    TooLong {
        field: &'static str,
        max: usize,
        len: usize,
    },
    #[error("{field} contains a NUL character")]
    Nul { field: &'static str },
    #[error("{field} must be a single line")]
    Multiline { field: &'static str },
    #[error("{field} has unbalanced parentheses")]
    Unbalanced { field: &'static str },
    #[error("{field} is not valid: {reason}")]
    Other { field: &'static str, reason: String },
}

/// Trims `raw` and checks the rules every text field shares.
fn checked(
    raw: &str,
    field: &'static str,
    max: usize,
    single_line: bool,
) -> Result<String, Invalid> {
    // Line ends are stored as `\n` whatever the input used, so that a quote reads back the
    // same from any file or form.
    let normalised;
    let raw = if raw.contains('\r') {
        normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
        &normalised
    } else {
        raw
    };
    let value = raw.trim();
    if value.is_empty() {
        return Err(Invalid::Empty { field });
    }
    if value.contains('\0') {
        return Err(Invalid::Nul { field });
    }
    if single_line && value.contains(['\n', '\r']) {
        return Err(Invalid::Multiline { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(Invalid::TooLong { field, max, len });
    }
    Ok(value.to_owned())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, single_line = $single:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The most characters (not bytes) a value may have.
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Invalid;
            fn try_from(raw: &str) -> Result<Self, Invalid> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }

        impl $name {
            /// Checks `raw` after trimming surrounding white space.
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                let value = checked(raw, $field, $max, $single)?;
                Self::extra_check(&value)?;
                Ok(Self(value))
            }
        }
    };
}

text_newtype!(
    /// A quote's text: non-empty after trimming, at most 2,000 characters, no NUL.
    /// It may span several lines.
    QuoteText, "text", 2000, single_line = false
);
text_newtype!(
    /// Who said it: one line, non-empty, at most 200 characters.
    Author, "author", 200, single_line = true
);
text_newtype!(
    /// Where it was said or written: one line, at most 300 characters, balanced parentheses
    /// (so that the quotes file can tell it from the author).
    Source, "source", 300, single_line = true
);

impl QuoteText {
    fn extra_check(_: &str) -> Result<(), Invalid> {
        Ok(())
    }
}

impl Author {
    fn extra_check(_: &str) -> Result<(), Invalid> {
        Ok(())
    }
}

impl Source {
    fn extra_check(value: &str) -> Result<(), Invalid> {
        let mut depth = 0i32;
        for c in value.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                break;
            }
        }
        if depth == 0 {
            Ok(())
        } else {
            Err(Invalid::Unbalanced { field: "source" })
        }
    }

    /// An empty or blank source means "no source".
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, Invalid> {
        if raw.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(raw).map(Some)
        }
    }
}

/// Collapses every run of white space into one space and trims the ends: the form in which
/// two quotes are compared for sameness.
pub fn normalize_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A quote's identity in its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct QuoteId(pub i64);

impl fmt::Display for QuoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for QuoteId {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(QuoteId(n)),
            _ => Err(Invalid::Other {
                field: "id",
                reason: format!("{s:?} is not a positive whole number"),
            }),
        }
    }
}

/// A quote that has not been stored yet, or the new content of one that has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewQuote {
    pub text: QuoteText,
    pub author: Author,
    pub source: Option<Source>,
}

impl NewQuote {
    pub fn new(text: QuoteText, author: Author, source: Option<Source>) -> Self {
        Self {
            text,
            author,
            source,
        }
    }

    /// Parses all three parts, reporting the first field at fault.
    pub fn parse(text: &str, author: &str, source: Option<&str>) -> Result<Self, Invalid> {
        Ok(Self {
            text: QuoteText::parse(text)?,
            author: Author::parse(author)?,
            source: source.map(Source::parse_optional).transpose()?.flatten(),
        })
    }

    /// The key under which two quotes count as the same: text and author with white space
    /// normalised. Case and punctuation still matter.
    pub fn same_key(&self) -> (String, String) {
        (
            normalize_whitespace(self.text.as_str()),
            normalize_whitespace(self.author.as_str()),
        )
    }
}

/// A stored quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub id: QuoteId,
    pub text: QuoteText,
    pub author: Author,
    pub source: Option<Source>,
    pub created_at: DateTime<Utc>,
}

impl Quote {
    /// The content without the identity, e.g. to export or to compare.
    pub fn content(&self) -> NewQuote {
        NewQuote {
            text: self.text.clone(),
            author: self.author.clone(),
            source: self.source.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_checked() {
        assert_eq!(QuoteText::parse("  hi \n").unwrap().as_str(), "hi");
        assert_eq!(
            QuoteText::parse(" \n\t "),
            Err(Invalid::Empty { field: "text" })
        );
        assert_eq!(
            QuoteText::parse("a\0b"),
            Err(Invalid::Nul { field: "text" })
        );
        assert_eq!(
            QuoteText::parse("two\nlines").unwrap().as_str(),
            "two\nlines"
        );
        assert_eq!(
            QuoteText::parse("crlf\r\nand\rcr").unwrap().as_str(),
            "crlf\nand\ncr"
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let at_limit = "é".repeat(2000);
        assert_eq!(QuoteText::parse(&at_limit).unwrap().as_str(), at_limit);
        let over = "é".repeat(2001);
        assert_eq!(
            QuoteText::parse(&over).unwrap_err().to_string(),
            "text is longer than 2000 characters (it has 2001)"
        );
        assert!(Author::parse(&"x".repeat(200)).is_ok());
        assert!(matches!(
            Author::parse(&"x".repeat(201)),
            Err(Invalid::TooLong {
                field: "author",
                max: 200,
                len: 201
            })
        ));
    }

    #[test]
    fn author_and_source_are_single_lines() {
        assert_eq!(
            Author::parse("Sun\nTzu"),
            Err(Invalid::Multiline { field: "author" })
        );
        assert_eq!(
            Source::parse("a\rb"),
            Err(Invalid::Multiline { field: "source" })
        );
    }

    #[test]
    fn source_parentheses_must_balance() {
        assert!(Source::parse("The Art of War (Giles)").is_ok());
        assert_eq!(
            Source::parse("a (b"),
            Err(Invalid::Unbalanced { field: "source" })
        );
        assert_eq!(
            Source::parse("a) (b"),
            Err(Invalid::Unbalanced { field: "source" })
        );
        assert_eq!(Source::parse_optional("   "), Ok(None));
    }

    #[test]
    fn same_key_ignores_whitespace_only() {
        let a = NewQuote::parse("All  warfare\nis deception.", "Sun  Tzu", None).unwrap();
        let b = NewQuote::parse("All warfare is deception.", "Sun Tzu", Some("x")).unwrap();
        let c = NewQuote::parse("all warfare is deception.", "Sun Tzu", None).unwrap();
        assert_eq!(a.same_key(), b.same_key());
        assert_ne!(a.same_key(), c.same_key());
    }

    #[test]
    fn ids_parse_from_paths() {
        assert_eq!("42".parse::<QuoteId>(), Ok(QuoteId(42)));
        assert!("0".parse::<QuoteId>().is_err());
        assert!("-1".parse::<QuoteId>().is_err());
        assert!("abc".parse::<QuoteId>().is_err());
        assert!("99999999999999999999".parse::<QuoteId>().is_err());
    }
}
