//! The quotes component's commands: clear errors naming the file and line at fault.

use std::io::Write;

use crate::helpers::*;

#[test]
fn load_quotes_names_file_and_line_of_a_parse_error() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "fine\n— A\n\nno author here\n\nalso fine\n— B\n").unwrap();
    let path = file.path().to_str().unwrap();
    let r = run(quotes(&any_store()).args(["load-quotes", path]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!("error: {path}:4: quote has no author line\n")
    );
    assert_eq!(r.stdout, "", "nothing was loaded");
}

#[test]
fn load_quotes_of_a_missing_file_says_so() {
    let r = run(quotes(&any_store()).args(["load-quotes", "no/such.txt"]));
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "error: reading no/such.txt: No such file or directory (os error 2)\n"
    );
}
