//! The quote store for the site's backend: this crate's `memory` and `pg` features decide
//! what is compiled in, the backend `cli` picked decides what runs. The only place in the
//! crate that names a concrete store or checks those features.

use std::sync::Arc;

use quotes_core::QuoteStore;
use web::Context;

pub(crate) fn open(ctx: &Context<'_>) -> anyhow::Result<Arc<dyn QuoteStore>> {
    match ctx.backend() {
        #[cfg(feature = "memory")]
        web::Backend::Memory => Ok(Arc::new(quotes_store_memory::MemoryStore::default())),
        #[cfg(feature = "pg")]
        web::Backend::Postgres => {
            let db = ctx
                .resource::<db::Database>()
                .ok_or_else(|| anyhow::anyhow!("the site provides no PostgreSQL pool"))?;
            Ok(Arc::new(quotes_store_pg::PgStore::new(&db)?))
        }
        // Reached only in a build that left this backend out.
        #[allow(unreachable_patterns)]
        backend => anyhow::bail!("this build of the quotes component has no {backend} store"),
    }
}
