-- Text, author and source must hold more than white space, as the domain already demands.
-- Expand-only: NOT VALID checks new and changed rows without scanning (or locking for a
-- scan of) the existing ones, so the previous release keeps running while this applies.
ALTER TABLE quotes
    ADD CONSTRAINT quotes_text_not_blank CHECK (text ~ '[^[:space:]]') NOT VALID,
    ADD CONSTRAINT quotes_author_not_blank CHECK (author ~ '[^[:space:]]') NOT VALID,
    ADD CONSTRAINT quotes_source_not_blank CHECK (source ~ '[^[:space:]]') NOT VALID;
