-- Full-text search of the current pages: the current content beside the title, and a
-- generated tsvector of both (the title weighs more) with a GIN index. Expand-only: the
-- previous release does not write `content`, so it is filled here and by every save.
ALTER TABLE wiki_pages ADD COLUMN content TEXT NOT NULL DEFAULT '';

UPDATE wiki_pages p
SET content = r.content
FROM wiki_revisions r
WHERE r.path = p.path AND r.number = p.revision;

ALTER TABLE wiki_pages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')
) STORED;

CREATE INDEX wiki_pages_search ON wiki_pages USING GIN (search);
