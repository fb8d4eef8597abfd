//! The command line: clap definitions (one file per subcommand) and the one place where errors
//! become exit codes and messages.

mod analyze;
mod budget;
mod cache;
mod cat;
mod findings;
mod hooks;
mod merge_entry;
mod render;
mod report;
mod show;

pub use merge_entry::merge_winner;
mod init;
mod trust;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::{Env, Overrides};
use crate::error::{exit_code, render, Exit, UserError};
use crate::output::Printer;
use crate::workspace::Workspace;

/// A git-native cache for LLM code analyses.
///
/// Results are stored under .rustassistant/ keyed by each file's git blob id, and committed
/// with the code: an unchanged file is never analysed twice, by you, a teammate or CI.
#[derive(Debug, Parser)]
#[command(
    name = "rustassistant",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in PATH (like git -C).
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors and warnings.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No emoji in human output (also when NO_COLOR is set, or output is not a terminal).
    #[arg(long, global = true)]
    pub plain: bool,
    /// More detail (every cache hit, every request).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create .rustassistant/ (config, README, .gitattributes, cache/) in this repository.
    Init(init::InitArgs),
    /// Analyse files, reusing every cached result.
    Analyze(analyze::AnalyzeArgs),
    /// Refactoring suggestions for one file (= analyze --type refactor FILE).
    Refactor {
        /// `analyze FILE`
        #[command(subcommand)]
        cmd: analyze::RefactorCmd,
    },
    /// Module documentation for one file (= analyze --type docs FILE).
    Docs {
        /// `module FILE`
        #[command(subcommand)]
        cmd: analyze::DocsCmd,
    },
    /// Print the cached result for a file's current content.
    Show(show::ShowArgs),
    /// List what the cached analyses found, as text, Markdown, JSON or SARIF.
    Findings(findings::FindingsArgs),
    /// Write a self-contained HTML report with charts (spend, savings, hit rate, authors,
    /// findings, hotspots).
    Report(report::ReportArgs),
    /// Inspect and maintain the cache.
    Cache {
        /// What to do.
        #[command(subcommand)]
        cmd: cache::CacheCmd,
    },
    /// Print an entry file as JSON (also the git diff textconv for .json.zst entries).
    Cat(cat::CatArgs),
    /// Git hooks: install, uninstall, or run one (what the shims call).
    Hooks {
        /// What to do.
        #[command(subcommand)]
        cmd: hooks::HooksCmd,
    },
    /// Git merge driver for cache entries (configured by `hooks install`).
    MergeEntry(merge_entry::MergeArgs),
    /// Monthly spend against the budget; `budget set USD` changes the limit.
    Budget(budget::BudgetArgs),
    /// Spend by month, model and analysis type, with what cache hits saved.
    Costs(budget::CostsArgs),
    /// Trust this repository's .rustassistant/config.toml as it is now (endpoints, budget,
    /// prices and secrets settings take effect only then).
    Trust(trust::TrustArgs),
}

/// Parse the process's arguments, run, and return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are successes; anything else is a usage error.
            let outcome = if e.use_stderr() {
                Err(UserError::Usage(e.kind().to_string()).into())
            } else {
                Ok(Exit::Success)
            };
            return exit_code(&outcome, false);
        }
    };
    let env = Env::from_process();
    // Emoji decorate a terminal; pipes, logs and NO_COLOR (https://no-color.org) get words.
    let decorated = !cli.plain && env.get("NO_COLOR").is_none_or(str::is_empty);
    use std::io::IsTerminal as _;
    let out = Printer {
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
        emoji_out: decorated && std::io::stdout().is_terminal(),
        emoji_err: decorated && std::io::stderr().is_terminal(),
    };
    let outcome = run(cli, env, out);
    if let Err(e) = &outcome {
        crate::output::print_stderr(&render(e));
    }
    exit_code(&outcome, crate::output::stdout_closed())
}

/// Where the command runs: `-C PATH` or the current directory.
fn cwd(dir: &Option<PathBuf>) -> Result<PathBuf> {
    let here = std::env::current_dir()?;
    Ok(match dir {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => here.join(d),
        None => here,
    })
}

/// Run a parsed command line; returns the exit code of a command that ran.
pub fn run(cli: Cli, env: Env, out: Printer) -> Result<Exit> {
    let cwd = cwd(&cli.dir)?;
    if let Some(d) = &cli.dir {
        if !cwd.is_dir() {
            return Err(crate::error::UserError::Input(format!(
                "-C {}: no such directory",
                d.display()
            ))
            .into());
        }
    }
    let open = |overrides: &Overrides| Workspace::open(cwd.clone(), env.clone(), overrides, out);
    match cli.command {
        Command::Init(a) => init::run(&open(&Overrides::default())?, &a),
        Command::Analyze(a) => {
            let s = open(&a.overrides())?;
            analyze::run(&s, &a)
        }
        Command::Refactor {
            cmd: analyze::RefactorCmd::Analyze(f),
        } => {
            let a = f.into_analyze("refactor");
            analyze::run(&open(&a.overrides())?, &a)
        }
        Command::Docs {
            cmd: analyze::DocsCmd::Module(f),
        } => {
            let a = f.into_analyze("docs");
            analyze::run(&open(&a.overrides())?, &a)
        }
        Command::Show(a) => show::show(&open(&Overrides::default())?, &a),
        Command::Findings(a) => findings::run(&open(&Overrides::default())?, &a),
        Command::Report(a) => report::run(&open(&Overrides::default())?, &a),
        Command::Cache { cmd } => cache::run(&open(&Overrides::default())?, cmd),
        Command::Cat(a) => cat::cat(&a, out),
        Command::MergeEntry(a) => merge_entry::merge(&a),
        Command::Hooks { cmd } => match (open(&Overrides::default()), &cmd) {
            (Ok(ws), _) => hooks::run(&ws, cmd),
            // A hook never blocks a commit, push or merge because of someone else's commit (a
            // malformed or symlinked config, say): it says why and steps aside.
            (Err(e), hooks::HooksCmd::Run { name, .. }) => {
                crate::output::print_stderr(&format!(
                    "rustassistant: {} hook skipped: {}",
                    name,
                    render(&e).trim_start_matches("error: ")
                ));
                Ok(Exit::Success)
            }
            (Err(e), _) => Err(e),
        },
        Command::Budget(a) => {
            // Works outside a repository too: the budget is per user.
            let repo = crate::git::Repo::discover(&cwd).ok();
            let cfg =
                crate::workspace::config_for(repo.as_ref(), &env, &Overrides::default(), out)?;
            budget::run(&cfg, &env, out, &a)
        }
        Command::Costs(_) => budget::costs(&env, out),
        Command::Trust(a) => trust::run(&crate::git::Repo::discover(&cwd)?, &env, out, &a),
    }
}
