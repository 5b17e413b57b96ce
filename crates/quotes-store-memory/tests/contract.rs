//! The memory store keeps the shared `QuoteStore` contract.

quotes_core::quote_store_contract!(Box::new(quotes_store_memory::MemoryStore::default()));
