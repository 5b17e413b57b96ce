//! Picks the concrete store: Cargo features decide what is compiled in, settings decide what
//! runs. The only place in the workspace that checks the `store-*` features.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "store-pg")]
use anyhow::Context;
use quotes_core::QuoteStore;

use crate::settings::{Settings, StoreKind};

/// A store ready for use, plus the operations only some backends have.
pub struct OpenStore {
    pub store: Arc<dyn QuoteStore>,
    pub kind: StoreKind,
    #[cfg(feature = "store-pg")]
    pg: Option<Arc<quotes_store_pg::PgStore>>,
}

impl std::fmt::Debug for OpenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStore")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "store-pg")]
fn pg_settings(settings: &Settings) -> quotes_store_pg::PgSettings {
    let db = &settings.database;
    quotes_store_pg::PgSettings {
        url: db.url.clone(),
        pool_size: db.pool_size,
        connect_timeout: Duration::from_secs(db.connect_timeout_secs),
        statement_timeout: Duration::from_millis(db.statement_timeout_ms),
    }
}

/// Opens the store that `settings` asks for. Does not wait for a database: see
/// [`OpenStore::wait_until_ready`].
pub fn open(settings: &Settings) -> anyhow::Result<OpenStore> {
    let kind = settings.store_kind();
    match kind {
        #[cfg(feature = "store-memory")]
        StoreKind::Memory => Ok(OpenStore {
            store: Arc::new(quotes_store_memory::MemoryStore::default()),
            kind,
            #[cfg(feature = "store-pg")]
            pg: None,
        }),
        #[cfg(not(feature = "store-memory"))]
        StoreKind::Memory => anyhow::bail!(
            "this build has no memory store: rebuild with --features store-memory, or set DATABASE_URL"
        ),
        #[cfg(feature = "store-pg")]
        StoreKind::Postgres => {
            anyhow::ensure!(
                !settings.database.url.is_empty(),
                "QUOTES_STORE=postgres needs a database URL: set DATABASE_URL"
            );
            let pg = Arc::new(quotes_store_pg::PgStore::connect(&pg_settings(settings)).context("opening PostgreSQL store")?);
            Ok(OpenStore {
                store: pg.clone(),
                kind,
                pg: Some(pg),
            })
        }
        #[cfg(not(feature = "store-pg"))]
        StoreKind::Postgres => anyhow::bail!(
            "this build has no PostgreSQL store: rebuild with --features store-pg, or set QUOTES_STORE=memory"
        ),
        StoreKind::Auto => unreachable!("Settings::store_kind resolves auto"),
    }
}

impl OpenStore {
    /// Waits, bounded, until the database accepts connections and its schema is current.
    /// Stores without a database are ready at once.
    pub fn wait_until_ready(&self, settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
        #[cfg(feature = "store-pg")]
        if self.pg.is_some() {
            quotes_store_pg::wait_for_db(&pg_settings(settings), timeout)?;
        }
        // A build without PostgreSQL has nothing to wait for and no use for these.
        let _ = (settings, timeout);
        Ok(())
    }

    /// Applies pending migrations; returns their names. Stores without a schema have none.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        #[cfg(feature = "store-pg")]
        if let Some(pg) = &self.pg {
            return Ok(pg.migrate()?);
        }
        Ok(Vec::new())
    }

    /// True when the data outlives this process.
    pub fn is_persistent(&self) -> bool {
        self.kind == StoreKind::Postgres
    }
}
