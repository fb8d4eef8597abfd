//! `show FILE`: the cached results for a file's current content, for a human.

use std::path::PathBuf;

use anyhow::Result;

use crate::analyzer::registry::{check_types, plans};
use crate::cache::{Key, KNOWN_TYPES};
use crate::error::{Exit, UserError};
use crate::output::sanitize;
use crate::run::Plan;
use crate::workspace::Workspace;

/// Print the cached result for a file's current content.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The source file.
    pub file: PathBuf,
    /// Only this analysis type (default: every type with a result).
    #[arg(long = "type", short = 't', value_name = "T")]
    pub types: Vec<String>,
    /// The file as of this revision (e.g. `HEAD` while the working copy is edited) instead of
    /// its current content.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Also show stored replies that missed the type's schema (kept so they are paid for
    /// once; `analyze --force` asks again), as they came.
    #[arg(long)]
    pub include_invalid: bool,
}

/// Run `show`.
pub fn show(session: &Workspace, args: &ShowArgs) -> Result<Exit> {
    check_types(&args.types)?;
    let repo = &session.repo;
    if let Some(rev) = &args.rev {
        let rel = repo.relative_lexical(&session.cwd, &args.file)?;
        let blob = repo
            .blob_at(rev, &rel)
            .map_err(|e| UserError::Input(format!("{rev}: {}", e.message())))?
            .ok_or_else(|| UserError::Input(format!("{rel}: not in {rev}")))?;
        return show_blob(session, args, &rel, &blob, &format!("as of {rev}"));
    }
    let rel = repo.relative(&session.cwd, &args.file)?;
    let abs = repo.workdir().join(&rel);
    if abs.is_dir() {
        return Err(UserError::Input(format!(
            "{}: is a directory; show takes one file (try `analyze {}`)",
            args.file.display(),
            args.file.display()
        ))
        .into());
    }
    let tracked = repo.tracked(None)?;
    let t = tracked.iter().find(|t| *t.path == *rel);
    let file = match repo.work_file(&rel, t, session.config.max_file_bytes())? {
        Some(crate::git::WorkFile::Known(f)) => f,
        Some(crate::git::WorkFile::TooLarge(n)) => {
            return Err(UserError::Input(format!(
                "{}: {n} bytes, over [analysis] max_file_bytes, so never analysed",
                args.file.display()
            ))
            .into())
        }
        None => {
            return Err(
                UserError::Input(format!("{}: not a regular file", args.file.display())).into(),
            )
        }
    };
    show_blob(session, args, &rel, &file.blob, "at its current content")
}

/// Print the entries of content `blob` (the file `rel`), every requested type.
fn show_blob(
    session: &Workspace,
    args: &ShowArgs,
    rel: &str,
    blob: &str,
    which: &str,
) -> Result<Exit> {
    let types: Vec<String> = if args.types.is_empty() {
        KNOWN_TYPES.iter().map(|s| s.to_string()).collect()
    } else {
        args.types.clone()
    };
    // Without --type, a mistake in the provider settings only hides that provider's exact
    // variant: `show` still prints what is cached (under any model, see find_entry).
    let plans = if args.types.is_empty() {
        crate::analyzer::registry::plans_lenient(session, &types)?
    } else {
        plans(session, &types)?
    };
    let index = crate::index::Index::open_for_lookup(session);
    let mut found = Vec::new();
    for p in &plans {
        if let Some(e) = find_entry(session, &index, p, blob) {
            found.push(e);
        }
    }
    // Results of files analysed by items are assembled from their items' entries.
    let types: Vec<String> = found.iter().map(|e| e.cache_type.clone()).collect();
    let found: Vec<crate::cache::Entry> = session
        .store
        .complete(&session.repo, found)
        .into_iter()
        .zip(types)
        .filter_map(|(r, ty)| match r {
            Ok(e) => Some(e),
            Err(why) => {
                session.out.warn(&format!(
                    "the cached {ty} result of {rel} cannot be assembled: {why}; `rustassistant analyze --force -t {ty} {rel}` asks for the missing items only"
                ));
                None
            }
        })
        .collect();
    // A stored reply that missed the schema is no result: named, shown only when asked.
    let (found, invalid): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|e| e.invalid.is_none() || args.include_invalid);
    for e in &invalid {
        session.out.warn(&format!(
            "the cached {} reply for {rel} is invalid ({}); `--include-invalid` shows it, `rustassistant analyze --force -t {} {rel}` asks again",
            e.cache_type,
            sanitize(e.invalid.as_deref().unwrap_or("")),
            e.cache_type
        ));
    }
    if found.is_empty() {
        return Err(UserError::Input(format!(
            "no cached analysis for {} {which} ({}): run `rustassistant analyze {}`",
            rel,
            &blob[..12],
            args.file.display()
        ))
        .into());
    }
    if session.out.json {
        let docs: Vec<serde_json::Value> = found
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect();
        session
            .out
            .json_doc(&serde_json::json!({ "path": rel, "blob": blob, "entries": docs }));
        return Ok(Exit::Success);
    }
    for e in &found {
        session.out.content(&format!(
            "── {} · {} ({}/{}) · {} ──",
            rel, e.cache_type, e.provider, e.model, e.created_at
        ));
        // -v: how the result was made (DESIGN.md, "Items").
        session.out.detail(&match e.items {
            Some(n) => format!("assembled from the results of its {n} items"),
            None => "a result of the whole file".to_string(),
        });
        if let Some(why) = &e.invalid {
            session.out.content(&format!(
                "invalid reply ({}), as it came:\n{}",
                sanitize(why),
                sanitize(&match &e.result {
                    serde_json::Value::String(t) => t.clone(),
                    v => serde_json::to_string_pretty(v).unwrap_or_default(),
                })
            ));
            continue;
        }
        session.out.content(&render_result(e));
    }
    Ok(Exit::Success)
}

/// The entry for `(plan type, blob)`: the one the current configuration would use, else the
/// newest valid entry for that content under any model or prompt.
fn find_entry(
    session: &Workspace,
    index: &crate::index::Index,
    plan: &Plan,
    blob: &str,
) -> Option<crate::cache::Entry> {
    if let Ok(a) = &plan.analyzer {
        let id = a.identity();
        let key = Key {
            cache_type: plan.cache_type.clone(),
            blob: blob.to_string(),
            variant: crate::cache::variant(
                &id.provider,
                &id.model,
                &id.prompt_hash,
                crate::cache::SCHEMA_VERSION,
            ),
        };
        // The index says where the line is: read just that line (checked against the hash
        // recorded for it, then as untrusted as any other), else the shard.
        if let Some(e) = index
            .locate(&key)
            .and_then(|(at, range, hash)| session.store.read_line(&at, range, hash, &key))
        {
            return Some(e);
        }
        if let crate::cache::Lookup::Hit { entry, .. } = session.store.lookup(&key) {
            return Some(*entry);
        }
    }
    session
        .store
        .trusted_for_blob(&plan.cache_type, blob)
        .into_iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
}

/// Human rendering of a result (see `render`), always sanitised.
fn render_result(e: &crate::cache::Entry) -> String {
    sanitize(&super::render::result(&e.cache_type, &e.result))
}
