-- The __name__ component's items. Tables of a component carry its name as a prefix.
CREATE TABLE __name___items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text text NOT NULL CONSTRAINT __name___items_text_length CHECK (char_length(text) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL DEFAULT now()
);
