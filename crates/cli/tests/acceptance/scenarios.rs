//! The scenarios: what a person does on the site and what they must see, checked against the
//! store through the JSON API. Each runs on every store (see `main.rs`).

use crate::harness::{Api, Browser, Fixture, ShownQuote, StoredQuote};

/// The 17 quotes of Sun Tzu that the repository ships.
pub const SUN_TZU: Fixture = Fixture::File("fixtures/quotes.txt");

/// Markup and an ampersand, typed into a quote by someone hoping the site runs it.
const MARKUP_TEXT: &str =
    "<script>document.body.setAttribute('data-pwned','1');alert('x')</script> \
                           Fish & Chips <b>bold</b> &lt;i&gt;";

/// A store holding only [`MARKUP_TEXT`], so that it is also the home page's random quote.
pub const MARKUP: Fixture = Fixture::Quote {
    text: MARKUP_TEXT,
    author: "Mallory <em>the Tester</em> (Notes & <i>Queries</i>)",
};

/// One quote with words far wider than any window, in its text, its author and its source.
pub const LONG_WORDS: Fixture = Fixture::Quote {
    text: concat!(
        "Supercalifragilisticexpialidocious",
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "Hippopotomonstrosesquippedaliophobia",
        "Floccinaucinihilipilification",
        "Antidisestablishmentarianism",
        "Pseudopseudohypoparathyroidism",
        " and the same again: ",
        "Supercalifragilisticexpialidocious",
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "Hippopotomonstrosesquippedaliophobia",
        "Floccinaucinihilipilification",
    ),
    author: concat!(
        "SunTzuTheGeneralOfWuWhoseNameIsWrittenWithoutSpacesSoThatItCannotWrap",
        "AtAnySpaceAndGoesOnAndOnAndOn (TheArtOfWarInOneVeryLongUnbrokenTitle",
        "ThatGoesOnAndOnAndOnAndOnAndOn)"
    ),
};

/// A page size small enough that the fixtures span at least three pages.
const PER_PAGE: usize = 5;

fn ids(quotes: &[ShownQuote]) -> Vec<u64> {
    quotes.iter().map(|q| q.id).collect()
}

fn stored_ids(quotes: &[StoredQuote]) -> Vec<u64> {
    quotes.iter().map(|q| q.id).collect()
}

/// 1. The home page greets and shows one highlighted quote from the store.
pub async fn home_shows_hello_and_a_stored_quote(api: Api, b: Browser) {
    let stored = api.quotes().await;
    assert_eq!(stored.len(), 17, "the fixtures are loaded");

    b.goto("/").await;
    assert_eq!(b.text("h1").await, "Hello, World!");
    let shown = b.quotes("figure.quote.highlight[data-quote-id]").await;
    assert_eq!(
        ids(&shown).len(),
        1,
        "one highlighted quote on /: {shown:?}"
    );
    shown[0].assert_stored(&stored, "/");
    assert_eq!(
        b.count("figure.quote").await,
        1,
        "the home page shows no other quote"
    );
}

/// 2. From home to the list, page by page to the end and back, into one quote and out.
pub async fn walk_the_quotes_page_by_page(api: Api, b: Browser) {
    let stored = api.quotes().await;
    let pages: Vec<&[StoredQuote]> = stored.chunks(PER_PAGE).collect();
    assert!(
        pages.len() >= 3,
        "{} quotes make too few pages",
        stored.len()
    );

    b.goto("/").await;
    assert_eq!(b.follow(r#"a[data-nav="quotes"]"#).await, "/quotes");
    assert_eq!(b.text("h1").await, "Quotes");
    // The quote of the day comes first, highlighted; then all quotes fit the default page.
    let all = b.quotes("figure.quote").await;
    assert!(
        all[0].highlighted,
        "the first quote on /quotes is the featured one"
    );
    all[0].assert_stored(&stored, "/quotes");
    let listed = b.quotes(".quote-list figure.quote").await;
    assert_eq!(
        ids(&listed),
        stored_ids(&stored),
        "every quote on /quotes, in order"
    );
    assert!(
        listed.iter().all(|q| !q.highlighted),
        "only the featured quote is highlighted"
    );

    // A person asks for smaller pages by editing the address, then walks with the pager.
    b.goto(&format!("/quotes?per_page={PER_PAGE}")).await;
    assert_on_page(&b, 1, &pages, stored.len()).await;
    for n in 2..=pages.len() {
        b.follow(r#"a[rel="next"]"#).await;
        assert_on_page(&b, n, &pages, stored.len()).await;
    }
    for n in (1..pages.len()).rev() {
        b.follow(r#"a[rel="prev"]"#).await;
        assert_on_page(&b, n, &pages, stored.len()).await;
    }

    let chosen = &pages[0][1];
    let detail = b
        .follow(&format!(
            r#".quote-list figure[data-quote-id="{}"] a.quote-link"#,
            chosen.id
        ))
        .await;
    assert_eq!(detail, format!("/quotes/{}", chosen.id));
    assert_eq!(b.text("h1").await, format!("Quote {}", chosen.id));
    let shown = b.quotes("figure.quote").await;
    assert_eq!(
        ids(&shown),
        [chosen.id],
        "the detail page shows the one quote"
    );
    shown[0].assert_shows(chosen, &detail);
    assert_eq!(
        b.count("a.quote-link").await,
        0,
        "a quote does not link to itself"
    );

    assert_eq!(b.follow("a.back-link").await, "/quotes");
    b.hook(".quote-list figure.quote").await;
}

/// Checks that the browser is on page `n` (from 1) of the list and that it shows `pages[n - 1]`.
async fn assert_on_page(b: &Browser, n: usize, pages: &[&[StoredQuote]], total: usize) {
    let path = b.path().await;
    let param = |name: &str| {
        path.split_once('?')
            .map(|(_, query)| query)
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    assert_eq!(
        param("page").unwrap_or_else(|| "1".into()),
        n.to_string(),
        "{path} is page {n}"
    );
    assert_eq!(
        param("per_page"),
        Some(PER_PAGE.to_string()),
        "{path} keeps the page size"
    );

    let shown = b.quotes(".quote-list figure.quote").await;
    let expected = pages[n - 1];
    assert_eq!(ids(&shown), stored_ids(expected), "the quotes on {path}");
    for (shown, stored) in shown.iter().zip(expected) {
        shown.assert_shows(stored, &path);
    }
    assert_eq!(
        b.text(".summary").await,
        format!("{total} quotes · page {n} of {}", pages.len()),
        "the summary on {path}"
    );
    let links = (
        b.count(r#"a[rel="prev"]"#).await,
        b.count(r#"a[rel="next"]"#).await,
    );
    assert_eq!(
        links,
        (usize::from(n > 1), usize::from(n < pages.len())),
        "(previous, next) links on {path}"
    );
}

/// 3. Markup in a quote is shown as the characters typed, never run or rendered.
///
/// The page's Content-Security-Policy would stop an inline script even if escaping failed,
/// so the checks that matter most are the ones on elements and text: they see a missed
/// escape that the policy hides.
pub async fn markup_in_a_quote_shows_as_plain_text(api: Api, b: Browser) {
    let stored = api.quotes().await;
    assert_eq!(stored.len(), 1, "only the markup quote is loaded");
    let quote = &stored[0];
    assert_eq!(quote.text, MARKUP_TEXT, "the store keeps the text as typed");
    assert_eq!(quote.author, "Mallory <em>the Tester</em>");
    assert_eq!(quote.source.as_deref(), Some("Notes & <i>Queries</i>"));

    for page in [
        "/".to_owned(),
        "/quotes".to_owned(),
        format!("/quotes/{}", quote.id),
    ] {
        b.goto(&page).await;
        assert_eq!(b.alert().await, None, "an alert opened on {page}");
        assert_eq!(
            b.attribute("body", "data-pwned").await,
            None,
            "a script from the quote ran on {page}"
        );
        let shown = b
            .quotes(&format!("figure.quote[data-quote-id=\"{}\"]", quote.id))
            .await;
        for q in &shown {
            assert_eq!(
                q.elements_in_text, 0,
                "the quote's text became markup on {page}"
            );
            q.assert_shows(quote, &page);
        }
        assert_eq!(
            b.count("main script, main b, main em, main i").await,
            0,
            "markup on {page}"
        );
    }
}

/// 4. An address that does not exist gets the site's own 404 page, with a way home.
pub async fn unknown_address_shows_404_with_a_way_home(api: Api, b: Browser) {
    let path = "/no/such/page";
    assert_eq!(api.status(path).await, 404);

    b.goto(path).await;
    b.hook(r#"section.error-page[data-status="404"]"#).await;
    assert_eq!(b.text("h1").await, "404 · Not Found");
    assert!(
        b.title().await.starts_with("404 Not Found"),
        "title: {}",
        b.title().await
    );
    assert!(
        b.text(".error-message").await.contains(path),
        "the message names the address"
    );
    // Styled: the site's stylesheet draws the error page's dashed frame.
    assert_eq!(
        b.style("section.error-page", "border-top-style").await,
        "dashed"
    );
    b.screenshot("404").await;

    assert_eq!(b.follow("a.home-link").await, "/");
    assert_eq!(b.text("h1").await, "Hello, World!");
}

/// 5. The stylesheet applies, and no page a person visits logs an error to the console.
pub async fn stylesheet_applies_and_console_stays_clean(_api: Api, b: Browser) {
    let mut errors = Vec::new();

    b.goto("/").await;
    // Browsers draw a figure with a transparent background and no border by default.
    let highlight = "figure.quote.highlight";
    assert_eq!(
        b.style(highlight, "background-color").await,
        "rgb(255, 244, 214)"
    );
    assert_eq!(b.style(highlight, "border-left-width").await, "5px");
    assert_eq!(b.style(highlight, "border-left-style").await, "solid");
    errors.extend(b.console_errors().await);

    b.follow(r#"a[data-nav="quotes"]"#).await;
    assert_eq!(
        b.style(".quote-list figure.quote", "background-color")
            .await,
        "rgb(255, 255, 255)",
        "a quote that is not highlighted has a plain background"
    );
    errors.extend(b.console_errors().await);

    b.follow(".quote-list a.quote-link").await;
    assert_eq!(
        b.style(highlight, "background-color").await,
        "rgb(255, 244, 214)"
    );
    errors.extend(b.console_errors().await);

    assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
}

/// 6. Words too long for any line wrap, on the longest page too, instead of scrolling
///    sideways.
pub async fn long_words_wrap_instead_of_scrolling_sideways(api: Api, b: Browser) {
    assert_eq!(api.quotes().await.len(), 1);
    for page in ["/quotes?per_page=1000", "/quotes/1", "/"] {
        b.goto(page).await;
        assert_eq!(
            b.count("figure.quote").await,
            if page == "/quotes?per_page=1000" {
                2
            } else {
                1
            }
        );
        assert_eq!(b.overflow_x().await, 0, "{page} scrolls sideways");
    }
}
