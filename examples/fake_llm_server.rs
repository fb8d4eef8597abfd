//! A fake OpenAI/Anthropic/Gemini server for benchmarks (the same one the tests use):
//! `fake_llm_server LATENCY_MS` prints its port and answers every request after LATENCY_MS
//! (item requests with a result per item).

#[path = "../tests/common/fake.rs"]
mod fake;

fn main() {
    let ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let server = fake::FakeServer::start(move |r, _| {
        fake::answer(r).after(std::time::Duration::from_millis(ms))
    });
    println!("{}", server.port);
    loop {
        std::thread::park();
    }
}
