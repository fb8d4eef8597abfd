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
    Init(Lazy<init::InitArgs>),
    /// Analyse files, reusing every cached result.
    Analyze(Lazy<analyze::AnalyzeArgs>),
    /// Refactoring suggestions for one file (= analyze --type refactor FILE).
    Refactor {
        /// `analyze FILE`
        #[command(subcommand)]
        cmd: Lazy<analyze::RefactorCmd>,
    },
    /// Module documentation for one file (= analyze --type docs FILE).
    Docs {
        /// `module FILE`
        #[command(subcommand)]
        cmd: Lazy<analyze::DocsCmd>,
    },
    /// Print the cached result for a file's current content.
    Show(Lazy<show::ShowArgs>),
    /// List what the cached analyses found, as text, Markdown, JSON or SARIF.
    Findings(Lazy<findings::FindingsArgs>),
    /// Write a self-contained HTML report with charts (spend, savings, hit rate, authors,
    /// findings, hotspots).
    Report(Lazy<report::ReportArgs>),
    /// Inspect and maintain the cache.
    Cache {
        /// What to do.
        #[command(subcommand)]
        cmd: Lazy<cache::CacheCmd>,
    },
    /// Print an entry file as JSON (also the git diff textconv for .json.zst entries).
    Cat(Lazy<cat::CatArgs>),
    /// Git hooks: install, uninstall, or run one (what the shims call).
    Hooks {
        /// What to do.
        #[command(subcommand)]
        cmd: Lazy<hooks::HooksCmd>,
    },
    /// Git merge driver for cache entries (configured by `hooks install`).
    MergeEntry(Lazy<merge_entry::MergeArgs>),
    /// Monthly spend against the budget; `budget set USD` changes the limit.
    Budget(Lazy<budget::BudgetArgs>),
    /// Spend by month, model and analysis type, with what cache hits saved.
    Costs(Lazy<budget::CostsArgs>),
    /// Trust this repository's .rustassistant/config.toml as it is now (endpoints, budget,
    /// prices and secrets settings take effect only then).
    Trust(Lazy<trust::TrustArgs>),
}

/// A subcommand's arguments (or its own subcommands), built only when the command line names
/// it: clap's derive builds every subcommand's arguments before parsing, which cost every run,
/// a cache hit included, a few tenths of a millisecond. Derefs to the wrapped value.
#[derive(Debug, Clone)]
pub struct Lazy<T>(pub T);

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Lazy)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

impl<T: clap::Args> clap::Args for Lazy<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|c| keep_about(c, T::augment_args))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|c| keep_about(c, T::augment_args_for_update))
    }
}

impl<T: clap::Subcommand> clap::Subcommand for Lazy<T> {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd.defer(|c| keep_about(c, T::augment_subcommands))
    }
    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|c| keep_about(c, T::augment_subcommands_for_update))
    }
    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

/// Apply `augment` to a subcommand, keeping the description the variant gave it (as the eager
/// derive does: the variant's doc comment is applied after the payload's).
fn keep_about(cmd: clap::Command, augment: fn(clap::Command) -> clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned();
    let long = cmd.get_long_about().cloned();
    use clap::builder::Resettable;
    let reset =
        |v: Option<clap::builder::StyledStr>| v.map_or(Resettable::Reset, Resettable::Value);
    augment(cmd).about(reset(about)).long_about(reset(long))
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
        Command::Refactor { cmd } => {
            let analyze::RefactorCmd::Analyze(f) = cmd.0;
            let a = f.into_analyze("refactor");
            analyze::run(&open(&a.overrides())?, &a)
        }
        Command::Docs { cmd } => {
            let analyze::DocsCmd::Module(f) = cmd.0;
            let a = f.into_analyze("docs");
            analyze::run(&open(&a.overrides())?, &a)
        }
        Command::Show(a) => show::show(&open(&Overrides::default())?, &a),
        Command::Findings(a) => findings::run(&open(&Overrides::default())?, &a),
        Command::Report(a) => report::run(&open(&Overrides::default())?, &a),
        Command::Cache { cmd } => cache::run(&open(&Overrides::default())?, cmd.0),
        Command::Cat(a) => cat::cat(&a, out),
        Command::MergeEntry(a) => merge_entry::merge(&a),
        Command::Hooks { cmd } => match (open(&Overrides::default()), &cmd.0) {
            (Ok(ws), _) => hooks::run(&ws, cmd.0),
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
        Command::Costs(_) => {
            // Inside a repository, what its hits saved (its local index) joins the spend.
            let savings = open(&Overrides::default())
                .ok()
                .map(|ws| crate::index::Index::open(&ws).savings().unwrap_or_default())
                .unwrap_or_default();
            budget::costs(&env, out, &savings)
        }
        Command::Trust(a) => trust::run(&crate::git::Repo::discover(&cwd)?, &env, out, &a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn help(args: &[&str]) -> String {
        let mut argv = vec!["rustassistant"];
        argv.extend_from_slice(args);
        let e = Cli::try_parse_from(argv).expect_err("--help stops parsing");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        e.render().to_string()
    }

    #[test]
    fn the_command_line_is_consistent_once_every_deferred_part_is_built() {
        Cli::command().debug_assert();
    }

    #[test]
    fn deferred_subcommands_keep_their_descriptions_and_their_arguments_help() {
        let analyze = help(&["analyze", "--help"]);
        assert!(
            analyze.starts_with("Analyse files, reusing every cached result\n"),
            "{analyze}"
        );
        assert!(analyze.contains("Files or folders to analyse"), "{analyze}");
        let cache = help(&["cache", "--help"]);
        assert!(
            cache.starts_with("Inspect and maintain the cache\n"),
            "{cache}"
        );
        assert!(cache.contains("rebuild-index"), "{cache}");
        let top = help(&["--help"]);
        assert!(
            top.contains("Print the cached result for a file's current content"),
            "{top}"
        );
        let prune = help(&["cache", "prune", "--help"]);
        assert!(prune.contains("--older-than"), "{prune}");
    }
}
