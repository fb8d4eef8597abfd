//! Moving earlier layouts into shards: the per-entry layout
//! (`cache/<type>/<b0b1>/<rest>-<variant>.json`, plain or zstd) and the seed's flat legacy files
//! (one JSON file per source path, anywhere under `cache/`, or in a folder named with
//! `--from-legacy`).
//!
//! Nothing is lost and a kill at any point is harmless: every entry is first written into its
//! shard (an atomic replace per shard), and only then is its old file removed. A re-run adds
//! what is already there (no change) and removes the rest. Files that fail verification stay
//! where they are and are listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::entry::{Entry, EntryError, MAX_ENTRY_FILE_BYTES};
use super::key::Key;
use super::reads::read_bounded;
use super::shard::ShardId;
use super::store::{Applied, Edit, Place, Store};
use super::{Tokens, SCHEMA_VERSION};

/// What a migration did.
#[derive(Debug, Default, serde::Serialize)]
pub struct MigrateReport {
    /// Per-entry files moved into shards.
    pub moved: usize,
    /// Legacy files imported.
    pub imported: usize,
    /// Files left alone because they failed verification or cannot be keyed (path, reason).
    pub skipped: Vec<(String, String)>,
    /// Shards written.
    pub shards_written: usize,
    /// Bytes of the old files.
    pub bytes_before: u64,
}

/// Read and check one per-entry file whose name encodes `key`.
pub fn read_entry_file(path: &Path, key: &Key) -> Result<Entry, EntryError> {
    let len = std::fs::symlink_metadata(path)
        .map_err(|e| EntryError::Unreadable(e.to_string()))?
        .len();
    Entry::decode(&read_bounded(path, len, MAX_ENTRY_FILE_BYTES)?, Some(key))
}

/// Every old file under `cache/`: per-entry files with their keys, and other `.json` files
/// (legacy candidates).
fn old_files(store: &Store) -> (Vec<(PathBuf, Key)>, Vec<PathBuf>) {
    let cache = store.cache_dir();
    let mut per_entry = Vec::new();
    let mut legacy = Vec::new();
    if store.ensure_real().is_err() {
        return (per_entry, legacy);
    }
    for item in walkdir::WalkDir::new(&cache)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let Ok(item) = item else { continue };
        if !item.file_type().is_file() {
            continue;
        }
        let rel = item.path().strip_prefix(&cache).unwrap_or(item.path());
        match Key::from_relative(rel) {
            Some((k, _)) => per_entry.push((item.path().to_path_buf(), k)),
            None if rel.extension().is_some_and(|x| x == "json") => {
                legacy.push(item.path().to_path_buf())
            }
            None => {}
        }
    }
    (per_entry, legacy)
}

/// Move every old file under `cache/` into shards; also import `legacy_dir` when given (its
/// files are left in place: they are not the cache's).
pub fn migrate(
    store: &Store,
    repo: &crate::git::Repo,
    legacy_dir: Option<&Path>,
    now: &str,
) -> std::io::Result<MigrateReport> {
    let mut rep = MigrateReport::default();
    let (per_entry, mut legacy) = old_files(store);
    let mut edits: BTreeMap<ShardId, Edit> = BTreeMap::new();
    let mut done: Vec<PathBuf> = Vec::new();
    for (path, key) in per_entry {
        rep.bytes_before += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match read_entry_file(&path, &key) {
            Ok(e) => {
                edits.entry(ShardId::of(&key)).or_default().add.push(e);
                rep.moved += 1;
                done.push(path);
            }
            Err(e) => rep.skipped.push((rel(store, &path), e.to_string())),
        }
    }
    let outside: Vec<PathBuf> = match legacy_dir {
        Some(d) => json_files(d),
        None => Vec::new(),
    };
    let inside = legacy.len();
    legacy.extend(outside);
    for (i, f) in legacy.into_iter().enumerate() {
        match import_one(repo, &f, now) {
            Ok(e) => {
                edits.entry(ShardId::of(&e.key())).or_default().add.push(e);
                rep.imported += 1;
                if i < inside {
                    done.push(f);
                }
            }
            Err(reason) => rep.skipped.push((rel(store, &f), reason)),
        }
    }
    let applied = store.apply(Place::Tree, edits)?;
    rep.shards_written = applied.iter().filter(|a| a.changed).count();
    let refused: Vec<&Applied> = applied.iter().filter(|a| a.refused.is_some()).collect();
    for a in &refused {
        rep.skipped.push((
            Store::tree_rel(&a.at.shard),
            format!(
                "{} (its entries {}; the old files stay)",
                a.refused.as_deref().unwrap_or_default(),
                if a.diverted > 0 {
                    "wait in the local overlay"
                } else {
                    "were not stored"
                }
            ),
        ));
    }
    // Only now, with every entry in its shard, do the old files go.
    let done = if refused.is_empty() { done } else { Vec::new() };
    for p in done {
        let _ = std::fs::remove_file(&p);
        if let Some(dir) = p.parent() {
            if dir != store.cache_dir() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    Ok(rep)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    files
}

fn rel(store: &Store, p: &Path) -> String {
    p.strip_prefix(store.root())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// The `prompt_hash` given to imported entries: their real prompt is unknown, so they get a key
/// of their own (reachable by `show`, never mistaken for a result of the current prompt).
pub fn legacy_prompt_hash(cache_type: &str) -> String {
    crate::util::sha256_hex(format!("legacy-import\0{cache_type}").as_bytes())
}

/// Key one legacy file: a JSON file holding `file_path`, `file_hash`, `provider`, `model`,
/// `result`, `tokens_used` and `cache_type`. It is keyed only when its source file exists in the
/// work tree with content matching `file_hash` (as a git blob id or a sha256 of the content):
/// otherwise nobody can say which content the result describes.
fn import_one(repo: &crate::git::Repo, f: &Path, now: &str) -> Result<Entry, String> {
    let bytes = crate::util::fs::read_user_file(f, MAX_ENTRY_FILE_BYTES)
        .map_err(|e| format!("cannot read: {e}"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let path = s("file_path").ok_or("no file_path")?;
    let hash = s("file_hash").ok_or("no file_hash")?.to_ascii_lowercase();
    let cache_type = s("cache_type").ok_or("no cache_type")?;
    let provider = s("provider").unwrap_or_else(|| "unknown".into());
    let model = s("model").unwrap_or_else(|| "unknown".into());
    let result = v.get("result").cloned().ok_or("no result")?;
    if !super::entry::safe_relative_path(&path) {
        return Err(format!(
            "file_path `{}` is not a path inside the repository",
            crate::output::sanitize(&path)
        ));
    }
    if !super::key::valid_type_name(&cache_type) {
        return Err("cache_type is not a type name".into());
    }
    // The source file, as a regular file inside the work tree (bounded: no analysis covers
    // more than this anyway).
    let content = crate::util::fs::read_in_tree(repo.workdir(), Path::new(&path), 64 << 20)
        .ok()
        .flatten()
        .ok_or_else(|| {
            format!("{path} is not in the work tree, so the content it describes is unknown")
        })?;
    let blob = repo.hash_blob(&content);
    if hash != blob && hash != crate::util::sha256_hex(&content) {
        return Err(format!(
            "{path} has changed since it was analysed (file_hash does not match)"
        ));
    }
    let tokens_used = v.get("tokens_used").and_then(Value::as_u64).unwrap_or(0);
    let entry = Entry {
        schema_version: SCHEMA_VERSION,
        cache_type: cache_type.clone(),
        blob,
        path,
        file_size: content.len() as u64,
        provider,
        model,
        prompt_hash: legacy_prompt_hash(&cache_type),
        created_at: v
            .get("created_at")
            .and_then(Value::as_str)
            .filter(|t| t.parse::<jiff::Timestamp>().is_ok())
            .unwrap_or(now)
            .to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        // The old layout kept one total: recorded as input, cost unknown rather than guessed.
        tokens: Tokens {
            input: tokens_used,
            output: 0,
            cached_input: 0,
        },
        cost_usd: None,
        response_model: None,
        items: None,
        item_variant: None,
        invalid: None,
        signature: None,
        result,
    };
    entry.check().map_err(|e| e.to_string())?;
    Ok(entry)
}
