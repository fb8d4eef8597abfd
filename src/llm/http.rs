//! [`Http`]: one client for every wire format (the formats themselves live in `wire/`), with
//! one overall deadline per request (connect, headers, body and retry waits together, capped
//! further by the caller's own deadline), retries with exponential backoff and jitter on
//! 429/5xx/529 honouring `Retry-After` within that deadline, no redirects followed (a key header
//! must never reach another origin), a bounded reply size, and API keys kept out of every
//! message.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{wire, ChatRequest, ChatResponse, Provider, ProviderError, Wire};

/// Most attempts per request (the first plus two retries): enough to ride out a rate-limit
/// window or a restarting server, few enough that a dead one fails a file in seconds.
const MAX_ATTEMPTS: u32 = 3;
/// First backoff; doubled per retry, with ±50% jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest wait honoured from `Retry-After` (a server asking for more is treated as failing).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Largest reply body read: a real analysis is a few kilobytes. The bound is the entry bound, so
/// a reply that no reader of the cache would accept is refused here, never written.
pub const MAX_REPLY_BYTES: u64 = crate::cache::entry::MAX_ENTRY_FILE_BYTES;
/// How often a wait checks for Ctrl-C and the deadline.
const POLL: Duration = Duration::from_millis(50);

/// An HTTP provider.
pub struct Http {
    name: String,
    model: String,
    wire: Wire,
    base_url: String,
    key: Option<String>,
    timeout: Duration,
    /// Built on the first request: a run of cache hits never pays for it (building it loads
    /// the system's CA certificates, a few milliseconds).
    client: std::sync::OnceLock<Result<reqwest::blocking::Client, String>>,
    /// Whether the server takes `json_schema` structured outputs (OpenAI's wire format): an
    /// OpenAI-compatible server that refuses them is asked for a JSON object instead, for the
    /// rest of the run.
    json_schema: std::sync::atomic::AtomicBool,
    /// Where `-v` details go.
    out: crate::output::Printer,
}

impl Http {
    /// A provider speaking `wire` at `base_url`. `key` is sent in the format's own header and
    /// nowhere else.
    pub fn new(
        name: &str,
        model: &str,
        wire: Wire,
        base_url: &str,
        key: Option<String>,
        timeout: Duration,
    ) -> Result<Http, String> {
        Ok(Http {
            name: name.to_string(),
            model: model.to_string(),
            wire,
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            timeout,
            client: std::sync::OnceLock::new(),
            json_schema: std::sync::atomic::AtomicBool::new(true),
            out: crate::output::Printer::default(),
        })
    }

    /// Print `-v` details (the structured-output fallback) with `out`.
    pub fn with_printer(mut self, out: crate::output::Printer) -> Http {
        self.out = out;
        self
    }

    /// The HTTP client, built once, on the first request.
    fn client(&self) -> Result<&reqwest::blocking::Client, ProviderError> {
        let timeout = self.timeout;
        self.client
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    // Only a bound on each read: the overall deadline is enforced by `send`.
                    .timeout(timeout)
                    .connect_timeout(timeout.min(Duration::from_secs(10)))
                    // A redirect would carry the key header (and, for 307/308, the prompt) to
                    // wherever the server points: follow none and report it.
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("rustassistant/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot set up the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| ProviderError::Connect {
                url: self.base_url.clone(),
                message: e.clone(),
            })
    }

    /// Replace every occurrence of the key in `s`.
    fn redact(&self, s: &str) -> String {
        redact(s, self.key.as_deref())
    }

    fn build(&self, req: &ChatRequest) -> wire::Built {
        match self.wire {
            Wire::OpenAi => wire::openai::build(
                &self.model,
                self.key.as_deref(),
                req,
                self.json_schema.load(std::sync::atomic::Ordering::Relaxed),
            ),
            Wire::Anthropic => wire::anthropic::build(&self.model, self.key.as_deref(), req),
            Wire::Gemini => wire::gemini::build(&self.model, self.key.as_deref(), req),
        }
    }

    /// Whether a request that asked for `json_schema` and was refused with `message` was
    /// refused for it: then this server is asked for a JSON object from now on (said once, `-v`).
    fn falls_back(&self, message: &str) -> bool {
        use std::sync::atomic::Ordering;
        if !wire::openai::refuses_json_schema(message) {
            return false;
        }
        if self.json_schema.swap(false, Ordering::Relaxed) {
            self.out.detail(&format!(
                "{}: the server refused `json_schema` structured outputs ({}); asking for a JSON object instead for the rest of the run",
                self.name,
                crate::output::sanitize(message)
            ));
        }
        true
    }

    fn parse(&self, body: &Value) -> Result<ChatResponse, String> {
        match self.wire {
            Wire::OpenAi => wire::openai::parse(body),
            Wire::Anthropic => wire::anthropic::parse(body),
            Wire::Gemini => wire::gemini::parse(body),
        }
    }
}

impl Provider for Http {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn send(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let started = Instant::now();
        let deadline = match req.deadline {
            Some(d) => d.min(started + self.timeout),
            None => started + self.timeout,
        };
        let timed_out = || ProviderError::Timeout(self.timeout.as_secs().max(1));
        let mut built = self.build(req);
        let url = format!("{}{}", self.base_url, built.path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // After Ctrl-C (or with nobody reading the output) no request leaves, retries
            // included; those already in flight are awaited below.
            if crate::util::interrupt::stop_new_work() {
                return Err(ProviderError::NotSent);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timed_out());
            }
            let mut rb = self
                .client()?
                .post(&url)
                .timeout(remaining)
                .json(&built.body);
            for (k, v) in &built.headers {
                rb = rb.header(*k, v);
            }
            // The request runs on its own thread so that this one can give up at the deadline
            // or on Ctrl-C whatever the server does (a server dripping one byte a second resets
            // every per-read timeout). An abandoned request ends at its own read timeout.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let r = rb.send().map(|resp| {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let location = resp
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    (status, retry_after, location, read_bounded(resp))
                });
                let _ = tx.send(r);
            });
            let answer = loop {
                if crate::util::interrupt::abandon() {
                    return Err(ProviderError::Interrupted);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                match rx.recv_timeout(left.min(POLL)) {
                    Ok(a) => break a,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(ProviderError::InvalidReply(
                            "the request thread ended without an answer".into(),
                        ))
                    }
                }
            };
            let (status, retry_after, location, body) = match answer {
                Ok(a) => a,
                Err(e) if e.is_timeout() => return Err(timed_out()),
                Err(e) => {
                    return Err(ProviderError::Connect {
                        url: self.base_url.clone(),
                        message: self.redact(&error_chain(&e)),
                    });
                }
            };
            let body = match body {
                Ok(b) => b,
                Err(ReadError::Timeout) => return Err(timed_out()),
                Err(ReadError::Other(m)) => {
                    return Err(ProviderError::InvalidReply(self.redact(&m)))
                }
            };
            if (200..300).contains(&status) {
                let json: Value = serde_json::from_slice(&body)
                    .map_err(|e| ProviderError::InvalidReply(format!("reply is not JSON ({e})")))?;
                return self
                    .parse(&json)
                    .map_err(|m| ProviderError::InvalidReply(self.redact(&m)));
            }
            if (300..400).contains(&status) {
                return Err(ProviderError::Client {
                    status,
                    message: format!(
                        "the server redirected to {}; redirects are not followed (they would carry the API key elsewhere): set the base URL to the final address",
                        crate::output::sanitize(&self.redact(location.as_deref().unwrap_or("?")))
                    ),
                });
            }
            let message = error_message(&body, self.key.as_deref());
            let retryable = matches!(status, 429 | 500 | 502 | 503 | 504 | 529);
            if status == 429 && is_spending_cap(&message) || matches!(status, 402) {
                return Err(ProviderError::SpendingCap { status, message });
            }
            let asked_schema =
                built.body.pointer("/response_format/type") == Some(&Value::from("json_schema"));
            if status == 400 && asked_schema && self.falls_back(&message) {
                built = self.build(req);
                attempt -= 1;
                continue;
            }
            if !retryable {
                return Err(ProviderError::Client { status, message });
            }
            let wait = retry_after.unwrap_or_else(|| backoff(attempt));
            let give_up = attempt >= MAX_ATTEMPTS
                || retry_after.is_some_and(|d| d > MAX_RETRY_AFTER)
                // A wait that would outlast the deadline is not worth starting.
                || Instant::now() + wait >= deadline;
            if give_up {
                return Err(if status == 429 {
                    ProviderError::RateLimited {
                        attempts: attempt,
                        message,
                    }
                } else {
                    ProviderError::Server {
                        status,
                        attempts: attempt,
                        message,
                    }
                });
            }
            let until = Instant::now() + wait;
            // Sleep in slices so Ctrl-C is honoured during a long backoff.
            while Instant::now() < until {
                if crate::util::interrupt::stop_new_work() {
                    return Err(ProviderError::NotSent);
                }
                std::thread::sleep((until - Instant::now()).min(POLL));
            }
        }
    }
}

enum ReadError {
    Timeout,
    Other(String),
}

fn read_bounded(resp: reqwest::blocking::Response) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > MAX_REPLY_BYTES) {
        return Err(ReadError::Other(format!(
            "reply is larger than {} MiB",
            MAX_REPLY_BYTES / (1024 * 1024)
        )));
    }
    let mut body = Vec::new();
    match resp.take(MAX_REPLY_BYTES + 1).read_to_end(&mut body) {
        Ok(_) if body.len() as u64 > MAX_REPLY_BYTES => Err(ReadError::Other(format!(
            "reply is larger than {} MiB",
            MAX_REPLY_BYTES / (1024 * 1024)
        ))),
        Ok(_) => Ok(body),
        Err(e)
            if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") =>
        {
            Err(ReadError::Timeout)
        }
        Err(e) => Err(ReadError::Other(format!("reading the reply: {e}"))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

/// The provider's own error message from an error body (every format nests it under
/// `error.message`; some send `error` as a string), else the body's first 300 characters. The
/// key is redacted *before* anything is cut, so a cut can never leave part of it behind.
pub fn error_message(body: &[u8], key: Option<&str>) -> String {
    let text = redact(&String::from_utf8_lossy(body), key);
    let message = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let m = message.unwrap_or_else(|| text.trim().to_string());
    let t: String = m.chars().take(300).collect();
    crate::output::sanitize(t.trim())
}

/// A 429 that retrying cannot fix: the account is out of money or quota.
fn is_spending_cap(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "insufficient_quota",
        "exceeded your current quota",
        "spending limit",
        "spending cap",
        "billing",
        "credit balance",
        "out of credits",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v.trim()).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    Some(Duration::from_secs(
        when.as_second().saturating_sub(now.as_second()).max(0) as u64,
    ))
}

/// Exponential backoff with ±50% jitter for retry number `attempt` (1-based).
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_BASE.as_millis() as u64 * (1u64 << (attempt - 1).min(6));
    let jitter = pseudo_random() % (base + 1);
    Duration::from_millis(base / 2 + jitter)
}

/// A cheap random number for jitter (no cryptographic use): time and thread mixed.
fn pseudo_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// Replace every occurrence of `key` (and of keys looking like it) in `s` with `[REDACTED]`.
pub fn redact(s: &str, key: Option<&str>) -> String {
    match key {
        Some(k) if k.len() >= 4 => s.replace(k, "[REDACTED]"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_cut_in_half_by_the_length_bound_is_still_redacted() {
        let key = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz";
        // The key straddles character 300 of a plain-text body.
        let body = format!("{}{key} trailing", "x".repeat(290));
        let m = error_message(body.as_bytes(), Some(key));
        assert!(!m.contains("sk-live-01"), "{m}");
        assert!(m.contains("[REDACTED]"), "{m}");
    }

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert!(parse_retry_after("soon").is_none());
    }

    #[test]
    fn backoff_grows_with_jitter_inside_bounds() {
        for attempt in 1..4 {
            let base = 500u64 << (attempt - 1);
            let d = backoff(attempt).as_millis() as u64;
            assert!(d >= base / 2 && d <= base / 2 + base, "{attempt}: {d}");
        }
    }

    #[test]
    fn errors_are_read_from_each_shape_and_keys_redacted() {
        assert_eq!(
            error_message(
                br#"{"error":{"message":"bad key sk-123456","type":"x"}}"#,
                Some("sk-123456")
            ),
            "bad key [REDACTED]"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                None
            ),
            "Overloaded"
        );
        assert_eq!(error_message(b"plain text", None), "plain text");
        assert_eq!(
            redact("bad key sk-123456", Some("sk-123456")),
            "bad key [REDACTED]"
        );
        assert!(is_spending_cap(
            "You exceeded your current quota, please check your plan"
        ));
        assert!(!is_spending_cap("Rate limit reached for requests"));
    }
}
