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
        body: {
            let mut body = json!({
                "model": model,
                "max_tokens": req.max_tokens,
                "temperature": req.temperature,
                "system": req.system,
                "messages": [{"role": "user", "content": req.user}],
            });
            // Structured output: one tool whose input is the result, and its use forced.
            if let Some(schema) = &req.schema {
                body["tools"] = json!([{
                    "name": TOOL,
                    "description": "Record the result, following the input schema exactly.",
                    "input_schema": schema,
                }]);
                body["tool_choice"] = json!({"type": "tool", "name": TOOL});
            }
            body
        },
    }
}

/// The tool a structured request forces: its input is the answer.
const TOOL: &str = "record_result";

/// Read the answer and usage from a reply.
pub fn parse(v: &Value) -> Result<ChatResponse, String> {
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no content in the reply")?;
    // The forced tool's input is the answer; else (no schema asked) the text blocks.
    let tool = blocks.iter().find(|b| {
        b.get("type").and_then(Value::as_str) == Some("tool_use")
            && b.get("name").and_then(Value::as_str) == Some(TOOL)
    });
    let text: String = match tool.and_then(|b| b.get("input")) {
        Some(input) => input.to_string(),
        None => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
    };
    if text.is_empty() {
        return Err("the reply has no text block and no result tool use".into());
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
    fn a_structured_request_forces_the_result_tool_and_its_input_is_the_answer() {
        let req = super::super::test_request("refactor", Some(json!({"type": "object"})));
        let b = build("m", None, &req).body;
        assert_eq!(b["tools"][0]["input_schema"], json!({"type": "object"}));
        assert_eq!(b["tool_choice"], json!({"type": "tool", "name": TOOL}));
        let plain = build(
            "m",
            None,
            &ChatRequest {
                schema: None,
                ..req
            },
        )
        .body;
        assert!(plain.get("tools").is_none() && plain.get("tool_choice").is_none());
        let v = json!({"content": [{"type": "text", "text": "Recording."},
            {"type": "tool_use", "id": "toolu_1", "name": TOOL, "input": {"a": [1]}}]});
        assert_eq!(parse(&v).unwrap().text, r#"{"a":[1]}"#);
        assert!(parse(&json!({"content": []})).is_err());
    }

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
