//! Looking every `(file, type)` key up, cheaply: stat the candidate entry files on every core,
//! let the local index vouch for the ones it verified at that size and mtime (so they are not
//! read), and read and verify the rest, again on every core.
//!
//! Each probe carries its own `(target, plan)` position from the start, so the three steps can
//! filter as they like without ever attaching a hit to the wrong key.

use std::path::PathBuf;

use crate::cache::{Key, Lookup, SCHEMA_VERSION};
use crate::index::Index;
use crate::util::par::parallel_map;
use crate::workspace::Workspace;

use super::{Plan, Target};

/// What one key's lookup found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// A valid entry: its path below `.rustassistant/` and the cost it saves.
    Hit { rel: String, saved: f64 },
    /// No entry.
    Miss,
    /// An entry that cannot be trusted (reported, then treated as a miss).
    Invalid { path: PathBuf, error: String },
}

/// One key to look up, with where it belongs.
struct KeyProbe {
    target: usize,
    plan: usize,
    key: Key,
    /// The entry file, when one exists: (path below `.rustassistant/`, size, mtime).
    existing: Option<(String, u64, i64)>,
}

/// For every target and plan, the key and what was found; `None` where the target could not be
/// identified or the plan has no analyzer.
pub(crate) fn lookup_all(
    session: &Workspace,
    targets: &[Target],
    plans: &[Plan],
    index: Option<&Index>,
) -> Vec<Vec<Option<(Key, Found)>>> {
    let variants: Vec<Option<String>> = plans
        .iter()
        .map(|p| {
            p.analyzer.as_ref().ok().map(|a| {
                let id = a.identity();
                crate::cache::variant(&id.provider, &id.model, &id.prompt_hash, SCHEMA_VERSION)
            })
        })
        .collect();
    // Step 1: stat, on every core.
    let stat = |(t, target): &(usize, &Target)| -> Vec<KeyProbe> {
        let Ok(file) = &target.id else {
            return Vec::new();
        };
        plans
            .iter()
            .enumerate()
            .filter_map(|(p, plan)| {
                let key = Key {
                    cache_type: plan.cache_type.clone(),
                    blob: file.blob.clone(),
                    variant: variants[p].clone()?,
                };
                let existing = session
                    .store
                    .probe(&key)
                    .map(|found| (found.rel, found.size, found.mtime_ns));
                Some(KeyProbe {
                    target: *t,
                    plan: p,
                    key,
                    existing,
                })
            })
            .collect()
    };
    let numbered: Vec<(usize, &Target)> = targets.iter().enumerate().collect();
    let probes: Vec<KeyProbe> = parallel_map(&numbered, stat)
        .into_iter()
        .flatten()
        .collect();
    let mut found: Vec<Option<Found>> = vec![None; probes.len()];

    // Step 2: the index vouches for what it verified (not with signatures required: then every
    // hit is read and its signature checked).
    let with_file: Vec<usize> = (0..probes.len())
        .filter(|&i| probes[i].existing.is_some())
        .collect();
    if let Some(ix) = index.filter(|_| !session.store.requires_signatures()) {
        let candidates: Vec<(&str, u64, i64)> = with_file
            .iter()
            .filter_map(|&i| {
                let (rel, size, mtime) = probes[i].existing.as_ref()?;
                Some((rel.as_str(), *size, *mtime))
            })
            .collect();
        for (&i, saved) in with_file.iter().zip(ix.confirm(&candidates)) {
            if let (Some(saved), Some((rel, _, _))) = (saved, &probes[i].existing) {
                found[i] = Some(Found::Hit {
                    rel: rel.clone(),
                    saved,
                });
            }
        }
    }

    // Step 3: read and verify the rest, on every core.
    let unconfirmed: Vec<usize> = with_file
        .into_iter()
        .filter(|&i| found[i].is_none())
        .collect();
    let root = session.store.root();
    let verified = parallel_map(&unconfirmed, |&i| {
        match session.store.lookup(&probes[i].key) {
            Lookup::Hit { entry, path } => Found::Hit {
                rel: path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
                saved: entry.cost_usd.unwrap_or(0.0),
            },
            Lookup::Miss => Found::Miss,
            Lookup::Invalid { path, error } => Found::Invalid {
                path,
                error: error.to_string(),
            },
        }
    });
    for (i, f) in unconfirmed.into_iter().zip(verified) {
        found[i] = Some(f);
    }

    let mut out: Vec<Vec<Option<(Key, Found)>>> = targets
        .iter()
        .map(|_| (0..plans.len()).map(|_| None).collect())
        .collect();
    for (probe, f) in probes.into_iter().zip(found) {
        out[probe.target][probe.plan] = Some((probe.key, f.unwrap_or(Found::Miss)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Entry, Tokens};
    use crate::git::{FileId, Source};

    fn workspace(dir: &std::path::Path) -> Workspace {
        crate::workspace::test_workspace(dir)
    }

    fn target(path: &str, blob: char) -> Target {
        Target {
            path: path.to_string(),
            id: Ok(FileId {
                path: path.to_string(),
                blob: blob.to_string().repeat(40),
                size: 1,
                content: None,
                source: Source::WorkTree,
            }),
        }
    }

    fn write_entry(ws: &Workspace, plan: &Plan, t: &Target) {
        let id = plan.analyzer.as_ref().unwrap().identity();
        let file = t.id.as_ref().unwrap();
        let e = Entry {
            schema_version: SCHEMA_VERSION,
            cache_type: plan.cache_type.clone(),
            blob: file.blob.clone(),
            path: file.path.clone(),
            file_size: 1,
            provider: id.provider.clone(),
            model: id.model.clone(),
            prompt_hash: id.prompt_hash.clone(),
            created_at: "2026-11-21T10:00:00Z".into(),
            tool_version: "test".into(),
            tokens: Tokens::default(),
            cost_usd: Some(0.25),
            response_model: None,
            signature: None,
            result: serde_json::json!({"items": []}),
        };
        ws.store.write(&e).unwrap();
    }

    #[test]
    fn hits_attach_to_their_own_file_and_type_whatever_is_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        // `refactor` has no provider: its plan has no analyzer and no key.
        let types: Vec<String> = ["todos", "refactor", "metrics"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let plans = crate::analyzer::registry::plans(&ws, &types).unwrap();
        assert!(plans[1].analyzer.is_err());
        let mut unidentified = target("b.rs", 'b');
        unidentified.id = Err((super::super::Status::Skipped, "binary file".into()));
        let targets = vec![target("a.rs", 'a'), unidentified, target("c.rs", 'c')];
        write_entry(&ws, &plans[2], &targets[0]); // a.rs: metrics only
        write_entry(&ws, &plans[0], &targets[2]); // c.rs: todos only
        let mut index = Index::open(&ws);
        index.sync(&ws).unwrap();
        for ix in [None, Some(&index)] {
            let out = lookup_all(&ws, &targets, &plans, ix);
            let found =
                |t: usize, p: usize| out[t][p].as_ref().map(|(k, f)| (k.clone(), f.clone()));
            let (key, f) = found(0, 2).unwrap();
            assert_eq!((key.cache_type.as_str(), &key.blob[..1]), ("metrics", "a"));
            assert!(
                matches!(f, Found::Hit { saved, .. } if saved == 0.25),
                "{f:?}"
            );
            assert_eq!(found(0, 0).unwrap().1, Found::Miss);
            assert!(found(0, 1).is_none(), "no analyzer, no key");
            assert!(out[1].iter().all(Option::is_none), "unidentified file");
            let (key, f) = found(2, 0).unwrap();
            assert_eq!((key.cache_type.as_str(), &key.blob[..1]), ("todos", "c"));
            assert!(matches!(f, Found::Hit { .. }), "{f:?}");
            assert_eq!(found(2, 2).unwrap().1, Found::Miss);
        }
    }
}
