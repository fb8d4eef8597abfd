//! The item ids of each blob, derived once (tree-sitter) and kept: the commit hook asks which
//! items the files of the tree being committed have, at every commit, and only content new
//! since the last commit is parsed (DESIGN.md, "Items").

use std::collections::HashMap;

use anyhow::Result;

use super::Index;

impl Index {
    /// The item ids recorded for each of `blobs` that has a row (an empty list: the blob has
    /// no items, it is analysed whole).
    pub fn item_ids_of(&self, blobs: &[&str]) -> Result<HashMap<String, Vec<String>>> {
        let mut q = self.conn.prepare(
            "SELECT blob, ids FROM blob_items WHERE blob IN (SELECT value FROM json_each(?1))",
        )?;
        let wanted = serde_json::to_string(blobs)?;
        let rows = q.query_map([wanted], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::with_capacity(blobs.len());
        for row in rows {
            let (blob, ids) = row?;
            out.insert(blob, ids.split_whitespace().map(String::from).collect());
        }
        Ok(out)
    }

    /// Record the item ids of blobs (best effort: a busy or read-only index only means parsing
    /// again next time).
    pub fn remember_item_ids(&self, rows: &[(String, Vec<String>)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO blob_items VALUES (?1, ?2)")?;
            for (blob, ids) in rows {
                put.execute([blob, &ids.join(" ")])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
