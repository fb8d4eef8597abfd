//! The store's policy for what it reads: `[cache] max_age` and `[cache] require_signature`,
//! applied the same way by every reader (lookups, the commit hook, `show`, `cache verify`).

use super::entry::{Entry, EntryError};
use super::key::Key;
use super::shard::{self, ShardId};
use super::store::{Store, UNKNOWN_TIME};

impl Store {
    /// Whether `created_at` is past `[cache] max_age` (never for an empty time: a compact item
    /// entry's, which lives as long as a file entry uses it).
    pub fn expired(&self, created_at: &str) -> bool {
        let Some(age) = self.max_age() else {
            return false;
        };
        // Compact item entries carry no time: they live as long as a file entry uses them.
        if created_at.is_empty() {
            return false;
        }
        match created_at.parse::<jiff::Timestamp>() {
            Ok(t) => {
                let now = jiff::Timestamp::now();
                now.duration_since(t).as_secs_f64() > age.as_secs_f64()
            }
            Err(_) => true,
        }
    }

    /// [`Store::expired`] for a creation time in Unix seconds ([`UNKNOWN_TIME`]: it did not
    /// parse, and is past any age, as [`Store::expired`] says of such a time).
    pub fn expired_secs(&self, created: i64) -> bool {
        let Some(age) = self.max_age() else {
            return false;
        };
        created == UNKNOWN_TIME
            || (jiff::Timestamp::now().as_second() as f64 - created as f64) > age.as_secs_f64()
    }

    /// Why the signature policy refuses `e`, if it does.
    pub fn untrusted(&self, e: &Entry) -> Option<EntryError> {
        self.signatures()
            .as_ref()
            .and_then(|k| super::signature_problem(e, k.as_deref()))
            .map(EntryError::Signature)
    }

    /// The best line for `key` among the lines a union merge left that pass the signature
    /// policy (the earliest, then the smaller bytes).
    pub(super) fn trusted_twin<'p>(
        &self,
        parsed: &'p shard::Parsed,
        bytes: &[u8],
        key: &Key,
    ) -> Option<&'p shard::Decoded> {
        parsed
            .superseded
            .iter()
            .filter(|d| d.key == *key && self.untrusted(&d.entry).is_none())
            .reduce(|best, d| {
                if shard::wins(
                    (&d.entry, &bytes[d.line.range.clone()]),
                    (&best.entry, &bytes[best.line.range.clone()]),
                ) {
                    d
                } else {
                    best
                }
            })
    }

    /// Parse a shard's bytes as this store reads them: under `[cache] require_signature`, each
    /// key's winner is chosen among the lines that pass the check.
    pub fn parse(&self, bytes: &[u8], shard: &ShardId) -> shard::Parsed {
        let mut p = shard::parse(bytes, shard);
        if self.requires_signatures() {
            p.prefer(bytes, |e| self.untrusted(e).is_none());
        }
        p
    }
}
