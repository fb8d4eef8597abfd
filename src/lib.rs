//! `rustassistant`: a git-native cache for LLM code analyses.
//!
//! Every analysis result is stored as a small JSON entry under `.rustassistant/cache/`, keyed by
//! the git blob id of the analysed content plus the provider, model, prompt and schema that
//! produced it (see `DESIGN.md` in the repository). Entries are committed with the source, so an
//! unchanged file is never analysed twice — not locally, not by a teammate, not by CI.
//!
//! Modules, top to bottom; each uses only those below it (`tests/layers.rs` checks):
//! - [`cli`]: argument parsing and printing, one file per command, the exit-code table's caller.
//! - [`report`]: the findings of a selection, and the self-contained HTML report with charts.
//! - [`run`]: one analysis run: select files, look keys up, execute misses, tally, record.
//! - [`analyzer`]: the [`analyzer::Analyzer`] seam, built-in offline analyzers, the LLM types,
//!   prompts, the secret filter, and the registry that builds each type's analyzer.
//! - [`budget`]: pricing, the per-user ledger, and `Budgeted`, a provider decorator.
//! - [`llm`]: the [`llm::Provider`] trait, the HTTP client and each vendor's wire format.
//! - [`index`]: the local SQLite index (sync, stats, hit counters, eviction, findings).
//! - [`findings`]: each type's result as findings; text, Markdown, JSON and SARIF.
//! - [`workspace`]: repository + configuration + store + environment + printer for a command.
//! - [`cache`]: entry format, key derivation, the on-disk store and its layout, migration.
//! - [`git`]: everything that touches git2 or the git binary (blob ids, index, trees,
//!   history, hooks).
//! - [`config`]: layered configuration, typed modes, and the trust boundary.
//! - [`output`]: sanitising and printing (a closed stdout ends a command quietly).
//! - [`util`]: fs (bounded, symlink-safe reads), par, interrupt, env, sizes and time.
//! - [`sys`]: every platform-specific call, behind `cfg`, each with a portable fallback.
//! - [`error`]: user errors and the one table of exit codes.
#![warn(missing_docs)]

pub mod analyzer;
pub mod budget;
pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod findings;
pub mod git;
pub mod index;
pub mod items;
pub mod llm;
pub mod output;
pub mod report;
pub mod run;
pub mod sys;
pub mod util;
pub mod workspace;
