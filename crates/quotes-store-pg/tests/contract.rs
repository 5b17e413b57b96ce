//! The PostgreSQL store keeps the shared `QuoteStore` contract, each case on a fresh database.

quotes_core::quote_store_contract!(quotes_store_pg::testing::TestDatabase::new());
