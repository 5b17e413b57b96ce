DROP TABLE wiki_revisions;
DROP TABLE wiki_pages;
