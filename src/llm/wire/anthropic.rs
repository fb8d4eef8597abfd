//! Anthropic messages: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.

use serde_json::{json, Value};

use super::Built;
use crate::llm::{ChatRequest, ChatResponse, Usage};

/// API version header value.
const VERSION: &str = "2023-06-01";

/// Build the request.
pub fn build(model: &str, key: Option<&str>, req: &ChatRequest) -> Built {
    let mut headers = vec![("anthropic-version", VERSION.to_string())];
    if let Some(k) = key {
        headers.push(("x-api-key", k.to_string()));
    }
    Built {
        path: "/v1/messages".into(),
        headers,
        body: json!({
            "model": model,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "system": req.system,
            "messages": [{"role": "user", "content": req.user}],
        }),
    }
}

/// Read the answer and usage from a reply.
pub fn parse(v: &Value) -> Result<ChatResponse, String> {
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no content in the reply")?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        return Err("the reply has no text block".into());
    }
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        // input_tokens excludes cache reads and writes: every input token is their sum.
        let read = n("cache_read_input_tokens");
        Usage {
            input: n("input_tokens") + read + n("cache_creation_input_tokens"),
            output: n("output_tokens"),
            cached_input: read,
            reasoning: 0,
        }
    });
    Ok(ChatResponse {
        text,
        usage,
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_reads_and_writes_are_added_to_input() {
        let v = json!({"type": "message", "model": "claude-sonnet-4-20250514",
            "content": [{"type": "text", "text": "{\"a\":1}"}],
            "usage": {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 900, "cache_creation_input_tokens": 10}});
        let r = parse(&v).unwrap();
        assert_eq!(r.text, "{\"a\":1}");
        assert_eq!(
            r.usage.unwrap(),
            Usage {
                input: 1010,
                output: 50,
                cached_input: 900,
                reasoning: 0
            }
        );
    }
}
