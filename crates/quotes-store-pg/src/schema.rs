//! The diesel view of the tables in `migrations/`, kept by hand (the test
//! `schema::columns_match_schema_rs` compares it with a migrated database).

diesel::table! {
    quotes (id) {
        id -> Int8,
        text -> Text,
        author -> Text,
        source -> Nullable<Text>,
        same_key -> Text,
        created_at -> Timestamptz,
    }
}
