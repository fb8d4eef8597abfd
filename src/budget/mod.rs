//! Pricing, the per-user ledger and the monthly budget.
//!
//! Enforcement is a wrapper, [`Budgeted`], around any [`Provider`]: it reserves a request's
//! worst-case cost in the ledger before sending and settles it with the real cost after, so no
//! wire format needs to know about budgets.

pub mod ledger;
pub mod pricing;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use ledger::{Ledger, LedgerError, MonthSpend, Reservation, Settled};
pub use pricing::Pricing;

use crate::cache::Tokens;
use crate::config::{Config, Env};
use crate::llm::{ChatRequest, ChatResponse, Provider, ProviderError};

/// Budget settings: `[budget]` from the user config, the repository config as fallback.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Settings {
    /// Monthly limit in USD.
    pub limit_usd: f64,
    /// Fraction at which the status becomes Warning.
    pub warn_at: f64,
    /// Fraction at which the status becomes Alert.
    pub alert_at: f64,
    /// Whether requests that would cross the limit are refused.
    pub hard_limit: bool,
    /// Whether models without a known price may be used under a hard limit.
    pub allow_unknown_price: bool,
}

impl Settings {
    /// From the effective configuration (defaults: $3.00, 0.75, 0.90, hard).
    pub fn from_config(cfg: &Config) -> Settings {
        let b = &cfg.file.budget;
        Settings {
            limit_usd: b.monthly_limit_usd.unwrap_or(3.00),
            warn_at: b.warn_at.unwrap_or(0.75),
            alert_at: b.alert_at.unwrap_or(0.90),
            hard_limit: b.hard_limit.unwrap_or(true),
            allow_unknown_price: b.allow_unknown_price.unwrap_or(false),
        }
    }
}

/// Budget status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BudgetStatus {
    /// Below `warn_at`.
    #[serde(rename = "OK")]
    Ok,
    /// From `warn_at`.
    Warning,
    /// From `alert_at`.
    Alert,
    /// At or above the limit: nothing more can be spent.
    Exceeded,
}

/// The status of `spent` under `s`.
pub fn status(spent: f64, s: &Settings) -> BudgetStatus {
    let frac = if s.limit_usd > 0.0 {
        spent / s.limit_usd
    } else if spent > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    // Compare with a hair of tolerance so $7.50 of $10.00 is exactly the 75% threshold.
    let at = |t: f64| frac + 1e-9 >= t;
    if at(1.0) {
        BudgetStatus::Exceeded
    } else if at(s.alert_at) {
        BudgetStatus::Alert
    } else if at(s.warn_at) {
        BudgetStatus::Warning
    } else {
        BudgetStatus::Ok
    }
}

/// `⚠️  Budget Warning: $7.50 / $10.00 (75.0%)`
pub fn status_line(spent: f64, s: &Settings) -> String {
    let pct = if s.limit_usd > 0.0 {
        spent / s.limit_usd * 100.0
    } else {
        100.0
    };
    let (icon, word) = match status(spent, s) {
        BudgetStatus::Ok => ("✅", "OK"),
        BudgetStatus::Warning => ("⚠️ ", "Warning"),
        BudgetStatus::Alert => ("🚨", "Alert"),
        BudgetStatus::Exceeded => ("❌", "Exceeded"),
    };
    format!(
        "{icon} Budget {word}: ${spent:.2} / ${:.2} ({pct:.1}%)",
        s.limit_usd
    )
}

/// The month (`YYYY-MM`, UTC) of `ts`.
pub fn month_of(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m").to_string()
}

/// Conservative input-token estimate of a request: one token per three bytes (real tokenisers
/// average nearer four for code and English), plus framing.
pub fn estimate_input_tokens(req: &ChatRequest) -> u64 {
    ((req.system.len() + req.user.len()) as u64).div_ceil(3) + 16
}

/// A [`Provider`] whose every request is reserved against the monthly budget first.
pub struct Budgeted {
    inner: Arc<dyn Provider>,
    /// Opened on the first request: a run of cache hits never opens it.
    ledger: std::sync::OnceLock<Result<Mutex<Ledger>, String>>,
    pricing: Arc<Pricing>,
    settings: Settings,
    repo: String,
    env: Env,
    refused: AtomicBool,
}

impl Budgeted {
    /// Wrap `inner`. The user's ledger is opened from `env` on the first request; if it cannot
    /// be, every paid request is refused with the reason.
    pub fn new(
        inner: Arc<dyn Provider>,
        pricing: Arc<Pricing>,
        settings: Settings,
        repo: String,
        env: Env,
    ) -> Budgeted {
        Budgeted {
            inner,
            ledger: std::sync::OnceLock::new(),
            pricing,
            settings,
            repo,
            env,
            refused: AtomicBool::new(false),
        }
    }
}

impl Provider for Budgeted {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn send(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let ledger = self
            .ledger
            .get_or_init(|| open_ledger(&self.env).map(Mutex::new))
            .as_ref()
            .map_err(|e| ProviderError::Budget(format!("skipped (budget): {e}")))?;
        let model = self.inner.model();
        let s = &self.settings;
        let price = self.pricing.price(model).cloned();
        if price.is_none() && s.hard_limit && !s.allow_unknown_price {
            return Err(ProviderError::Budget(format!(
                "skipped (budget): model `{model}` has no known price, so a hard budget cannot bound it; add [pricing.\"{model}\"] input = …, output = … (USD per million tokens) to ~/.rustassistant/config.toml, or set [budget] allow_unknown_price = true"
            )));
        }
        if self.refused.load(Ordering::SeqCst) && s.hard_limit {
            return Err(ProviderError::Budget(
                "skipped (budget): the monthly limit was reached earlier in this run".into(),
            ));
        }
        let input = Tokens {
            input: estimate_input_tokens(req),
            output: 0,
            cached_input: 0,
        };
        let worst_tokens = Tokens {
            output: req.max_tokens as u64,
            ..input
        };
        let (worst, input_usd) = price
            .as_ref()
            .map(|p| {
                (
                    pricing::cost_of(p, &worst_tokens),
                    pricing::cost_of(p, &input),
                )
            })
            .unwrap_or((0.0, 0.0));
        let now = crate::util::now_timestamp(&self.env);
        let month = month_of(now);
        let limit = s.hard_limit.then_some(s.limit_usd);
        let id = {
            let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
            let r = Reservation {
                ts: now.as_second(),
                month: &month,
                repo: &self.repo,
                provider: self.inner.name(),
                model,
                cache_type: &req.cache_type,
                amount: worst,
                input_usd,
            };
            match l.reserve(&r, limit) {
                Ok(Ok(id)) => id,
                Ok(Err(committed)) => {
                    self.refused.store(true, Ordering::SeqCst);
                    return Err(ProviderError::Budget(format!(
                        "skipped (budget): this request could cost up to ${worst:.4}; ${committed:.4} of the ${:.2} monthly limit is already committed (`rustassistant budget set USD` raises it)",
                        s.limit_usd
                    )));
                }
                Err(e) => return Err(ProviderError::Budget(format!("skipped (budget): {e}"))),
            }
        };
        let result = self.inner.send(req);
        let l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        let settle = match &result {
            Ok(resp) => match resp.usage {
                Some(u) => {
                    let t = Tokens::from(u);
                    // The same rule as the entry's recorded cost (Pricing::price_for).
                    let cost = self
                        .pricing
                        .cost_for(model, resp.model.as_deref(), &t)
                        .unwrap_or(0.0);
                    // The reservation assumed at most `max_tokens` of output. A provider that
                    // bills beyond it is counted at what it billed, and said out loud.
                    if price.is_some() && cost > worst * 1.001 + 1e-9 {
                        crate::output::print_stderr(&format!(
                            "warning: {} billed ${cost:.4} for one request, beyond the ${worst:.4} reserved for it (max_tokens {}, reply reported {} output tokens); counted in the ledger at ${cost:.4}",
                            crate::output::sanitize(self.inner.name()),
                            req.max_tokens,
                            t.output
                        ));
                    }
                    l.settle(id, cost, &t, Settled::Billed)
                }
                // Billed but unmeasured: keep the worst case.
                None => l.settle(id, worst, &Tokens::default(), Settled::Unmeasured),
            },
            // A timeout may have been billed in full (generation goes on without us).
            Err(ProviderError::Timeout(_)) => {
                l.settle(id, worst, &Tokens::default(), Settled::TimedOut)
            }
            // Abandoned in flight: its input was sent, and that is what it can have cost.
            Err(ProviderError::Interrupted) => l.settle(id, input_usd, &input, Settled::Abandoned),
            Err(ProviderError::NotSent) => l.release(id, "not sent: interrupted"),
            // Anything else was refused before generating.
            Err(_) => l.release(id, "refused by the provider"),
        };
        if let Err(e) = settle {
            // The reservation stays counted at its worst case: safe, merely pessimistic.
            crate::output::print_stderr(&format!("warning: could not settle a ledger reservation ({e}); it keeps counting at its reserved amount"));
        }
        result
    }
}

/// Open the user's ledger (`$RUSTASSISTANT_HOME/usage.db`).
pub fn open_ledger(env: &Env) -> Result<Ledger, String> {
    let home = env
        .user_home()
        .ok_or("neither RUSTASSISTANT_HOME nor HOME is set, so there is no usage ledger")?;
    Ledger::open(&home.join("usage.db")).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(limit: f64) -> Settings {
        Settings {
            limit_usd: limit,
            warn_at: 0.75,
            alert_at: 0.90,
            hard_limit: true,
            allow_unknown_price: false,
        }
    }

    #[test]
    fn thresholds_at_exactly_75_90_and_100_percent() {
        assert_eq!(status(7.49, &s(10.0)), BudgetStatus::Ok);
        assert_eq!(status(7.50, &s(10.0)), BudgetStatus::Warning);
        assert_eq!(status(8.99, &s(10.0)), BudgetStatus::Warning);
        assert_eq!(status(9.00, &s(10.0)), BudgetStatus::Alert);
        assert_eq!(status(9.99, &s(10.0)), BudgetStatus::Alert);
        assert_eq!(status(10.00, &s(10.0)), BudgetStatus::Exceeded);
        assert_eq!(
            status(0.3 * 3.0, &s(1.2)),
            BudgetStatus::Warning,
            "0.9 of 1.2 is 75% despite float error"
        );
        assert_eq!(
            status_line(7.5, &s(10.0)),
            "⚠️  Budget Warning: $7.50 / $10.00 (75.0%)"
        );
        assert_eq!(
            status(0.0, &s(0.0)),
            BudgetStatus::Exceeded,
            "a zero limit allows nothing"
        );
    }

    #[test]
    fn reservations_respect_the_limit_and_settle() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("usage.db")).unwrap();
        let res = |month, amount| Reservation {
            ts: 0,
            month,
            repo: "r",
            provider: "p",
            model: "m",
            cache_type: "refactor",
            amount,
            input_usd: amount / 10.0,
        };
        let r1 = l.reserve(&res("2026-11", 0.6), Some(1.0)).unwrap().unwrap();
        assert!(
            l.reserve(&res("2026-11", 0.6), Some(1.0)).unwrap().is_err(),
            "0.6 + 0.6 > 1.0"
        );
        l.settle(r1, 0.1, &Tokens::default(), Settled::Billed)
            .unwrap();
        let r2 = l.reserve(&res("2026-11", 0.6), Some(1.0)).unwrap();
        assert!(r2.is_ok(), "after settling at 0.1 there is room");
        assert!(
            l.reserve(&res("2026-12", 0.9), Some(1.0)).unwrap().is_ok(),
            "a new month starts at zero"
        );
        let m = l.month("2026-11").unwrap();
        assert!((m.committed_usd - 0.7).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn a_corrupt_ledger_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("usage.db");
        std::fs::write(
            &p,
            b"definitely not sqlite, definitely not a ledger at all.....",
        )
        .unwrap();
        let err = Ledger::open(&p).err().expect("refused");
        assert!(err.to_string().contains("move it aside"), "{err}");
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"definitely not sqlite, definitely not a ledger at all....."
        );
    }
}
