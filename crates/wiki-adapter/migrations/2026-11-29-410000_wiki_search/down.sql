DROP INDEX wiki_pages_search;
ALTER TABLE wiki_pages DROP COLUMN search;
ALTER TABLE wiki_pages DROP COLUMN content;
