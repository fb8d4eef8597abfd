//! `analyze`, its seed-compatible aliases (`refactor analyze`, `docs module`) and `show`.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::Overrides;
use crate::error::{Exit, UserError};
use crate::index::Index;
use crate::output::count;
use crate::run::{RunOptions, Selection};
use crate::workspace::Workspace;

/// Analyse files, reusing every cached result.
///
/// Each (file content, analysis type, provider, model, prompt) is analysed at most once: the
/// result is written to .rustassistant/cache/ and reused on every later run, by anyone who has
/// the commit. With no LLM provider configured, the built-in offline types (todos, metrics) run.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// Files or folders to analyse (folders are walked, honouring .gitignore and include/exclude).
    pub paths: Vec<PathBuf>,
    /// Analysis type (repeatable): refactor, docs, analysis, todos, metrics.
    #[arg(long = "type", short = 't', value_name = "T")]
    pub types: Vec<String>,
    /// Every file git tracks, and the untracked ones it would track (not ignored by .gitignore
    /// or .git/info/exclude), matching [analysis] include/exclude; nested repositories are left
    /// out and named.
    #[arg(long)]
    pub all: bool,
    /// The staged content (what the next commit will hold), read from the index.
    #[arg(long, conflicts_with_all = ["all", "changed"])]
    pub staged: bool,
    /// Files changed against HEAD, untracked ones included.
    #[arg(long)]
    pub changed: bool,
    /// Requests in flight at once for LLM types (default: [llm] max_concurrency, else 4).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Show what would be analysed; write nothing, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Analyse again even when a cached result exists.
    #[arg(long)]
    pub force: bool,
    /// LLM provider (xai, openai, anthropic, gemini, ollama, openai-compatible).
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    /// Model name.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
}

impl AnalyzeArgs {
    /// The flags that override configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            provider: self.provider.clone(),
            model: self.model.clone(),
        }
    }
}

/// `refactor analyze FILE`
#[derive(Debug, clap::Subcommand)]
pub enum RefactorCmd {
    /// Refactoring suggestions for FILE (cached).
    Analyze(OneFile),
}

/// `docs module FILE`
#[derive(Debug, clap::Subcommand)]
pub enum DocsCmd {
    /// Module documentation for FILE (cached).
    Module(OneFile),
}

/// One file, with the provider flags.
#[derive(Debug, clap::Args)]
pub struct OneFile {
    /// The file.
    pub file: PathBuf,
    /// Analyse again even when a cached result exists.
    #[arg(long)]
    pub force: bool,
    /// LLM provider.
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    /// Model name.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
}

impl OneFile {
    /// The equivalent `analyze` invocation.
    pub fn into_analyze(self, ty: &str) -> AnalyzeArgs {
        AnalyzeArgs {
            paths: vec![self.file],
            types: vec![ty.to_string()],
            all: false,
            staged: false,
            changed: false,
            jobs: None,
            dry_run: false,
            force: self.force,
            provider: self.provider,
            model: self.model,
        }
    }
}

pub use crate::analyzer::registry::{check_types, plans, ENABLE_LLM_HINT};

/// Run `analyze`.
pub fn run(session: &Workspace, args: &AnalyzeArgs) -> Result<Exit> {
    let out = session.out;
    check_types(&args.types)?;
    if args.paths.is_empty() && !args.all && !args.staged && !args.changed {
        return Err(UserError::Usage(
            "nothing to analyse: name files or folders, or pass --all, --changed or --staged"
                .into(),
        )
        .into());
    }
    let explicit_types = !args.types.is_empty();
    let types = if explicit_types {
        args.types.clone()
    } else {
        session.config.default_types()
    };
    check_types(&types)?;
    if !session.initialised() && !args.dry_run {
        crate::cache::layout::ensure(&session.store)?;
        out.note(&format!(
            "✨ Set up {} (first run in this repository)",
            session.store.root().display()
        ));
    }
    session.store.ensure_real()?;
    let plans = plans(session, &types)?;
    // Asking for an LLM type by name with no provider is a mistake to report, not a skip.
    if explicit_types {
        if let Some(p) = plans.iter().find(|p| p.analyzer.is_err()) {
            return Err(
                UserError::Input(p.analyzer.as_ref().err().cloned().unwrap_or_default()).into(),
            );
        }
    }
    let sel = Selection {
        paths: args.paths.clone(),
        all: args.all,
        staged: args.staged,
        changed: args.changed,
        since: None,
    };
    let opts = RunOptions {
        force: args.force,
        dry_run: args.dry_run,
        jobs: args.jobs.map(usize::from),
        index_file: session.env.get("GIT_INDEX_FILE").map(str::to_string),
        deadline: None,
        quiet: false,
        promote: true,
        // Only `--json` reads hits' lines (savings are counted per type as hits are sorted).
        hits_as_totals: !out.json,
        record_hits: true,
    };
    // Opened by the run, beside the folder walk.
    let mut index = None;
    let report = crate::run::run(session, &sel, &plans, &opts, &mut index)?;
    let s = &report.summary;
    if let Some(index) = index.filter(|_| s.misses > 0 && !args.dry_run) {
        auto_evict(session, index);
    }
    if out.json {
        out.json_doc(&report.to_json());
    } else {
        let mut line = format!(
            "{} {}, {}: {} cached, {} {}, {} skipped{}, {} in {:.2}s",
            // A run that failed or was refused by the budget does not start with a tick.
            if s.errors > 0 || s.budget_refused {
                "⚠️ "
            } else {
                "✅"
            },
            count(s.files, "file", "files"),
            count(s.analyses(), "analysis", "analyses"),
            s.hits,
            s.misses,
            if args.dry_run {
                "to analyse"
            } else {
                "analysed"
            },
            s.skipped,
            if s.skipped > 0 && out.verbose == 0 {
                " (-v names them)"
            } else {
                ""
            },
            count(s.errors, "error", "errors"),
            s.elapsed_ms as f64 / 1000.0
        );
        if s.tokens.input + s.tokens.output > 0 {
            line.push_str(&format!(
                " · {} tokens in, {} out · ${:.4}",
                s.tokens.input, s.tokens.output, s.cost_usd
            ));
        }
        if let Some(u) = s.items {
            line.push_str(&format!(
                " · by items: {} sent, {} reused ({}, ${:.4} not sent)",
                u.sent,
                u.reused,
                crate::util::format_size(u.bytes_not_sent),
                u.saved_usd
            ));
        }
        if s.not_matched > 0 {
            line.push_str(&format!(
                " · {} not matched by [analysis] include/exclude{}",
                s.not_matched,
                if out.verbose > 0 {
                    ""
                } else {
                    " (-v lists them)"
                }
            ));
        }
        if let Some(place) = s.stored_in.filter(|_| s.misses > 0) {
            line.push_str(" · ");
            line.push_str(place.sentence());
        }
        out.line(&line);
        if args.dry_run {
            let cost = s.estimate.map(|e| {
                let unknown = if e.unknown_price > 0 {
                    format!(
                        " plus {} at an unknown price",
                        count(e.unknown_price, "request", "requests")
                    )
                } else {
                    String::new()
                };
                format!(
                    "; {} would cost at most ${:.4}{unknown}, or ${:.4} at the providers' batch prices ({} tokens in{}, at most {} out)",
                    count(e.requests, "paid request", "paid requests"),
                    e.max_cost_usd,
                    e.max_batch_cost_usd,
                    e.input_tokens,
                    if e.tokenized == e.requests {
                        ", counted with the model's tokenizer"
                    } else if e.tokenized > 0 {
                        ", partly estimated"
                    } else {
                        " estimated"
                    },
                    e.max_output_tokens
                )
            });
            out.line(&format!(
                "(dry run: would analyse {}{}; nothing was analysed or written)",
                s.misses,
                cost.unwrap_or_default()
            ));
            if let Some(e) = s.estimate {
                warn_over_budget(session, e.max_cost_usd);
            }
        }
    }
    // The hint only when something was analysed: an all-hit run has nothing to learn from it.
    if !explicit_types && session.config.provider.is_none() && !out.json && s.misses > 0 {
        out.note(&format!(
            "ℹ️  ran the offline analyses ({}); {ENABLE_LLM_HINT}",
            types.join(", ")
        ));
    }
    let exit = if s.interrupted {
        Exit::Interrupted
    } else if s.budget_refused {
        Exit::Budget
    } else if s.errors > 0 {
        Exit::Failure
    } else {
        Exit::Success
    };
    // The process ends right after this: handing 20,000 results back to the allocator one by
    // one would cost an all-cached run more than printing them.
    std::mem::forget(report);
    Ok(exit)
}

/// One warning when a dry run's estimate is more than what is left of this month's budget.
fn warn_over_budget(session: &Workspace, estimate: f64) {
    let settings = crate::budget::Settings::from_config(&session.config);
    let month = crate::budget::month_of(crate::util::now_timestamp(&session.env));
    let Ok(spent) = crate::budget::open_ledger(&session.env)
        .and_then(|l| l.month(&month).map_err(|e| e.to_string()))
    else {
        return;
    };
    let left = (settings.limit_usd - spent.committed_usd).max(0.0);
    if estimate > left + 1e-9 {
        session.out.warn(&format!(
            "this run could cost up to ${estimate:.4}, more than the ${left:.4} left of this month's ${:.2} budget{}",
            settings.limit_usd,
            if settings.hard_limit {
                ": requests past the limit would be refused (`rustassistant budget set USD` raises it)"
            } else {
                ""
            }
        ));
    }
}

/// `[cache] max_size`: after a run that wrote entries, evict until the cache fits. Failures
/// warn; they never fail the run.
fn auto_evict(session: &Workspace, mut index: Index) {
    match crate::run::maintenance::auto_evict(session, &mut index) {
        Ok(Some((rows, freed))) if !rows.is_empty() => session.out.note(&format!(
            "🧹 [cache] max_size {}: evicted {} entries ({} freed)",
            crate::util::format_size(session.config.max_size_bytes().unwrap_or_default()),
            rows.len(),
            crate::util::format_size(freed)
        )),
        Ok(_) => {}
        Err(e) => session
            .out
            .warn(&format!("automatic eviction failed: {e:#}")),
    }
}
