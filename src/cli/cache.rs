//! `cache status|stats|evict|prune|clear|verify|rebuild-index|migrate`

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::config::Eviction;
use crate::error::{Exit, UserError};
use crate::index::{Index, Row};
use crate::output::count;
use crate::output::sanitize;
use crate::util::{format_size, parse_size};
use crate::workspace::Workspace;

/// Cache maintenance.
#[derive(Debug, clap::Subcommand)]
pub enum CacheCmd {
    /// Totals in the style of `ccache -s`: entries, size, hit rate, tokens, cost, by type and model.
    Status {
        /// Reset the hit, miss and saved-cost counters first (like `ccache -z`).
        #[arg(long)]
        zero: bool,
    },
    /// Same as `status`.
    Stats {
        /// Reset the hit, miss and saved-cost counters first (like `ccache -z`).
        #[arg(long)]
        zero: bool,
    },
    /// Delete entries until the cache fits in --max-size.
    ///
    /// Policies name what goes first: lru (least recently used), oldest (created_at), largest
    /// (bytes on disk), expensive (most tokens). Deleting entries is a working-tree change you
    /// commit like any other.
    Evict {
        /// Which entries go first.
        #[arg(long, default_value = "lru", value_parser = clap::builder::ValueParser::new(str::parse::<Eviction>))]
        policy: Eviction,
        /// Target size, like 100MB, 1GiB or a byte count.
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove entries whose blob is no longer anywhere in HEAD's tree (or, with --older-than,
    /// entries older than AGE).
    ///
    /// Entries waiting in the local overlay (content only in the working tree) are kept while
    /// their file still has that content.
    Prune {
        /// List them; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove entries created longer ago than AGE (90d, 12w, 36h), whatever their blob.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
    },
    /// Remove entries: all, one type, or those of one file.
    Clear {
        /// Only this analysis type.
        #[arg(long = "type", value_name = "T")]
        cache_type: Option<String>,
        /// Only entries recorded for this file path or its current content.
        #[arg(long, value_name = "F")]
        file: Option<PathBuf>,
    },
    /// Re-derive every entry's key and check it decodes within bounds; exit 1 if any is bad.
    Verify,
    /// Recreate the local index from the shards.
    RebuildIndex,
    /// Move earlier layouts into shards, losing nothing.
    ///
    /// Converts the one-file-per-entry layout (`cache/<type>/<b0b1>/…json` and `.json.zst`)
    /// and the seed's flat files (one JSON file per source path with file_path, file_hash,
    /// provider, model, result, tokens_used, cache_type; imported when the source file is
    /// unchanged in the work tree). Safe to interrupt and run again. `--from-legacy DIR`
    /// also imports flat files from DIR (left in place).
    Migrate {
        /// Import an older flat layout from DIR too.
        #[arg(long, value_name = "DIR")]
        from_legacy: Option<PathBuf>,
        /// Kept for scripts: `json` is accepted (shards are JSON); `zstd` is refused.
        #[arg(long, value_name = "json", hide = true)]
        to: Option<String>,
    },
}

/// Run a cache subcommand.
pub fn run(session: &Workspace, cmd: CacheCmd) -> Result<Exit> {
    // Nothing below writes to, deletes from or reads a cache folder that is a symlink.
    session.store.ensure_real()?;
    match cmd {
        CacheCmd::Status { zero } | CacheCmd::Stats { zero } => stats(session, zero),
        CacheCmd::Evict {
            policy,
            max_size,
            dry_run,
        } => {
            let max =
                parse_size(&max_size).map_err(|e| UserError::Usage(format!("--max-size: {e}")))?;
            evict(session, policy, max, dry_run)
        }
        CacheCmd::Prune {
            dry_run,
            older_than,
        } => {
            let age = older_than
                .map(|a| crate::util::parse_age(&a))
                .transpose()
                .map_err(|e| UserError::Usage(format!("--older-than: {e}")))?;
            prune(session, dry_run, age)
        }
        CacheCmd::Clear { cache_type, file } => clear(session, cache_type, file),
        CacheCmd::Verify => verify(session),
        CacheCmd::Migrate { to, from_legacy } => {
            if to.as_deref().is_some_and(|t| t != "json" && t != "none") {
                return Err(UserError::Usage(
                    "--to: shards are plain text (git delta-compresses and union-merges them; see README, \"Compression\")".into(),
                )
                .into());
            }
            migrate(session, from_legacy)
        }
        CacheCmd::RebuildIndex => {
            let started = std::time::Instant::now();
            let mut ix = Index::open(session);
            let st = ix.rebuild(session)?;
            let ms = started.elapsed().as_millis();
            if session.out.json {
                session
                    .out
                    .json_doc(&json!({"indexed": st.added, "elapsed_ms": ms}));
            } else {
                session.out.line(&format!(
                    "🔁 Index rebuilt: {} entries in {:.2}s",
                    st.added,
                    ms as f64 / 1000.0
                ));
            }
            Ok(Exit::Success)
        }
    }
}

fn stats(session: &Workspace, zero: bool) -> Result<Exit> {
    let ix = Index::open(session);
    if zero {
        ix.zero_counters()?;
        session
            .out
            .note("🧹 Counters zeroed (hits, misses, cost saved by hits)");
    }
    let s = ix.stats(session.config.max_size_bytes())?;
    let out = session.out;
    let budget = super::budget::budget_json(&session.config, &session.env);
    if out.json {
        let mut v = serde_json::to_value(&s)?;
        v["index_degraded"] = json!(ix.degraded);
        v["sync"] = json!(ix.last_sync);
        v["budget"] = budget
            .as_ref()
            .map(|b| b.clone())
            .unwrap_or_else(|e| json!({"error": e.to_string()}));
        out.json_doc(&v);
        return Ok(Exit::Success);
    }
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let mut lines = vec![
        format!(
            "Cache directory                 {}",
            session.store.cache_dir().display()
        ),
        format!("Entries                         {:>10}", s.total_entries),
    ];
    if s.invalid_entries > 0 {
        lines.push(format!(
            "Invalid entries                 {:>10}   (see `rustassistant cache verify`)",
            s.invalid_entries
        ));
    }
    lines.push(format!(
        "Entry bytes on disk             {:>10}",
        format_size(s.total_size_bytes)
    ));
    lines.push(format!(
        "Size uncompressed               {:>10}",
        format_size(s.uncompressed_size_bytes)
    ));
    if let Some(m) = s.max_size_bytes {
        lines.push(format!(
            "Max size                        {:>10}   ({:.1}% used)",
            format_size(m),
            pct(s.total_size_bytes, m)
        ));
    }
    lines.push(format!(
        "Hits                            {:>10}   ({:.1}%)",
        s.hits,
        s.hit_rate * 100.0
    ));
    lines.push(format!("Misses                          {:>10}", s.misses));
    lines.push(format!(
        "Tokens in / out                 {:>10} / {}",
        s.tokens_in, s.tokens_out
    ));
    lines.push(format!(
        "Estimated cost                  {:>10}",
        format!("${:.4}", s.estimated_cost_usd)
    ));
    if s.unknown_cost_entries > 0 {
        lines.push(format!(
            "Entries with unknown cost       {:>10}",
            s.unknown_cost_entries
        ));
    }
    lines.push(format!(
        "Cost saved by hits              {:>10}",
        format!("${:.4}", s.saved_usd)
    ));
    if s.invalid_replies.entries > 0 {
        lines.push(format!(
            "Invalid replies stored          {:>10}   (${:.4}; `show --include-invalid`, `analyze --force`)",
            s.invalid_replies.entries, s.invalid_replies.cost_usd
        ));
    }
    if s.items.reused > 0 {
        lines.push(format!(
            "Items reused (not sent)         {:>10}   ({}, ${:.4} not spent)",
            s.items.reused,
            format_size(s.items.bytes_not_sent),
            s.items.saved_usd
        ));
    }
    match &budget {
        Ok(b) => lines.push(format!(
            "Budget                          {}",
            session
                .out
                .decorate(b["line"].as_str().unwrap_or(""), false)
        )),
        Err(e) => lines.push(format!("Budget                          unavailable: {e}")),
    }
    for (title, groups) in [("By type", &s.by_type), ("By model", &s.by_model)] {
        if groups.is_empty() {
            continue;
        }
        lines.push(format!("{title}:"));
        for g in groups {
            lines.push(format!(
                "  {:<28}  {:>8} entries  {:>10}  {:>10} tokens  ${:.4}",
                sanitize(&g.name),
                g.entries,
                format_size(g.size_bytes),
                g.total_tokens,
                g.cost_usd
            ));
        }
    }
    for l in lines {
        out.line(&l);
    }
    let y = ix.last_sync;
    out.detail(&format!(
        "Index sync: {} shards compared, {} read, {} lines indexed, {} removed",
        y.shards_seen, y.shards_read, y.added, y.removed
    ));
    Ok(Exit::Success)
}

fn report_removed(session: &Workspace, verb: &str, rows: &[Row], freed: u64, dry_run: bool) {
    let out = session.out;
    if out.json {
        let list: Vec<_> = rows.iter().map(|r| json!({"shard": r.shard, "type": r.key.cache_type, "blob": r.key.blob, "variant": r.key.variant, "path": r.path, "size_bytes": r.size_on_disk})).collect();
        out.json_doc(&json!({"removed": list, "count": rows.len(), "freed_bytes": freed, "dry_run": dry_run}));
        return;
    }
    for r in rows {
        out.detail(&format!(
            "  {} {} {} ({}, {})",
            if dry_run { "would remove" } else { "removed" },
            r.key.cache_type,
            sanitize(r.path.as_deref().unwrap_or("?")),
            r.key.blob.get(..12).unwrap_or(&r.key.blob),
            r.shard
        ));
    }
    let what = if dry_run {
        format!("would {verb}")
    } else {
        verb.to_string()
    };
    out.line(&format!(
        "🧹 {} {} entr{}, {} freed",
        capitalise(&what),
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        format_size(freed)
    ));
    if !dry_run && !rows.is_empty() {
        out.line("   Commit the changed shards under .rustassistant/ like any other change.");
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn evict(session: &Workspace, policy: Eviction, max: u64, dry_run: bool) -> Result<Exit> {
    let mut ix = Index::open(session);
    if dry_run {
        let victims = ix.eviction_victims(policy, max)?;
        let freed = victims.iter().map(|r| r.size_on_disk).sum();
        report_removed(session, "evict", &victims, freed, true);
        return Ok(Exit::Success);
    }
    let (victims, freed) = ix.evict(&session.store, policy, max)?;
    report_removed(session, "evicted", &victims, freed, false);
    Ok(Exit::Success)
}

fn prune(
    session: &Workspace,
    dry_run: bool,
    older_than: Option<std::time::Duration>,
) -> Result<Exit> {
    let mut ix = Index::open(session);
    let victims = crate::run::maintenance::prune_victims(session, &ix, older_than)?;
    let freed = if dry_run {
        victims.iter().map(|r| r.size_on_disk).sum()
    } else {
        ix.remove(&session.store, &victims)?
    };
    report_removed(
        session,
        if dry_run { "prune" } else { "pruned" },
        &victims,
        freed,
        dry_run,
    );
    Ok(Exit::Success)
}

fn clear(session: &Workspace, cache_type: Option<String>, file: Option<PathBuf>) -> Result<Exit> {
    if let Some(t) = &cache_type {
        crate::analyzer::registry::check_types(std::slice::from_ref(t))?;
    }
    let file_match = match &file {
        None => None,
        Some(f) => {
            let repo = &session.repo;
            let abs = if f.is_absolute() {
                f.clone()
            } else {
                session.cwd.join(f)
            };
            // The file may be gone already; match its recorded path then.
            let rel = match repo.relative(&session.cwd, f) {
                Ok(r) => r,
                Err(_) => abs
                    .strip_prefix(repo.workdir())
                    .map(|p| p.to_string_lossy().into_owned())
                    .map_err(|_| {
                        UserError::Input(format!("{}: outside the repository", f.display()))
                    })?,
            };
            let blob = std::fs::read(repo.workdir().join(&rel))
                .ok()
                .map(|b| repo.hash_blob(&b));
            Some((rel, blob))
        }
    };
    let mut ix = Index::open(session);
    let victims: Vec<Row> = ix
        .rows(None)?
        .into_iter()
        .filter(|r| r.valid)
        .filter(|r| cache_type.as_ref().is_none_or(|t| &r.key.cache_type == t))
        .filter(|r| {
            file_match.as_ref().is_none_or(|(rel, blob)| {
                r.path.as_deref() == Some(rel.as_str())
                    || blob.as_deref() == Some(r.key.blob.as_str())
            })
        })
        .collect();
    let freed = ix.remove(&session.store, &victims)?;
    report_removed(session, "cleared", &victims, freed, false);
    Ok(Exit::Success)
}

fn migrate(session: &Workspace, from_legacy: Option<PathBuf>) -> Result<Exit> {
    let out = session.out;
    let legacy = match from_legacy {
        Some(dir) => {
            let abs = if dir.is_absolute() {
                dir.clone()
            } else {
                session.cwd.join(&dir)
            };
            if !abs.is_dir() {
                return Err(UserError::Input(format!("{}: not a directory", dir.display())).into());
            }
            Some(abs)
        }
        None => None,
    };
    crate::cache::layout::ensure(&session.store)?;
    crate::cache::layout::update_attributes(&session.store)?;
    let now = crate::util::now_rfc3339(&session.env);
    let rep =
        crate::cache::migrate::migrate(&session.store, &session.repo, legacy.as_deref(), &now)?;
    for (f, why) in &rep.skipped {
        out.warn(&format!("left as is: {}: {}", sanitize(f), sanitize(why)));
    }
    // Keep the index's view in step.
    let mut ix = Index::open(session);
    let _ = ix.sync(session);
    if out.json {
        out.json_doc(&serde_json::to_value(&rep)?);
    } else {
        out.line(&format!(
            "📦 Moved {} entr{} into shards and imported {} legacy one{}; {} shard{} written{}",
            rep.moved,
            if rep.moved == 1 { "y" } else { "ies" },
            rep.imported,
            if rep.imported == 1 { "" } else { "s" },
            rep.shards_written,
            if rep.shards_written == 1 { "" } else { "s" },
            if rep.skipped.is_empty() {
                String::new()
            } else {
                format!("; {} left as is (listed above)", rep.skipped.len())
            }
        ));
        if rep.moved + rep.imported > 0 {
            out.line("   Commit .rustassistant/ (old entry files deleted, shards added) like any other change.");
        }
    }
    Ok(if rep.skipped.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

fn verify(session: &Workspace) -> Result<Exit> {
    let mut ix = Index::open(session);
    let v = ix.verify(session)?;
    let wt = session.repo.workdir().display().to_string();
    let rel = |p: &str| p.strip_prefix(&format!("{wt}/")).unwrap_or(p).to_string();
    let problems: Vec<&crate::index::Problem> = v.problems.iter().collect();
    // Stored replies that missed their schema: counted, not problems of the cache.
    let invalid = ix.invalid_replies()?;
    if session.out.json {
        let list: Vec<_> = problems
            .iter()
            .map(|p| json!({"path": rel(&p.path), "problem": p.problem}))
            .collect();
        session.out.json_doc(&json!({
            "checked": v.entries,
            "shards": v.shards,
            "duplicates": v.duplicates,
            "bad": list,
            "index_repaired": v.index_repaired,
            "invalid_replies": invalid,
            "ok": problems.is_empty(),
        }));
    } else {
        for p in &problems {
            crate::output::print_stderr(&format!(
                "✗ {}: {}",
                sanitize(&rel(&p.path)),
                sanitize(&p.problem)
            ));
        }
        if v.duplicates > 0 {
            session.out.note(&format!(
                "{} duplicate line{} with the same result left by a union merge (the next write of the shard drops {})",
                v.duplicates,
                if v.duplicates == 1 { "" } else { "s" },
                if v.duplicates == 1 { "it" } else { "them" }
            ));
        }
        if invalid.entries > 0 {
            session.out.note(&format!(
                "{} stored {} missed {} type's schema (${:.4} paid, not paid again): `rustassistant show --include-invalid FILE` shows one, `analyze --force` asks again",
                invalid.entries,
                if invalid.entries == 1 { "reply" } else { "replies" },
                if invalid.entries == 1 { "its" } else { "their" },
                invalid.cost_usd
            ));
        }
        if !v.index_repaired.is_empty() {
            session.out.warn(&format!(
                "the local index differed from {} on disk ({}{}); read again",
                count(v.index_repaired.len(), "shard", "shards"),
                v.index_repaired[0],
                if v.index_repaired.len() > 1 {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        if problems.is_empty() {
            session.out.line(&format!(
                "✔ {} entries in {} shards verified",
                v.entries, v.shards
            ));
        } else {
            session.out.line(&format!(
                "✗ {} problem{} in {} shards ({} valid entries); `rustassistant analyze` replaces bad lines, any write of a shard drops them",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                v.shards,
                v.entries
            ));
        }
    }
    Ok(if problems.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    })
}
