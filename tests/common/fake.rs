//! A fake LLM server on 127.0.0.1 for tests and benchmarks. It answers in each provider's real
//! wire format, chosen by the request path (`/chat/completions` OpenAI-style,
//! `/v1/messages` Anthropic, `…:generateContent` Gemini), records every request, and follows a
//! per-request script (status, headers, body, delay).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
    /// Send the body one byte at a time, this long apart (a server dripping its reply).
    pub drip: Option<Duration>,
}

impl Reply {
    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
            drip: None,
        }
    }
    pub fn dripping(mut self, every: Duration) -> Reply {
        self.drip = Some(every);
        self
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn after(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// A result valid for every LLM type's schema.
pub const RESULT: &str = r##"{"summary": "fine", "smells": [{"type": "long-function", "severity": "low", "location": {"line_start": 1, "line_end": 3, "symbol": "main"}, "description": "x"}], "suggestions": [{"title": "split", "description": "split it", "priority": "low", "effort": "small"}], "scores": {"maintainability": 8, "readability": 8, "complexity": 3}, "markdown": "# Module\n\nDoes things.", "quality": {"score": 8, "findings": []}, "complexity": {"score": 3, "hotspots": []}, "security": {"score": 9, "findings": []}}"##;

/// The items an item request asked about, `(id, lines)`, from the `### item <id> (<kind>
/// <name>, <n> lines)` headings of its messages (empty for a whole-file request).
pub fn items_asked(body: &str) -> Vec<(String, u64)> {
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut texts = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        strings(&v, &mut texts);
    }
    let mut out = Vec::new();
    for t in texts {
        for line in t.lines() {
            let Some(rest) = line.strip_prefix("### item ") else {
                continue;
            };
            let Some((id, tail)) = rest.split_once(' ') else {
                continue;
            };
            let n = tail
                .rsplit_once(", ")
                .and_then(|(_, l)| l.strip_suffix(" lines)"))
                .and_then(|l| l.parse().ok())
                .unwrap_or(1);
            out.push((id.to_string(), n));
        }
    }
    out
}

/// The id of the item an item request asks the file's summary of (its heading says `summary
/// of the file`).
pub fn summary_asked(body: &str) -> Option<String> {
    let i = body.find(", summary of the file, ")?;
    let head = &body[..i];
    let start = head.rfind("### item ")? + "### item ".len();
    head[start..].split(' ').next().map(str::to_string)
}

/// A result for an item of `lines` lines, valid for every LLM type's schema: one smell on the
/// item's last line (at most its third).
pub fn item_result(lines: u64) -> serde_json::Value {
    let last = lines.clamp(1, 3);
    serde_json::json!({
        "summary": "fine",
        "smells": [{"type": "long-function", "severity": "low", "location": {"line_start": 1, "line_end": last, "symbol": null}, "description": "x"}],
        "suggestions": [],
        "scores": {"maintainability": 8, "readability": 8, "complexity": 3},
        "quality": {"score": 8, "findings": [{"severity": "low", "description": "q", "line": last}]},
        "complexity": {"score": 3, "hotspots": []},
        "security": {"score": 9, "findings": []}
    })
}

/// The answer a well-behaved model gives to `rec`: a result per item for an item request,
/// [`RESULT`] for a whole file.
pub fn answer(rec: &Recorded) -> Reply {
    ok_reply(&rec.path, &answer_text(rec))
}

/// [`answer`], with a usage block of `input` input tokens (OpenAI wire format only).
pub fn answer_sized(rec: &Recorded, input: u64) -> Reply {
    sized(answer(rec), &rec.path, input)
}

/// `reply` (to a request for `path`) with a usage block of `input` input tokens (OpenAI wire
/// format only).
pub fn sized(reply: Reply, path: &str, input: u64) -> Reply {
    if !path.ends_with("/chat/completions") {
        return reply;
    }
    let mut v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    v["usage"]["prompt_tokens"] = input.into();
    v["usage"]["prompt_tokens_details"]["cached_tokens"] = 0.into();
    v["usage"]["total_tokens"] = (input + 800).into();
    Reply::status(200, &v.to_string())
}

fn answer_text(rec: &Recorded) -> String {
    let asked = items_asked(&rec.body);
    if asked.is_empty() {
        return RESULT.to_string();
    }
    // As asked: a summary for one item only, in the list the request's schema asks for.
    let carrier = summary_asked(&rec.body);
    let items: Vec<serde_json::Value> = asked
        .into_iter()
        .map(|(id, n)| {
            let mut r = item_result(n);
            if carrier.as_deref() != Some(id.as_str()) {
                r["summary"] = "".into();
            }
            serde_json::json!({"id": id, "result": r})
        })
        .collect();
    serde_json::json!({ "items": items }).to_string()
}

/// A successful reply in the wire format of `path`, carrying `content` as the answer text.
pub fn ok_reply(path: &str, content: &str) -> Reply {
    let text = serde_json::Value::String(content.to_string());
    let body = if path.ends_with("/chat/completions") {
        format!(
            r#"{{"id": "chatcmpl-1", "object": "chat.completion", "model": "served-model-1", "choices": [{{"index": 0, "message": {{"role": "assistant", "content": {text}}}, "finish_reason": "stop"}}],
               "usage": {{"prompt_tokens": 1200, "completion_tokens": 800, "total_tokens": 2000, "prompt_tokens_details": {{"cached_tokens": 200}}, "completion_tokens_details": {{"reasoning_tokens": 0}}}}}}"#
        )
    } else if path.ends_with("/v1/messages") {
        // A request forcing the result tool gets a tool use whose input is the answer, when
        // the answer is a JSON object; other text stays a text block.
        let block = match serde_json::from_str::<serde_json::Value>(content) {
            Ok(v @ serde_json::Value::Object(_)) => format!(
                r#"{{"type": "tool_use", "id": "toolu_1", "name": "record_result", "input": {v}}}"#
            ),
            _ => format!(r#"{{"type": "text", "text": {text}}}"#),
        };
        format!(
            r#"{{"id": "msg_1", "type": "message", "role": "assistant", "model": "served-model-1", "content": [{block}], "stop_reason": "end_turn",
               "usage": {{"input_tokens": 1000, "output_tokens": 800, "cache_read_input_tokens": 200, "cache_creation_input_tokens": 0}}}}"#
        )
    } else {
        format!(
            r#"{{"candidates": [{{"content": {{"parts": [{{"text": {text}}}], "role": "model"}}, "finishReason": "STOP", "index": 0}}],
               "usageMetadata": {{"promptTokenCount": 1200, "candidatesTokenCount": 700, "thoughtsTokenCount": 100, "cachedContentTokenCount": 200, "totalTokenCount": 2000}},
               "modelVersion": "served-model-1"}}"#
        )
    };
    Reply::status(200, &body)
}

type Script = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

pub struct FakeServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeServer {
    /// A server answering every request with a valid result.
    pub fn ok() -> FakeServer {
        FakeServer::start(|r, _| answer(r))
    }

    /// A server following `script(request, index)` (index counts from 0).
    pub fn start(script: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        {
            let (requests, count, stop) = (requests.clone(), count.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (requests, count, script) =
                        (requests.clone(), count.clone(), script.clone());
                    std::thread::spawn(move || serve(conn, &requests, &count, &*script));
                }
            });
        }
        FakeServer {
            port,
            requests,
            count,
            stop,
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Base URL in the convention of `provider`.
    pub fn base_url(&self, provider: &str) -> String {
        match provider {
            "anthropic" | "gemini" => format!("http://127.0.0.1:{}", self.port),
            _ => format!("http://127.0.0.1:{}/v1", self.port),
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, requests: &Mutex<Vec<Recorded>>, count: &AtomicUsize, script: &Script) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let rec = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = count.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(rec.clone());
    let reply = script(&rec, n);
    std::thread::sleep(reply.delay);
    let mut out = conn;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    match reply.drip {
        None => {
            let _ = out.write_all(reply.body.as_bytes());
        }
        Some(every) => {
            for b in reply.body.as_bytes() {
                if out.write_all(&[*b]).and_then(|()| out.flush()).is_err() {
                    return; // the client gave up
                }
                std::thread::sleep(every);
            }
        }
    }
    let _ = out.flush();
}
