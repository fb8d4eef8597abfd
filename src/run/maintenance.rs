//! Maintenance of the cache that deletes entries: which ones `cache prune` removes, and the
//! automatic eviction `[cache] max_size` asks for after a run. Nothing here prints.

use anyhow::Result;

use crate::cache::key::is_items_type;
use crate::error::UserError;
use crate::index::{Index, Row};
use crate::workspace::Workspace;

/// The entries `cache prune` removes: with `older_than`, those created longer ago; else those of
/// content neither HEAD, git's index nor (for the overlay) the file itself holds. Item entries
/// go by the same rule, except those that the content of a file entry that stays (or, without
/// `older_than`, a file at HEAD) has: a result assembled from items never loses one. On
/// incomplete evidence (HEAD or git's index unreadable) nothing is chosen: an error; when such
/// content cannot be read, no item entry is.
pub fn prune_victims(
    session: &Workspace,
    ix: &Index,
    older_than: Option<std::time::Duration>,
) -> Result<Vec<Row>> {
    let repo = &session.repo;
    let (item_rows, file_rows): (Vec<Row>, Vec<Row>) = ix
        .rows(None)?
        .into_iter()
        .filter(|r| r.valid)
        .partition(|r| is_items_type(&r.key.cache_type));
    let mut head = None;
    let (mut victims, kept, item_rows): (Vec<Row>, Vec<Row>, Vec<Row>) = match older_than {
        Some(age) => {
            let now = crate::util::now_timestamp(&session.env);
            let old = |r: &Row| {
                r.created_at
                    .as_deref()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|t| now.duration_since(t).as_secs_f64() > age.as_secs_f64())
            };
            let (victims, kept) = file_rows.into_iter().partition(|r| old(r));
            (
                victims,
                kept,
                item_rows.into_iter().filter(|r| old(r)).collect(),
            )
        }
        None => {
            // Every blob at HEAD, or an error: nothing is deleted on incomplete evidence.
            let at_head = repo
                .head_blobs()
                .map_err(|e| anyhow::anyhow!("cannot read HEAD's tree ({e}); nothing was pruned"))?
                .ok_or_else(|| {
                    UserError::Input("no commit at HEAD yet: nothing to prune against".into())
                })?;
            // An overlay entry stays while its file still has that content (or git's index does).
            let (staged, _, _) = repo.index_blobs_and_paths(None, "").map_err(|e| {
                anyhow::anyhow!("cannot read git's index ({e}); nothing was pruned")
            })?;
            let still_here = |r: &Row| {
                staged.contains(&r.key.blob)
                    || r.path.as_deref().is_some_and(|p| {
                        crate::util::fs::read_in_tree(
                            repo.workdir(),
                            std::path::Path::new(p),
                            session.config.max_file_bytes(),
                        )
                        .ok()
                        .flatten()
                        .is_some_and(|b| repo.hash_blob(&b) == r.key.blob)
                    })
            };
            let (victims, kept) = file_rows.into_iter().partition(|r| {
                !at_head.contains_key(&r.key.blob)
                    && (!r.shard.starts_with("overlay/") || !still_here(r))
            });
            head = Some(at_head);
            (victims, kept, item_rows)
        }
    };
    // Read only when there are item entries to judge.
    if !item_rows.is_empty() {
        let at_head = head
            .iter()
            .flatten()
            .filter_map(|(b, name)| Some((std::str::from_utf8(name).ok()?, b.as_str())));
        let files = at_head.chain(
            kept.iter()
                .filter_map(|r| Some((r.path.as_deref()?, r.key.blob.as_str()))),
        );
        // Some content unreadable (a shallow clone): every item entry stays.
        if let Some(used) = super::items::items_of(session, ix, files) {
            victims.extend(
                item_rows
                    .into_iter()
                    .filter(|r| !used.contains(&r.key.blob)),
            );
        }
    }
    Ok(victims)
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
