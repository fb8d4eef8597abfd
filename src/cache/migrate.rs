//! Re-encoding entries (`cache migrate --to zstd|json`) and importing the older flat layout
//! (`--from-legacy DIR`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::entry::Entry;
use super::store::{read_entry_file, Store};
use super::{Tokens, SCHEMA_VERSION};
use crate::config::Compression;

/// What a migration did.
#[derive(Debug, Default, serde::Serialize)]
pub struct MigrateReport {
    /// Entries rewritten in the target encoding.
    pub converted: usize,
    /// Entries already in the target encoding.
    pub unchanged: usize,
    /// Entries left alone because they failed verification (path, reason).
    pub skipped: Vec<(String, String)>,
    /// Bytes on disk before.
    pub bytes_before: u64,
    /// Bytes on disk after.
    pub bytes_after: u64,
}

/// Rewrite every valid entry of `store` in `to`. The new file is written atomically before the
/// old one is removed, so a crash leaves both (equally valid) rather than neither.
pub fn reencode(store: &Store, to: Compression) -> MigrateReport {
    let mut rep = MigrateReport::default();
    let want_zst = to == Compression::Zstd;
    let target = Store::new(store.root().to_path_buf(), to);
    for (path, key, zst) in store.walk().0 {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        rep.bytes_before += size;
        if zst == want_zst {
            rep.unchanged += 1;
            rep.bytes_after += size;
            continue;
        }
        // An interrupted earlier migration may have written the target already: keep that one.
        let already = target.path_for(&key, want_zst);
        if already.is_file() && read_entry_file(&already, Some(&key), None).is_ok() {
            let _ = std::fs::remove_file(&path);
            rep.converted += 1;
            continue;
        }
        match read_entry_file(&path, Some(&key), Some(size)) {
            Ok(entry) => match target.write(&entry) {
                Ok(new) => {
                    rep.bytes_after += std::fs::metadata(&new).map(|m| m.len()).unwrap_or(0);
                    let _ = std::fs::remove_file(&path);
                    rep.converted += 1;
                }
                Err(e) => {
                    rep.bytes_after += size;
                    rep.skipped
                        .push((rel(store, &path), format!("cannot write: {e}")));
                }
            },
            Err(e) => {
                rep.bytes_after += size;
                rep.skipped.push((rel(store, &path), e.to_string()));
            }
        }
    }
    rep
}

fn rel(store: &Store, p: &Path) -> String {
    p.strip_prefix(store.root())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// What a legacy import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// Entries written.
    pub imported: usize,
    /// Files that could not be keyed (path, reason).
    pub not_imported: Vec<(String, String)>,
}

/// The `prompt_hash` given to imported entries: their real prompt is unknown, so they get a key
/// of their own (reachable by `show`, never mistaken for a result of the current prompt).
pub fn legacy_prompt_hash(cache_type: &str) -> String {
    crate::util::sha256_hex(format!("legacy-import\0{cache_type}").as_bytes())
}

/// Import `dir`, an older layout of one JSON file per source path holding `file_path`,
/// `file_hash`, `provider`, `model`, `result`, `tokens_used` and `cache_type`. An entry is
/// keyed only when its source file exists in the work tree with content matching `file_hash`
/// (as a git blob id or a sha256 of the content): otherwise nobody can say which content the
/// result describes.
pub fn import_legacy(
    store: &Store,
    repo: &crate::git::Repo,
    dir: &Path,
    now: &str,
) -> std::io::Result<ImportReport> {
    let mut rep = ImportReport::default();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    for f in files {
        let name = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        match import_one(store, repo, &f, now) {
            Ok(()) => rep.imported += 1,
            Err(reason) => rep.not_imported.push((name, reason)),
        }
    }
    Ok(rep)
}

fn import_one(store: &Store, repo: &crate::git::Repo, f: &Path, now: &str) -> Result<(), String> {
    let bytes = crate::util::fs::read_user_file(f, super::entry::MAX_ENTRY_FILE_BYTES)
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
        signature: None,
        result,
    };
    entry.check().map_err(|e| e.to_string())?;
    store
        .write(&entry)
        .map_err(|e| format!("cannot write: {e}"))?;
    Ok(())
}
