//! The findings of a selection of files: each file's current content, each type's entry (the
//! one the current configuration would use, else the newest), its findings from the index.

use std::collections::HashMap;

use anyhow::Result;

use crate::analyzer::registry::plans;
use crate::cache::{Key, SCHEMA_VERSION};
use crate::findings::{Finding, Severity, Thresholds};
use crate::index::{Index, Known};
use crate::run::Selection;
use crate::workspace::Workspace;

/// Up to this many files, only their own entries are read from the index.
const FEW_FILES: usize = 1000;

/// What a selection's findings came to.
pub struct Collected {
    /// The findings, sorted by path and line.
    pub findings: Vec<Finding>,
    /// Files with no entry of any requested type.
    pub unanalysed: Vec<String>,
    /// Files looked at.
    pub files: usize,
}

/// The findings of the files `sel` names, of `types`, at least as severe as `floor`; with
/// `include_invalid`, the note of each stored reply that missed its schema too.
pub fn collect(
    session: &Workspace,
    index: &mut Index,
    sel: &Selection,
    types: &[String],
    floor: Option<Severity>,
    include_invalid: bool,
) -> Result<Collected> {
    let files = crate::run::identify(session, sel)?;
    // A few files (`--since`, named paths): only their blobs' rows are read.
    let few: Option<Vec<&str>> =
        (files.len() <= FEW_FILES).then(|| files.iter().map(|f| &*f.blob).collect());
    let chosen = choose(session, index, types, few.as_deref())?;
    let mut wanted: Vec<&Known> = Vec::new();
    let mut unanalysed = Vec::new();
    for f in &files {
        let before = wanted.len();
        wanted.extend(chosen.get(&*f.blob).into_iter().flatten());
        if wanted.len() == before {
            unanalysed.push(f.path.to_string());
        }
    }
    let thresholds = Thresholds::of(&session.config);
    let derived = index.findings_of(&session.store, &session.repo, &wanted, &thresholds, floor)?;
    let mut findings = Vec::new();
    for f in &files {
        for k in chosen.get(&*f.blob).into_iter().flatten() {
            for raw in derived.get(&k.key_id).into_iter().flatten() {
                let shown = include_invalid || raw.kind != crate::findings::INVALID_REPLY;
                if shown && floor.is_none_or(|fl| raw.severity.at_least(fl)) {
                    findings.push(Finding::at(&f.path, &k.key, raw.clone()));
                }
            }
        }
    }
    Finding::sort(&mut findings);
    Ok(Collected {
        findings,
        unanalysed,
        files: files.len(),
    })
}

/// For each blob, the entry to report of each type (in `types` order): the one the current
/// configuration would use, else the newest under any model or prompt (so CI without a key
/// still sees the LLM's findings).
fn choose(
    session: &Workspace,
    index: &Index,
    types: &[String],
    blobs: Option<&[&str]>,
) -> Result<HashMap<String, Vec<Known>>> {
    let current: Vec<Key> = plans(session, types)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    let id = p.analyzer.as_ref().ok()?.identity().clone();
                    Some(Key {
                        cache_type: p.cache_type.clone(),
                        blob: String::new(),
                        variant: crate::cache::variant(
                            &id.provider,
                            &id.model,
                            &id.prompt_hash,
                            SCHEMA_VERSION,
                        ),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let is_current = |k: &Key| {
        current
            .iter()
            .any(|c| c.cache_type == k.cache_type && c.variant == k.variant)
    };
    let mut best: HashMap<String, Vec<Known>> = HashMap::new();
    for k in index.known_entries(types, blobs)? {
        // Past `[cache] max_age` an entry is a miss, so it reports nothing either.
        if session.store.expired(&k.created_at) {
            continue;
        }
        let slot = best.entry(k.key.blob.clone()).or_default();
        match slot
            .iter_mut()
            .find(|o| o.key.cache_type == k.key.cache_type)
        {
            None => slot.push(k),
            Some(old) => {
                if (is_current(&k.key), &k.created_at) > (is_current(&old.key), &old.created_at) {
                    *old = k;
                }
            }
        }
    }
    let rank = |t: &str| types.iter().position(|x| x == t).unwrap_or(usize::MAX);
    for v in best.values_mut() {
        v.sort_by_key(|k| rank(&k.key.cache_type));
    }
    Ok(best)
}
