//! The per-user ledger, `$RUSTASSISTANT_HOME/usage.db`: one row per paid request across every
//! repository, the truth the monthly budget is checked against.
//!
//! A request is first *reserved* at its worst-case cost inside an immediate (write-locking)
//! transaction that also checks the month's total, then *settled* with its real cost. Parallel
//! jobs and processes therefore serialise on the check and can never jointly overshoot a hard
//! limit. A reservation never settled (its process was killed mid-request) keeps counting at
//! its reserved amount: the request may have been billed.
//!
//! A corrupt ledger is never replaced by an empty one (that would reset the month's spend to
//! zero): opening fails with a message saying how to repair it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// How long a reservation waits for another process's. Reservations are sub-millisecond.
const BUSY_WAIT: Duration = Duration::from_secs(30);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id            INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,          -- unix seconds
    month         TEXT NOT NULL,             -- YYYY-MM, UTC
    repo          TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    cache_type    TEXT NOT NULL,
    reserved_usd  REAL NOT NULL,
    cost_usd      REAL,                      -- NULL while reserved
    state         TEXT NOT NULL,             -- reserved | settled | released
    tokens_in     INTEGER NOT NULL DEFAULT 0,
    tokens_out    INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_month ON requests(month);
CREATE TABLE IF NOT EXISTS savings (
    month TEXT NOT NULL, repo TEXT NOT NULL, model TEXT NOT NULL, cache_type TEXT NOT NULL,
    hits INTEGER NOT NULL, saved_usd REAL NOT NULL,
    PRIMARY KEY (month, repo, model, cache_type)
);
"#;
const VERSION: &str = "1";

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file exists but is not a usable ledger.
    #[error("the usage ledger {path} is unreadable ({reason}); paid requests are refused until it is repaired: check it with `sqlite3 {path} 'PRAGMA integrity_check'`, or move it aside to start a new ledger at zero spend")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        reason: String,
    },
    /// Another SQLite failure.
    #[error("usage ledger: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// The open ledger.
pub struct Ledger {
    conn: Connection,
}

/// Month-to-date totals.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct MonthSpend {
    /// Settled costs plus open reservations.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub committed_usd: f64,
    /// Settled costs only.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub settled_usd: f64,
    /// Open reservations.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub reserved_usd: f64,
    /// Paid requests.
    pub requests: u64,
}

impl Ledger {
    /// Open (creating) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| LedgerError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let corrupt = |e: rusqlite::Error| LedgerError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(corrupt)?;
        conn.busy_timeout(BUSY_WAIT).map_err(corrupt)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(corrupt)?;
        if tables == 0 {
            conn.execute_batch(SCHEMA).map_err(corrupt)?;
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?1)",
                [VERSION],
            )
            .map_err(corrupt)?;
        } else {
            let v: Option<String> = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(corrupt)?;
            if v.as_deref() != Some(VERSION) {
                return Err(LedgerError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("unknown ledger version {v:?}"),
                });
            }
        }
        Ok(Ledger { conn })
    }

    fn spend_in(tx: &Connection, month: &str) -> rusqlite::Result<MonthSpend> {
        tx.query_row(
            "SELECT COALESCE(sum(CASE WHEN state = 'settled' THEN cost_usd ELSE 0 END), 0),
                    COALESCE(sum(CASE WHEN state = 'reserved' THEN reserved_usd ELSE 0 END), 0),
                    count(CASE WHEN state != 'released' THEN 1 END)
             FROM requests WHERE month = ?1",
            [month],
            |r| {
                let settled: f64 = r.get(0)?;
                let reserved: f64 = r.get(1)?;
                Ok(MonthSpend {
                    committed_usd: settled + reserved,
                    settled_usd: settled,
                    reserved_usd: reserved,
                    requests: r.get::<_, i64>(2)? as u64,
                })
            },
        )
    }

    /// Month-to-date spend.
    pub fn month(&self, month: &str) -> Result<MonthSpend, LedgerError> {
        Ok(Self::spend_in(&self.conn, month)?)
    }

    /// Reserve `amount` for one request if the month's committed spend plus it stays within
    /// `limit` (`None`: no hard limit). Returns the reservation id, or the committed spend that
    /// refused it.
    #[allow(clippy::too_many_arguments)]
    pub fn reserve(
        &mut self,
        ts: i64,
        month: &str,
        repo: &str,
        provider: &str,
        model: &str,
        cache_type: &str,
        amount: f64,
        limit: Option<f64>,
    ) -> Result<Result<i64, f64>, LedgerError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let spend = Self::spend_in(&tx, month)?;
        if let Some(l) = limit {
            // A hair of tolerance for floating-point sums of many small costs.
            if spend.committed_usd + amount > l + 1e-12 {
                return Ok(Err(spend.committed_usd));
            }
        }
        tx.execute(
            "INSERT INTO requests (ts, month, repo, provider, model, cache_type, reserved_usd, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'reserved')",
            params![ts, month, repo, provider, model, cache_type, amount],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Ok(id))
    }

    /// Settle a reservation with the real cost and usage.
    pub fn settle(
        &self,
        id: i64,
        cost: f64,
        tokens: &crate::cache::Tokens,
    ) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE requests SET state = 'settled', cost_usd = ?2, tokens_in = ?3, tokens_out = ?4, tokens_cached = ?5 WHERE id = ?1",
            params![id, cost, tokens.input as i64, tokens.output as i64, tokens.cached_input as i64],
        )?;
        Ok(())
    }

    /// Release a reservation whose request was certainly not billed.
    pub fn release(&self, id: i64) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE requests SET state = 'released', cost_usd = 0 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Record cost saved by cache hits.
    pub fn record_savings(
        &self,
        month: &str,
        repo: &str,
        rows: &[(String, String, u64, f64)],
    ) -> Result<(), LedgerError> {
        for (model, ty, hits, saved) in rows {
            self.conn.execute(
                "INSERT INTO savings VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET hits = hits + excluded.hits, saved_usd = saved_usd + excluded.saved_usd",
                params![month, repo, model, ty, *hits as i64, saved],
            )?;
        }
        Ok(())
    }

    /// The `costs` report: (month, model, type, requests, tokens in, tokens out, cost, hits, saved).
    pub fn report(&self) -> Result<Vec<CostRow>, LedgerError> {
        self.report_for(None)
    }

    /// [`Ledger::report`] for one repository (its work tree's path, as recorded), or all.
    pub fn report_for(&self, repo: Option<&str>) -> Result<Vec<CostRow>, LedgerError> {
        let mut q = self.conn.prepare(
            "WITH spent AS (
                SELECT month, model, cache_type, count(*) AS n, sum(tokens_in) AS tin, sum(tokens_out) AS tout,
                       sum(CASE WHEN state = 'settled' THEN cost_usd ELSE reserved_usd END) AS cost
                FROM requests WHERE state != 'released' AND (?1 IS NULL OR repo = ?1) GROUP BY month, model, cache_type),
             saved AS (SELECT month, model, cache_type, sum(hits) AS hits, sum(saved_usd) AS saved FROM savings
                WHERE ?1 IS NULL OR repo = ?1 GROUP BY month, model, cache_type),
             keys AS (SELECT month, model, cache_type FROM spent UNION SELECT month, model, cache_type FROM saved)
             SELECT k.month, k.model, k.cache_type, COALESCE(s.n, 0), COALESCE(s.tin, 0), COALESCE(s.tout, 0), COALESCE(s.cost, 0),
                    COALESCE(v.hits, 0), COALESCE(v.saved, 0)
             FROM keys k LEFT JOIN spent s USING (month, model, cache_type) LEFT JOIN saved v USING (month, model, cache_type)
             ORDER BY k.month DESC, k.model, k.cache_type",
        )?;
        let rows = q.query_map([repo], |r| {
            Ok(CostRow {
                month: r.get(0)?,
                model: r.get(1)?,
                cache_type: r.get(2)?,
                requests: r.get::<_, i64>(3)? as u64,
                tokens_in: r.get::<_, i64>(4)? as u64,
                tokens_out: r.get::<_, i64>(5)? as u64,
                cost_usd: r.get(6)?,
                hits: r.get::<_, i64>(7)? as u64,
                saved_usd: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// One line of the `costs` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CostRow {
    /// YYYY-MM.
    pub month: String,
    /// Model.
    pub model: String,
    /// Analysis type.
    #[serde(rename = "type")]
    pub cache_type: String,
    /// Paid requests.
    pub requests: u64,
    /// Input tokens.
    pub tokens_in: u64,
    /// Output tokens.
    pub tokens_out: u64,
    /// Spent.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub cost_usd: f64,
    /// Cache hits.
    pub hits: u64,
    /// Saved by those hits.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub saved_usd: f64,
}
