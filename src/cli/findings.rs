//! `findings [PATH…]`: what the cached analyses found, across the repository, the files given,
//! or what changed since a revision; as text, Markdown, JSON or SARIF; sorted by path and line.
//! Nothing is analysed: files without analyses are counted and named with `-v`.

use std::path::PathBuf;

use anyhow::Result;

use crate::analyzer::registry::check_types;
use crate::cache::KNOWN_TYPES;
use crate::error::{Exit, UserError};
use crate::findings::{format, parse_fail_on, sarif, Finding, Severity};
use crate::index::Index;
use crate::output::count;
use crate::run::Selection;
use crate::workspace::Workspace;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line: severity: message [type/kind]`, one per line.
    Text,
    /// A table per file, for a pull-request comment.
    Markdown,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0, for code scanning (GitHub, GitLab, editors).
    Sarif,
}

/// List what the cached analyses found (nothing is analysed; run `analyze` first).
///
/// Every analysis type maps its result to findings: refactor smells and suggestions, analysis
/// findings (quality, security, complexity), TODO/FIXME comments, and metrics over the
/// `[findings]` thresholds (function length, nesting, panic sites outside tests). Exit status 1
/// when a finding reaches `--fail-on` (or `[findings] fail_on`), for CI.
#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    /// Files or folders (default: every file `analyze --all` would take).
    pub paths: Vec<PathBuf>,
    /// Only findings of this analysis type (repeatable).
    #[arg(long = "type", short = 't', value_name = "T")]
    pub types: Vec<String>,
    /// Only findings at least this severe: error, warning or note.
    #[arg(long, value_name = "S", value_parser = ["error", "warning", "note"])]
    pub severity: Option<String>,
    /// Only files whose content differs from REV (what a pull request based on REV touches).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Output format (`--json` is `--format json`).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 when a finding is at least this severe: error, warning, note or none.
    #[arg(long, value_name = "S")]
    pub fail_on: Option<String>,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also list, as a note, each stored reply that missed its type's schema (kept so it is
    /// paid for once; `analyze --force` asks again).
    #[arg(long)]
    pub include_invalid: bool,
}

/// Run `findings`.
pub fn run(session: &Workspace, args: &FindingsArgs) -> Result<Exit> {
    check_types(&args.types)?;
    let fail_on = match args
        .fail_on
        .as_deref()
        .or(session.config.file.findings.fail_on.as_deref())
    {
        Some(s) => parse_fail_on(s)?,
        None => None,
    };
    let floor = args.severity.as_deref().and_then(Severity::parse);
    let types: Vec<String> = if args.types.is_empty() {
        KNOWN_TYPES.iter().map(|s| s.to_string()).collect()
    } else {
        args.types.clone()
    };
    let sel = Selection {
        all: args.paths.is_empty() && args.since.is_none(),
        paths: args.paths.clone(),
        since: args.since.clone(),
        ..Selection::default()
    };
    let mut index = Index::open(session);
    let collected = crate::report::collect(
        session,
        &mut index,
        &sel,
        &types,
        floor,
        args.include_invalid,
    )?;
    let list = collected.findings;
    let unanalysed = collected.unanalysed;
    print(session, args, &list)?;
    let out = session.out;
    if !unanalysed.is_empty() {
        out.note(&format!(
            "{} without a cached analysis{}: run `rustassistant analyze` to include them",
            count(unanalysed.len(), "file", "files"),
            if out.verbose > 0 {
                ""
            } else {
                " (-v lists them)"
            }
        ));
        // On stderr: stdout may be a SARIF or Markdown document.
        if out.verbose > 0 {
            for p in &unanalysed {
                out.note(&format!("   not analysed: {p}"));
            }
        }
    }
    let failed = fail_on.is_some_and(|s| list.iter().any(|f| f.severity.at_least(s)));
    Ok(if failed { Exit::Failure } else { Exit::Success })
}

fn print(session: &Workspace, args: &FindingsArgs, list: &[Finding]) -> Result<()> {
    let out = session.out;
    let format = if out.json { Format::Json } else { args.format };
    let doc = match format {
        Format::Text => {
            let mut lines = format::text(list);
            lines.push(format::Counts::of(list).sentence());
            lines.join("\n")
        }
        Format::Markdown => format::markdown(list),
        Format::Json => serde_json::to_string_pretty(&format::json(list))?,
        // Compact: a SARIF log is for machines, and code scanning bounds upload sizes.
        Format::Sarif => serde_json::to_string(&sarif::build(list, env!("CARGO_PKG_VERSION")))?,
    };
    match &args.output {
        Some(path) => {
            let path = session.cwd.join(path);
            let mut bytes = doc.into_bytes();
            bytes.push(b'\n');
            crate::util::fs::write_output(&path, &bytes)
                .map_err(|e| UserError::Input(format!("cannot write {}: {e}", path.display())))?;
            out.note(&format!(
                "{} written to {}",
                format::Counts::of(list).sentence(),
                path.display()
            ));
        }
        // Text is sanitised by the printer (messages come from entries); JSON, SARIF and
        // Markdown escape what they must themselves.
        None if format == Format::Text => {
            for l in doc.lines() {
                out.content(l);
            }
        }
        None => crate::output::print_stdout(&doc),
    }
    Ok(())
}
