//! OpenAI chat completions: OpenAI, xAI, and every OpenAI-compatible server (Ollama, llama.cpp,
//! vLLM, LM Studio). `POST {base}/chat/completions`, key as a bearer token.

use serde_json::{json, Value};

use super::Built;
use crate::llm::{ChatRequest, ChatResponse, Usage};

/// The `response_format` of a request: the schema as a strict structured output (OpenAI and
/// xAI), or, without one or for a server that refused it (`json_schema: false`), any JSON
/// object.
fn response_format(req: &ChatRequest, json_schema: bool) -> Value {
    match &req.schema {
        Some(schema) if json_schema => json!({"type": "json_schema", "json_schema": {
            "name": format!("{}_result", req.cache_type.replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
            "strict": true,
            "schema": schema,
        }}),
        _ => json!({"type": "json_object"}),
    }
}

/// Build the request (`json_schema`: whether the server takes structured outputs).
pub fn build(model: &str, key: Option<&str>, req: &ChatRequest, json_schema: bool) -> Built {
    let mut headers = Vec::new();
    if let Some(k) = key {
        headers.push(("authorization", format!("Bearer {k}")));
    }
    // A server that takes no structured output is given the schema in words.
    let system = match &req.schema {
        Some(schema) if !json_schema => format!(
            "{}\n\nAnswer with a single JSON object and nothing else (no prose, no code fences), following this JSON Schema:\n{schema}",
            req.system
        ),
        _ => req.system.clone(),
    };
    Built {
        path: "/chat/completions".into(),
        headers,
        body: json!({
            "model": model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": req.user},
            ],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "response_format": response_format(req, json_schema),
        }),
    }
}

/// Whether an error message of a server refusing a request says it does not take
/// `json_schema` structured outputs (an OpenAI-compatible server without them).
pub fn refuses_json_schema(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["json_schema", "response_format", "structured output"]
        .iter()
        .any(|w| m.contains(w))
}

/// Read the answer and usage from a reply.
pub fn parse(v: &Value) -> Result<ChatResponse, String> {
    let choice = v.pointer("/choices/0").ok_or("no choices in the reply")?;
    let text = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or("the first choice has no message content")?
        .to_string();
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        let prompt = n("/prompt_tokens");
        let completion = n("/completion_tokens");
        let reasoning = n("/completion_tokens_details/reasoning_tokens");
        // OpenAI counts reasoning inside completion_tokens; xAI reports it beside them (its
        // total_tokens then adds all three). Either way it is billed as output.
        let total = n("/total_tokens");
        let output = if reasoning > 0 && total == prompt + completion + reasoning {
            completion + reasoning
        } else {
            completion
        };
        Usage {
            input: prompt,
            output,
            cached_input: n("/prompt_tokens_details/cached_tokens").min(prompt),
            reasoning,
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
    fn a_schema_is_a_strict_json_schema_unless_the_server_refused_it() {
        let req = super::super::test_request("refactor/items", Some(json!({"type": "object"})));
        let f = &build("m", None, &req, true).body["response_format"];
        assert_eq!(f["type"], "json_schema");
        assert_eq!(f["json_schema"]["name"], "refactor_items_result");
        assert_eq!(f["json_schema"]["strict"], true);
        assert_eq!(f["json_schema"]["schema"], json!({"type": "object"}));
        let plain = json!({"type": "json_object"});
        let fallback = build("m", None, &req, false).body;
        assert_eq!(fallback["response_format"], plain);
        // The schema then goes in words.
        let system = fallback["messages"][0]["content"].as_str().unwrap();
        assert!(system.starts_with("s\n\n") && system.ends_with(r#"{"type":"object"}"#));
        assert_eq!(
            build("m", None, &req, true).body["messages"][0]["content"],
            "s"
        );
        let none = ChatRequest {
            schema: None,
            ..req
        };
        assert_eq!(build("m", None, &none, true).body["response_format"], plain);
        assert!(refuses_json_schema(
            "'response_format.type' must be 'json_object'"
        ));
        assert!(!refuses_json_schema("context length exceeded"));
    }

    #[test]
    fn usage_with_cached_and_reasoning_tokens() {
        let v = json!({"model": "gpt-4o-2024-08-06", "choices": [{"message": {"content": "{}"}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
                      "prompt_tokens_details": {"cached_tokens": 400}, "completion_tokens_details": {"reasoning_tokens": 100}}});
        let r = parse(&v).unwrap();
        assert_eq!(
            r.usage.unwrap(),
            Usage {
                input: 1000,
                output: 300,
                cached_input: 400,
                reasoning: 100
            }
        );
        assert_eq!(r.model.as_deref(), Some("gpt-4o-2024-08-06"));
        // xAI style: reasoning reported beside completion.
        let v = json!({"choices": [{"message": {"content": "{}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 80, "completion_tokens_details": {"reasoning_tokens": 50}}});
        assert_eq!(parse(&v).unwrap().usage.unwrap().output, 70);
        assert!(parse(&json!({"choices": []})).is_err());
        assert!(parse(&json!({"choices": [{"message": {"content": "{}"}}]}))
            .unwrap()
            .usage
            .is_none());
    }
}
