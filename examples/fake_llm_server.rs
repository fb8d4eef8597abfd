//! A fake OpenAI/Anthropic/Gemini server for benchmarks (the same one the tests use):
//! `fake_llm_server LATENCY_MS [LOG]` prints its port and answers every request after
//! LATENCY_MS (item requests with a result per item). Its usage block counts a token per four
//! bytes of the request body, so that what a run sends shows in its tokens; with LOG, it
//! appends a line per request to that file: the body's bytes and the number of items asked.

#[path = "../tests/common/fake.rs"]
mod fake;

use std::io::Write as _;

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
    let server = fake::FakeServer::start(move |r, _| {
        let items = fake::items_asked(&r.body).len();
        if let Some(log) = &log {
            let _ = writeln!(log.lock().unwrap(), "{} {items}", r.body.len());
        }
        fake::answer_sized(r, r.body.len().div_ceil(4) as u64)
            .after(std::time::Duration::from_millis(ms))
    });
    println!("{}", server.port);
    loop {
        std::thread::park();
    }
}
