//! The price table: shipped prices (`pricing.toml`, compiled in) overlaid by `[pricing]` from
//! the user and repository configs.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::cache::Tokens;
use crate::config::Price;

const SHIPPED: &str = include_str!("pricing.toml");

#[derive(Deserialize)]
struct Shipped {
    models: BTreeMap<String, Price>,
}

/// Known prices by model name.
#[derive(Debug, Clone)]
pub struct Pricing {
    models: HashMap<String, Price>,
}

impl Pricing {
    /// The shipped table overlaid with `overrides` (from configuration).
    pub fn new(overrides: &BTreeMap<String, Price>) -> Pricing {
        let shipped: Shipped =
            toml::from_str(SHIPPED).expect("the shipped price table is valid TOML");
        let mut models: HashMap<String, Price> = shipped.models.into_iter().collect();
        models.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Pricing { models }
    }

    /// The one pricing rule for a request: the price of the model asked for, else of the model
    /// the server says answered (an alias resolved to a dated name, say). The budget reserves
    /// and settles with it, and entries record the cost it gives.
    pub fn price_for(&self, requested: &str, answered: Option<&str>) -> Option<&Price> {
        self.price(requested)
            .or_else(|| answered.and_then(|m| self.price(m)))
    }

    /// The cost of `tokens` under [`Pricing::price_for`]; `None` when neither model has a price.
    pub fn cost_for(
        &self,
        requested: &str,
        answered: Option<&str>,
        tokens: &crate::cache::Tokens,
    ) -> Option<f64> {
        self.price_for(requested, answered)
            .map(|p| cost_of(p, tokens))
    }

    /// The price of `model`: exact name, else the longest listed name that `model` starts with
    /// followed by `-` (dated snapshots such as `claude-sonnet-4-20250514`).
    pub fn price(&self, model: &str) -> Option<&Price> {
        if let Some(p) = self.models.get(model) {
            return Some(p);
        }
        self.models
            .iter()
            .filter(|(name, _)| {
                model.starts_with(name.as_str()) && model.as_bytes().get(name.len()) == Some(&b'-')
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| p)
    }

    /// Cost in USD of `tokens` on `model`; `None` when the price is unknown.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        self.price(model).map(|p| cost_of(p, tokens))
    }

    /// Cost in USD of `tokens` on `model` in a batch job; `None` when the price is unknown.
    pub fn batch_cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        self.price(model).map(|p| cost_of(&batch_price(p), tokens))
    }
}

/// The price of a batch job: `batch_input` and `batch_output` where listed, else half the
/// normal prices (what OpenAI's, Anthropic's and Gemini's batch APIs bill); cached input at
/// half its price, never above the batch input price.
pub fn batch_price(p: &Price) -> Price {
    let input = p.batch_input.unwrap_or(p.input / 2.0);
    Price {
        input,
        output: p.batch_output.unwrap_or(p.output / 2.0),
        cached_input: Some((p.cached_input.unwrap_or(p.input) / 2.0).min(input)),
        batch_input: None,
        batch_output: None,
    }
}

/// Cost in USD: uncached input at the input price, cached input at its own price (the input
/// price when none is listed), output at the output price.
pub fn cost_of(p: &Price, t: &Tokens) -> f64 {
    let cached = t.cached_input.min(t.input);
    let uncached = t.input - cached;
    (uncached as f64 * p.input
        + cached as f64 * p.cached_input.unwrap_or(p.input)
        + t.output as f64 * p.output)
        / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_model_has_a_price() {
        let p = Pricing::new(&BTreeMap::new());
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "claude-sonnet-4",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.0-flash",
            "grok-4",
            "grok-3-mini",
            "grok-code-fast-1",
        ] {
            assert!(p.price(m).is_some(), "{m}");
        }
    }

    #[test]
    fn dated_snapshots_match_their_family_and_mini_is_not_4o() {
        let p = Pricing::new(&BTreeMap::new());
        assert_eq!(p.price("claude-sonnet-4-20250514").unwrap().input, 3.00);
        assert_eq!(p.price("gpt-4o-2024-08-06").unwrap().input, 2.50);
        assert_eq!(p.price("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert!(p.price("gpt-4").is_none());
        assert!(p.price("llama3.1").is_none());
    }

    #[test]
    fn cached_tokens_are_priced_apart_for_each_usage_shape() {
        let p = Pricing::new(&BTreeMap::new());
        // OpenAI: prompt_tokens 1000 of which 400 cached, 500 completion.
        let openai = Tokens {
            input: 1000,
            output: 500,
            cached_input: 400,
        };
        let c = p.cost("gpt-4o", &openai).unwrap();
        assert!(
            (c - (600.0 * 2.50 + 400.0 * 1.25 + 500.0 * 10.0) / 1e6).abs() < 1e-12,
            "{c}"
        );
        // Anthropic: input_tokens 100 + cache_read 900 (+ creation 0) = 1000 input, 900 cached.
        let anthropic = Tokens {
            input: 1000,
            output: 200,
            cached_input: 900,
        };
        let c = p.cost("claude-sonnet-4-20250514", &anthropic).unwrap();
        assert!(
            (c - (100.0 * 3.0 + 900.0 * 0.30 + 200.0 * 15.0) / 1e6).abs() < 1e-12,
            "{c}"
        );
        // Gemini: prompt 2000 with 1000 cached; candidates 100 + thoughts 50 = 150 output.
        let gemini = Tokens {
            input: 2000,
            output: 150,
            cached_input: 1000,
        };
        let c = p.cost("gemini-2.5-flash", &gemini).unwrap();
        assert!(
            (c - (1000.0 * 0.30 + 1000.0 * 0.075 + 150.0 * 2.50) / 1e6).abs() < 1e-12,
            "{c}"
        );
        assert!(p.cost("unknown-model", &gemini).is_none());
    }

    #[test]
    fn config_overrides_and_adds_models() {
        let mut o = BTreeMap::new();
        o.insert(
            "gpt-4o".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
                cached_input: None,
                batch_input: None,
                batch_output: Some(0.5),
            },
        );
        o.insert(
            "my-local".to_string(),
            Price {
                input: 0.0,
                output: 0.0,
                cached_input: None,
                batch_input: None,
                batch_output: None,
            },
        );
        let p = Pricing::new(&o);
        assert_eq!(p.price("gpt-4o").unwrap().input, 1.0);
        assert_eq!(
            p.cost(
                "my-local",
                &Tokens {
                    input: 5,
                    output: 5,
                    cached_input: 0
                }
            ),
            Some(0.0)
        );
        // Batch: half the input price by default, the listed batch output price.
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cached_input: 0,
        };
        assert_eq!(p.batch_cost("gpt-4o", &t), Some(0.5 + 0.5));
        // The shipped prices: half.
        let normal = p.cost("gpt-4o-mini", &t).unwrap();
        assert!((p.batch_cost("gpt-4o-mini", &t).unwrap() - normal / 2.0).abs() < 1e-12);
    }
}
