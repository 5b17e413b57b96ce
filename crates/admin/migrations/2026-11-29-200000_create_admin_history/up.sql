-- The change history: every add, change and delete made through the admin or by a
-- management command, with who, when, and each field's value before and after (JSON:
-- [{"field": …, "before": …, "after": …}]). Rows are only ever added.
CREATE TABLE admin_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_id bigint,
    actor_name text NOT NULL,
    section text NOT NULL,
    object_id text NOT NULL,
    object_label text NOT NULL,
    action text NOT NULL
        CONSTRAINT admin_history_action CHECK (action IN ('add', 'change', 'delete')),
    fields text NOT NULL
);
CREATE INDEX admin_history_object ON admin_history (section, object_id, id);
