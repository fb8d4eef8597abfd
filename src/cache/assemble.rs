//! Results of files analysed by items, assembled when read (DESIGN.md, "Items").
//!
//! The entry of a file analysed by items stores no result: `"items": N, "item_variant": V,
//! "result": null` (V: the variant of its items' entries, which are keyed by the item prompt). Its
//! items' results live once each, in the item entries (`<type>/items`), and the item ids are
//! derived again from the file's content (the blob, from git's objects or the work tree), so
//! the file entry lists none: every file version would otherwise commit its own copy of
//! results that are mostly its previous version's (DESIGN.md's git cost). Readers that show a
//! result (`show`, findings, SARIF, the report) call [`Store::complete`]; an all-cached
//! `analyze` needs only to know the file entry exists, and never assembles.

use std::collections::{BTreeMap, HashMap};

use super::key::{items_type, Key};
use super::store::{Location, Store};
use super::Entry;
use crate::git::Repo;

/// Largest content read to assemble a result (a file this size is never analysed by items).
const MAX_CONTENT: u64 = 64 << 20;

/// Why a file entry's result could not be assembled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Incomplete {
    /// The analysed content is in neither git's objects nor the work tree.
    #[error("its content ({0}) is in neither git's objects nor the work tree")]
    NoContent(String),
    /// The content no longer splits into the items it was analysed by (another version of the
    /// parser, or no grammar for the path's language).
    #[error("its content no longer splits into its {0} items: {1}")]
    Split(u32, String),
    /// Item entries are missing (a prune on another branch, a cache cleared by hand).
    #[error("{missing} of its {of} item results are not in the cache")]
    Missing {
        /// Items without an entry.
        missing: usize,
        /// Items of the file.
        of: usize,
    },
}

impl Entry {
    /// Whether this is a file entry whose result is assembled from item entries when read.
    pub fn by_reference(&self) -> bool {
        self.item_variant.is_some() && !self.compact()
    }
}

impl Store {
    /// The trusted entries for `keys` (only those that have one) and where each is, reading
    /// each shard they may be in once: a line in the shards wins over the overlay, as in
    /// [`Store::lookup`].
    pub fn lookup_many<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k Key>,
    ) -> HashMap<Key, (Entry, Location)> {
        // Places first in the order: every shard is read before any overlay file.
        let mut by_location: BTreeMap<Location, Vec<&Key>> = BTreeMap::new();
        for k in keys {
            for at in self.locations_of(k) {
                by_location.entry(at).or_default().push(k);
            }
        }
        let mut out: HashMap<Key, (Entry, Location)> = HashMap::new();
        for (at, mut wanted) in by_location {
            wanted.retain(|k| !out.contains_key(*k));
            if wanted.is_empty() {
                continue;
            }
            let Ok(Some(bytes)) = self.read_shard(&at) else {
                continue;
            };
            let parsed = self.parse(&bytes, &at.shard);
            for k in wanted {
                if let Ok(Some(e)) = self.judge(&parsed, &bytes, k) {
                    out.insert(k.clone(), (e.clone(), at.clone()));
                }
            }
        }
        out
    }

    /// `entries` with the result of each one stored by reference assembled from its items'
    /// entries; the others as they are. An entry that cannot be assembled says why.
    pub fn complete(&self, repo: &Repo, entries: Vec<Entry>) -> Vec<Result<Entry, Incomplete>> {
        // Split every file first, then look all their items up at once: a report over a large
        // repository reads each item shard once, not once an item.
        let splits: Vec<Option<Result<crate::items::Split, Incomplete>>> = entries
            .iter()
            .map(|e| e.by_reference().then(|| split_of(repo, e)))
            .collect();
        let keys: Vec<Key> = entries
            .iter()
            .zip(&splits)
            .filter_map(|(e, s)| Some((e, s.as_ref()?.as_ref().ok()?)))
            .flat_map(|(e, s)| item_keys(e, s))
            .collect();
        let found = self.lookup_many(&keys);
        entries
            .into_iter()
            .zip(splits)
            .map(|(mut e, s)| {
                let Some(s) = s else { return Ok(e) };
                let s = s?;
                let mut results = HashMap::with_capacity(s.items.len());
                let mut missing = 0;
                for (it, k) in s.items.iter().zip(item_keys(&e, &s)) {
                    match found.get(&k) {
                        Some((item, _)) => {
                            results.insert(it.id.clone(), item.result.clone());
                        }
                        None if results.contains_key(&it.id) => {}
                        None => missing += 1,
                    }
                }
                if missing > 0 {
                    return Err(Incomplete::Missing {
                        missing,
                        of: s.items.len(),
                    });
                }
                e.result = crate::items::assemble::assemble(&s, &results);
                Ok(e)
            })
            .collect()
    }
}

/// The keys of the item entries a result stored by reference is assembled from, in item order
/// (an item repeated in the file, once each time), with the split they come from.
pub fn item_keys_of(repo: &Repo, e: &Entry) -> Result<(crate::items::Split, Vec<Key>), Incomplete> {
    let s = split_of(repo, e)?;
    let keys = item_keys(e, &s).collect();
    Ok((s, keys))
}

/// The keys of the item entries of `e`'s file, split as `s`, in item order.
fn item_keys<'a>(e: &'a Entry, s: &'a crate::items::Split) -> impl Iterator<Item = Key> + 'a {
    let ty = items_type(&e.cache_type);
    let variant = e.item_variant.clone().unwrap_or_default();
    s.items.iter().map(move |it| Key {
        cache_type: ty.clone(),
        blob: it.id.clone(),
        variant: variant.clone(),
    })
}

/// The items of the content `e` describes, which must be as many as `e` says.
fn split_of(repo: &Repo, e: &Entry) -> Result<crate::items::Split, Incomplete> {
    let n = e.items.unwrap_or_default();
    let bytes = content_of(repo, &e.blob, &e.path, MAX_CONTENT)
        .ok_or_else(|| Incomplete::NoContent(e.blob.clone()))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Incomplete::Split(n, "it is not UTF-8".into()))?;
    let split =
        crate::items::split(&e.path, text).map_err(|w| Incomplete::Split(n, w.to_string()))?;
    if split.items.len() as u64 != u64::from(n) {
        return Err(Incomplete::Split(
            n,
            format!("it splits into {} now", split.items.len()),
        ));
    }
    Ok(split)
}

/// The content of `blob`: from git's objects, else the work-tree file at `path` (at most
/// `max` bytes) when it still has that content (an overlay entry of content never added).
pub fn content_of(repo: &Repo, blob: &str, path: &str, max: u64) -> Option<Vec<u8>> {
    if let Ok(b) = repo.read_blob(blob) {
        return Some(b);
    }
    let b = crate::util::fs::read_in_tree(repo.workdir(), std::path::Path::new(path), max)
        .ok()
        .flatten()?;
    (repo.hash_blob(&b) == blob).then_some(b)
}
