//! Analysing one file by items (DESIGN.md, "Items"): the items that have a result are reused,
//! the others are sent in one request with the file's skeleton, each result becomes an item
//! entry (`<type>/items`), and the file's entry is assembled from all of them, in the shape a
//! whole-file result has. Every item result a reply gave is kept, even when another item of
//! the same reply failed: it was paid for.

use std::collections::HashSet;
use std::time::Instant;

use crate::analyzer::{Analyzer, Identity};
use crate::cache::key::{items_type, Key};
use crate::cache::{Entry, Tokens};
use crate::items::{Item, Split};
use crate::workspace::Workspace;

use super::report::{line as skip, Cause, FileResult, Status};

/// The items of `split` that have no result yet (each once), how many have one, and what those
/// cost when they were analysed. Each item shard is read once.
pub(crate) fn cached_items<'s>(
    session: &Workspace,
    cache_type: &str,
    item_identity: &Identity,
    split: &'s Split,
) -> (Vec<&'s Item>, usize, f64) {
    let item_type = items_type(cache_type);
    let item_variant = item_identity.variant();
    let mut seen: HashSet<&str> = HashSet::new();
    let unique: Vec<(&Item, Key)> = split
        .items
        .iter()
        .filter(|it| seen.insert(&it.id))
        .map(|it| {
            let key = Key {
                cache_type: item_type.clone(),
                blob: it.id.clone(),
                variant: item_variant.clone(),
            };
            (it, key)
        })
        .collect();
    let found = session.store.lookup_many(unique.iter().map(|(_, k)| k));
    let to_send: Vec<&Item> = unique
        .iter()
        .filter(|(_, k)| !found.contains_key(k))
        .map(|(it, _)| *it)
        .collect();
    let reused = unique.len() - to_send.len();
    let saved = found.values().filter_map(|(e, _)| e.cost_usd).sum();
    (to_send, reused, saved)
}

/// Analyse the file of `entry` (filled in but for its result, tokens and cost) by the items of
/// `split`. Returns the file's result line and the entries to write: the new item entries, then
/// the file entry when every item has a result.
pub(crate) fn analyze_by_items(
    session: &Workspace,
    analyzer: &dyn Analyzer,
    item_identity: &Identity,
    split: &Split,
    file: &crate::git::FileId,
    mut entry: Entry,
    deadline: Option<Instant>,
) -> (FileResult, Vec<Entry>) {
    let ty = crate::util::interned(&entry.cache_type);
    let fail = |status: Status, cause: Cause, reason: String, written: Vec<Entry>| {
        (
            skip(
                file.path.clone(),
                ty,
                Some(file.blob.clone()),
                status,
                reason,
            )
            .because(cause),
            written,
        )
    };
    let (to_send, reused, saved_usd) =
        cached_items(session, &entry.cache_type, item_identity, split);
    let item_variant = item_identity.variant();
    let item_type = items_type(&entry.cache_type);
    let mut written = Vec::new();
    let (mut tokens, mut cost) = (Tokens::default(), Some(0.0));
    let mut failed: Vec<String> = Vec::new();
    if !to_send.is_empty() {
        let o = match analyzer.analyze_items(&entry.path, split, &to_send, deadline) {
            Ok(o) => o,
            Err(e) => {
                let (status, cause, m) = super::report::failure(&e);
                return fail(status, cause, m, written);
            }
        };
        tokens = o.tokens;
        cost = o.cost_usd;
        entry.response_model = o
            .response_model
            .filter(|m| m != &item_identity.model)
            .map(|m| crate::output::sanitize(&m));
        // A reply unusable as a whole was paid for: the file's entry keeps it, marked invalid
        // (a hit with nothing to show until `--force`).
        if let Some((why, raw)) = o.invalid {
            entry.result = crate::cache::entry::neutralise_controls(raw);
            entry.invalid = Some(why);
            entry.tokens = tokens;
            entry.cost_usd = cost;
            if let Err(seal) = super::report::seal(session, &mut entry) {
                return fail(Status::Error, Cause::Failed, seal, written);
            }
            let reason = super::report::invalid_stored(entry.invalid.as_deref().unwrap_or(""));
            let mut r = fail(Status::Error, Cause::Failed, reason, Vec::new()).0;
            r.tokens = entry.tokens;
            r.cost_usd = entry.cost_usd;
            return (r, vec![entry]);
        }
        // Each item's share of the request's cost, by the bytes it sent (what reusing it later
        // saves); the request's tokens are the file entry's.
        let micro = o
            .cost_usd
            .map(|c| crate::analyzer::items::apportion((c * 1e9).round() as u64, &to_send));
        for (i, (it, (id, r))) in to_send.iter().zip(o.reply.results).enumerate() {
            debug_assert_eq!(it.id, id);
            let result = match r {
                Ok(v) => crate::cache::entry::neutralise_controls(v),
                Err(why) => {
                    failed.push(format!("{} `{}`: {why}", it.kind.name(), it.name));
                    continue;
                }
            };
            let mut e = Entry::compact_item(
                &item_type,
                &id,
                &item_variant,
                micro.as_ref().map(|m| m[i] as f64 / 1e9),
                result,
            );
            if let Err(why) = super::report::seal(session, &mut e) {
                failed.push(format!("{} `{}`: {why}", it.kind.name(), it.name));
                continue;
            }
            written.push(e);
        }
        if !o.reply.unknown.is_empty() {
            session.out.detail(&format!(
                "{}: the reply named {} item id(s) that were not sent; ignored",
                entry.path,
                o.reply.unknown.len()
            ));
        }
    }
    if !failed.is_empty() {
        let n = failed.len();
        return fail(
            Status::Error,
            Cause::Failed,
            format!(
                "{n} of {} item{} had no usable result, so the file has none yet ({}); the {} other{} kept",
                to_send.len(),
                if to_send.len() == 1 { "" } else { "s" },
                failed[0],
                written.len(),
                if written.len() == 1 { " is" } else { "s are" },
            ),
            written,
        );
    }
    // Stored by reference: the item entries hold the results, once (cache/assemble.rs).
    entry.result = serde_json::Value::Null;
    entry.item_variant = Some(item_variant);
    entry.items = Some(split.items.len() as u32);
    entry.tokens = tokens;
    entry.cost_usd = cost;
    if let Err(why) = super::report::seal(session, &mut entry) {
        return fail(Status::Error, Cause::Failed, why, written);
    }
    let sent: HashSet<&str> = to_send.iter().map(|it| it.id.as_str()).collect();
    let r = FileResult {
        path: file.path.clone(),
        cache_type: ty,
        blob: Some(file.blob.clone()),
        status: Status::Miss,
        tokens: entry.tokens,
        cost_usd: entry.cost_usd,
        reason: Some(format!(
            "by items: {} of {} sent, {reused} reused",
            to_send.len(),
            split.items.len()
        )),
        cause: Cause::None,
        saved_usd: 0.0,
        items: Some(super::report::ItemUse {
            sent: to_send.len(),
            reused,
            bytes_not_sent: split
                .items
                .iter()
                .filter(|it| !sent.contains(it.id.as_str()))
                .map(|it| it.text.len() as u64)
                .sum(),
            saved_usd,
        }),
    };
    written.push(entry);
    (r, written)
}

/// The ids of every item the files of git's index (`index_file`: the one a commit is made
/// from) have: what a commit keeps and carries of the item entries. `None` when a file cannot
/// be read: the caller then keeps every item entry (nothing is deleted on incomplete evidence).
pub(crate) fn items_in_tree(
    session: &Workspace,
    index: &crate::index::Index,
    index_file: Option<&str>,
) -> Option<HashSet<String>> {
    let tracked = session.repo.tracked(index_file).ok()?;
    items_of(
        session,
        index,
        tracked.iter().map(|t| (&*t.path, t.blob.as_str())),
    )
}

/// The ids of the items of the given `(path, blob)` files (those with a grammar): each blob is
/// split once per tool version and remembered in the local index. Content comes from git's
/// objects, else from the work-tree file when it still has that content. `None` when some
/// content cannot be read.
pub(crate) fn items_of<'a>(
    session: &Workspace,
    index: &crate::index::Index,
    files: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<HashSet<String>> {
    let mut seen = HashSet::new();
    let files: Vec<(&str, &str, String)> = files
        .filter(|(path, blob)| crate::items::Lang::of(path).is_some() && seen.insert(*blob))
        .map(|(path, blob)| (path, blob, memo_key(blob)))
        .collect();
    let keys: Vec<&str> = files.iter().map(|(_, _, k)| k.as_str()).collect();
    let known = index.item_ids_of(&keys).unwrap_or_default();
    let mut ids = HashSet::new();
    let mut fresh = Vec::new();
    for (path, blob, key) in &files {
        if let Some(list) = known.get(key) {
            ids.extend(list.iter().cloned());
            continue;
        }
        let bytes = crate::cache::assemble::content_of(
            &session.repo,
            blob,
            path,
            session.config.max_file_bytes(),
        )?;
        let list: Vec<String> = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| crate::items::split(path, text).ok())
            .map(|s| s.items.into_iter().map(|i| i.id).collect())
            .unwrap_or_default();
        ids.extend(list.iter().cloned());
        fresh.push((key.clone(), list));
    }
    let _ = index.remember_item_ids(&fresh);
    Some(ids)
}

/// The local index's key for a blob's item ids: the tool's version with it, so that another
/// version's parser splits the content again.
fn memo_key(blob: &str) -> String {
    format!("{}/{blob}", env!("CARGO_PKG_VERSION"))
}
