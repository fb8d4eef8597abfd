//! Moving analyses from the local overlay to the shards once their content is staged or
//! committed: a user without hooks who analysed a new file, then `git add`ed it, gets its
//! entries into the shards (to commit like a lock file) on the next run, with nothing analysed
//! again. The pre-commit hook does the same for the content it commits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::cache::shard::ShardId;
use crate::cache::store::{Edit, Location, Place};
use crate::cache::{Key, Lookup};
use crate::git::FileId;
use crate::workspace::Workspace;

/// Promote the overlay hits whose file git's index now holds with that content; returns the
/// shards changed (for the index). Failures only warn: the entries stay hits in the overlay.
pub(crate) fn promote(
    session: &Workspace,
    hits: &[(Arc<FileId>, Key)],
    index_file: Option<&str>,
) -> Vec<Location> {
    if hits.is_empty() {
        return Vec::new();
    }
    let staged: HashMap<String, String> = match session.repo.tracked(index_file) {
        Ok(v) => v
            .into_iter()
            .map(|t| (t.path.to_string(), t.blob.to_string()))
            .collect(),
        Err(_) => return Vec::new(),
    };
    let mut up: BTreeMap<ShardId, Edit> = BTreeMap::new();
    let mut down: BTreeMap<ShardId, Edit> = BTreeMap::new();
    for (file, key) in hits {
        if staged.get(&*file.path).map(String::as_str) != Some(&*file.blob) {
            continue;
        }
        let Lookup::Hit { entry, at } = session.store.lookup(key) else {
            continue;
        };
        if at.place != Place::Overlay {
            continue;
        }
        // A result stored by reference goes up with the item entries it is assembled from.
        let items = if entry.by_reference() {
            overlay_items(session, &entry)
        } else {
            Vec::new()
        };
        // Each goes up into the shard of its name: an item entry stays with the others of
        // its request (cache::homes).
        for (e, at) in items.into_iter().chain(std::iter::once((*entry, at))) {
            let key = e.key();
            let shard = at.shard;
            down.entry(shard.clone()).or_default().drop_keys.insert(key);
            up.entry(shard).or_default().add.push(e);
        }
    }
    let mut touched = Vec::new();
    // Up first: a crash in between leaves the entry in both places, never in neither.
    match session.store.apply(Place::Tree, up) {
        Ok(applied) => {
            for a in applied {
                if let Some(why) = &a.refused {
                    // Left where they are: the overlay keeps them as hits.
                    down.remove(&a.at.shard);
                    session.out.warn(&format!(
                        "{why}; its analyses of staged content stay in the local overlay (`rustassistant cache verify` names the shard)"
                    ));
                } else if a.changed {
                    touched.push(a.at);
                }
            }
        }
        Err(e) => {
            session.out.warn(&format!(
                "could not move analyses of staged content into the shards ({e}); they stay hits in the local overlay"
            ));
            return touched;
        }
    }
    if let Ok(applied) = session.store.apply(Place::Overlay, down) {
        touched.extend(applied.into_iter().filter(|a| a.changed).map(|a| a.at));
    }
    touched
}

/// The item entries in the overlay that the result of `file_entry` (stored by reference) is
/// assembled from, with where each is.
fn overlay_items(
    session: &Workspace,
    file_entry: &crate::cache::Entry,
) -> Vec<(crate::cache::Entry, Location)> {
    let Ok((_, mut keys)) = crate::cache::assemble::item_keys_of(&session.repo, file_entry) else {
        return Vec::new();
    };
    keys.sort();
    keys.dedup();
    // Each shard read once (a request's items share one).
    session
        .store
        .lookup_many(&keys)
        .into_values()
        .filter(|(_, at)| at.place == Place::Overlay)
        .collect()
}
