//! `cache status|stats|evict|prune|clear|verify|rebuild-index|migrate`

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::cache::store::read_entry_file;
use crate::config::{Compression, Eviction};
use crate::error::{Exit, UserError};
use crate::index::{Index, Row};
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
    /// Remove entries whose blob is no longer anywhere in HEAD's tree.
    Prune {
        /// List them; remove nothing.
        #[arg(long)]
        dry_run: bool,
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
    /// Recreate the local index from the entry files.
    RebuildIndex,
    /// Rewrite every entry in another encoding, or import an older flat cache layout.
    ///
    /// `--to zstd` writes each entry as .json.zst (typically 60-70% smaller) and sets
    /// [cache] compression so new entries follow; `--to json` goes back. `--from-legacy DIR`
    /// imports one-JSON-file-per-source-path caches (file_path, file_hash, provider, model,
    /// result, tokens_used, cache_type) whose source file is unchanged in the work tree.
    Migrate {
        /// Target encoding.
        #[arg(long, required_unless_present = "from_legacy", value_name = "json|zstd", value_parser = clap::builder::ValueParser::new(str::parse::<Compression>))]
        to: Option<Compression>,
        /// Import an older flat layout from DIR.
        #[arg(long, value_name = "DIR")]
        from_legacy: Option<PathBuf>,
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
        CacheCmd::Prune { dry_run } => prune(session, dry_run),
        CacheCmd::Clear { cache_type, file } => clear(session, cache_type, file),
        CacheCmd::Verify => verify(session),
        CacheCmd::Migrate { to, from_legacy } => migrate(session, to, from_legacy),
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
    match &budget {
        Ok(b) => lines.push(format!(
            "Budget                          {}",
            b["line"].as_str().unwrap_or("")
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
        "Index sync: {} folders listed, {} files stat'ed, {} read ({} new, {} changed), {} removed",
        y.dirs_scanned,
        y.stat_calls,
        y.added + y.changed,
        y.added,
        y.changed,
        y.removed
    ));
    Ok(Exit::Success)
}

fn report_removed(session: &Workspace, verb: &str, rows: &[Row], freed: u64, dry_run: bool) {
    let out = session.out;
    if out.json {
        let list: Vec<_> = rows.iter().map(|r| json!({"entry": format!(".rustassistant/{}", r.rel), "type": r.cache_type, "path": r.path, "size_bytes": r.size_on_disk})).collect();
        out.json_doc(&json!({"removed": list, "count": rows.len(), "freed_bytes": freed, "dry_run": dry_run}));
        return;
    }
    for r in rows {
        out.detail(&format!(
            "  {} .rustassistant/{} ({})",
            if dry_run { "would remove" } else { "removed" },
            r.rel,
            sanitize(r.path.as_deref().unwrap_or("?"))
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
        out.line("   Commit the deletions under .rustassistant/ like any other change.");
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn evict(session: &Workspace, policy: Eviction, max: u64, dry_run: bool) -> Result<Exit> {
    let ix = Index::open(session);
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

fn prune(session: &Workspace, dry_run: bool) -> Result<Exit> {
    let repo = &session.repo;
    // Every blob at HEAD, or an error: nothing is deleted on incomplete evidence.
    let blobs = repo
        .head_blob_ids()
        .map_err(|e| anyhow::anyhow!("cannot read HEAD's tree ({e}); nothing was pruned"))?
        .ok_or_else(|| {
            UserError::Input("no commit at HEAD yet: nothing to prune against".into())
        })?;
    let ix = Index::open(session);
    let victims: Vec<Row> = ix
        .rows(None)?
        .into_iter()
        .filter(|r| !blobs.contains(&r.blob))
        .collect();
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
    let ix = Index::open(session);
    let victims: Vec<Row> = ix
        .rows(None)?
        .into_iter()
        .filter(|r| cache_type.as_ref().is_none_or(|t| &r.cache_type == t))
        .filter(|r| {
            file_match.as_ref().is_none_or(|(rel, blob)| {
                r.path.as_deref() == Some(rel.as_str()) || blob.as_deref() == Some(r.blob.as_str())
            })
        })
        .collect();
    let freed = ix.remove(&session.store, &victims)?;
    report_removed(session, "cleared", &victims, freed, false);
    Ok(Exit::Success)
}

fn migrate(
    session: &Workspace,
    to: Option<Compression>,
    from_legacy: Option<PathBuf>,
) -> Result<Exit> {
    use crate::cache::migrate;
    let out = session.out;
    let mut doc = json!({});
    let mut code = Exit::Success;
    if let Some(dir) = from_legacy {
        let abs = if dir.is_absolute() {
            dir.clone()
        } else {
            session.cwd.join(&dir)
        };
        if !abs.is_dir() {
            return Err(UserError::Input(format!("{}: not a directory", dir.display())).into());
        }
        crate::cache::layout::ensure(&session.store)?;
        let now = crate::util::now_rfc3339(&session.env);
        let rep = migrate::import_legacy(&session.store, &session.repo, &abs, &now)?;
        for (f, why) in &rep.not_imported {
            out.warn(&format!("not imported: {}: {}", sanitize(f), sanitize(why)));
        }
        out.line(&format!(
            "📥 Imported {} legacy entr{}; {} could not be keyed",
            rep.imported,
            if rep.imported == 1 { "y" } else { "ies" },
            rep.not_imported.len()
        ));
        if !rep.not_imported.is_empty() {
            code = Exit::Failure;
        }
        doc["legacy"] = serde_json::to_value(&rep)?;
    }
    if let Some(to) = to {
        let rep = migrate::reencode(&session.store, to);
        for (f, why) in &rep.skipped {
            out.warn(&format!("left as is: {}: {}", sanitize(f), sanitize(why)));
        }
        let cfg = session.store.root().join("config.toml");
        crate::config::set_value(
            &cfg,
            "cache",
            "compression",
            if to == Compression::Zstd {
                "\"zstd\""
            } else {
                "\"none\""
            },
        )
        .map_err(|e| anyhow::anyhow!("updating {}: {e}", cfg.display()))?;
        out.line(&format!(
            "🗜️  Converted {} entries ({} already {}); {} → {} on disk. [cache] compression updated.",
            rep.converted,
            rep.unchanged,
            if to == Compression::Zstd { "zstd" } else { "JSON" },
            format_size(rep.bytes_before),
            format_size(rep.bytes_after)
        ));
        if !rep.skipped.is_empty() {
            code = Exit::Failure;
        }
        doc["reencode"] = serde_json::to_value(&rep)?;
    }
    // Keep the index's view in step.
    let mut ix = Index::open(session);
    let _ = ix.sync(session);
    if out.json {
        out.json_doc(&doc);
    }
    Ok(code)
}

fn verify(session: &Workspace) -> Result<Exit> {
    let (entries, strays) = session.store.walk();
    let checked = crate::util::par::parallel_map(&entries, |(path, key, _)| {
        (path.clone(), read_entry_file(path, Some(key), None))
    });
    let require_sig = session.config.file.cache.require_signature.unwrap_or(false);
    let signing_key = session
        .env
        .get("RUSTASSISTANT_SIGNING_KEY")
        .map(|k| k.as_bytes().to_vec());
    let mut bad: Vec<(PathBuf, String)> = Vec::new();
    for (path, res) in checked {
        match res {
            Err(e) => bad.push((path, e.to_string())),
            Ok(e) if require_sig => {
                if let Some(reason) = crate::cache::signature_problem(&e, signing_key.as_deref()) {
                    bad.push((path, reason));
                }
            }
            Ok(_) => {}
        }
    }
    for s in &strays {
        bad.push((
            s.clone(),
            "not an entry file name (cache/<type>/<b0b1>/<blob-rest>-<variant>.json[.zst])".into(),
        ));
    }
    let wt = session.repo.workdir();
    let rel = |p: &PathBuf| p.strip_prefix(wt).unwrap_or(p).display().to_string();
    if session.out.json {
        let list: Vec<_> = bad
            .iter()
            .map(|(p, r)| json!({"path": rel(p), "problem": r}))
            .collect();
        session.out.json_doc(
            &json!({"checked": entries.len() + strays.len(), "bad": list, "ok": bad.is_empty()}),
        );
    } else {
        for (p, r) in &bad {
            crate::output::print_stderr(&format!("✗ {}: {}", sanitize(&rel(p)), sanitize(r)));
        }
        if bad.is_empty() {
            session
                .out
                .line(&format!("✔ {} entries verified", entries.len()));
        } else {
            session.out.line(&format!("✗ {} of {} entries failed verification (delete them, or run `rustassistant analyze` to replace them)", bad.len(), entries.len() + strays.len()));
        }
    }
    // Keep the index's view in step with what was just read.
    let mut ix = Index::open(session);
    let _ = ix.sync(session);
    Ok(if bad.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    })
}
