//! `pick` chooses exactly as the memory store does: `seed % count` as an index in id order.

use quotes_core::QuoteStore;
use quotes_store_pg::testing::TestDatabase;

use crate::{nq, page};

#[test]
fn pick_is_seed_modulo_count_in_id_order() {
    let db = TestDatabase::new();
    let ids: Vec<_> = (0..10)
        .map(|i| db.insert(nq(&format!("q{i}"), "a")).unwrap().id)
        .collect();
    // Gaps in the ids must not matter: the index counts rows, not ids.
    for &id in &ids[..3] {
        db.delete(id).unwrap();
    }
    let listed: Vec<_> = db
        .list(page(1, 100))
        .unwrap()
        .items
        .iter()
        .map(|q| q.id)
        .collect();
    assert_eq!(listed.len(), 7);
    for seed in [0, 1, 6, 7, 13, 1 << 40, u64::MAX - 1, u64::MAX] {
        let expected = listed[usize::try_from(seed % 7).unwrap()];
        assert_eq!(db.pick(seed).unwrap().unwrap().id, expected, "seed {seed}");
    }
}
