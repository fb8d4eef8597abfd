//! How the index records a shard: its line table (each line's hash, offset and length, in file
//! order) and the removal of every row of shards that are gone or must be read again.

use anyhow::Result;

/// One line's record in `shards.lines`: hash, offset, length.
pub(crate) type LineRec = (u64, u32, u32);

/// Remove every row of the shards `rels` (by [`Location::rel`]), which are gone; returns the
/// entry rows removed. Only shards the index records have rows (they are written together, and
/// this is the write transaction, so another process's sync is seen): entries are deleted for
/// those alone, which matters when `rebuild` has dropped the index on `entries.shard`.
pub(crate) fn forget_shards(tx: &rusqlite::Transaction<'_>, rels: &[String]) -> Result<usize> {
    if rels.is_empty() {
        return Ok(0);
    }
    let list = serde_json::to_string(rels)?;
    let recorded: Vec<String> = tx
        .prepare_cached(
            "SELECT shard FROM shards WHERE shard IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([&list], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = 0;
    if !recorded.is_empty() {
        removed = tx
            .prepare_cached("DELETE FROM entries WHERE shard IN (SELECT value FROM json_each(?1))")?
            .execute([serde_json::to_string(&recorded)?])?;
    }
    for sql in [
        "DELETE FROM shards WHERE shard IN (SELECT value FROM json_each(?1))",
        "DELETE FROM shard_lines WHERE shard IN (SELECT value FROM json_each(?1))",
        "DELETE FROM shard_hits WHERE shard IN (SELECT value FROM json_each(?1))",
    ] {
        tx.prepare_cached(sql)?.execute([&list])?;
    }
    Ok(removed)
}

/// Remove every row and record of the shards `rels` (by [`Location::rel`]), recorded or not,
/// so the next sync of them reads them whole (`cache verify`'s repair).
pub(crate) fn forget(tx: &rusqlite::Transaction<'_>, rels: &[String]) -> Result<()> {
    let list = serde_json::to_string(rels)?;
    for sql in [
        "DELETE FROM entries WHERE shard IN (SELECT value FROM json_each(?1))",
        "DELETE FROM shards WHERE shard IN (SELECT value FROM json_each(?1))",
        "DELETE FROM shard_lines WHERE shard IN (SELECT value FROM json_each(?1))",
        "DELETE FROM shard_hits WHERE shard IN (SELECT value FROM json_each(?1))",
    ] {
        tx.prepare_cached(sql)?.execute([&list])?;
    }
    Ok(())
}

pub(crate) fn encode_lines(lines: &[LineRec]) -> Vec<u8> {
    let mut b = Vec::with_capacity(lines.len() * 16);
    for (h, off, len) in lines {
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
    }
    b
}

pub(crate) fn decode_lines(b: &[u8]) -> Vec<LineRec> {
    b.chunks_exact(16)
        .map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(c[8..12].try_into().expect("4 bytes")),
                u32::from_le_bytes(c[12..].try_into().expect("4 bytes")),
            )
        })
        .collect()
}
