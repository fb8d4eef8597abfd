//! A fake OpenAI/Anthropic/Gemini server for benchmarks (the same one the tests use):
//! `fake_llm_server LATENCY_MS [LOG]` prints its port and answers every request after
//! LATENCY_MS (item requests with a result per item). Its usage block counts a token per four
//! bytes of the request body, so that what a run sends shows in its tokens; with LOG, it
//! appends a line per request to that file: the body's bytes and the number of items asked.
//!
//! With `FAKE_LLM_PROSE=1` every answer is unique prose, as a model's is, sized as the git-cost
//! model of DESIGN.md measures: about 2.5 KB for a whole file, about 200 bytes an item. (The
//! tests' fixed answer compresses to nothing in git, which hides what results cost a history.)

#[path = "../tests/common/fake.rs"]
mod fake;

use std::io::Write as _;

/// Common words: prose with the entropy of English, not of random bytes.
const WORDS: &[&str] = &[
    "the",
    "function",
    "returns",
    "value",
    "error",
    "handle",
    "loop",
    "index",
    "buffer",
    "split",
    "into",
    "smaller",
    "parts",
    "clone",
    "avoid",
    "borrow",
    "iterator",
    "allocation",
    "string",
    "path",
    "result",
    "option",
    "match",
    "branch",
    "early",
    "return",
    "name",
    "clearer",
    "state",
    "mutable",
    "shared",
    "lock",
    "thread",
    "test",
    "missing",
    "case",
    "input",
    "empty",
    "large",
    "file",
    "read",
    "write",
    "once",
    "twice",
    "cost",
    "simplify",
    "extract",
    "helper",
    "module",
    "type",
    "field",
    "struct",
    "method",
    "trait",
    "generic",
    "bound",
    "lifetime",
    "slice",
    "vector",
    "map",
    "key",
    "cache",
    "hash",
    "order",
    "sort",
    "stable",
    "panic",
    "unwrap",
    "expect",
    "log",
    "message",
    "user",
    "config",
    "default",
    "flag",
    "option",
    "parse",
    "number",
    "overflow",
    "check",
    "guard",
    "duplicate",
    "code",
    "repeated",
    "logic",
    "condition",
    "nested",
    "deeply",
    "long",
    "complex",
    "readable",
    "comment",
    "document",
    "public",
    "private",
    "api",
    "caller",
];

/// A deterministic generator seeded by the request: the same request, the same answer.
struct Prose(u64);

impl Prose {
    fn new(seed: &str) -> Prose {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        Prose(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Words, a fifth of them code identifiers made of syllables (`re_tosi`): zlib keeps about
    /// 43% of 3.8 KB of it, as it keeps 45% of this repository's README (a model's review reads
    /// like that, names of the code included; common words alone would compress to 34%).
    fn text(&mut self, bytes: usize) -> String {
        const SYLLABLES: &[&str] = &[
            "ar", "be", "co", "de", "fi", "ge", "ha", "in", "ko", "li", "ma", "ne", "or", "pa",
            "qu", "re", "si", "to", "un", "ve", "wa", "xy", "za", "st", "tr",
        ];
        let mut s = String::new();
        while s.len() < bytes {
            if !s.is_empty() {
                s.push(' ');
            }
            if self.next().is_multiple_of(5) {
                let parts = 1 + self.next() % 3;
                for p in 0..parts {
                    if p > 0 {
                        s.push('_');
                    }
                    for _ in 0..1 + self.next() % 3 {
                        s.push_str(SYLLABLES[(self.next() % SYLLABLES.len() as u64) as usize]);
                    }
                }
            } else {
                s.push_str(WORDS[(self.next() % WORDS.len() as u64) as usize]);
            }
        }
        s
    }

    fn smell(&mut self, start: u64, end: u64, words: usize) -> serde_json::Value {
        serde_json::json!({"type": "long-function", "severity": "low",
            "location": {"line_start": start, "line_end": end, "symbol": null},
            "description": self.text(words)})
    }
}

/// A unique answer for `r`: per item when it asks about items, else for the whole file.
fn prose_answer(r: &fake::Recorded) -> String {
    let mut p = Prose::new(&r.body);
    let asked = fake::items_asked(&r.body);
    let scores = serde_json::json!({"maintainability": 7, "readability": 8, "complexity": 4});
    if asked.is_empty() {
        let smells: Vec<_> = (0..5).map(|i| p.smell(1 + i, 1 + i, 200)).collect();
        let suggestions: Vec<_> = (0..3)
            .map(|_| serde_json::json!({"title": p.text(30), "description": p.text(200), "priority": "low", "effort": "small"}))
            .collect();
        return serde_json::json!({"summary": p.text(200), "smells": smells, "suggestions": suggestions, "scores": scores}).to_string();
    }
    // A summary for the one item the request asks it of, as the prompt says.
    let carrier = fake::summary_asked(&r.body);
    let items: Vec<serde_json::Value> = asked
        .into_iter()
        .map(|(id, n)| {
            let summary = if carrier.as_deref() == Some(id.as_str()) {
                p.text(40)
            } else {
                String::new()
            };
            let r = serde_json::json!({"summary": summary, "smells": [p.smell(1, n.clamp(1, 3), 50)], "suggestions": [], "scores": scores});
            serde_json::json!({"id": id, "result": r})
        })
        .collect();
    serde_json::json!({ "items": items }).to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let log = args.next().map(|p| {
        std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("the log file opens"),
        )
    });
    let prose = std::env::var("FAKE_LLM_PROSE").is_ok_and(|v| v == "1");
    let server = fake::FakeServer::start(move |r, _| {
        let items = fake::items_asked(&r.body).len();
        if let Some(log) = &log {
            let _ = writeln!(log.lock().unwrap(), "{} {items}", r.body.len());
        }
        let input = r.body.len().div_ceil(4) as u64;
        let reply = if prose {
            fake::sized(fake::ok_reply(&r.path, &prose_answer(r)), &r.path, input)
        } else {
            fake::answer_sized(r, input)
        };
        reply.after(std::time::Duration::from_millis(ms))
    });
    println!("{}", server.port);
    loop {
        std::thread::park();
    }
}
