-- The wiki: a page is its path and its revisions; a save only ever adds a revision.
CREATE TABLE wiki_pages (
    path       TEXT        PRIMARY KEY,
    title      TEXT        NOT NULL,
    -- The current revision's number; a save moves it on by one, under the row's lock, so
    -- of two saves from the same base one lands and the other is told the page moved on.
    revision   INTEGER     NOT NULL CHECK (revision >= 1),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT wiki_pages_path_shape CHECK (path ~ '^([a-z0-9]([a-z0-9-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?){0,9})?$'),
    CONSTRAINT wiki_pages_title_length CHECK (char_length(title) BETWEEN 1 AND 200)
);

CREATE TABLE wiki_revisions (
    path       TEXT        NOT NULL REFERENCES wiki_pages (path) ON DELETE CASCADE,
    number     INTEGER     NOT NULL CHECK (number >= 1),
    title      TEXT        NOT NULL,
    content    TEXT        NOT NULL CHECK (octet_length(content) <= 512000),
    -- The content rendered and sanitised when it was saved (see src/markdown.rs).
    html       TEXT        NOT NULL,
    author     TEXT        NULL,
    address    TEXT        NULL,
    message    TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (path, number)
);
