ALTER TABLE quotes
    DROP CONSTRAINT quotes_text_not_blank,
    DROP CONSTRAINT quotes_author_not_blank,
    DROP CONSTRAINT quotes_source_not_blank;
