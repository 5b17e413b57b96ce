-- A page's state, kept with each revision as django-wiki keeps `deleted` and `locked` on its
-- revisions: a deleted page is hidden but whole, a locked one only staff edit. The page's
-- row holds the current revision's state, for lists, search and red links. Expand-only:
-- the previous release writes neither, and the defaults are what it means.
ALTER TABLE wiki_revisions
    ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN locked  BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE wiki_pages
    ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN locked  BOOLEAN NOT NULL DEFAULT false;

-- Recent changes read the newest revisions; the edit rate limit counts one writer's.
CREATE INDEX wiki_revisions_created ON wiki_revisions (created_at DESC);
CREATE INDEX wiki_revisions_author ON wiki_revisions (author, created_at);
CREATE INDEX wiki_revisions_address ON wiki_revisions (address, created_at) WHERE author IS NULL;
