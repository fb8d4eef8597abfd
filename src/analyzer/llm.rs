//! [`LlmAnalyzer`]: an LLM analysis type (`refactor`, `docs`, `analysis`) on top of any
//! [`Provider`]. It expands the prompt, sends it, insists on a usage block and a reply in the
//! type's schema, and prices the tokens. Only a real result becomes an [`Outcome`].

use std::sync::Arc;

use super::{prompts, AnalyzeError, Analyzer, Identity, Outcome};
use crate::budget::Pricing;
use crate::cache::Tokens;
use crate::llm::{ChatRequest, Provider, ProviderError};

/// One LLM analysis type.
pub struct LlmAnalyzer {
    cache_type: String,
    provider: Arc<dyn Provider>,
    identity: Identity,
    /// The identity of item entries (item requests have their own prompt), for the types that
    /// can be analysed by items with the built-in prompt.
    item_identity: Option<Identity>,
    system: String,
    template: String,
    max_tokens: u32,
    temperature: f64,
    pricing: Arc<Pricing>,
    free: bool,
    missing_key: Option<&'static str>,
}

/// Settings shared by the LLM types of one run.
#[derive(Clone)]
pub struct LlmSettings {
    /// Most output tokens per request.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// Prices.
    pub pricing: Arc<Pricing>,
    /// Local inference (Ollama): costs nothing even without a listed price.
    pub free: bool,
    /// The key variable that is missing, if the provider needs one and it is not set.
    pub missing_key: Option<&'static str>,
}

impl LlmAnalyzer {
    /// `cache_type` through `provider`; `template_override` is the text of
    /// `.rustassistant/prompts/<type>.md` when present.
    pub fn new(
        cache_type: &str,
        provider: Arc<dyn Provider>,
        template_override: Option<String>,
        s: &LlmSettings,
    ) -> LlmAnalyzer {
        let system = prompts::system(cache_type);
        // A prompt of the repository's own is about whole files: such a type stays whole.
        let item_identity = (template_override.is_none() && super::items::supports(cache_type))
            .then(|| Identity {
                provider: provider.name().to_string(),
                model: provider.model().to_string(),
                prompt_hash: prompts::prompt_hash(
                    &super::items::system(cache_type),
                    super::items::template(cache_type),
                    s.max_tokens,
                    s.temperature,
                ),
            });
        let template =
            template_override.unwrap_or_else(|| prompts::builtin_template(cache_type).to_string());
        let prompt_hash = prompts::prompt_hash(&system, &template, s.max_tokens, s.temperature);
        LlmAnalyzer {
            item_identity,
            cache_type: cache_type.to_string(),
            identity: Identity {
                provider: provider.name().to_string(),
                model: provider.model().to_string(),
                prompt_hash,
            },
            provider,
            system,
            template,
            max_tokens: s.max_tokens,
            temperature: s.temperature,
            pricing: s.pricing.clone(),
            free: s.free,
            missing_key: s.missing_key,
        }
    }
}

impl Analyzer for LlmAnalyzer {
    fn cache_type(&self) -> &str {
        &self.cache_type
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn estimate(&self, path: &str, content: Option<&str>, size: u64) -> Option<super::Estimate> {
        let user = content.map(|c| prompts::expand(&self.template, path, c));
        let bytes = (self.system.len() + self.template.len() + path.len()) as u64 + size;
        Some(self.estimate_request(&self.system, user.as_deref(), bytes))
    }

    fn estimate_items(
        &self,
        path: &str,
        split: &crate::items::Split,
        items: &[&crate::items::Item],
    ) -> Option<super::Estimate> {
        self.item_identity.as_ref()?;
        let system = super::items::system(&self.cache_type);
        let user = super::items::user(&self.cache_type, path, split, items);
        let bytes = (system.len() + user.len()) as u64;
        Some(self.estimate_request(&system, Some(&user), bytes))
    }

    fn analyze(
        &self,
        path: &str,
        content: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<Outcome, AnalyzeError> {
        let (text, tokens, cost_usd, response_model) = self.send(
            self.system.clone(),
            prompts::expand(&self.template, path, content),
            super::schema::result(&self.cache_type),
            deadline,
        )?;
        // A reply that misses the schema was paid for: it is kept, marked invalid.
        let (result, invalid) = match prompts::parse_reply(&self.cache_type, &text) {
            Ok(r) => (r, None),
            Err(m) => (
                super::raw_reply(&text),
                Some(super::invalid_reason(format!(
                    "{}: {m}",
                    self.provider.name()
                ))),
            ),
        };
        Ok(Outcome {
            result,
            tokens,
            cost_usd,
            response_model,
            invalid,
        })
    }

    fn item_identity(&self) -> Option<&Identity> {
        self.item_identity.as_ref()
    }

    fn analyze_items(
        &self,
        path: &str,
        split: &crate::items::Split,
        items: &[&crate::items::Item],
        deadline: Option<std::time::Instant>,
    ) -> Result<super::ItemsOutcome, AnalyzeError> {
        if self.item_identity.is_none() {
            return Err(AnalyzeError::Skipped("not analysed by items".into()));
        }
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let (text, tokens, cost_usd, response_model) = self.send(
            super::items::system(&self.cache_type),
            super::items::user(&self.cache_type, path, split, items),
            super::schema::item_reply(&self.cache_type, &ids),
            deadline,
        )?;
        let (reply, invalid) = match super::items::parse_reply(&self.cache_type, &text, items) {
            Ok(r) => (r, None),
            Err(m) => (
                super::items::ItemReply::default(),
                Some((
                    super::invalid_reason(format!("{}: {m}", self.provider.name())),
                    super::raw_reply(&text),
                )),
            ),
        };
        Ok(super::ItemsOutcome {
            reply,
            tokens,
            cost_usd,
            response_model,
            invalid,
        })
    }
}

impl LlmAnalyzer {
    /// What a request of `system` and `user` (when the caller could read it; else `bytes` of
    /// prompt in all) costs at most: counted with the model family's own tokenizer where one
    /// exists (OpenAI's models, through tiktoken), otherwise the conservative count the budget
    /// reserves with, a token per three bytes.
    fn estimate_request(&self, system: &str, user: Option<&str>, bytes: u64) -> super::Estimate {
        let counted = match (
            user,
            tokenizer(&self.identity.provider, &self.identity.model),
        ) {
            (Some(u), Some(bpe)) => {
                Some((bpe.encode_ordinary(system).len() + bpe.encode_ordinary(u).len()) as u64 + 8)
            }
            _ => None,
        };
        let input = counted.unwrap_or_else(|| bytes.div_ceil(3) + 16);
        let tokens = Tokens {
            input,
            output: self.max_tokens as u64,
            cached_input: 0,
        };
        let cost = self
            .pricing
            .cost(&self.identity.model, &tokens)
            .or(self.free.then_some(0.0));
        let batch = self
            .pricing
            .batch_cost(&self.identity.model, &tokens)
            .or(self.free.then_some(0.0));
        super::Estimate {
            input_tokens: input,
            max_output_tokens: self.max_tokens as u64,
            max_cost_usd: cost,
            max_batch_cost_usd: batch,
            tokenizer: counted.is_some(),
        }
    }

    /// Send one request; its reply's text, tokens, cost and the model the server named.
    fn send(
        &self,
        system: String,
        user: String,
        schema: serde_json::Value,
        deadline: Option<std::time::Instant>,
    ) -> Result<(String, Tokens, Option<f64>, Option<String>), AnalyzeError> {
        if let Some(var) = self.missing_key {
            return Err(AnalyzeError::Provider {
                provider: None,
                error: ProviderError::NoKey(var),
            });
        }
        let req = ChatRequest {
            system,
            user,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            cache_type: self.cache_type.clone(),
            schema: Some(schema),
            deadline,
        };
        let name = self.provider.name();
        let resp = self
            .provider
            .send(&req)
            .map_err(|error| AnalyzeError::Provider {
                provider: Some(name.to_string()),
                error,
            })?;
        let usage = resp.usage.ok_or_else(|| {
            AnalyzeError::Failed(format!("{name}: the reply has no usage block, so its tokens and cost are unknown; not cached"))
        })?;
        let tokens = Tokens::from(usage);
        let cost = self
            .pricing
            .cost_for(&self.identity.model, resp.model.as_deref(), &tokens)
            .or(self.free.then_some(0.0));
        Ok((resp.text, tokens, cost, resp.model))
    }
}

/// The tokenizer of `model` when its family has one this tool can run: OpenAI's models (the
/// `openai` provider, or an OpenAI-compatible server serving one of them), through tiktoken.
fn tokenizer(provider: &str, model: &str) -> Option<&'static tiktoken_rs::CoreBPE> {
    if !matches!(provider, "openai" | "openai-compatible") {
        return None;
    }
    tiktoken_rs::bpe_for_model(model).ok()
}
