//! Talking to LLM providers: the [`Provider`] trait (one request in, one answer out), its
//! request, reply and typed error, the provider presets, and [`http::Http`], the client that
//! speaks each vendor's wire format (`wire/`). Nothing here knows about caches or budgets: the
//! budget is a [`Provider`] decorator one layer up.

pub mod http;
pub mod wire;

use std::time::Instant;

/// Token usage as the provider reported it, normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every input token, cached ones included.
    pub input: u64,
    /// Output tokens including reasoning/thinking tokens.
    pub output: u64,
    /// The cached part of `input`.
    pub cached_input: u64,
    /// Reasoning/thinking tokens (already counted in `output`).
    pub reasoning: u64,
}

impl From<Usage> for crate::cache::Tokens {
    /// The usage an entry and the ledger record (reasoning tokens are already in `output`).
    fn from(u: Usage) -> Self {
        crate::cache::Tokens {
            input: u.input,
            output: u.output,
            cached_input: u.cached_input,
        }
    }
}

/// One chat request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// System instructions.
    pub system: String,
    /// The user message (prompt with the file).
    pub user: String,
    /// Most output tokens.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// The analysis type (for the ledger; not sent).
    pub cache_type: String,
    /// The JSON Schema the answer must follow, sent as the vendor's structured output
    /// (`wire/`); `None` asks for any JSON object.
    pub schema: Option<serde_json::Value>,
    /// The caller's own deadline (the commit hook's time bound), on top of the timeout.
    pub deadline: Option<Instant>,
}

/// One chat reply.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The text of the answer.
    pub text: String,
    /// Usage, when the reply carried it.
    pub usage: Option<Usage>,
    /// The model the server says answered.
    pub model: Option<String>,
}

/// Why a request failed. Messages never contain the API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// No key in the environment.
    #[error("no API key: set {0} in the environment")]
    NoKey(&'static str),
    /// Still rate limited after retries.
    #[error("rate limited (HTTP 429) after {attempts} attempts: {message}")]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// The provider's message.
        message: String,
    },
    /// The account's spending cap or quota is exhausted (not retried).
    #[error("spending cap or quota reached (HTTP {status}): {message}")]
    SpendingCap {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// A server error that persisted through retries.
    #[error("server error (HTTP {status}) after {attempts} attempts: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The provider's message.
        message: String,
    },
    /// A request error that retrying cannot fix (400, 401, 403, 404, …).
    #[error("request refused (HTTP {status}): {message}")]
    Client {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// No answer within the timeout.
    #[error("timed out after {0}s")]
    Timeout(u64),
    /// Could not connect.
    #[error("cannot reach {url}: {message}")]
    Connect {
        /// The base URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A reply that is not in the format's shape.
    #[error("invalid reply: {0}")]
    InvalidReply(String),
    /// Not sent: the monthly budget refused it (raised by the budget wrapper).
    #[error("{0}")]
    Budget(String),
    /// A second Ctrl-C abandoned the request while its reply was awaited (its input was sent
    /// and may be billed).
    #[error("interrupted: abandoned while waiting for the reply")]
    Interrupted,
    /// Ctrl-C (or a closed stdout) stopped the run before this request was sent, or before a
    /// retry: nothing of it can be billed.
    #[error("interrupted: not sent")]
    NotSent,
}

/// Something that answers chat requests.
///
/// Contract: `send` returns the answer of one successful request, having retried transient
/// failures itself; an `Err` means no usable answer was obtained. It may be called from several
/// threads at once.
pub trait Provider: Send + Sync {
    /// Provider name (`xai`, `openai`, …): part of every key.
    fn name(&self) -> &str;
    /// Model requested: part of every key.
    fn model(&self) -> &str;
    /// Send one request.
    fn send(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError>;
}

/// The wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI chat completions (OpenAI, xAI, Ollama, llama.cpp, vLLM, …).
    OpenAi,
    /// Anthropic messages.
    Anthropic,
    /// Gemini generateContent.
    Gemini,
}

/// A provider name's wire format, default endpoint, key variable and default model.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Name used in config and keys.
    pub name: &'static str,
    /// Wire format.
    pub wire: Wire,
    /// Default base URL (`None`: the user must give one).
    pub base_url: Option<&'static str>,
    /// Environment variable holding the key.
    pub key_var: Option<&'static str>,
    /// Whether requests need the key.
    pub key_required: bool,
    /// Model used when none is configured.
    pub default_model: Option<&'static str>,
}

/// Every provider name the tool knows.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "xai",
        wire: Wire::OpenAi,
        base_url: Some("https://api.x.ai/v1"),
        key_var: Some("XAI_API_KEY"),
        key_required: true,
        default_model: Some("grok-4-fast"),
    },
    Preset {
        name: "openai",
        wire: Wire::OpenAi,
        base_url: Some("https://api.openai.com/v1"),
        key_var: Some("OPENAI_API_KEY"),
        key_required: true,
        default_model: Some("gpt-4o-mini"),
    },
    Preset {
        name: "anthropic",
        wire: Wire::Anthropic,
        base_url: Some("https://api.anthropic.com"),
        key_var: Some("ANTHROPIC_API_KEY"),
        key_required: true,
        default_model: Some("claude-sonnet-4-20250514"),
    },
    Preset {
        name: "gemini",
        wire: Wire::Gemini,
        base_url: Some("https://generativelanguage.googleapis.com"),
        key_var: Some("GEMINI_API_KEY"),
        key_required: true,
        default_model: Some("gemini-2.5-flash"),
    },
    Preset {
        name: "ollama",
        wire: Wire::OpenAi,
        base_url: Some("http://localhost:11434/v1"),
        key_var: None,
        key_required: false,
        default_model: Some("llama3.1"),
    },
    Preset {
        name: "openai-compatible",
        wire: Wire::OpenAi,
        base_url: None,
        key_var: Some("OPENAI_API_KEY"),
        key_required: false,
        default_model: None,
    },
];
