//! The quotes file: a plain-text format people can write by hand, and its parser and writer.
//!
//! ```text
//! # Lines starting with '#' are comments.
//! All warfare is based on deception.
//! — Sun Tzu (The Art of War)
//!
//! A quote may span
//! several lines.
//! -- Sun Tzu
//! ```
//!
//! UTF-8, with or without a BOM, LF or CRLF line ends. Quotes are separated by one or more
//! blank lines. A quote is one or more text lines and then an author line starting with
//! `— ` (em dash) or `-- `; a trailing parenthesised part of the author line is the source.
//! A text line that would otherwise read as a comment, an author line or a blank line is
//! written with a leading backslash, which the parser removes.

use std::fmt;

use crate::{Author, Invalid, NewQuote, QuoteText, Source};

/// A parse failure, displayed as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

const AUTHOR_MARKERS: [&str; 2] = ["— ", "-- "];

fn author_rest(line: &str) -> Option<&str> {
    let t = line.trim_start();
    // A bare marker with nothing after it is still an author line (with no author).
    if t == "—" || t == "--" {
        return Some("");
    }
    AUTHOR_MARKERS.iter().find_map(|m| t.strip_prefix(m))
}

/// Splits `Sun Tzu (The Art of War)` into author and source at the parenthesised group that
/// closes the line.
fn split_source(rest: &str) -> (&str, Option<&str>) {
    let rest = rest.trim();
    if !rest.ends_with(')') {
        return (rest, None);
    }
    let mut depth = 0;
    for (i, c) in rest.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return (rest[..i].trim_end(), Some(&rest[i + 1..rest.len() - 1]));
                }
            }
            _ => {}
        }
    }
    (rest, None)
}

/// Parses a quotes file held in memory. `file` names it in error messages.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Result<Vec<NewQuote>, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(src) => parse(file, src),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(ParseError {
                file: file.to_owned(),
                line,
                message: "not valid UTF-8".into(),
            })
        }
    }
}

/// Parses the text of a quotes file. `file` names it in error messages.
pub fn parse(file: &str, src: &str) -> Result<Vec<NewQuote>, ParseError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let err = |line: usize, message: String| ParseError {
        file: file.to_owned(),
        line,
        message,
    };
    let invalid = |line: usize, e: Invalid| err(line, e.to_string());

    let mut quotes = Vec::new();
    // The text lines of the quote being read, and the line it started on.
    let mut text: Vec<&str> = Vec::new();
    let mut start = 0;
    // The line of the last author line, while no blank line has followed it.
    let mut after_author: Option<usize> = None;

    for (i, raw) in src.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !text.is_empty() {
                return Err(err(start, "quote has no author line".into()));
            }
            after_author = None;
            continue;
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(rest) = author_rest(line) {
            if text.is_empty() {
                return Err(err(n, "author line has no quote text above it".into()));
            }
            let (author, source) = split_source(rest);
            if author.is_empty() {
                return Err(err(n, "author line names no author".into()));
            }
            let body = text.join("\n");
            let quote = NewQuote {
                text: QuoteText::parse(&body).map_err(|e| invalid(start, e))?,
                author: Author::parse(author).map_err(|e| invalid(n, e))?,
                source: source
                    .map(Source::parse_optional)
                    .transpose()
                    .map_err(|e| invalid(n, e))?
                    .flatten(),
            };
            quotes.push(quote);
            text.clear();
            after_author = Some(n);
            continue;
        }
        if let Some(author_line) = after_author {
            return Err(err(
                n,
                format!(
                    "text after the author line {author_line}: separate quotes with a blank line"
                ),
            ));
        }
        if text.is_empty() {
            start = n;
        }
        text.push(line.strip_prefix('\\').unwrap_or(line));
    }
    if !text.is_empty() {
        return Err(err(start, "quote has no author line".into()));
    }
    Ok(quotes)
}

/// Whether a text line needs a backslash so that it reads back as text.
fn needs_escape(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with('\\') || author_rest(line).is_some()
}

/// Writes quotes in the format [`parse`] reads; parsing the result gives the same quotes.
pub fn write<'a>(quotes: impl IntoIterator<Item = &'a NewQuote>) -> String {
    let mut out = String::from(
        "# quotes file: text lines, then '— Author (Source)', blank line between quotes\n",
    );
    for q in quotes {
        out.push('\n');
        for line in q.text.as_str().lines() {
            if needs_escape(line) {
                out.push('\\');
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("— ");
        out.push_str(q.author.as_str());
        match &q.source {
            Some(source) => {
                out.push_str(" (");
                out.push_str(source.as_str());
                out.push(')');
            }
            // An author that itself ends in parentheses would read back as author + source.
            None if q.author.as_str().ends_with(')') => out.push_str(" ()"),
            None => {}
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str, author: &str, source: Option<&str>) -> NewQuote {
        NewQuote::parse(text, author, source).unwrap()
    }

    fn check_err(src: &str, expected: &str) {
        let e = parse("fixtures/quotes.txt", src).unwrap_err();
        assert_eq!(e.to_string(), expected, "for input {src:?}");
    }

    #[test]
    fn parses_the_documented_format() {
        let src = "\u{feff}# comment\r\n\r\nAll warfare is based on deception.\r\n— Sun Tzu (The Art of War)\r\n\r\n\r\nA quote may span\nseveral lines.\n-- Sun Tzu\n";
        let got = parse("f", src).unwrap();
        assert_eq!(
            got,
            vec![
                q(
                    "All warfare is based on deception.",
                    "Sun Tzu",
                    Some("The Art of War")
                ),
                q("A quote may span\nseveral lines.", "Sun Tzu", None),
            ]
        );
    }

    #[test]
    fn source_is_the_closing_parenthesised_group() {
        let got = parse(
            "f",
            "x\n— Sun Tzu (The Art of War (Giles))\n\ny\n— A (b) ()\n",
        )
        .unwrap();
        assert_eq!(got[0].author.as_str(), "Sun Tzu");
        assert_eq!(
            got[0].source.as_ref().unwrap().as_str(),
            "The Art of War (Giles)"
        );
        assert_eq!(got[1].author.as_str(), "A (b)");
        assert_eq!(got[1].source, None);
    }

    #[test]
    fn errors_name_file_and_line() {
        check_err(
            "a\n— A\n\n# c\nno author\n\nb\n— B\n",
            "fixtures/quotes.txt:5: quote has no author line",
        );
        check_err(
            "a\n— A\n\nlast quote\n",
            "fixtures/quotes.txt:4: quote has no author line",
        );
        check_err(
            "— A\n",
            "fixtures/quotes.txt:1: author line has no quote text above it",
        );
        check_err(
            "a\n—\n",
            "fixtures/quotes.txt:2: author line names no author",
        );
        check_err(
            "a\n— A\nb\n— B\n",
            "fixtures/quotes.txt:3: text after the author line 2: separate quotes with a blank line",
        );
        check_err(
            &format!("{}\n— A\n", "x".repeat(2001)),
            "fixtures/quotes.txt:1: text is longer than 2000 characters (it has 2001)",
        );
        check_err(
            &format!("a\n— {}\n", "y".repeat(201)),
            "fixtures/quotes.txt:2: author is longer than 200 characters (it has 201)",
        );
        check_err(
            "a\0\n— A\n",
            "fixtures/quotes.txt:1: text contains a NUL character",
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = parse_bytes("q.txt", b"a\n\xe2\x80\x94 A\n\nb\xff\n").unwrap_err();
        assert_eq!(e.to_string(), "q.txt:4: not valid UTF-8");
    }

    #[test]
    fn empty_and_comment_only_files_have_no_quotes() {
        assert_eq!(parse("f", "").unwrap(), vec![]);
        assert_eq!(parse("f", "# only\n\n# comments\n").unwrap(), vec![]);
    }

    #[test]
    fn write_then_parse_round_trips_awkward_quotes() {
        let quotes = vec![
            q("plain", "Sun Tzu", Some("The Art of War")),
            q(
                "# not a comment\n— not an author\n-- nor this\n\\ backslash\n\nafter a blank line",
                "A",
                None,
            ),
            q("x", "Author (with parens)", None),
            q(
                "<script>alert(1)</script> & more",
                "Ünïcödé 孫子",
                Some("a (b) c"),
            ),
            q("  indented first line\n   \n  — ", "B", None),
            q("written on\r\nWindows", "C", None),
        ];
        let written = write(&quotes);
        assert_eq!(parse("f", &written).unwrap(), quotes, "written:\n{written}");
        // Writing what was parsed again gives the same text.
        assert_eq!(write(&parse("f", &written).unwrap()), written);
    }
}
