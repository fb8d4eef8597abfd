//! Analysing one file by items (DESIGN.md, "Items"): the items that have a result are reused,
//! the others are sent in one request with the file's skeleton, each result becomes an item
//! entry (`<type>/items`), and the file's entry is assembled from all of them, in the shape a
//! whole-file result has. Every item result a reply gave is kept, even when another item of
//! the same reply failed: it was paid for.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::analyzer::{Analyzer, Identity};
use crate::cache::key::{items_type, variant, Key};
use crate::cache::store::Lookup;
use crate::cache::{Entry, Tokens, SCHEMA_VERSION};
use crate::items::{Item, Split};
use crate::workspace::Workspace;

use super::report::{line as skip, Cause, FileResult, Status};

/// The results cached for the items of `split` (by item id), the items without one (each
/// once), and how many were found.
pub(crate) fn cached_items<'s>(
    session: &Workspace,
    cache_type: &str,
    item_identity: &Identity,
    split: &'s Split,
) -> (HashMap<String, serde_json::Value>, Vec<&'s Item>, usize) {
    let item_type = items_type(cache_type);
    let item_variant = variant(
        &item_identity.provider,
        &item_identity.model,
        &item_identity.prompt_hash,
        SCHEMA_VERSION,
    );
    let mut results: HashMap<String, serde_json::Value> = HashMap::new();
    let mut to_send: Vec<&Item> = Vec::new();
    let mut reused = 0;
    let mut seen: HashSet<&str> = HashSet::new();
    for it in &split.items {
        if !seen.insert(&it.id) {
            continue;
        }
        let key = Key {
            cache_type: item_type.clone(),
            blob: it.id.clone(),
            variant: item_variant.clone(),
        };
        match session.store.lookup(&key) {
            Lookup::Hit { entry: e, .. } => {
                results.insert(it.id.clone(), e.result);
                reused += 1;
            }
            Lookup::Miss | Lookup::Invalid { .. } => to_send.push(it),
        }
    }
    (results, to_send, reused)
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
    let (mut results, to_send, reused) =
        cached_items(session, &entry.cache_type, item_identity, split);
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
        let response_model = o
            .response_model
            .filter(|m| m != &item_identity.model)
            .map(|m| crate::output::sanitize(&m));
        // Each item's share of the request, by the bytes it sent.
        let input = crate::analyzer::items::apportion(o.tokens.input, &to_send);
        let output = crate::analyzer::items::apportion(o.tokens.output, &to_send);
        let cached = crate::analyzer::items::apportion(o.tokens.cached_input, &to_send);
        let micro = o
            .cost_usd
            .map(|c| crate::analyzer::items::apportion((c * 1e9).round() as u64, &to_send));
        let created_at = crate::util::now_rfc3339(&session.env);
        for (i, (it, (id, r))) in to_send.iter().zip(o.reply.results).enumerate() {
            debug_assert_eq!(it.id, id);
            let value = match r {
                Ok(v) => crate::cache::entry::neutralise_controls(v),
                Err(why) => {
                    failed.push(format!("{} `{}`: {why}", it.kind.name(), it.name));
                    continue;
                }
            };
            let mut e = Entry {
                schema_version: SCHEMA_VERSION,
                cache_type: item_type.clone(),
                blob: id.clone(),
                path: entry.path.clone(),
                file_size: it.text.len() as u64,
                provider: item_identity.provider.clone(),
                model: item_identity.model.clone(),
                prompt_hash: item_identity.prompt_hash.clone(),
                created_at: created_at.clone(),
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                tokens: Tokens {
                    input: input[i],
                    output: output[i],
                    cached_input: cached[i].min(input[i]),
                },
                cost_usd: micro.as_ref().map(|m| m[i] as f64 / 1e9),
                response_model: response_model.clone(),
                items: None,
                signature: None,
                result: value.clone(),
            };
            if let Err(why) = super::report::seal(session, &mut e) {
                failed.push(format!("{} `{}`: {why}", it.kind.name(), it.name));
                continue;
            }
            results.insert(id, value);
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
    entry.result =
        crate::cache::entry::neutralise_controls(crate::analyzer::items::assemble(split, &results));
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
        }),
    };
    written.push(entry);
    (r, written)
}
