//! Looking every `(file, type)` key up, cheaply: the local index answers for shards whose stat
//! data still matches what it recorded; the other shards are read and parsed, once each, on
//! every core.
//!
//! Each probe carries its own `(target, plan)` position from the start, so the steps can filter
//! as they like without ever attaching a hit to the wrong key.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::cache::shard::{self, ShardId};
use crate::cache::store::{Location, Place};
use crate::cache::{Key, SCHEMA_VERSION};
use crate::git::FileId;
use crate::index::hits::ShardHits;
use crate::index::{Index, Sig};
use crate::util::par::{parallel_map, parallel_map_with};
use crate::util::stat::Lstat;
use crate::workspace::Workspace;

use super::{Plan, Target};

/// Below this many keys the index answers each with an indexed query on the whole key; from it
/// on, the shards' hit tables (one query for all of them) beat thousands of queries.
const FEW_KEYS: usize = 2000;

/// What one key's lookup found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// A valid entry, the cost it saves, and whether it was found in the local overlay.
    Hit { saved: f64, overlay: bool },
    /// No entry.
    Miss,
    /// An entry that cannot be trusted (reported in [`Looked::bad`], then treated as a miss).
    Invalid,
}

/// Every key's answer (with the key's [`crate::index::key_id`]), the shards read because the
/// index could not vouch for them (the run brings their rows up to date), and the untrusted
/// lines in the shards looked at (`path:line: why`).
pub(crate) struct Looked {
    /// Target `t`'s answer under plan `p` is at `t * plans + p`.
    pub found: Vec<Option<(i64, Found)>>,
    /// Each plan's variant (`None`: the plan has no analyzer).
    pub variants: Vec<Option<String>>,
    pub stale: Vec<Location>,
    pub bad: Vec<String>,
}

/// The key of `file` under `plan` with `variant`. Keys are built only where one is needed (a
/// miss to analyse, a line to read): an all-cached run of 20,000 keys works with their ids.
pub(crate) fn key_of(plan: &Plan, file: &FileId, variant: &str) -> Key {
    Key {
        cache_type: plan.cache_type.clone(),
        blob: file.blob.to_string(),
        variant: variant.to_string(),
    }
}

/// One `(target, plan)` key to look up, by position and id.
struct Probe {
    t: usize,
    p: usize,
    id: i64,
    /// Its shard's bucket (see [`bucket`]).
    b: usize,
}

/// The shard a probe's key lives in: its plan, and the blob's first byte.
fn bucket(p: usize, blob: &str) -> Option<usize> {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = blob.as_bytes();
    Some(p * 256 + (hex(*b.first()?)? * 16 + hex(*b.get(1)?)?) as usize)
}

/// For every target and plan, the key id and what was found; `None` where the target could
/// not be identified or the plan has no analyzer.
pub(crate) fn lookup_all(
    session: &Workspace,
    targets: &[Target],
    plans: &[Plan],
    index: Option<&Index>,
) -> Looked {
    lookup_with(session, targets, plans, index, FEW_KEYS)
}

/// [`lookup_all`], answering from the hit tables from `few_keys` keys on.
fn lookup_with(
    session: &Workspace,
    targets: &[Target],
    plans: &[Plan],
    index: Option<&Index>,
    few_keys: usize,
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
    let mut probes: Vec<Probe> = Vec::new();
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); plans.len() * 256];
    let mut buf = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let Ok(file) = &target.id else { continue };
        for (p, plan) in plans.iter().enumerate() {
            let (Some(v), Some(b)) = (&variants[p], bucket(p, &file.blob)) else {
                continue;
            };
            buckets[b].push(probes.len());
            probes.push(Probe {
                t,
                p,
                id: crate::index::key_id_of(&plan.cache_type, &file.blob, v, &mut buf),
                b,
            });
        }
    }
    let key = |pr: &Probe| {
        let Ok(file) = &targets[pr.t].id else {
            unreachable!("probes are made for identified targets only")
        };
        key_of(
            &plans[pr.p],
            file,
            variants[pr.p].as_deref().unwrap_or_default(),
        )
    };
    let store = &session.store;
    // The shards involved, and the stat data of each in both places.
    let shards: Vec<(ShardId, &Vec<usize>)> = buckets
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(b, m)| {
            let id = ShardId {
                cache_type: plans[b / 256].cache_type.clone(),
                prefix: format!("{:02x}", b % 256),
            };
            (id, m)
        })
        .collect();
    let sigs = shard_sigs(session, &shards);
    // Each shard's name in both places, made once for the checks and answers below.
    let names: Vec<[String; 2]> = shards
        .iter()
        .map(|(id, _)| Location::each(id).map(|l| l.rel()))
        .collect();
    let usable = index.filter(|_| !store.requires_signatures());
    // Many keys are answered from the shards' hit tables (one query); a few by a query each.
    let many = probes.len() >= few_keys;
    let mut tables: FxHashMap<String, ShardHits> = match usable {
        Some(ix) if many => ix.hit_tables().unwrap_or_default(),
        _ => FxHashMap::default(),
    };
    let mut sigs_of: FxHashMap<String, Sig> = match usable {
        Some(ix) if !many => {
            let rels: Vec<String> = names.iter().flatten().cloned().collect();
            ix.shard_sigs_for(&rels)
                .map(|m| m.into_iter().collect())
                .unwrap_or_default()
        }
        _ => FxHashMap::default(),
    };
    // Shards changed since the index read them (another command wrote them, or they were
    // recorded as racily clean) are brought up to date first: the sync compares their lines
    // with the recorded ones and decodes only new lines, and they are then answered from the
    // index like the rest. Reading them here instead would decode every line of both places,
    // and the run's record would read them once more.
    if let Some(ix) = usable {
        let stale_now: Vec<Location> = shards
            .iter()
            .zip(&sigs)
            .zip(&names)
            .flat_map(|(((id, _), sig), rels)| {
                Location::each(id).into_iter().zip(sig.iter().zip(rels))
            })
            .filter(|(_, (s, rel))| recorded_sig(&tables, &sigs_of, rel) != **s)
            .map(|(loc, _)| loc)
            .collect();
        if !stale_now.is_empty() && ix.sync_shards(store, &stale_now).is_ok() {
            let rels: Vec<String> = stale_now.iter().map(Location::rel).collect();
            for rel in &rels {
                tables.remove(rel);
                sigs_of.remove(rel);
            }
            if many {
                tables.extend(ix.hit_tables_for(&rels).unwrap_or_default());
            } else {
                sigs_of.extend(ix.shard_sigs_for(&rels).unwrap_or_default());
            }
        }
    }
    let recorded = |rel: &str| recorded_sig(&tables, &sigs_of, rel);
    let mut found: Vec<Option<Found>> = vec![None; probes.len()];
    let mut vouched: Vec<usize> = Vec::new();
    let mut vouched_shards: Vec<[String; 2]> = Vec::new();
    let mut any_invalid = !many;
    let mut to_read: Vec<(&ShardId, &Vec<usize>)> = Vec::new();
    let mut stale = Vec::new();
    // The hit tables (shards, overlay) that answer each bucket's keys, for the vouched shards.
    let mut answering: Vec<Option<[Option<&ShardHits>; 2]>> = vec![None; buckets.len()];
    for (((id, members), sig), rels) in shards.iter().zip(&sigs).zip(names) {
        let mut ok = usable.is_some();
        let locs = Location::each(id);
        for ((loc, rel), s) in locs.into_iter().zip(&rels).zip(sig) {
            // Racily recorded shards (mtime 0) never match: they are read.
            if recorded(rel) != *s {
                ok = false;
                if usable.is_some() {
                    stale.push(loc);
                }
            }
        }
        if !ok {
            to_read.push((id, members));
            continue;
        }
        if many {
            let places = [tables.get(&rels[0]), tables.get(&rels[1])];
            any_invalid |= places.iter().flatten().any(|t| t.invalid > 0);
            if let Some(&first) = members.first() {
                answering[probes[first].b] = Some(places);
            }
        } else {
            vouched.extend(members.iter().copied());
        }
        vouched_shards.push(rels);
    }
    // Answered in probe order, not shard by shard: a shard's keys are one in 256 of the probe
    // list, and gathering them missed the cache once a key (200,000 keys at 100,000 files),
    // where the tables' key ids are small enough to stay in cache.
    for (pr, f) in probes.iter().zip(found.iter_mut()) {
        let Some(places) = &answering[pr.b] else {
            continue;
        };
        // A line in the shards wins over the same key in the overlay.
        let hit = places.iter().enumerate().find_map(|(n, t)| {
            let (saved, created) = t.as_ref()?.find(pr.id)?;
            Some((saved, created, n == 1))
        });
        *f = Some(match hit {
            Some((saved, created, overlay)) if !store.expired_secs(created) => {
                Found::Hit { saved, overlay }
            }
            _ => Found::Miss,
        });
    }
    let mut bad: std::collections::BTreeSet<String> = Default::default();
    if let Some(ix) = usable {
        if any_invalid {
            let vouched: FxHashSet<&String> = vouched_shards.iter().flatten().collect();
            for (shard, error) in ix.invalid_lines().unwrap_or_default() {
                if vouched.contains(&shard) {
                    if let Some(loc) = Location::from_rel(&shard) {
                        bad.insert(format!("{}: {error}", store.path_of(&loc).display()));
                    }
                }
            }
        }
        let keys: Vec<Key> = vouched.iter().map(|&i| key(&probes[i])).collect();
        let hits = ix.lookup_keys(&keys.iter().collect::<Vec<_>>(), store.max_age().is_some());
        for (&i, hit) in vouched.iter().zip(hits) {
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
        let keys: Vec<Key> = members.iter().map(|&i| key(&probes[i])).collect();
        read_shards(session, id, members, &keys)
    });
    for (a, b) in answers {
        for (i, f) in a {
            found[i] = Some(f);
        }
        bad.extend(b);
    }
    let mut out: Vec<Option<(i64, Found)>> = vec![None; targets.len() * plans.len()];
    for (pr, f) in probes.iter().zip(found) {
        out[pr.t * plans.len() + pr.p] = Some((pr.id, f.unwrap_or(Found::Miss)));
    }
    Looked {
        found: out,
        variants,
        stale,
        bad: bad.into_iter().collect(),
    }
}

/// The stat data the index recorded for shard `rel`: from its hit table when loaded, else from
/// the stat data read for it.
fn recorded_sig(
    tables: &FxHashMap<String, ShardHits>,
    sigs_of: &FxHashMap<String, Sig>,
    rel: &str,
) -> Option<Sig> {
    match tables.get(rel) {
        Some(t) => Some(t.sig),
        None => sigs_of.get(rel).copied(),
    }
}

/// The stat data of each shard in both places ([`Location::each`] order). The shards are
/// looked up relative to their type's folder; overlay shards only where the overlay folder
/// lists them (most do not exist).
fn shard_sigs(session: &Workspace, shards: &[(ShardId, &Vec<usize>)]) -> Vec<[Option<Sig>; 2]> {
    let store = &session.store;
    let tree_dir = store.place_dir(Place::Tree);
    let overlay_dir = store.place_dir(Place::Overlay);
    let mut overlay: FxHashMap<&str, FxHashSet<String>> = FxHashMap::default();
    for (id, _) in shards {
        overlay.entry(id.cache_type.as_str()).or_insert_with(|| {
            std::fs::read_dir(overlay_dir.join(&id.cache_type))
                .map(|r| {
                    r.flatten()
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default()
        });
    }
    let sig = |s: std::io::Result<crate::util::stat::Stat>| {
        s.ok()
            .filter(|s| s.is_file)
            .map(|s| (s.ino, s.len, s.mtime_ns()))
    };
    parallel_map_with(
        shards,
        || (Lstat::new(&tree_dir), Lstat::new(&overlay_dir)),
        |(tree, over), (id, _)| {
            let rel = id.rel();
            let in_overlay = overlay
                .get(id.cache_type.as_str())
                .is_some_and(|names| names.contains(&rel[id.cache_type.len() + 1..]));
            [
                sig(tree.get(&rel)),
                in_overlay.then(|| sig(over.get(&rel))).flatten(),
            ]
        },
    )
}

/// Answer the probes `members` (all in shard `id`) from the shard and its overlay.
fn read_shards(
    session: &Workspace,
    id: &ShardId,
    members: &[usize],
    keys: &[Key],
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
                    *a = Some(Found::Invalid);
                }
                continue;
            }
        };
        let parsed = shard::parse(&bytes, id);
        for (n, _, e) in &parsed.invalid {
            bad.push(format!("{}:{n}: {e}", path.display()));
        }
        for (slot, key) in answers.iter_mut().zip(keys) {
            if matches!(slot, Some(Found::Hit { .. })) {
                continue;
            }
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
                        *slot = Some(Found::Invalid);
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
    use std::collections::BTreeMap;

    fn workspace(dir: &std::path::Path) -> Workspace {
        crate::workspace::test_workspace(dir)
    }

    fn target(path: &str, blob: char) -> Target {
        Target {
            id: Ok(FileId {
                path: path.into(),
                blob: blob.to_string().repeat(40).into(),
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
            blob: file.blob.to_string(),
            path: file.path.to_string(),
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
        unidentified.id = Err(super::super::Skip {
            path: "b.rs".into(),
            status: super::super::Status::Skipped,
            reason: "binary file".into(),
        });
        let targets = vec![target("a.rs", 'a'), unidentified, target("c.rs", 'c')];
        write_entry(&ws, &plans[2], &targets[0]); // a.rs: metrics only
        write_entry(&ws, &plans[0], &targets[2]); // c.rs: todos only
        let mut index = Index::open(&ws);
        index.sync(&ws).unwrap();
        // Without the index, and with it answering by a query per key or from the hit tables.
        for (ix, few) in [
            (None, FEW_KEYS),
            (Some(&index), FEW_KEYS),
            (Some(&index), 0),
        ] {
            let out = lookup_with(&ws, &targets, &plans, ix, few).found;
            let found = |t: usize, p: usize| {
                out[t * plans.len() + p]
                    .as_ref()
                    .map(|(k, f)| (*k, f.clone()))
            };
            let id = |t: usize, p: usize| {
                let file = targets[t].id.as_ref().unwrap();
                let plan = &plans[p];
                let v = crate::cache::variant(
                    &plan.analyzer.as_ref().unwrap().identity().provider,
                    &plan.analyzer.as_ref().unwrap().identity().model,
                    &plan.analyzer.as_ref().unwrap().identity().prompt_hash,
                    SCHEMA_VERSION,
                );
                crate::index::key_id(&key_of(plan, file, &v))
            };
            let (key, f) = found(0, 2).unwrap();
            assert_eq!(key, id(0, 2), "metrics of a.rs");
            assert!(
                matches!(f, Found::Hit { saved, .. } if saved == 0.25),
                "{f:?}"
            );
            assert_eq!(found(0, 0).unwrap().1, Found::Miss);
            assert!(found(0, 1).is_none(), "no analyzer, no key");
            assert!((0..3).all(|p| found(1, p).is_none()), "unidentified file");
            let (key, f) = found(2, 0).unwrap();
            assert_eq!(key, id(2, 0), "todos of c.rs");
            assert!(matches!(f, Found::Hit { .. }), "{f:?}");
            assert_eq!(found(2, 2).unwrap().1, Found::Miss);
        }
    }

    #[test]
    fn shards_changed_since_the_last_sync_are_synced_then_answered_from_the_index() {
        for few in [FEW_KEYS, 0] {
            let dir = tempfile::tempdir().unwrap();
            let ws = workspace(dir.path());
            let types: Vec<String> = ["todos", "metrics"].iter().map(|s| s.to_string()).collect();
            let plans = crate::analyzer::registry::plans(&ws, &types).unwrap();
            let targets = vec![target("a.rs", 'a'), target("c.rs", 'c')];
            write_entry(&ws, &plans[1], &targets[0]);
            let index = Index::open(&ws);
            // Written by "another command" after the index last read the shards, with an
            // untrusted line beside it.
            write_entry(&ws, &plans[0], &targets[1]);
            let c = Location {
                place: Place::Tree,
                shard: ShardId {
                    cache_type: "todos".into(),
                    prefix: "cc".into(),
                },
            };
            let path = ws.store.path_of(&c);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend_from_slice(b"{\"not\":\"an entry\"}\n");
            std::fs::write(&path, bytes).unwrap();
            // Written seconds ago, as between two commands (a shard written within the clock's
            // tick of a sync is recorded as racily clean and read again by the next one).
            let past = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
            for f in walkdir::WalkDir::new(ws.store.place_dir(Place::Tree)) {
                let f = f.unwrap();
                if f.file_type().is_file() {
                    let file = std::fs::File::options()
                        .append(true)
                        .open(f.path())
                        .unwrap();
                    file.set_modified(past).unwrap();
                }
            }
            let looked = lookup_with(&ws, &targets, &plans, Some(&index), few);
            let found = |t: usize, p: usize| looked.found[t * plans.len() + p].clone().unwrap().1;
            assert!(matches!(found(1, 0), Found::Hit { .. }), "few={few}");
            assert!(matches!(found(0, 1), Found::Hit { .. }), "few={few}");
            assert_eq!(found(0, 0), Found::Miss);
            assert_eq!(
                looked.bad.len(),
                1,
                "the untrusted line is reported: {:?}",
                looked.bad
            );
            // Synced here, so the run's record has nothing left to read.
            assert!(looked.stale.is_empty(), "few={few}: {:?}", looked.stale);
            let recorded = index.shard_sigs().unwrap();
            assert_eq!(
                recorded.get(&c.rel()).copied(),
                crate::index::shard_stat(&ws.store, &c),
                "the changed shard is recorded as it is now"
            );
            crate::index::hits::assert_tables_match_rows(&index);
        }
    }
}
