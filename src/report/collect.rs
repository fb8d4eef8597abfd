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

/// What a selection's findings came to.
pub struct Collected {
    /// The findings, sorted by path and line.
    pub findings: Vec<Finding>,
    /// Files with no entry of any requested type.
    pub unanalysed: Vec<String>,
    /// Files looked at.
    pub files: usize,
}

/// The findings of the files `sel` names, of `types`, at least as severe as `floor`.
pub fn collect(
    session: &Workspace,
    index: &mut Index,
    sel: &Selection,
    types: &[String],
    floor: Option<Severity>,
) -> Result<Collected> {
    let files = crate::run::identify(session, sel)?;
    let chosen = choose(session, index, types)?;
    let mut wanted: Vec<&Known> = Vec::new();
    let mut unanalysed = Vec::new();
    for f in &files {
        let before = wanted.len();
        wanted.extend(
            types
                .iter()
                .filter_map(|t| chosen.get(&(f.blob.clone(), t.clone()))),
        );
        if wanted.len() == before {
            unanalysed.push(f.path.clone());
        }
    }
    let thresholds = Thresholds::of(&session.config);
    let derived = index.findings_of(&session.store, &wanted, &thresholds)?;
    let mut findings = Vec::new();
    for f in &files {
        for t in types {
            let Some(k) = chosen.get(&(f.blob.clone(), t.clone())) else {
                continue;
            };
            for raw in derived.get(&k.key_id).into_iter().flatten() {
                if floor.is_none_or(|fl| raw.severity.at_least(fl)) {
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

/// For each `(blob, type)`, the entry to report: the one the current configuration would use,
/// else the newest under any model or prompt (so CI without a key still sees the LLM's
/// findings).
fn choose(
    session: &Workspace,
    index: &Index,
    types: &[String],
) -> Result<HashMap<(String, String), Known>> {
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
    let mut best: HashMap<(String, String), Known> = HashMap::new();
    for k in index.known_entries(types)? {
        let slot = (k.key.blob.clone(), k.key.cache_type.clone());
        let better = match best.get(&slot) {
            None => true,
            Some(old) => {
                (is_current(&k.key), &k.created_at) > (is_current(&old.key), &old.created_at)
            }
        };
        if better {
            best.insert(slot, k);
        }
    }
    Ok(best)
}
