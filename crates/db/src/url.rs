//! Reading and adjusting libpq connection strings without ever repeating their credentials.
//!
//! libpq takes two forms: a URL (`postgres://user:pw@host:5432/db?opt=v`) and key/value
//! pairs (`host=h port=5432 user=u`). Both are handled; anything we cannot read is described
//! as "the configured database" rather than echoed, because it may hold a password.

/// What a connection string says about where it goes and who it logs in as.
#[derive(Debug, Default, PartialEq, Eq)]
struct Target {
    /// `(host, port)` pairs; libpq accepts a comma-separated list of each.
    hosts: Vec<String>,
    ports: Vec<String>,
    user: Option<String>,
    password: Option<String>,
}

const DEFAULT_PORT: &str = "5432";

/// `host:port` of a connection string (the socket directory when the host is a path), without
/// user or password, for messages and logs. Several hosts are joined with commas.
pub fn describe_url(url: &str) -> String {
    let Some(target) = parse(url) else {
        return "the configured database".to_owned();
    };
    let hosts = if target.hosts.is_empty() {
        // libpq then uses its compiled-in Unix socket directory.
        vec!["default socket".to_owned()]
    } else {
        target.hosts
    };
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // One port applies to every host; otherwise they pair up by position.
            let port = match target.ports.len() {
                0 => DEFAULT_PORT,
                1 => &target.ports[0],
                _ => target.ports.get(i).map_or(DEFAULT_PORT, String::as_str),
            };
            let port = if port.is_empty() { DEFAULT_PORT } else { port };
            if host.contains(':') && !host.starts_with('/') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Removes the user name and password of `url` from `message`, e.g. from libpq's
/// `password authentication failed for user "bob"`.
pub(crate) fn redact(url: &str, message: &str) -> String {
    let Some(target) = parse(url) else {
        return message.to_owned();
    };
    let mut out = message.to_owned();
    if let Some(password) = target.password.filter(|p| !p.is_empty()) {
        out = out.replace(&password, "***");
    }
    if let Some(user) = target.user.filter(|u| !u.is_empty()) {
        // Only the quoted form: a bare user name such as "postgres" is also a database
        // name, and replacing it everywhere would garble the message.
        out = out.replace(&format!("\"{user}\""), "\"***\"");
    }
    out
}

/// `url` with libpq's `connect_timeout` set to `seconds`, unless it already sets one, so that
/// connecting to a host that drops packets gives up instead of hanging.
pub(crate) fn with_connect_timeout(url: &str, seconds: u64) -> String {
    if url.contains("connect_timeout=") || url.contains("connect_timeout =") {
        return url.to_owned();
    }
    if is_url_form(url) {
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let authority_end = scheme_end + authority_len(&url[scheme_end..]);
        let sep = if url[authority_end..].contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{url}{sep}connect_timeout={seconds}")
    } else {
        format!("{} connect_timeout={seconds}", url.trim_end())
    }
}

/// `url` pointing at database `name` instead of its own.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    if !is_url_form(url) {
        // libpq lets a later keyword override an earlier one.
        return format!("{} dbname={name}", url.trim_end());
    }
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let authority_end = authority_len(rest);
    let after_authority = &rest[authority_end..];
    let query = after_authority
        .find('?')
        .map_or("", |i| &after_authority[i..]);
    format!(
        "{}{}/{name}{query}",
        &url[..scheme_end],
        &rest[..authority_end]
    )
}

/// `url` without its password, and the password: for a program such as psql, which then
/// reads the password from `PGPASSWORD`, so that it never shows on a command line (`ps`
/// shows every process's arguments to every user).
pub fn split_password(url: &str) -> (String, Option<String>) {
    let url = url.trim();
    let Some(password) = parse(url).and_then(|t| t.password) else {
        return (url.to_owned(), None);
    };
    let stripped = if is_url_form(url) {
        strip_url_password(url)
    } else {
        strip_key_value_password(url)
    };
    (stripped, Some(password))
}

fn strip_url_password(url: &str) -> String {
    let start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[start..];
    let authority_end = authority_len(rest);
    let authority = &rest[..authority_end];
    let authority = match authority.rfind('@') {
        Some(at) => {
            let info = &authority[..at];
            let user = info.split_once(':').map_or(info, |(user, _)| user);
            format!("{user}@{}", &authority[at + 1..])
        }
        None => authority.to_owned(),
    };
    let tail = &rest[authority_end..];
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    percent_decode(pair.split_once('=').map_or(*pair, |(k, _)| k)) != "password"
                })
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{}{authority}{tail}", &url[..start])
}

/// The `key=value` pairs of a connection string but `password`, each as it was written.
fn strip_key_value_password(conninfo: &str) -> String {
    let bytes: Vec<(usize, char)> = conninfo.char_indices().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = bytes[i].0;
        let mut key = String::new();
        while i < bytes.len() && bytes[i].1 != '=' && !bytes[i].1.is_whitespace() {
            key.push(bytes[i].1);
            i += 1;
        }
        while i < bytes.len() && bytes[i].1 != '=' {
            i += 1;
        }
        i += 1; // '='
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i].1 == '\'' {
            i += 1;
            while i < bytes.len() && bytes[i].1 != '\'' {
                i += if bytes[i].1 == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            while i < bytes.len() && !bytes[i].1.is_whitespace() {
                i += if bytes[i].1 == '\\' { 2 } else { 1 };
            }
        }
        let end = bytes.get(i).map_or(conninfo.len(), |(at, _)| *at);
        if key != "password" {
            kept.push(&conninfo[start..end.min(conninfo.len())]);
        }
    }
    kept.join(" ")
}

/// How long the authority (user info and hosts) is at the start of what follows `scheme://`.
/// libpq reads user info up to an `@` before the first `/` and knows no fragments, so a `?`
/// or `#` inside a password is text, not the start of a query.
fn authority_len(rest: &str) -> usize {
    let slash = rest.find('/').unwrap_or(rest.len());
    let hosts = rest[..slash].rfind('@').map_or(0, |at| at + 1);
    hosts + rest[hosts..].find(['/', '?']).unwrap_or(rest.len() - hosts)
}

fn is_url_form(url: &str) -> bool {
    let url = url.trim_start();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn parse(url: &str) -> Option<Target> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    if is_url_form(url) {
        parse_url_form(url)
    } else {
        parse_key_values(url)
    }
}

fn parse_url_form(url: &str) -> Option<Target> {
    let rest = &url[url.find("://")? + 3..];
    let authority_end = authority_len(rest);
    let authority = &rest[..authority_end];
    let query = rest[authority_end..].split_once('?').map_or("", |(_, q)| q);

    let mut target = Target::default();
    // The last '@' ends the user info: an unencoded '@' in a password must not turn part of
    // the password into a host name that we would then print.
    let host_list = match authority.rfind('@') {
        Some(at) => {
            let (user, password) = match authority[..at].split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (&authority[..at], None),
            };
            target.user = Some(percent_decode(user));
            target.password = password.map(percent_decode);
            &authority[at + 1..]
        }
        None => authority,
    };
    for item in host_list.split(',').filter(|s| !s.is_empty()) {
        let (host, port) = split_host_port(item);
        if !host.is_empty() {
            target.hosts.push(percent_decode(host));
        }
        if let Some(port) = port {
            target.ports.push(port.to_owned());
        }
    }
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        apply(&mut target, &percent_decode(key), value);
    }
    Some(target)
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(item: &str) -> (&str, Option<&str>) {
    if let Some(inner) = item.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return (item, None);
        };
        let port = inner[close + 1..].strip_prefix(':');
        return (&inner[..close], port);
    }
    match item.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (item, None),
    }
}

fn parse_key_values(conninfo: &str) -> Option<Target> {
    let mut target = Target::default();
    let mut chars = conninfo.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(target);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\'' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
        }
        apply(&mut target, &key, value);
    }
}

fn apply(target: &mut Target, key: &str, value: String) {
    let list = |v: &str| v.split(',').map(str::to_owned).collect::<Vec<_>>();
    let hosts = |v: &str| {
        v.split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match key {
        "host" if !value.is_empty() => target.hosts = hosts(&value),
        // `hostaddr` is what libpq dials when both are given; prefer it in messages.
        "hostaddr" if !value.is_empty() => target.hosts = hosts(&value),
        "port" if !value.is_empty() => target.ports = list(&value),
        "user" => target.user = Some(value),
        "password" => target.password = Some(value),
        _ => {}
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_describe(url: &str, expected: &str) {
        assert_eq!(describe_url(url), expected, "{url}");
    }

    #[test]
    fn describes_urls_without_credentials() {
        check_describe(
            "postgres://bob:s3cret@127.0.0.1:55432/quotes",
            "127.0.0.1:55432",
        );
        check_describe("postgresql://db.example.com/quotes", "db.example.com:5432");
        check_describe("postgres://bob:p@ss@word@db:6543/q", "db:6543");
        check_describe("postgres://[::1]:5433/q?sslmode=disable", "[::1]:5433");
        check_describe("postgres://a:5432,b:5433/q", "a:5432,b:5433");
        check_describe("postgres://%2Ftmp%2Fpg:55432/q", "/tmp/pg:55432");
        check_describe(
            "postgres:///q?host=/run/postgresql&port=5433",
            "/run/postgresql:5433",
        );
        check_describe("postgres:///q", "default socket:5432");
        check_describe(r"host=db port=5433 user=bob password='it\'s x'", "db:5433");
        check_describe("host=db hostaddr=10.0.0.1 dbname=q", "10.0.0.1:5432");
        check_describe("host=", "default socket:5432");
        // Unreadable strings may hold a password anywhere, so none of them is echoed.
        check_describe("host=db password", "the configured database");
        check_describe("host=db password='unterminated", "the configured database");
        check_describe("", "the configured database");
    }

    #[test]
    fn redacts_user_and_password() {
        let url = "postgres://bob:s3cret@127.0.0.1:5432/q";
        assert_eq!(
            redact(
                url,
                "password authentication failed for user \"bob\" (s3cret)"
            ),
            "password authentication failed for user \"***\" (***)"
        );
        assert_eq!(
            redact("host=x user=bob password=pw", "user \"bob\" pw"),
            "user \"***\" ***"
        );
        assert_eq!(redact("nonsense", "unchanged"), "unchanged");
    }

    #[test]
    fn adds_connect_timeout_once() {
        let check = |url: &str, expected: &str| assert_eq!(with_connect_timeout(url, 3), expected);
        check("postgres://h/db", "postgres://h/db?connect_timeout=3");
        check(
            "postgres://h/db?sslmode=disable",
            "postgres://h/db?sslmode=disable&connect_timeout=3",
        );
        check(
            "postgres://h/db?connect_timeout=9",
            "postgres://h/db?connect_timeout=9",
        );
        check("host=h dbname=db ", "host=h dbname=db connect_timeout=3");
        check("host=h connect_timeout = 9", "host=h connect_timeout = 9");
    }

    #[test]
    fn points_at_another_database() {
        let check = |url: &str, expected: &str| assert_eq!(with_database(url, "t1"), expected);
        check("postgres://u:p@h:1/postgres", "postgres://u:p@h:1/t1");
        check(
            "postgres://u@h/postgres?sslmode=disable",
            "postgres://u@h/t1?sslmode=disable",
        );
        check("postgres://h", "postgres://h/t1");
        check("postgres://h?x=1", "postgres://h/t1?x=1");
        check("host=h dbname=postgres", "host=h dbname=postgres dbname=t1");
    }

    #[test]
    fn hash_and_question_mark_in_a_password_are_text() {
        // libpq reads user info up to an '@' before the first '/', and knows no fragments.
        let url = "postgres://u:s3cr#et@127.0.0.1:1/x";
        check_describe(url, "127.0.0.1:1");
        assert_eq!(
            with_connect_timeout(url, 3),
            "postgres://u:s3cr#et@127.0.0.1:1/x?connect_timeout=3"
        );
        assert!(!redact(url, "auth failed: s3cr#et").contains("s3cr"));
        let url = "postgres://u:p?ss@db:5432/q";
        check_describe(url, "db:5432");
        assert_eq!(
            with_connect_timeout(url, 3),
            "postgres://u:p?ss@db:5432/q?connect_timeout=3"
        );
        assert_eq!(
            with_database(url, "other"),
            "postgres://u:p?ss@db:5432/other"
        );
        assert_eq!(
            with_connect_timeout("postgres://u:p?ss@db/q?sslmode=require", 3),
            "postgres://u:p?ss@db/q?sslmode=require&connect_timeout=3"
        );
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b%2F"), "a b/");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn the_password_comes_out_of_every_form() {
        let check = |url: &str, rest: &str, password: Option<&str>| {
            assert_eq!(
                split_password(url),
                (rest.to_owned(), password.map(str::to_owned)),
                "{url}"
            );
        };
        check(
            "postgres://quotes:s3cr%40t@db:5433/quotes?sslmode=require",
            "postgres://quotes@db:5433/quotes?sslmode=require",
            Some("s3cr@t"),
        );
        check(
            "postgresql://u:p@h/db?password=other&sslmode=disable",
            "postgresql://u@h/db?sslmode=disable",
            Some("other"),
        );
        check("postgres://u:p?x@h/db", "postgres://u@h/db", Some("p?x"));
        check("postgres://u@h/db", "postgres://u@h/db", None);
        check(
            "host=db user=quotes password='it\\'s x' dbname=quotes",
            "host=db user=quotes dbname=quotes",
            Some("it's x"),
        );
        check(
            "host=db password=s3cret user=quotes",
            "host=db user=quotes",
            Some("s3cret"),
        );
    }
}
