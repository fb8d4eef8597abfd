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
    Built {
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
    }
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
