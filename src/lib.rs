//! `rustassistant`: a git-native cache for LLM code analyses.
//!
//! Every analysis result is stored as a small JSON entry under `.rustassistant/cache/`, keyed by
//! the git blob id of the analysed content plus the provider, model, prompt and schema that
//! produced it (see `DESIGN.md` in the repository). Entries are committed with the source, so an
//! unchanged file is never analysed twice — not locally, not by a teammate, not by CI.
//!
//! Modules:
//! - [`cache`]: entry format, key derivation, the on-disk store (atomic writes, zstd).
//! - [`git`]: everything that touches git2 (blob ids, index, trees, hooks folder).
//! - [`provider`]: the [`provider::Analyzer`] seam, the built-in offline analyzers and the HTTP
//!   providers.
//! - [`index`]: the local SQLite index (stats, hit counters, eviction).
//! - [`config`]: layered configuration (flags > environment > user > repository > defaults).
//! - [`analyze`]: planning and running an analysis over a set of files.
//! - [`cli`]: the command line.
#![warn(missing_docs)]

pub mod analyzer;
pub mod budget;
pub mod cache;
pub mod cli;
pub mod config;
pub mod error;
pub mod git;
pub mod index;
pub mod llm;
pub mod output;
pub mod run;
pub mod util;
pub mod workspace;
