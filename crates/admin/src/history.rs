//! The change history (`web::admin::History`): in memory, or in PostgreSQL's
//! `admin_history` table. Entries are only ever added.

#[cfg(feature = "memory")]
pub use memory::MemoryHistory;
#[cfg(feature = "pg")]
pub use pg::{PgHistory, MIGRATIONS};

/// When an entry was recorded, as the history shows it.
fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(feature = "memory")]
mod memory {
    use std::sync::{Mutex, PoisonError};

    use web::admin::{Change, Entry, History};

    /// The history of this process, newest last.
    #[derive(Debug, Default)]
    pub struct MemoryHistory {
        entries: Mutex<Vec<Entry>>,
    }

    impl History for MemoryHistory {
        fn record(&self, changes: &[Change]) -> Result<(), String> {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let at = super::stamp(chrono::Utc::now());
            for change in changes {
                let id = i64::try_from(entries.len()).unwrap_or(i64::MAX) + 1;
                entries.push(Entry {
                    id,
                    at: at.clone(),
                    change: change.clone(),
                });
            }
            Ok(())
        }

        fn of_object(&self, section: &str, object_id: &str) -> Result<Vec<Entry>, String> {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(entries
                .iter()
                .rev()
                .filter(|e| e.change.section == section && e.change.object_id == object_id)
                .cloned()
                .collect())
        }

        fn recent(&self, limit: usize) -> Result<Vec<Entry>, String> {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(entries.iter().rev().take(limit).cloned().collect())
        }
    }
}

#[cfg(feature = "pg")]
mod pg {
    use chrono::{DateTime, Utc};
    use db::Database;
    use diesel::prelude::*;
    use diesel_migrations::{embed_migrations, EmbeddedMigrations};
    use web::admin::{Action, Actor, Change, Entry, FieldChange, History};

    static EMBEDDED: EmbeddedMigrations = embed_migrations!("migrations");

    /// The history table's migrations, applied by `quotes migrate` once a store is made.
    pub const MIGRATIONS: db::Migrations = db::Migrations::new("admin", &EMBEDDED);

    mod schema {
        diesel::table! {
            admin_history (id) {
                id -> Int8,
                at -> Timestamptz,
                actor_id -> Nullable<Int8>,
                actor_name -> Text,
                section -> Text,
                object_id -> Text,
                object_label -> Text,
                action -> Text,
                fields -> Text,
            }
        }
    }
    use schema::admin_history as h;

    #[derive(Queryable, Selectable)]
    #[diesel(table_name = h, check_for_backend(diesel::pg::Pg))]
    struct Row {
        id: i64,
        at: DateTime<Utc>,
        actor_id: Option<i64>,
        actor_name: String,
        section: String,
        object_id: String,
        object_label: String,
        action: String,
        fields: String,
    }

    #[derive(Insertable)]
    #[diesel(table_name = h)]
    struct NewRow<'a> {
        actor_id: Option<i64>,
        actor_name: &'a str,
        section: &'a str,
        object_id: &'a str,
        object_label: &'a str,
        action: &'static str,
        fields: String,
    }

    /// The history in PostgreSQL, on the site's pool.
    #[derive(Clone)]
    pub struct PgHistory {
        db: Database,
    }

    impl std::fmt::Debug for PgHistory {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("PgHistory").finish_non_exhaustive()
        }
    }

    impl PgHistory {
        /// Registers the history's migrations with `db`; connects to nothing.
        pub fn new(db: &Database) -> Result<PgHistory, db::PgError> {
            db.require(MIGRATIONS)?;
            Ok(PgHistory { db: db.clone() })
        }

        fn load(&self, query: h::BoxedQuery<'_, diesel::pg::Pg>) -> Result<Vec<Entry>, String> {
            let mut conn = self.db.conn().map_err(|e| e.to_string())?;
            let rows: Vec<Row> = query
                .select(Row::as_select())
                .order(h::id.desc())
                .load(&mut conn)
                .map_err(|e| format!("{:?}", self.db.fault(e)))?;
            rows.into_iter().map(entry).collect()
        }
    }

    fn action_name(action: Action) -> &'static str {
        match action {
            Action::Add => "add",
            Action::Change => "change",
            Action::Delete => "delete",
        }
    }

    fn entry(row: Row) -> Result<Entry, String> {
        let action = match row.action.as_str() {
            "add" => Action::Add,
            "change" => Action::Change,
            "delete" => Action::Delete,
            other => return Err(format!("history entry {}: unknown action {other}", row.id)),
        };
        let fields: Vec<FieldChange> = serde_json::from_str(&row.fields)
            .map_err(|e| format!("history entry {}: {e}", row.id))?;
        Ok(Entry {
            id: row.id,
            at: super::stamp(row.at),
            change: Change {
                section: row.section,
                object_id: row.object_id,
                object_label: row.object_label,
                action,
                actor: Actor {
                    user_id: row.actor_id,
                    name: row.actor_name,
                },
                fields,
            },
        })
    }

    impl History for PgHistory {
        fn record(&self, changes: &[Change]) -> Result<(), String> {
            let rows = changes
                .iter()
                .map(|c| {
                    Ok(NewRow {
                        actor_id: c.actor.user_id,
                        actor_name: &c.actor.name,
                        section: &c.section,
                        object_id: &c.object_id,
                        object_label: &c.object_label,
                        action: action_name(c.action),
                        fields: serde_json::to_string(&c.fields).map_err(|e| e.to_string())?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let mut conn = self.db.conn().map_err(|e| e.to_string())?;
            // One transaction for the lot (an import of a thousand quotes is an entry each),
            // in statements of a thousand rows: all of it is kept, or none.
            conn.transaction(|conn| {
                for chunk in rows.chunks(1000) {
                    diesel::insert_into(h::table).values(chunk).execute(conn)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(|e| format!("{:?}", self.db.fault(e)))
        }

        fn of_object(&self, section: &str, object_id: &str) -> Result<Vec<Entry>, String> {
            self.load(
                h::table
                    .filter(h::section.eq(section.to_owned()))
                    .filter(h::object_id.eq(object_id.to_owned()))
                    .into_boxed(),
            )
        }

        fn recent(&self, limit: usize) -> Result<Vec<Entry>, String> {
            self.load(
                h::table
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .into_boxed(),
            )
        }
    }
}

/// The contract every history store keeps; each backend runs it with its own constructor:
/// `admin::history_contract!(Box::new(MemoryHistory::default()));`.
#[cfg(feature = "contract-tests")]
pub mod contract {
    use web::admin::{Action, Actor, Change, FieldChange, History};

    #[macro_export]
    macro_rules! history_contract {
        ($make:expr) => {
            $crate::history_contract!(@cases $make;
                starts_empty,
                keeps_who_what_and_each_fields_before_and_after,
                an_objects_history_is_its_own_newest_first,
                recent_is_bounded_and_newest_first
            );
        };
        (@cases $make:expr; $($case:ident),* $(,)?) => {
            $(
                #[test]
                fn $case() {
                    let history = $make;
                    $crate::history::contract::$case(&*history);
                }
            )*
        };
    }

    fn change(object: &str, action: Action, before: Option<&str>, after: Option<&str>) -> Change {
        Change {
            section: "quotes/quote".into(),
            object_id: object.into(),
            object_label: format!("quote {object} « ünïcode »"),
            action,
            actor: Actor::user(7, "boss"),
            fields: vec![FieldChange {
                field: "text".into(),
                before: before.map(str::to_owned),
                after: after.map(str::to_owned),
            }],
        }
    }

    pub fn starts_empty(h: &dyn History) {
        assert!(h.recent(10).unwrap().is_empty());
        assert!(h.of_object("quotes/quote", "1").unwrap().is_empty());
        h.record(&[]).unwrap();
        assert!(h.recent(10).unwrap().is_empty());
    }

    pub fn keeps_who_what_and_each_fields_before_and_after(h: &dyn History) {
        let edit = change("1", Action::Change, Some("old \"text\""), Some("new\ntext"));
        let mut by_command = change("2", Action::Add, None, Some("loaded"));
        by_command.actor = Actor::command("load-quotes");
        h.record(&[edit.clone(), by_command.clone()]).unwrap();
        let recent = h.recent(10).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].change, by_command);
        assert_eq!(recent[1].change, edit);
        assert!(recent[0].id > recent[1].id);
        assert!(
            chrono::DateTime::parse_from_rfc3339(&recent[0].at).is_ok(),
            "{}",
            recent[0].at
        );
    }

    pub fn an_objects_history_is_its_own_newest_first(h: &dyn History) {
        h.record(&[change("1", Action::Add, None, Some("a"))])
            .unwrap();
        h.record(&[change("2", Action::Add, None, Some("x"))])
            .unwrap();
        h.record(&[change("1", Action::Change, Some("a"), Some("b"))])
            .unwrap();
        let mut other_section = change("1", Action::Delete, Some("b"), None);
        other_section.section = "accounts/user".into();
        h.record(&[other_section]).unwrap();
        let of_one = h.of_object("quotes/quote", "1").unwrap();
        let actions: Vec<Action> = of_one.iter().map(|e| e.change.action).collect();
        assert_eq!(actions, [Action::Change, Action::Add]);
        assert_eq!(of_one[0].change.fields[0].after.as_deref(), Some("b"));
    }

    pub fn recent_is_bounded_and_newest_first(h: &dyn History) {
        let batch: Vec<Change> = (1..=30)
            .map(|i| change(&i.to_string(), Action::Add, None, Some("t")))
            .collect();
        h.record(&batch).unwrap();
        let recent = h.recent(10).unwrap();
        let ids: Vec<&str> = recent.iter().map(|e| e.change.object_id.as_str()).collect();
        assert_eq!(
            ids,
            ["30", "29", "28", "27", "26", "25", "24", "23", "22", "21"]
        );
    }
}
