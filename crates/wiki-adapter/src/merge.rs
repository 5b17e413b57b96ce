//! Edits that never lose text: a three-way merge of what the editor started from, what
//! they wrote and what the page holds now, line by line (diffy). Changes that do not
//! overlap merge; overlapping ones give a draft with conflict markers to resolve, and
//! nothing is saved until the editor does.

/// What a merge gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// Both changes, together.
    Clean(String),
    /// A draft holding both sides of each overlap between conflict markers.
    Conflict(String),
}

/// Merges `mine` (the editor's text) and `theirs` (the page now), both changed from `base`.
pub fn three_way(base: &str, mine: &str, theirs: &str) -> Merged {
    if mine == theirs || theirs == base {
        return Merged::Clean(mine.to_owned());
    }
    if mine == base {
        return Merged::Clean(theirs.to_owned());
    }
    let mut options = diffy::MergeOptions::new();
    options.set_conflict_style(diffy::ConflictStyle::Merge);
    match options.merge(
        &with_newline(base),
        &with_newline(mine),
        &with_newline(theirs),
    ) {
        Ok(merged) => Merged::Clean(merged),
        Err(draft) => Merged::Conflict(
            draft
                .replace("<<<<<<< ours", "<<<<<<< your edit")
                .replace(">>>>>>> theirs", ">>>>>>> the page now"),
        ),
    }
}

/// A text ending with a line feed, so that a last line changed on both sides is a line.
fn with_newline(text: &str) -> String {
    let mut text = text.replace("\r\n", "\n");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A textarea's text as the wiki keeps it: browsers end its lines in CR LF, the merge
/// writes line feeds, and a diff between the two would show every line changed.
pub fn from_textarea(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// True when `text` still holds conflict markers a save must not keep. (A line of `=`
/// alone is Markdown's heading underline, so only the outer markers count.)
pub fn has_markers(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("<<<<<<< ") || l.starts_with(">>>>>>> "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "one\ntwo\nthree\nfour\nfive\n";

    #[test]
    fn changes_that_do_not_overlap_merge() {
        let mine = "ONE\ntwo\nthree\nfour\nfive\n";
        let theirs = "one\ntwo\nthree\nfour\nFIVE\n";
        assert_eq!(
            three_way(BASE, mine, theirs),
            Merged::Clean("ONE\ntwo\nthree\nfour\nFIVE\n".into())
        );
    }

    #[test]
    fn overlapping_changes_give_a_draft_with_both() {
        let mine = "one\ntwo\nmine\nfour\nfive\n";
        let theirs = "one\ntwo\ntheirs\nfour\nfive\n";
        let Merged::Conflict(draft) = three_way(BASE, mine, theirs) else {
            panic!("a conflict");
        };
        assert!(
            draft.contains("<<<<<<< your edit\nmine\n=======\ntheirs\n>>>>>>> the page now"),
            "{draft}"
        );
        assert!(
            draft.starts_with("one\ntwo\n") && draft.ends_with("four\nfive\n"),
            "{draft}"
        );
        assert!(has_markers(&draft));
        assert!(!has_markers(mine));
        assert!(
            !has_markers("Title\n=======\n"),
            "a heading underline is no marker"
        );
    }

    #[test]
    fn the_same_change_twice_or_one_side_unchanged_is_clean() {
        let mine = "one\n2\nthree\nfour\nfive\n";
        assert_eq!(three_way(BASE, mine, mine), Merged::Clean(mine.into()));
        assert_eq!(three_way(BASE, BASE, mine), Merged::Clean(mine.into()));
        assert_eq!(three_way(BASE, mine, BASE), Merged::Clean(mine.into()));
    }
}
