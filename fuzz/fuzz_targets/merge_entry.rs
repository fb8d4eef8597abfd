//! The merge driver's decision on arbitrary pairs: never a panic, and the winner is the same
//! whichever side is "ours" (the property that makes both merge directions converge).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustassistant::cache::Entry;
use rustassistant::cli::merge_winner;

fuzz_target!(|data: &[u8]| {
    let mid = data.len() / 2;
    let (a, b) = data.split_at(mid);
    let (ea, eb) = (Entry::decode(a, None), Entry::decode(b, None));
    let ta = ea.as_ref().map(|e| e.created_at.clone()).unwrap_or_default();
    let tb = eb.as_ref().map(|e| e.created_at.clone()).unwrap_or_default();
    let w1 = merge_winner((&ta, a), (&tb, b));
    let w2 = merge_winner((&tb, b), (&ta, a));
    assert_eq!(w1, w2, "the winner does not depend on the merge direction");
    assert!(w1 == a || w1 == b);
});
