//! `pick` chooses exactly as the memory store does: a point in the range of ids, then the
//! first quote at or after it.

use std::collections::HashMap;

use quotes_core::QuoteStore;
use quotes_store_pg::testing::TestDatabase;

use crate::{nq, page};

#[test]
fn pick_is_the_first_quote_at_or_after_a_point_in_the_id_range() {
    let db = TestDatabase::new();
    let ids: Vec<_> = (0..10)
        .map(|i| db.insert(nq(&format!("q{i}"), "a")).unwrap().id.0)
        .collect();
    for &id in &[ids[0], ids[4], ids[5]] {
        db.delete(quotes_core::QuoteId(id)).unwrap();
    }
    let listed: Vec<i64> = db
        .list(page(1, 100))
        .unwrap()
        .items
        .iter()
        .map(|q| q.id.0)
        .collect();
    let (lo, hi) = (listed[0], listed[listed.len() - 1]);
    let span = u64::try_from(hi - lo + 1).unwrap();
    for seed in [0, 1, 2, 6, 7, 13, 1 << 40, u64::MAX - 1, u64::MAX] {
        let point = lo + i64::try_from(seed % span).unwrap();
        let expected = *listed.iter().find(|&&id| id >= point).unwrap();
        assert_eq!(
            db.pick(seed).unwrap().unwrap().id.0,
            expected,
            "seed {seed}"
        );
    }
    // Every quote can be picked; the one after the gap is picked more often.
    let mut hits: HashMap<i64, u32> = HashMap::new();
    for seed in 0..span {
        *hits
            .entry(db.pick(seed).unwrap().unwrap().id.0)
            .or_default() += 1;
    }
    assert_eq!(hits.len(), listed.len());
    assert_eq!(hits[&ids[6]], 3, "ids[4] and ids[5] are gone");
}
