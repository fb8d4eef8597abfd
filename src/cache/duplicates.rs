//! What a union merge leaves in a shard: two lines for one key. Readers pick the earliest
//! ([`super::shard::wins`]); under `[cache] require_signature` the pick is among the lines that
//! pass the check ([`Parsed::prefer`]), and two lines with different results are named by
//! `cache verify` ([`Parsed::conflicts`]).

use super::entry::Entry;
use super::key::Key;
use super::shard::{wins, Decoded, Parsed};

impl Parsed {
    /// Make each key's winner the best line that `ok` accepts, when the earliest line is not
    /// accepted but a twin is (under `[cache] require_signature`, an unsigned twin left by a
    /// union merge must never hide a signed line). Keys with no accepted line keep theirs.
    pub fn prefer(&mut self, bytes: &[u8], ok: impl Fn(&Entry) -> bool) {
        if self.superseded.is_empty() {
            return;
        }
        for i in 0..self.entries.len() {
            if ok(&self.entries[i].entry) {
                continue;
            }
            let key = &self.entries[i].key;
            let best = self
                .superseded
                .iter()
                .enumerate()
                .filter(|(_, d)| d.key == *key && ok(&d.entry))
                .fold(None::<usize>, |best, (j, d)| match best {
                    Some(b)
                        if !wins(
                            (&d.entry, &bytes[d.line.range.clone()]),
                            (
                                &self.superseded[b].entry,
                                &bytes[self.superseded[b].line.range.clone()],
                            ),
                        ) =>
                    {
                        Some(b)
                    }
                    _ => Some(j),
                });
            if let Some(j) = best {
                std::mem::swap(&mut self.entries[i], &mut self.superseded[j]);
            }
        }
    }

    /// Keys held by two or more lines whose results differ (a union merge of two analyses of
    /// one key): the key, with the 1-based line numbers of its lines.
    pub fn conflicts(&self, bytes: &[u8]) -> Vec<(&Key, Vec<usize>)> {
        let line_no = |d: &Decoded| {
            bytes[..d.line.range.start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        };
        let mut out = Vec::new();
        for w in &self.entries {
            let twins: Vec<&Decoded> = self.superseded.iter().filter(|d| d.key == w.key).collect();
            if twins.iter().any(|d| d.entry.result != w.entry.result) {
                let mut lines: Vec<usize> = std::iter::once(w).chain(twins).map(line_no).collect();
                lines.sort_unstable();
                out.push((&w.key, lines));
            }
        }
        out
    }
}
