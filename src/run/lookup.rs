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
use crate::index::{Index, KeyIds, Sig};
use crate::util::par::{parallel_map, parallel_map_with};
use crate::util::stat::Lstat;
use crate::workspace::Workspace;

use super::{Plan, Target};

/// Below this many keys the index answers each with an indexed query on the whole key; from it
/// on, the shards' hit tables (one query for all of them) beat thousands of queries. Counted
/// before the keys are made, as the most there can be: targets times types with an analyzer.
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

/// One `(target, plan)` key to look up: its id and its shard's bucket (see [`bucket`]). Probes
/// are kept at their key's slot, `target * plans + plan`, as the answers are.
#[derive(Clone, Copy)]
struct Probe {
    id: i64,
    /// [`NO_BUCKET`] where the slot has no key (the target was not identified, or the plan has
    /// no analyzer).
    b: u32,
}

/// [`Probe::b`] of a slot without a key.
const NO_BUCKET: u32 = u32::MAX;

impl Probe {
    fn bucket(&self) -> Option<usize> {
        (self.b != NO_BUCKET).then_some(self.b as usize)
    }
}

/// Below this many slots per core a step of the lookup runs on one thread: starting a thread
/// costs about what 2,000 keys do.
const PAR_MIN: usize = 4096;

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
    let np = plans.len();
    let store = &session.store;
    let usable = index.filter(|_| !store.requires_signatures());
    // Many keys are answered from the shards' hit tables (one query); a few by a query each.
    // Decided on the most keys the targets can have, so that for many the tables are read on
    // this thread (the index's connection stays on it) while another hashes the keys and
    // reads the shards' stat data: the two take about as long, and one ran after the other.
    let many = targets.len() * variants.iter().flatten().count() >= few_keys;
    let (probes, mut tables) = match usable {
        Some(ix) if many => std::thread::scope(|sc| {
            let probing = sc.spawn(|| Probes::new(session, targets, plans, &variants));
            let types: Vec<&str> = plans
                .iter()
                .zip(&variants)
                .filter(|(_, v)| v.is_some())
                .map(|(p, _)| p.cache_type.as_str())
                .collect();
            let tables = ix.hit_tables_of(&types).unwrap_or_default();
            (probing.join().expect("hashing the keys panicked"), tables)
        }),
        _ => (
            Probes::new(session, targets, plans, &variants),
            FxHashMap::default(),
        ),
    };
    let Probes {
        probes,
        counts,
        shards,
        sigs,
        names,
    } = probes;
    let key = |slot: usize| {
        let Ok(file) = &targets[slot / np].id else {
            unreachable!("probes are made for identified targets only")
        };
        let p = slot % np;
        key_of(&plans[p], file, variants[p].as_deref().unwrap_or_default())
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
        // Locations are made only for those: each one copies its shard's names.
        let stale_now: Vec<Location> = shards
            .iter()
            .zip(&sigs)
            .zip(&names)
            .flat_map(|(((id, _), sig), rels)| {
                Place::ALL
                    .into_iter()
                    .zip(sig.iter().zip(rels))
                    .filter(|(_, (s, rel))| recorded_sig(&tables, &sigs_of, rel) != **s)
                    .map(move |(place, _)| Location {
                        place,
                        shard: id.clone(),
                    })
            })
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
    let mut out: Vec<Option<(i64, Found)>> = vec![None; probes.len()];
    // Buckets answered key by key: by a query each (few keys), or by reading their shards.
    let mut vouched_buckets: Vec<usize> = Vec::new();
    let mut vouched_shards: Vec<[String; 2]> = Vec::new();
    let mut any_invalid = !many;
    let mut to_read: Vec<(&ShardId, usize)> = Vec::new();
    let mut stale = Vec::new();
    // The hit tables (shards, overlay) that answer each bucket's keys, for the vouched shards.
    let mut answering: Vec<Option<[Option<Table<'_>>; 2]>> = vec![None; counts.len()];
    for (((id, b), sig), rels) in shards.iter().zip(&sigs).zip(names) {
        let mut ok = usable.is_some();
        for ((place, rel), s) in Place::ALL.into_iter().zip(&rels).zip(sig) {
            // Racily recorded shards (mtime 0) never match: they are read.
            if recorded(rel) != *s {
                ok = false;
                if usable.is_some() {
                    stale.push(Location {
                        place,
                        shard: id.clone(),
                    });
                }
            }
        }
        if !ok {
            to_read.push((id, *b));
            continue;
        }
        if many {
            let places = [&rels[0], &rels[1]].map(|r| tables.get(r).map(|t| Table::new(t, store)));
            any_invalid |= places.iter().flatten().any(|t| t.hits.invalid > 0);
            answering[*b] = Some(places);
        } else {
            vouched_buckets.push(*b);
        }
        vouched_shards.push(rels);
    }
    // Answered in slot order, on every core: a shard's keys are one in 256 of the list, and
    // gathering them missed the cache once a key (200,000 keys at 100,000 files), where the
    // tables' key ids are small enough to stay in cache.
    if many {
        crate::util::par::parallel_chunks_mut(&mut out, PAR_MIN, |at, chunk| {
            for (slot, answer) in chunk.iter_mut().enumerate() {
                let pr = probes[at + slot];
                let Some(Some(places)) = pr.bucket().map(|b| &answering[b]) else {
                    continue;
                };
                // A line in the shards wins over the same key in the overlay.
                let hit = places
                    .iter()
                    .enumerate()
                    .find_map(|(n, t)| Some((t.as_ref()?.answer(pr.id)?, n == 1)));
                *answer = Some((
                    pr.id,
                    match hit {
                        Some((Some(saved), overlay)) => Found::Hit { saved, overlay },
                        _ => Found::Miss,
                    },
                ));
            }
        });
    }
    // The slots of the buckets answered one by one, gathered in one pass (none in a run the hit
    // tables answer).
    let mut members: FxHashMap<usize, Vec<usize>> = vouched_buckets
        .iter()
        .chain(to_read.iter().map(|(_, b)| b))
        .map(|&b| (b, Vec::with_capacity(counts[b])))
        .collect();
    if !members.is_empty() {
        for (slot, pr) in probes.iter().enumerate() {
            if let Some(m) = pr.bucket().and_then(|b| members.get_mut(&b)) {
                m.push(slot);
            }
        }
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
        let vouched: Vec<usize> = vouched_buckets
            .iter()
            .flat_map(|b| members[b].iter().copied())
            .collect();
        let keys: Vec<Key> = vouched.iter().map(|&slot| key(slot)).collect();
        let hits = ix.lookup_keys(&keys.iter().collect::<Vec<_>>(), store.max_age().is_some());
        for (&slot, hit) in vouched.iter().zip(hits) {
            let found = match hit {
                Some(h) if h.created_at.as_deref().is_none_or(|t| !store.expired(t)) => {
                    Found::Hit {
                        saved: h.saved,
                        overlay: h.overlay,
                    }
                }
                _ => Found::Miss,
            };
            out[slot] = Some((probes[slot].id, found));
        }
    }
    // Read the rest, each shard once, on every core.
    let answers = parallel_map(&to_read, |(id, b)| {
        let slots = &members[b];
        let keys: Vec<Key> = slots.iter().map(|&slot| key(slot)).collect();
        read_shards(session, id, slots, &keys)
    });
    for (a, b) in answers {
        for (slot, f) in a {
            out[slot] = Some((probes[slot].id, f));
        }
        bad.extend(b);
    }
    // Every key has an answer, as the hit tables give one to each of theirs: a key nothing above
    // answered (none should be left) is a miss, never taken for a plan without an analyzer.
    for &slot in members.values().flatten() {
        if out[slot].is_none() {
            out[slot] = Some((probes[slot].id, Found::Miss));
        }
    }
    Looked {
        found: out,
        variants,
        stale,
        bad: bad.into_iter().collect(),
    }
}

/// A run's keys located: every slot's probe, the keys per bucket, and the shards involved
/// (by bucket) with the stat data of each in both places and its name in both.
struct Probes {
    probes: Vec<Probe>,
    counts: Vec<usize>,
    shards: Vec<(ShardId, usize)>,
    sigs: Vec<[Option<Sig>; 2]>,
    names: Vec<[String; 2]>,
}

impl Probes {
    fn new(
        session: &Workspace,
        targets: &[Target],
        plans: &[Plan],
        variants: &[Option<String>],
    ) -> Probes {
        let np = plans.len();
        // Every slot's key id, hashed on every core: 200,000 keys at 100,000 files.
        let mut probes = vec![
            Probe {
                id: 0,
                b: NO_BUCKET
            };
            targets.len() * np
        ];
        crate::util::par::parallel_chunks_mut(&mut probes, PAR_MIN, |at, chunk| {
            let mut ids: Vec<Option<KeyIds>> = plans
                .iter()
                .zip(variants)
                .map(|(plan, v)| v.as_ref().map(|v| KeyIds::new(&plan.cache_type, v)))
                .collect();
            for (k, pr) in chunk.iter_mut().enumerate() {
                let (t, p) = ((at + k) / np, (at + k) % np);
                let Ok(file) = &targets[t].id else { continue };
                let (Some(ids), Some(b)) = (&mut ids[p], bucket(p, &file.blob)) else {
                    continue;
                };
                *pr = Probe {
                    id: ids.id(&file.blob),
                    b: b as u32,
                };
            }
        });
        let mut counts = vec![0usize; np * 256];
        for b in probes.iter().filter_map(Probe::bucket) {
            counts[b] += 1;
        }
        let shards: Vec<(ShardId, usize)> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(b, _)| {
                let id = ShardId {
                    cache_type: plans[b / 256].cache_type.clone(),
                    prefix: format!("{:02x}", b % 256),
                };
                (id, b)
            })
            .collect();
        let sigs = shard_sigs(session, &shards);
        // Each shard's name in both places, made once for the checks and answers.
        let names = shards
            .iter()
            .map(|(id, _)| Place::ALL.map(|place| Location::rel_of(place, id)))
            .collect();
        Probes {
            probes,
            counts,
            shards,
            sigs,
            names,
        }
    }
}

/// A hit table as one run reads it: whether its records need reading at all. Most do not: an
/// offline type's entries save nothing, and without `max_age` (or with all of a table's
/// entries younger) their creation times do not matter, so a key is answered by its id alone.
#[derive(Clone, Copy)]
struct Table<'a> {
    hits: &'a ShardHits,
    store: &'a crate::cache::store::Store,
    /// Some record may be past `max_age`.
    ageing: bool,
}

impl<'a> Table<'a> {
    fn new(hits: &'a ShardHits, store: &'a crate::cache::store::Store) -> Table<'a> {
        Table {
            hits,
            store,
            ageing: store.max_age().is_some() && store.expired_secs(hits.oldest()),
        }
    }

    /// `None`: the table does not hold key `id`; `Some(None)`: it does, expired; else the cost
    /// its entry saved.
    fn answer(&self, id: i64) -> Option<Option<f64>> {
        let i = self.hits.position(id)?;
        if self.ageing && self.store.expired_secs(self.hits.created(i)) {
            return Some(None);
        }
        Some(Some(if self.hits.costly() {
            self.hits.saved(i)
        } else {
            0.0
        }))
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
fn shard_sigs(session: &Workspace, shards: &[(ShardId, usize)]) -> Vec<[Option<Sig>; 2]> {
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
mod tests;
