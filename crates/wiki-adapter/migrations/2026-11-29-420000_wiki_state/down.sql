DROP INDEX wiki_revisions_address;
DROP INDEX wiki_revisions_author;
DROP INDEX wiki_revisions_created;
ALTER TABLE wiki_pages DROP COLUMN locked, DROP COLUMN deleted;
ALTER TABLE wiki_revisions DROP COLUMN locked, DROP COLUMN deleted;
