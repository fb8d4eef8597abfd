//! What hits of paid analyses saved, per month, model and type: statistics kept in this local
//! index (they cost no durable write on the path of a hit), read by `costs` and the report.

use anyhow::Result;

use super::Index;

/// What the hits of one model and type saved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Saving {
    /// `YYYY-MM`, UTC (empty in a run's tally: the run's month is added when recorded).
    pub month: String,
    /// The model.
    pub model: String,
    /// The analysis type.
    pub cache_type: String,
    /// Hits.
    pub hits: u64,
    /// USD they saved.
    pub saved_usd: f64,
}

impl Index {
    /// What cache hits of paid analyses saved in this clone, newest month first.
    pub fn savings(&self) -> Result<Vec<Saving>> {
        let mut q = self.conn.prepare(
            "SELECT month, model, cache_type, hits, saved_usd FROM savings ORDER BY month DESC, model, cache_type",
        )?;
        let rows = q.query_map([], |r| {
            Ok(Saving {
                month: r.get(0)?,
                model: r.get(1)?,
                cache_type: r.get(2)?,
                hits: r.get::<_, i64>(3)? as u64,
                saved_usd: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
