//! Writes synthetic but realistic cache entries for benchmarks:
//! `gen_cache REPO N SEED` adds N `refactor` entries (a few KB each, varied prose like a real
//! LLM review) to REPO/.rustassistant/cache shards with random blob ids.

use std::collections::BTreeMap;

use rustassistant::cache::shard::ShardId;
use rustassistant::cache::store::{Edit, Place};
use rustassistant::cache::{Entry, Store, Tokens};

const WORDS: &[&str] = &[
    "function",
    "error",
    "handling",
    "extract",
    "module",
    "struct",
    "lifetime",
    "borrow",
    "clone",
    "allocation",
    "iterator",
    "loop",
    "nested",
    "match",
    "option",
    "result",
    "unwrap",
    "panic",
    "test",
    "coverage",
    "naming",
    "variable",
    "parameter",
    "trait",
    "generic",
    "boxed",
    "string",
    "slice",
    "vector",
    "hash",
    "map",
    "cache",
    "buffer",
    "reader",
    "writer",
    "config",
    "parse",
    "validate",
    "duplicate",
    "complexity",
    "readability",
    "should",
    "could",
    "consider",
    "replace",
    "with",
    "the",
    "a",
    "this",
    "that",
    "because",
    "when",
    "into",
    "from",
    "and",
    "or",
    "not",
    "may",
    "simplify",
    "reduce",
    "early",
    "return",
    "guard",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn sentence(&mut self, words: u64) -> String {
        let n = 6 + self.below(words);
        let mut s: Vec<&str> = (0..n)
            .map(|_| WORDS[self.below(WORDS.len() as u64) as usize])
            .collect();
        s[0] = "Consider";
        s.join(" ") + "."
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let repo = std::path::PathBuf::from(&args[1]);
    let n: u64 = args[2].parse().unwrap();
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let store = Store::new(
        repo.join(".rustassistant"),
        repo.join(".git").join("rustassistant"),
    );
    let mut edits: BTreeMap<ShardId, Edit> = BTreeMap::new();
    let mut rng = Rng(0x9E3779B97F4A7C15 ^ seed.wrapping_mul(0x100000001B3));
    let prompt_hash = "5".repeat(64);
    for i in 0..n {
        let blob: String = (0..5)
            .map(|_| format!("{:08x}", rng.next() as u32))
            .collect();
        let smells: Vec<_> = (0..1 + rng.below(4))
            .map(|_| {
                let l = 1 + rng.below(400);
                serde_json::json!({"type": (["long-function", "deep-nesting", "error-handling", "naming", "duplication"][rng.below(5) as usize]),
                    "severity": (["low", "medium", "high"][rng.below(3) as usize]),
                    "location": {"line_start": l, "line_end": l + rng.below(40), "symbol": format!("fn_{}", rng.below(1000))},
                    "description": rng.sentence(25)})
            })
            .collect();
        let suggestions: Vec<_> = (0..1 + rng.below(4))
            .map(|_| {
                serde_json::json!({"title": rng.sentence(6), "description": rng.sentence(40),
                    "priority": (["low", "medium", "high"][rng.below(3) as usize]), "effort": (["small", "medium", "large"][rng.below(3) as usize])})
            })
            .collect();
        let tokens = Tokens {
            input: 500 + rng.below(4000),
            output: 200 + rng.below(1200),
            cached_input: 0,
        };
        let e = Entry {
            schema_version: 1,
            cache_type: "refactor".into(),
            blob,
            path: format!("src/m{}/f{i}.rs", rng.below(100)),
            file_size: 500 + rng.below(20000),
            provider: "xai".into(),
            model: "grok-4-fast".into(),
            prompt_hash: prompt_hash.clone(),
            created_at: format!(
                "2026-11-{:02}T{:02}:{:02}:00Z",
                1 + rng.below(20),
                rng.below(24),
                rng.below(60)
            ),
            tool_version: "0.1.0".into(),
            tokens,
            cost_usd: Some((tokens.input as f64 * 0.2 + tokens.output as f64 * 0.5) / 1e6),
            response_model: None,
            items: None,
            item_variant: None,
            invalid: None,
            signature: None,
            result: serde_json::json!({"summary": rng.sentence(30), "smells": smells, "suggestions": suggestions,
                "scores": {"maintainability": rng.below(11), "readability": rng.below(11), "complexity": rng.below(11)}}),
        };
        edits.entry(ShardId::of(&e.key())).or_default().add.push(e);
    }
    store.apply(Place::Tree, edits).unwrap();
}
