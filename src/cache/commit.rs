//! What the pre-commit hook stages: for every shard the commit concerns, the index's version
//! plus the entries of blobs in the tree being committed (found in the working-tree shard or
//! moved from the overlay), minus entries of blobs absent from that tree (`prune_on_commit`).
//! The working-tree shard gets the same change, so after the commit `git status` shows no shard
//! modified and a branch switch is never blocked by the cache (DESIGN.md, "Git hooks").
//!
//! Which shards: those of the blobs the commit adds or drops against HEAD, and working-tree
//! shards whose stat data differs from git's record (an `analyze` of committed content wrote
//! to them). The index used is the one git is committing (`GIT_INDEX_FILE`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{Context as _, Result};

use super::entry::Entry;
use super::key::{is_items_type, Key};
use super::shard::{self, ShardId};
use super::store::{Location, Place, Store};
use crate::git::Repo;

/// The prefix of shard paths in git's index.
const PREFIX: &str = ".rustassistant/cache/";

/// From this many shards to stage on, their blobs are written as one pack.
const PACK_AT_LEAST: usize = 32;

/// What staging did.
#[derive(Debug, Default)]
pub struct Staged {
    /// Entries the commit carries that HEAD's shards did not.
    pub added: usize,
    /// Entries dropped because their blob is not in the committed tree.
    pub pruned: usize,
    /// Shards staged.
    pub shards: usize,
    /// Shards left exactly as they are, with why: a link, folder or other non-regular file in
    /// the work tree or git's index at a shard path, a file over the size bound, one that cannot
    /// be read. Their new entries wait in the local overlay; the commit goes ahead.
    pub left: Vec<(String, String)>,
}

/// Where a shard's staged version comes from.
enum StagedVersion {
    /// These bytes, read from git's object database (empty: not staged).
    Read(Vec<u8>),
    /// The working-tree file, which git's stat data says is the staged blob, of this size.
    AsWork(u64),
}

/// A planned shard and the entries it adds and prunes.
type Applied = (Plan, usize, usize);

/// One shard's new versions.
struct Plan {
    shard: ShardId,
    staged: Vec<u8>,
    staged_changed: bool,
    work: Vec<u8>,
    work_changed: bool,
    overlay: Option<Vec<u8>>,
}

impl Plan {
    /// The shard files this plan writes (the working tree's when it changed, the overlay's
    /// when it has a new version) with their bytes.
    fn written(&self) -> impl Iterator<Item = (Location, &[u8])> {
        let at = |place| Location {
            place,
            shard: self.shard.clone(),
        };
        let work = self
            .work_changed
            .then(|| (at(Place::Tree), self.work.as_slice()));
        let overlay = self
            .overlay
            .as_ref()
            .map(|o| (at(Place::Overlay), o.as_slice()));
        work.into_iter().chain(overlay)
    }
}

/// Stage the shards of the commit being made from `index_file` (with `sweep`, every shard is
/// looked at, not only those of the blobs the commit adds or drops). `items_in_tree` gives the
/// ids of the items the files being committed have, asked only when item shards are planned.
/// Once the shards are written, `meanwhile` runs on this thread, given the files written
/// (working tree and overlay) with their bytes, while their blobs are packed and git records
/// them in its index on another.
/// For a hundred-file hook that is 2-4 ms of pack and ~8 of `git update-index` against 12-17
/// of the local index's update; neither side reads what the other writes.
pub fn stage_for_commit(
    store: &Store,
    repo: &Repo,
    index_file: Option<&str>,
    prune: bool,
    sweep: bool,
    items_in_tree: impl FnOnce() -> Option<HashSet<String>>,
    meanwhile: impl FnOnce(&[(Location, &[u8])]),
) -> Result<Staged> {
    // git diffs the index with HEAD (a process) while the index and the shard folders are
    // read here.
    let (changes, read) = std::thread::scope(|s| {
        let diff = s.spawn(|| repo.staged_changes(index_file));
        let read = repo
            .index_blobs_and_paths(index_file, PREFIX)
            .context("reading the index being committed")
            .map(|index| (index, store.list(Place::Tree), store.list(Place::Overlay)));
        let changes = diff
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (changes, read)
    });
    let ((tree, in_index, odd_in_index), work_listing, overlay_listing) = read?;
    let (new, old) = changes.context("comparing the index with HEAD")?;
    let recorded: HashMap<ShardId, String> = in_index
        .into_iter()
        .filter_map(|(p, oid)| Some((ShardId::from_rel(p.strip_prefix(PREFIX)?)?, oid)))
        .collect();
    let mut types: BTreeSet<String> = recorded.keys().map(|s| s.cache_type.clone()).collect();
    types.extend(
        work_listing
            .shards
            .iter()
            .chain(overlay_listing.shards.iter())
            .map(|(l, _)| l.shard.cache_type.clone()),
    );
    let mut shards: BTreeSet<ShardId> = BTreeSet::new();
    let dropped: Vec<&String> = old.iter().filter(|b| prune && !tree.contains(*b)).collect();
    // Item shards are keyed by item id, not blob: they are planned below, from the overlay,
    // and every committed one when content leaves the tree (its items may be used no more).
    if !dropped.is_empty() {
        shards.extend(
            recorded
                .keys()
                .filter(|s| is_items_type(&s.cache_type))
                .cloned(),
        );
    }
    for blob in new.iter().chain(dropped) {
        for t in types.iter().filter(|t| !is_items_type(t)) {
            shards.insert(ShardId {
                cache_type: t.clone(),
                prefix: blob[..2].to_string(),
            });
        }
    }
    // `sweep`: every shard git's index records (after a merge or a rebase, whose shards came
    // from both sides: stale entries can be anywhere, not only where this commit's blobs are).
    if sweep {
        shards.extend(recorded.keys().cloned());
    }
    // Overlay shards holding analyses of content this commit holds, whenever and by whom they
    // were made (content committed by `--no-verify`, a cherry-pick or a rebase included).
    // The items the tree's files have, asked once and only when item shards are concerned:
    // those are carried and kept, the others wait in the overlay or (pruning) go. Unknown
    // (`None`): every item is kept and carried, as nothing is deleted on incomplete evidence.
    let tree_items = std::cell::LazyCell::new(items_in_tree);
    for (loc, _) in &overlay_listing.shards {
        if shards.contains(&loc.shard) {
            continue;
        }
        if let Ok(Some(bytes)) = store.read_shard(loc) {
            // Item entries are carried by the first commit whose files have the item.
            let wanted = if is_items_type(&loc.shard.cache_type) {
                match &*tree_items {
                    Some(u) => shard::blobs_named(&bytes).any(|b| u.contains(b)),
                    None => !bytes.is_empty(),
                }
            } else {
                shard::blobs_named(&bytes).any(|b| tree.contains(b))
            };
            if wanted {
                shards.insert(loc.shard.clone());
            }
        }
    }
    // Working-tree shards git would see as modified.
    let mut git_stat = HashMap::new();
    repo.index_stat_under(PREFIX, |rest, st, oid| {
        if let Ok(r) = std::str::from_utf8(rest) {
            git_stat.insert(r.to_string(), (st, oid));
        }
    });
    // Working-tree shards that are, by git's own stat data, the blob the commit stages: their
    // staged version is read from the file (which planning reads anyway), not from the
    // object database.
    let mut staged_is_work: HashMap<ShardId, u64> = HashMap::new();
    for (loc, (ino, size, mtime)) in &work_listing.shards {
        match git_stat.get(&loc.shard.rel()) {
            Some((st, oid)) if st.matches(*ino, *size, *mtime) => {
                if recorded.get(&loc.shard) == Some(oid) {
                    staged_is_work.insert(loc.shard.clone(), *size);
                }
            }
            _ => {
                shards.insert(loc.shard.clone());
            }
        }
    }
    let mut out = Staged::default();
    let _lock = store.lock()?;
    let shards: Vec<ShardId> = shards.into_iter().collect();
    let used: Option<&HashSet<String>> = if shards.iter().any(|s| is_items_type(&s.cache_type)) {
        tree_items.as_ref()
    } else {
        None
    };
    let read_blob = |shard: &ShardId| match recorded.get(shard) {
        Some(oid) => repo
            .read_blob_within(oid, super::shard::MAX_SHARD_BYTES)
            .map_err(|e| format!("its staged version cannot be read ({})", e.message())),
        None => Ok(Vec::new()),
    };
    // A shard that cannot be planned safely (see `Staged::left`) is left as it is; the rest of
    // the commit goes ahead.
    let staged: Vec<Result<StagedVersion, String>> = shards
        .iter()
        .map(|shard| {
            if odd_in_index.contains(&Store::tree_rel(shard)) {
                return Err("git's index holds something other than a regular file there".into());
            }
            match staged_is_work.get(shard) {
                Some(size) => Ok(StagedVersion::AsWork(*size)),
                None => read_blob(shard).map(StagedVersion::Read),
            }
        })
        .collect();
    // Plan one shard and write what changed; `Ok(None)` when a working-tree file taken for the
    // staged version changed after git's stat data was compared.
    let apply = |i: usize, staged: &StagedVersion| -> Result<Option<Applied>, String> {
        let Some(applied) = plan_shard(store, &shards[i], staged, &tree, used, prune)? else {
            return Ok(None);
        };
        for (at, bytes) in applied.0.written() {
            store.replace_shard(&at, bytes).map_err(|e| e.to_string())?;
        }
        Ok(Some(applied))
    };
    let numbered: Vec<usize> = (0..shards.len()).collect();
    // Shards are independent: plan and write them on every core, then tell git in one go.
    let mut planned = crate::util::par::parallel_map(&numbered, |&i| match &staged[i] {
        Ok(v) => apply(i, v),
        Err(why) => Err(why.clone()),
    });
    for (i, p) in planned.iter_mut().enumerate() {
        if matches!(p, Ok(None)) {
            *p = read_blob(&shards[i]).and_then(|b| apply(i, &StagedVersion::Read(b)));
        }
    }
    let mut plans = Vec::with_capacity(planned.len());
    for (i, p) in planned.into_iter().enumerate() {
        match p {
            Ok(Some((plan, added, pruned))) => {
                out.added += added;
                out.pruned += pruned;
                plans.push(plan);
            }
            Ok(None) => out.left.push((
                Store::tree_rel(&shards[i]),
                "it changed while the commit was being made".into(),
            )),
            Err(why) => out.left.push((Store::tree_rel(&shards[i]), why)),
        }
    }
    out.shards = plans.iter().filter(|p| p.staged_changed).count();
    // Every type this commit stages a shard of has its full set of shards committed (see
    // Store::create_type_folder): the ones missing from the work tree are created empty, and
    // those git does not track yet are staged with the rest.
    let mut complete: Vec<String> = Vec::new();
    let staged_types: BTreeSet<&str> = plans
        .iter()
        .filter(|p| p.staged_changed)
        .map(|p| p.shard.cache_type.as_str())
        .collect();
    for ty in staged_types {
        let missing: Vec<ShardId> = Store::full_set(ty)
            .filter(|s| {
                let rel = Store::tree_rel(s);
                !recorded.contains_key(s)
                    && !odd_in_index.contains(&rel)
                    && !plans.iter().any(|p| p.staged_changed && p.shard == *s)
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        if store.create_type_folder(ty).is_err() {
            continue;
        }
        for s in missing {
            let at = Location {
                place: Place::Tree,
                shard: s.clone(),
            };
            // Only an empty regular file is staged as a new empty shard.
            if std::fs::symlink_metadata(store.path_of(&at))
                .is_ok_and(|m| m.is_file() && m.len() == 0)
            {
                complete.push(Store::tree_rel(&s));
            }
        }
    }
    let written: Vec<(Location, &[u8])> = plans.iter().flat_map(Plan::written).collect();
    std::thread::scope(|s| {
        let git = s.spawn(|| tell_git(repo, index_file, &plans, &complete));
        meanwhile(&written);
        git.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    Ok(out)
}

/// Stage the shards whose staged version changed: their blobs into the object database, then
/// `git update-index --add` of the file (the working-tree file is the staged version) or of
/// the blob (`--cacheinfo`: it is not) on the index being committed.
fn tell_git(repo: &Repo, index_file: Option<&str>, plans: &[Plan], empty: &[String]) -> Result<()> {
    let changed: Vec<&Plan> = plans.iter().filter(|p| p.staged_changed).collect();
    // Many shards: their blobs go into the object database as one pack first, so git finds
    // them present and creates no loose object per shard. Few: loose objects, as git
    // itself unpacks a fetch of fewer than `transfer.unpackLimit` objects (a pack per small
    // commit would make `git gc --auto` repack every fifty commits).
    let packed = if changed.len() >= PACK_AT_LEAST {
        let blobs: Vec<&[u8]> = changed.iter().map(|p| p.staged.as_slice()).collect();
        repo.write_blobs_packed(&blobs).ok()
    } else {
        None
    };
    let (mut by_file, mut by_id) = (empty.to_vec(), Vec::new());
    for (i, p) in changed.iter().enumerate() {
        let path = Store::tree_rel(&p.shard);
        // A staged version that differs from the working tree's is staged by id (an emptied
        // shard included: it is staged empty, never deleted; see Store::replace_shard).
        if p.staged == p.work {
            by_file.push(path);
        } else {
            let oid = match packed.as_ref().and_then(|ids| ids.get(i)) {
                Some(id) => id.clone(),
                None => repo.write_blob(&p.staged)?,
            };
            by_id.push(format!("100644,{oid},{path}"));
        }
    }
    let run = |args: Vec<String>| -> Result<()> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(repo.run_git_for_commit(&a, index_file)?)
    };
    // `update-index --add`, not `add -f`: the same hashing (filters included) and stat data for
    // each named file, without `add`'s pathspec matching, ignore rules and walk of the folders
    // named (340 shards: 15 against 8 ms at 1,100 files, 60 against 30 at 10,000).
    for chunk in by_file.chunks(500) {
        run(["update-index", "--add", "--"]
            .iter()
            .map(|s| s.to_string())
            .chain(chunk.iter().cloned())
            .collect())?;
    }
    for chunk in by_id.chunks(200) {
        let mut args = vec!["update-index".to_string(), "--add".to_string()];
        for c in chunk {
            args.push("--cacheinfo".into());
            args.push(c.clone());
        }
        run(args)?;
    }
    Ok(())
}

/// Work out one shard's staged, working-tree and overlay versions; also returns how many
/// entries the staged version adds and prunes. `Ok(None)` when the working-tree file taken for
/// the staged version changed size; an error (why) when the shard must be left as it is: a
/// working-tree or overlay file in its place that no reader accepts (a link, folder, FIFO,
/// oversized or unreadable file) may hold other people's lines and is never replaced.
fn plan_shard(
    store: &Store,
    shard: &ShardId,
    staged: &StagedVersion,
    tree: &HashSet<String>,
    used: Option<&HashSet<String>>,
    prune: bool,
) -> Result<Option<(Plan, usize, usize)>, String> {
    let (mut added, mut pruned) = (0, 0);
    let read = |place| -> Result<Vec<u8>, String> {
        let at = Location {
            place,
            shard: shard.clone(),
        };
        match store.read_shard(&at) {
            Ok(b) => Ok(b.unwrap_or_default()),
            Err(e) if place == Place::Tree => Err(e.to_string()),
            Err(e) => Err(format!(
                "its local overlay file {}: {e}",
                store.path_of(&at).display()
            )),
        }
    };
    let (work_bytes, ov_bytes) = (read(Place::Tree)?, read(Place::Overlay)?);
    let idx_bytes: &[u8] = match staged {
        StagedVersion::Read(b) => b,
        StagedVersion::AsWork(size) if work_bytes.len() as u64 == *size => &work_bytes,
        StagedVersion::AsWork(_) => return Ok(None),
    };
    // Decoding is most of a shard's planning (every line checked and its key derived), and the
    // working-tree shard is usually the index's version: decoded once then.
    let idx = store.parse(idx_bytes, shard);
    let work_parsed;
    let work = if work_bytes == idx_bytes {
        &idx
    } else {
        work_parsed = store.parse(&work_bytes, shard);
        &work_parsed
    };
    let ov = store.parse(&ov_bytes, shard);
    // An item entry is in the tree while a file of the tree has the item.
    let items = is_items_type(&shard.cache_type);
    let in_tree = |e: &Entry| {
        if items {
            used.is_none_or(|u| u.contains(&e.blob))
        } else {
            tree.contains(&e.blob)
        }
    };
    let keep = |e: &Entry| !prune || in_tree(e);
    // The entries of committed blobs this repository has locally, the working tree's first.
    // Borrowed from the parsed shards: nothing is cloned, and each key is the one decoding
    // derived.
    let mut carried: BTreeMap<&Key, &Entry> = BTreeMap::new();
    for d in ov.entries.iter().chain(work.entries.iter()) {
        if in_tree(&d.entry) {
            carried.insert(&d.key, &d.entry);
        }
    }
    let mut staged: BTreeMap<&Key, &Entry> = BTreeMap::new();
    for d in &idx.entries {
        if keep(&d.entry) {
            staged.insert(&d.key, &d.entry);
        } else {
            pruned += 1;
        }
    }
    for (k, e) in carried {
        if let std::collections::btree_map::Entry::Vacant(v) = staged.entry(k) {
            v.insert(e);
            added += 1;
        }
    }
    let mut work_now: BTreeMap<&Key, &Entry> = work
        .entries
        .iter()
        .filter(|d| keep(&d.entry))
        .map(|d| (&d.key, &d.entry))
        .collect();
    for (k, e) in &staged {
        work_now.entry(k).or_insert(e);
    }
    let staged_bytes = shard::render_keyed(staged.iter().map(|(k, e)| (*k, *e)));
    // Usually the same entries (the working tree holds nothing the commit leaves out).
    let work_new = if work_now == staged {
        staged_bytes.clone()
    } else {
        shard::render_keyed(work_now.iter().map(|(k, e)| (*k, *e)))
    };
    // Moved up: overlay entries of committed blobs. Moved down: working-tree lines the commit
    // does not carry and HEAD never had (content staged once, then unstaged), which wait in the
    // overlay rather than being lost; and every item entry the commit prunes, which a file
    // entry of the overlay (content never committed) may be assembled from.
    let up = ov.entries.iter().any(|d| in_tree(&d.entry));
    let down: Vec<&Entry> = work
        .entries
        .iter()
        .chain(if items { idx.entries.iter() } else { [].iter() })
        .filter(|d| !keep(&d.entry) && (items || idx.get(&d.key).is_none()))
        .map(|d| &d.entry)
        .collect();
    let overlay = (up || !down.is_empty()).then(|| {
        shard::render(
            ov.entries
                .iter()
                .filter(|d| !in_tree(&d.entry))
                .map(|d| &d.entry)
                .chain(down.iter().copied()),
        )
    });
    let plan = Plan {
        shard: shard.clone(),
        staged_changed: staged_bytes != idx_bytes,
        staged: staged_bytes,
        work_changed: work_new != work_bytes,
        work: work_new,
        overlay,
    };
    Ok(Some((plan, added, pruned)))
}
