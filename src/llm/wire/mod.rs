//! The vendors' wire formats: each file builds one request body and headers from a
//! [`ChatRequest`](super::ChatRequest) and reads one reply into a
//! [`ChatResponse`](super::ChatResponse), usage included.

pub mod anthropic;
pub mod gemini;
pub mod openai;

use serde_json::Value;

/// How one wire format builds requests and reads replies.
pub struct Built {
    /// Path appended to the base URL.
    pub path: String,
    /// Headers (the key header included).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Value,
}

/// A request as the wire tests build one.
#[cfg(test)]
pub fn test_request(cache_type: &str, schema: Option<Value>) -> crate::llm::ChatRequest {
    crate::llm::ChatRequest {
        system: "s".into(),
        user: "u".into(),
        max_tokens: 10,
        temperature: 0.0,
        cache_type: cache_type.into(),
        schema,
        deadline: None,
    }
}
