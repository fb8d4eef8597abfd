//! What produces an analysis: the [`Analyzer`] seam, the built-in offline analyzers
//! (`builtin/`), the LLM analysis types on top of any provider (`llm`), their prompts and
//! schemas, the secret filter, and the `registry` that builds each type's analyzer from the
//! configuration.

pub mod builtin;
pub mod items;
pub mod llm;
pub mod prompts;
pub mod registry;
pub mod schema;
pub mod secrets;

use serde_json::Value;

use crate::cache::Tokens;

/// What identifies an analyzer in a key: `provider`, `model` and `prompt_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Provider name (`builtin`, `xai`, …).
    pub provider: String,
    /// Model requested.
    pub model: String,
    /// sha256 of the expanded prompt template and every option that changes the request.
    pub prompt_hash: String,
}

impl Identity {
    /// The variant of the keys this identity's results are stored under.
    pub fn variant(&self) -> String {
        crate::cache::variant(
            &self.provider,
            &self.model,
            &self.prompt_hash,
            crate::cache::SCHEMA_VERSION,
        )
    }
}

/// A finished analysis.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The result, shaped by the type's schema.
    pub result: Value,
    /// Token usage.
    pub tokens: Tokens,
    /// Cost in USD, `None` when the price is unknown.
    pub cost_usd: Option<f64>,
    /// The model name the server reported.
    pub response_model: Option<String>,
    /// Why the reply does not follow the type's schema, when it does not: `result` is then the
    /// reply as it came (its JSON, or its text as a string), stored so it is paid for once.
    pub invalid: Option<String>,
}

/// A finished item request.
#[derive(Debug)]
pub struct ItemsOutcome {
    /// What the reply gave per item sent.
    pub reply: items::ItemReply,
    /// Token usage of the whole request.
    pub tokens: Tokens,
    /// Its cost in USD, `None` when the price is unknown.
    pub cost_usd: Option<f64>,
    /// The model name the server reported.
    pub response_model: Option<String>,
    /// When the reply as a whole is unusable (prose, no `items` object): why, and the reply as
    /// it came; `reply` is then empty.
    pub invalid: Option<(String, Value)>,
}

/// A reply that could not be used as a result, kept as it came: its JSON, else its text.
pub fn raw_reply(text: &str) -> Value {
    prompts::parse_json(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `why`, bounded to what an entry may carry.
pub fn invalid_reason(why: String) -> String {
    let mut why = crate::output::sanitize(&why);
    if why.len() > crate::cache::entry::MAX_INVALID_REASON {
        let mut end = crate::cache::entry::MAX_INVALID_REASON - 3;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
        why.push_str("...");
    }
    why
}

/// Why one file was not analysed. Never fatal to the run: it becomes that file's result line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnalyzeError {
    /// The reply could not be used (no usage block, not the type's schema, …).
    #[error("{0}")]
    Failed(String),
    /// The provider's own error, as it said it (`provider` names it in the message; `None`
    /// when nothing was sent, such as a missing key).
    #[error("{}{error}", provider.as_deref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Provider {
        /// The provider's name.
        provider: Option<String>,
        /// What went wrong.
        error: crate::llm::ProviderError,
    },
    /// Deliberately not analysed (no provider, secret file, …).
    #[error("{0}")]
    Skipped(String),
}

/// What a failed analysis means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Not sent: it would cross the monthly budget (a skip, not an error).
    Budget,
    /// The provider could not be used (no key, unreachable, timed out, rate limited, failing,
    /// interrupted): nothing the content or the repository could change.
    Unavailable,
    /// The provider refused or failed this request, or its reply was unusable.
    Failed,
    /// Deliberately not analysed.
    Skipped,
}

impl AnalyzeError {
    /// What this failure means for the run.
    pub fn kind(&self) -> FailureKind {
        use crate::llm::ProviderError as P;
        match self {
            AnalyzeError::Failed(_) => FailureKind::Failed,
            AnalyzeError::Skipped(_) => FailureKind::Skipped,
            AnalyzeError::Provider { error, .. } => match error {
                P::Budget(_) => FailureKind::Budget,
                P::NoKey(_)
                | P::RateLimited { .. }
                | P::SpendingCap { .. }
                | P::Server { .. }
                | P::Timeout(_)
                | P::Connect { .. }
                | P::Interrupted
                | P::NotSent => FailureKind::Unavailable,
                _ => FailureKind::Failed,
            },
        }
    }

    /// The message for the file's result line: a budget refusal says only why.
    pub fn message(&self) -> String {
        match self {
            AnalyzeError::Provider {
                error: crate::llm::ProviderError::Budget(m),
                ..
            } => m.clone(),
            other => other.to_string(),
        }
    }
}

/// Something that turns a file's content into a result for one analysis type.
///
/// Contract: `analyze` is called only on UTF-8 text within the size bound; it returns an
/// [`Outcome`] only for a real result (never a placeholder), and it may be called from several
/// threads at once.
pub trait Analyzer: Send + Sync {
    /// The analysis type it answers.
    fn cache_type(&self) -> &str;
    /// Its identity in keys.
    fn identity(&self) -> &Identity;
    /// Analyse `content`, the text of the file at repository-relative `path`, giving up at
    /// `deadline` if one is set (requests in flight included).
    fn analyze(
        &self,
        path: &str,
        content: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<Outcome, AnalyzeError>;
    /// Whether a call costs money and time (an LLM), which bounds its concurrency.
    fn is_remote(&self) -> bool {
        false
    }
    /// The identity of this type's item entries, when it can analyse a file by items
    /// (DESIGN.md, "Items"): `None` for types that stay whole.
    fn item_identity(&self) -> Option<&Identity> {
        None
    }
    /// Analyse `items` of `split`, the file at `path`, in one request with the file's skeleton
    /// as context; the reply's results are per item, with lines relative to each item.
    fn analyze_items(
        &self,
        _path: &str,
        _split: &crate::items::Split,
        _items: &[&crate::items::Item],
        _deadline: Option<std::time::Instant>,
    ) -> Result<ItemsOutcome, AnalyzeError> {
        Err(AnalyzeError::Skipped("not analysed by items".into()))
    }
    /// What an item request for `items` of `split` would cost at most, for `--dry-run`.
    fn estimate_items(
        &self,
        _path: &str,
        _split: &crate::items::Split,
        _items: &[&crate::items::Item],
    ) -> Option<Estimate> {
        None
    }
    /// What analysing `content` (`size` bytes, read when the caller had it) at `path` would cost
    /// at most, for `--dry-run`: `None` for analyzers that cost nothing.
    fn estimate(&self, _path: &str, _content: Option<&str>, _size: u64) -> Option<Estimate> {
        None
    }
}

/// A request's cost before it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// Input tokens (about one per three bytes of prompt and content, as the budget reserves).
    pub input_tokens: u64,
    /// The most output tokens the request asks for.
    pub max_output_tokens: u64,
    /// The cost with that input and every output token used; `None` when the model's price
    /// is unknown.
    pub max_cost_usd: Option<f64>,
    /// The same, sent in a batch job (`batch_input`, `batch_output` prices).
    pub max_batch_cost_usd: Option<f64>,
    /// Whether the input was counted with the model family's tokenizer (else estimated from
    /// its size).
    pub tokenizer: bool,
}
