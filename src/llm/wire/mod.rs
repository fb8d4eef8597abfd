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
