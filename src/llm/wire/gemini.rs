//! Gemini generateContent: `POST {base}/v1beta/models/{model}:generateContent` with the key in
//! the `x-goog-api-key` header (never in the URL, where it would end up in error messages).

use serde_json::{json, Value};

use super::Built;
use crate::llm::{ChatRequest, ChatResponse, Usage};

/// Build the request.
pub fn build(model: &str, key: Option<&str>, req: &ChatRequest) -> Built {
    let mut headers = Vec::new();
    if let Some(k) = key {
        headers.push(("x-goog-api-key", k.to_string()));
    }
    let mut built = Built {
        path: format!("/v1beta/models/{model}:generateContent"),
        headers,
        body: json!({
            "systemInstruction": {"parts": [{"text": req.system}]},
            "contents": [{"role": "user", "parts": [{"text": req.user}]}],
            "generationConfig": {
                "maxOutputTokens": req.max_tokens,
                "temperature": req.temperature,
                "responseMimeType": "application/json",
            },
        }),
    };
    // Structured output: `responseSchema`, in Gemini's dialect of OpenAPI's schema.
    if let Some(s) = &req.schema {
        built.body["generationConfig"]["responseSchema"] = dialect(s);
    }
    built
}

/// A JSON Schema in Gemini's `responseSchema` dialect: upper-case types, `nullable` for a
/// type or `anyOf` that admits null, no `additionalProperties`.
fn dialect(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, x) in m {
        match k.as_str() {
            "additionalProperties" => {}
            "type" => match x {
                Value::Array(kinds) => {
                    if let Some(t) = kinds
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|t| *t != "null")
                    {
                        out.insert("type".into(), Value::from(t.to_ascii_uppercase()));
                    }
                    if kinds.iter().any(|t| t == "null") {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                }
                Value::String(t) => {
                    out.insert("type".into(), Value::from(t.to_ascii_uppercase()));
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            // `anyOf: [X, {"type": "null"}]`: X, nullable.
            "anyOf" => {
                let parts = x.as_array().cloned().unwrap_or_default();
                let non_null: Vec<&Value> = parts.iter().filter(|p| p["type"] != "null").collect();
                if let [only] = non_null.as_slice() {
                    if let Value::Object(inner) = dialect(only) {
                        out.extend(inner);
                    }
                    if non_null.len() < parts.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                } else {
                    out.insert(
                        "anyOf".into(),
                        Value::Array(parts.iter().map(dialect).collect()),
                    );
                }
            }
            "properties" => {
                let props = x
                    .as_object()
                    .map(|p| p.iter().map(|(n, s)| (n.clone(), dialect(s))).collect())
                    .unwrap_or_default();
                out.insert("properties".into(), Value::Object(props));
            }
            "items" => {
                out.insert("items".into(), dialect(x));
            }
            _ => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    Value::Object(out)
}

/// Read the answer and usage from a reply.
pub fn parse(v: &Value) -> Result<ChatResponse, String> {
    let cand = v.pointer("/candidates/0").ok_or_else(|| {
        match v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            Some(r) => format!("the prompt was blocked ({r})"),
            None => "no candidates in the reply".to_string(),
        }
    })?;
    let text: String = cand
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("thought") != Some(&Value::Bool(true)))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty() {
        let reason = cand
            .get("finishReason")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return Err(format!("the candidate has no text (finishReason {reason})"));
    }
    let usage = v.get("usageMetadata").filter(|u| u.is_object()).map(|u| {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let thoughts = n("thoughtsTokenCount");
        Usage {
            input: n("promptTokenCount"),
            // Thinking tokens are billed as output.
            output: n("candidatesTokenCount") + thoughts,
            cached_input: n("cachedContentTokenCount").min(n("promptTokenCount")),
            reasoning: thoughts,
        }
    });
    Ok(ChatResponse {
        text,
        usage,
        model: v
            .get("modelVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_sent_in_geminis_dialect() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "object", "additionalProperties": false,
                "properties": {"a": {"type": ["integer", "null"]},
                               "b": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "required": ["a", "b"]}}, "required": ["x"]});
        let req = super::super::test_request("refactor", Some(schema));
        let s = &build("m", None, &req).body["generationConfig"]["responseSchema"];
        assert_eq!(
            *s,
            json!({"type": "OBJECT", "required": ["x"], "properties": {"x": {"type": "OBJECT",
                "required": ["a", "b"], "properties": {"a": {"type": "INTEGER", "nullable": true},
                "b": {"type": "STRING", "nullable": true}}}}})
        );
    }

    #[test]
    fn thoughts_count_as_output_and_cached_content_as_cached_input() {
        let v = json!({"candidates": [{"content": {"parts": [{"text": "{}"}], "role": "model"}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 2000, "candidatesTokenCount": 100, "thoughtsTokenCount": 50,
                              "cachedContentTokenCount": 1000, "totalTokenCount": 2150},
            "modelVersion": "gemini-2.5-flash"});
        let r = parse(&v).unwrap();
        assert_eq!(
            r.usage.unwrap(),
            Usage {
                input: 2000,
                output: 150,
                cached_input: 1000,
                reasoning: 50
            }
        );
        assert_eq!(r.model.as_deref(), Some("gemini-2.5-flash"));
        assert!(parse(&json!({"promptFeedback": {"blockReason": "SAFETY"}}))
            .unwrap_err()
            .contains("SAFETY"));
    }
}
