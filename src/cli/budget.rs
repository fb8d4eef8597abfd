//! `budget [status | set USD]` and `costs`.

use anyhow::Result;
use serde_json::json;

use crate::budget::{month_of, open_ledger, status, status_line, Settings};
use crate::config::Env;
use crate::error::{Exit, UserError};
use crate::output::{sanitize, Printer};

/// Monthly spend against the budget.
#[derive(Debug, clap::Args)]
pub struct BudgetArgs {
    /// `status` (default) or `set`.
    #[command(subcommand)]
    pub cmd: Option<BudgetCmd>,
}

/// Budget subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BudgetCmd {
    /// Spend this month, remaining, projected month-end spend, status.
    Status,
    /// Set the monthly limit in USD (written to ~/.rustassistant/config.toml).
    Set {
        /// The new limit, e.g. 10 or 2.50.
        #[arg(value_name = "USD", allow_hyphen_values = true)]
        usd: String,
    },
}

/// The budget document (`budget --json`, and the line in `cache status`).
pub fn budget_json(cfg: &crate::config::Config, env: &Env) -> Result<serde_json::Value> {
    let s = Settings::from_config(cfg);
    let ledger = open_ledger(env).map_err(UserError::Input)?;
    let now = crate::util::now_timestamp(env);
    let month = month_of(now);
    let m = ledger.month(&month)?;
    let spent = m.committed_usd;
    let zoned = now.to_zoned(jiff::tz::TimeZone::UTC);
    let day = zoned.day() as f64 - 1.0
        + (zoned.hour() as f64 * 3600.0 + zoned.minute() as f64 * 60.0 + zoned.second() as f64)
            / 86400.0;
    let days = zoned.days_in_month() as f64;
    let projected = if day > 0.0 { spent / day * days } else { spent };
    let how: serde_json::Map<String, serde_json::Value> = ledger
        .settled_how(&month)?
        .into_iter()
        .map(|(h, n)| (h, json!(n)))
        .collect();
    Ok(json!({
        "settled_how": how,
        "orphans_settled_now": ledger.orphans_settled,
        "month": month,
        "limit_usd": s.limit_usd,
        "spent_usd": crate::util::money::round_usd(spent),
        "settled_usd": m.settled_usd,
        "reserved_usd": m.reserved_usd,
        "remaining_usd": crate::util::money::round_usd((s.limit_usd - spent).max(0.0)),
        "projected_usd": projected,
        "requests": m.requests,
        "status": status(spent, &s),
        "hard_limit": s.hard_limit,
        "line": status_line(spent, &s),
    }))
}

/// Run `budget`.
pub fn run(
    cfg: &crate::config::Config,
    env: &Env,
    out: Printer,
    args: &BudgetArgs,
) -> Result<Exit> {
    if let Some(BudgetCmd::Set { usd }) = &args.cmd {
        let v: f64 = usd.trim().trim_start_matches('$').parse().map_err(|_| {
            UserError::Usage(format!(
                "`{}` is not an amount in USD (e.g. 10 or 2.50)",
                sanitize(usd)
            ))
        })?;
        if !v.is_finite() || v < 0.0 {
            return Err(UserError::Usage(format!(
                "the monthly limit must be zero or more, not {}",
                sanitize(usd)
            ))
            .into());
        }
        let home = env
            .user_home()
            .ok_or_else(|| UserError::Input("neither RUSTASSISTANT_HOME nor HOME is set".into()))?;
        let path = home.join("config.toml");
        crate::config::set_value(&path, "budget", "monthly_limit_usd", &format!("{v:.2}"))?;
        if out.json {
            out.json_doc(&json!({"limit_usd": v, "config": path}));
        } else {
            out.line(&format!(
                "💰 Monthly limit set to ${v:.2} in {}",
                path.display()
            ));
        }
        return Ok(Exit::Success);
    }
    let doc = budget_json(cfg, env)?;
    if out.json {
        out.json_doc(&doc);
        return Ok(Exit::Success);
    }
    let f = |k: &str| doc[k].as_f64().unwrap_or(0.0);
    out.line(doc["line"].as_str().unwrap_or(""));
    out.line(&format!("Remaining: ${:.2}", f("remaining_usd")));
    out.line(&format!(
        "Projected month-end spend: ${:.2} at the current rate",
        f("projected_usd")
    ));
    out.line(&format!(
        "Requests this month: {}{}",
        doc["requests"],
        if f("reserved_usd") > 0.0 {
            format!(
                " (${:.4} reserved by requests in flight)",
                f("reserved_usd")
            )
        } else {
            String::new()
        }
    ));
    if let Some(n) = doc["orphans_settled_now"].as_u64().filter(|n| *n > 0) {
        out.line(&format!(
            "Settled {} left open by processes that no longer run (each charged its input)",
            crate::output::count(n as usize, "reservation", "reservations")
        ));
    }
    if !doc["hard_limit"].as_bool().unwrap_or(true) {
        out.line("Hard limit: off (requests past the limit are sent, with a warning)");
    }
    Ok(Exit::Success)
}

/// Spend by month, model and analysis type, with what cache hits saved.
#[derive(Debug, clap::Args)]
pub struct CostsArgs {}

/// Run `costs`: spend from the user's ledger (every repository), and, inside a repository,
/// what its cache hits saved (recorded in its local index).
pub fn costs(env: &Env, out: Printer, savings: &[crate::index::Saving]) -> Result<Exit> {
    let ledger = open_ledger(env).map_err(UserError::Input)?;
    let mut rows = ledger.report()?;
    for v in savings {
        match rows
            .iter_mut()
            .find(|r| r.month == v.month && r.model == v.model && r.cache_type == v.cache_type)
        {
            Some(r) => {
                r.hits += v.hits;
                r.saved_usd += v.saved_usd;
            }
            None => rows.push(crate::budget::ledger::CostRow {
                month: v.month.clone(),
                model: v.model.clone(),
                cache_type: v.cache_type.clone(),
                requests: 0,
                tokens_in: 0,
                tokens_out: 0,
                cost_usd: 0.0,
                hits: v.hits,
                saved_usd: v.saved_usd,
            }),
        }
    }
    rows.sort_by(|a, b| {
        b.month
            .cmp(&a.month)
            .then_with(|| a.model.cmp(&b.model))
            .then_with(|| a.cache_type.cmp(&b.cache_type))
    });
    if out.json {
        let total: f64 = rows.iter().map(|r| r.cost_usd).sum();
        let saved: f64 = rows.iter().map(|r| r.saved_usd).sum();
        out.json_doc(&json!({"rows": rows, "total_cost_usd": crate::util::money::round_usd(total), "total_saved_usd": crate::util::money::round_usd(saved)}));
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        out.line("No paid requests recorded yet.");
        return Ok(Exit::Success);
    }
    out.line(&format!(
        "{:<8} {:<28} {:<9} {:>8} {:>12} {:>12} {:>10} {:>6} {:>10}",
        "month", "model", "type", "requests", "tokens in", "tokens out", "cost", "hits", "saved"
    ));
    for r in &rows {
        out.line(&format!(
            "{:<8} {:<28} {:<9} {:>8} {:>12} {:>12} {:>10} {:>6} {:>10}",
            r.month,
            sanitize(&r.model),
            r.cache_type,
            r.requests,
            r.tokens_in,
            r.tokens_out,
            format!("${:.4}", r.cost_usd),
            r.hits,
            format!("${:.4}", r.saved_usd)
        ));
    }
    Ok(Exit::Success)
}
