//! Maintenance of the cache that deletes entries: which ones `cache prune` removes, and the
//! automatic eviction `[cache] max_size` asks for after a run. Nothing here prints.

use anyhow::Result;

use crate::cache::key::is_items_type;
use crate::error::UserError;
use crate::index::{Index, Row};
use crate::workspace::Workspace;

/// The entries `cache prune` removes: with `older_than`, those created longer ago; else those of
/// content neither HEAD, git's index nor (for the overlay) the file itself holds. On incomplete
/// evidence (HEAD or the index unreadable) nothing is chosen: an error.
pub fn prune_victims(
    session: &Workspace,
    ix: &Index,
    older_than: Option<std::time::Duration>,
) -> Result<Vec<Row>> {
    let repo = &session.repo;
    let rows = ix.rows(None)?;
    let victims: Vec<Row> = match older_than {
        Some(age) => {
            let now = crate::util::now_timestamp(&session.env);
            rows.into_iter()
                .filter(|r| r.valid)
                .filter(|r| {
                    r.created_at
                        .as_deref()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|t| now.duration_since(t).as_secs_f64() > age.as_secs_f64())
                })
                .collect()
        }
        None => {
            // Every blob at HEAD, or an error: nothing is deleted on incomplete evidence.
            let head = repo
                .head_blobs()
                .map_err(|e| anyhow::anyhow!("cannot read HEAD's tree ({e}); nothing was pruned"))?
                .ok_or_else(|| {
                    UserError::Input("no commit at HEAD yet: nothing to prune against".into())
                })?;
            let blobs: std::collections::HashSet<&String> = head.keys().collect();
            // Item entries stay while a file at HEAD has that item (read only when there are
            // item entries to judge).
            let items_used = rows
                .iter()
                .any(|r| r.valid && is_items_type(&r.key.cache_type))
                .then(|| items_at_head(session, &head))
                .transpose()?
                .unwrap_or_default();
            let overlay = |r: &Row| r.shard.starts_with("overlay/");
            // An overlay entry stays while its file still has that content (or git's index does).
            let (staged, _, _) = repo.index_blobs_and_paths(None, "").map_err(|e| {
                anyhow::anyhow!("cannot read git's index ({e}); nothing was pruned")
            })?;
            rows.into_iter()
                .filter(|r| r.valid)
                .filter(|r| {
                    if is_items_type(&r.key.cache_type) {
                        !items_used.contains(&r.key.blob)
                    } else {
                        !blobs.contains(&r.key.blob)
                    }
                })
                .filter(|r| {
                    !overlay(r)
                        || !(staged.contains(&r.key.blob)
                            || r.path.as_deref().is_some_and(|p| {
                                crate::util::fs::read_in_tree(
                                    repo.workdir(),
                                    std::path::Path::new(p),
                                    session.config.max_file_bytes(),
                                )
                                .ok()
                                .flatten()
                                .is_some_and(|b| repo.hash_blob(&b) == r.key.blob)
                            }))
                })
                .collect()
        }
    };
    Ok(victims)
}

/// The ids of the items of every file at HEAD that has a grammar (`head`: blob id → a file
/// name it has). A file that cannot be read is an error: nothing is deleted on incomplete
/// evidence.
fn items_at_head(
    session: &Workspace,
    head: &std::collections::HashMap<String, Vec<u8>>,
) -> Result<std::collections::HashSet<String>> {
    let mut ids = std::collections::HashSet::new();
    for (blob, name) in head {
        let Some(lang) = std::str::from_utf8(name)
            .ok()
            .and_then(crate::items::Lang::of)
        else {
            continue;
        };
        let bytes = session
            .repo
            .read_blob(blob)
            .map_err(|e| anyhow::anyhow!("cannot read blob {blob} ({e}); nothing was pruned"))?;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(split) = crate::items::split_as(lang, text) {
                ids.extend(split.items.into_iter().map(|i| i.id));
            }
        }
    }
    Ok(ids)
}

/// `[cache] max_size`: after a run that wrote entries, evict by `[cache] eviction` (default
/// lru) until the cache fits. `None` when no size is set; the entries removed and the bytes
/// freed otherwise.
pub fn auto_evict(session: &Workspace, index: &mut Index) -> Result<Option<(Vec<Row>, u64)>> {
    let Some(max) = session.config.max_size_bytes() else {
        return Ok(None);
    };
    index.sync(session)?;
    Ok(Some(index.evict(
        &session.store,
        session.config.eviction(),
        max,
    )?))
}
