//! Looking every `(file, type)` key up, cheaply: the local index answers for shards whose stat
//! data still matches what it recorded; the other shards are read and parsed, once each, on
//! every core.
//!
//! Each probe carries its own `(target, plan)` position from the start, so the steps can filter
//! as they like without ever attaching a hit to the wrong key.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::cache::shard::{self, ShardId};
use crate::cache::store::{Location, Place};
use crate::cache::{Key, SCHEMA_VERSION};
use crate::index::{Index, Sig};
use crate::util::par::parallel_map;
use crate::workspace::Workspace;

use super::{Plan, Target};

/// What one key's lookup found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// A valid entry, the cost it saves, and whether it was found in the local overlay.
    Hit { saved: f64, overlay: bool },
    /// No entry.
    Miss,
    /// An entry that cannot be trusted (reported, then treated as a miss).
    Invalid { path: PathBuf, error: String },
}

/// Every key's answer, the shards read because the index could not vouch for them (the run
/// brings their rows up to date), and the untrusted lines in the shards looked at
/// (`path:line: why`).
pub(crate) struct Looked {
    pub found: Vec<Vec<Option<(Key, Found)>>>,
    pub stale: Vec<Location>,
    pub bad: Vec<String>,
}

/// For every target and plan, the key and what was found; `None` where the target could not be
/// identified or the plan has no analyzer.
pub(crate) fn lookup_all(
    session: &Workspace,
    targets: &[Target],
    plans: &[Plan],
    index: Option<&Index>,
) -> Looked {
    let variants: Vec<Option<String>> = plans
        .iter()
        .map(|p| {
            p.analyzer.as_ref().ok().map(|a| {
                let id = a.identity();
                crate::cache::variant(&id.provider, &id.model, &id.prompt_hash, SCHEMA_VERSION)
            })
        })
        .collect();
    let mut probes: Vec<(usize, usize, Key)> = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let Ok(file) = &target.id else { continue };
        for (p, plan) in plans.iter().enumerate() {
            if let Some(v) = &variants[p] {
                probes.push((
                    t,
                    p,
                    Key {
                        cache_type: plan.cache_type.clone(),
                        blob: file.blob.clone(),
                        variant: v.clone(),
                    },
                ));
            }
        }
    }
    let store = &session.store;
    // The shards involved, in both places, and whether the index may answer for each.
    let mut shards: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
    for (i, (_, _, k)) in probes.iter().enumerate() {
        shards.entry(ShardId::of(k)).or_default().push(i);
    }
    let ids: Vec<&ShardId> = shards.keys().collect();
    let sigs: Vec<[Option<Sig>; 2]> = parallel_map(&ids, |id| {
        Location::each(id).map(|at| crate::index::shard_stat(store, &at))
    });
    let usable = index.filter(|_| !store.requires_signatures());
    let rels: Vec<String> = if usable.is_some() {
        ids.iter()
            .flat_map(|id| Location::each(id).map(|at| at.rel()))
            .collect()
    } else {
        Vec::new()
    };
    let recorded: HashMap<String, Sig> = usable
        .and_then(|ix| ix.shard_sigs_for(&rels).ok())
        .unwrap_or_default();
    let mut vouched: Vec<usize> = Vec::new();
    let mut vouched_ids: Vec<&ShardId> = Vec::new();
    let mut to_read: Vec<(&ShardId, &Vec<usize>)> = Vec::new();
    let mut stale = Vec::new();
    for ((id, members), sig) in shards.iter().zip(&sigs) {
        let mut ok = usable.is_some();
        for (loc, s) in Location::each(id).into_iter().zip(sig) {
            // Racily recorded shards (mtime 0) never match: they are read.
            if recorded.get(&loc.rel()).copied() != *s {
                ok = false;
                if usable.is_some() {
                    stale.push(loc);
                }
            }
        }
        if ok {
            vouched.extend(members.iter().copied());
            vouched_ids.push(id);
        } else {
            to_read.push((id, members));
        }
    }
    let mut found: Vec<Option<Found>> = vec![None; probes.len()];
    let mut bad: std::collections::BTreeSet<String> = Default::default();
    if let Some(ix) = usable {
        let vouched_shards: std::collections::HashSet<String> = vouched_ids
            .iter()
            .flat_map(|id| Location::each(id).map(|at| at.rel()))
            .collect();
        for (shard, error) in ix.invalid_lines().unwrap_or_default() {
            if vouched_shards.contains(&shard) {
                if let Some(loc) = Location::from_rel(&shard) {
                    bad.insert(format!("{}: {error}", store.path_of(&loc).display()));
                }
            }
        }
        let keys: Vec<&Key> = vouched.iter().map(|&i| &probes[i].2).collect();
        let ages = store.max_age().is_some();
        for (&i, hit) in vouched.iter().zip(ix.lookup_keys(&keys, ages)) {
            found[i] = Some(match hit {
                Some(h) if h.created_at.as_deref().is_none_or(|t| !store.expired(t)) => {
                    Found::Hit {
                        saved: h.saved,
                        overlay: h.overlay,
                    }
                }
                _ => Found::Miss,
            });
        }
    }
    // Read the rest, each shard once, on every core.
    let answers = parallel_map(&to_read, |(id, members)| {
        read_shards(session, id, members, &probes)
    });
    for (a, b) in answers {
        for (i, f) in a {
            found[i] = Some(f);
        }
        bad.extend(b);
    }
    let mut out: Vec<Vec<Option<(Key, Found)>>> = targets
        .iter()
        .map(|_| (0..plans.len()).map(|_| None).collect())
        .collect();
    for ((t, p, key), f) in probes.into_iter().zip(found) {
        out[t][p] = Some((key, f.unwrap_or(Found::Miss)));
    }
    Looked {
        found: out,
        stale,
        bad: bad.into_iter().collect(),
    }
}

/// Answer the probes `members` (all in shard `id`) from the shard and its overlay.
fn read_shards(
    session: &Workspace,
    id: &ShardId,
    members: &[usize],
    probes: &[(usize, usize, Key)],
) -> (Vec<(usize, Found)>, Vec<String>) {
    let store = &session.store;
    let mut answers: Vec<Option<Found>> = vec![None; members.len()];
    let mut bad = Vec::new();
    for at in Location::each(id) {
        let path = store.path_of(&at);
        let bytes = match store.read_shard(&at) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                bad.push(format!("{}: {e}", path.display()));
                for a in answers.iter_mut().filter(|a| a.is_none()) {
                    *a = Some(Found::Invalid {
                        path: path.clone(),
                        error: e.to_string(),
                    });
                }
                continue;
            }
        };
        let parsed = shard::parse(&bytes, id);
        for (n, _, e) in &parsed.invalid {
            bad.push(format!("{}:{n}: {e}", path.display()));
        }
        for (slot, &i) in answers.iter_mut().zip(members) {
            if matches!(slot, Some(Found::Hit { .. })) {
                continue;
            }
            let key = &probes[i].2;
            match store.judge(&parsed, &bytes, key) {
                Ok(Some(e)) => {
                    *slot = Some(Found::Hit {
                        saved: e.cost_usd.unwrap_or(0.0),
                        overlay: at.place == Place::Overlay,
                    })
                }
                // Expired: a miss, whatever an earlier place said.
                Ok(None) if parsed.get(key).is_some() => *slot = Some(Found::Miss),
                Ok(None) => {}
                Err(error) => {
                    // A winner that fails the signature policy is an untrusted line of its own
                    // (untrusted lines that do not parse were counted above).
                    if let Some(d) = parsed.get(key) {
                        bad.push(format!("{}: {}: {error}", path.display(), d.entry.path));
                    }
                    if slot.is_none() || parsed.get(key).is_some() {
                        *slot = Some(Found::Invalid {
                            path: path.clone(),
                            error: error.to_string(),
                        });
                    }
                }
            }
        }
    }
    let answers = members
        .iter()
        .zip(answers)
        .map(|(&i, a)| (i, a.unwrap_or(Found::Miss)))
        .collect();
    (answers, bad)
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
        let mut edits = BTreeMap::new();
        edits.insert(
            ShardId::of(&e.key()),
            crate::cache::store::Edit {
                add: vec![e],
                ..Default::default()
            },
        );
        ws.store.apply(Place::Tree, edits).unwrap();
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
            let out = lookup_all(&ws, &targets, &plans, ix).found;
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
