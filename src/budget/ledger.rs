//! The per-user ledger, `$RUSTASSISTANT_HOME/usage.db`: one row per paid request across every
//! repository, the truth the monthly budget is checked against.
//!
//! A request is first *reserved* at its worst-case cost inside an immediate (write-locking)
//! transaction that also checks the month's total, then *settled* with its real cost. Parallel
//! jobs and processes therefore serialise on the check and can never jointly overshoot a hard
//! limit. Each reservation records the process that made it (id, a start-time token and the
//! host), so one left by a process that no longer runs (kill -9, power loss) is settled by the
//! next process that opens the ledger on that host: charged what it can have cost (its input,
//! which was sent), and marked so (`how`). Every settled or released row says how in `how`.
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
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    pid           INTEGER,                   -- the reserving process
    owner         TEXT,                      -- its start-time token (pid reuse)
    host          TEXT,                      -- where it ran
    input_usd     REAL,                      -- what its input alone costs
    how           TEXT                       -- how it was settled or released
);
CREATE INDEX IF NOT EXISTS requests_month ON requests(month);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state);
CREATE TABLE IF NOT EXISTS savings (
    month TEXT NOT NULL, repo TEXT NOT NULL, model TEXT NOT NULL, cache_type TEXT NOT NULL,
    hits INTEGER NOT NULL, saved_usd REAL NOT NULL,
    PRIMARY KEY (month, repo, model, cache_type)
);
"#;
/// Columns version 2 added: who reserved (process id, start-time token, host), the input
/// part of the worst case, and how the row was settled or released.
const V2_COLUMNS: &[(&str, &str)] = &[
    ("pid", "INTEGER"),
    ("owner", "TEXT"),
    ("host", "TEXT"),
    ("input_usd", "REAL"),
    ("how", "TEXT"),
];
const VERSION: &str = "2";

/// Reservations without an owner (written by version 1) are taken for orphans once this old:
/// far past any request's deadline.
const OWNERLESS_AFTER_S: i64 = 24 * 3600;

/// How a reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The reply reported its usage: charged what it reported.
    Billed,
    /// A reply without a usage block: charged the worst case.
    Unmeasured,
    /// No reply within the deadline: charged the worst case (generation may have gone on).
    TimedOut,
    /// Abandoned in flight by Ctrl-C: charged its input, which was sent.
    Abandoned,
}

impl Settled {
    fn word(self) -> &'static str {
        match self {
            Settled::Billed => "billed",
            Settled::Unmeasured => "unmeasured: charged the reservation",
            Settled::TimedOut => "timed out: charged the reservation",
            Settled::Abandoned => "abandoned by Ctrl-C: charged its input",
        }
    }
}

/// One request to reserve.
#[derive(Debug, Clone)]
pub struct Reservation<'a> {
    /// Unix seconds.
    pub ts: i64,
    /// `YYYY-MM`, UTC.
    pub month: &'a str,
    /// The repository's work tree.
    pub repo: &'a str,
    /// Provider name.
    pub provider: &'a str,
    /// Model.
    pub model: &'a str,
    /// Analysis type.
    pub cache_type: &'a str,
    /// The worst case: the most this request can cost.
    pub amount: f64,
    /// What its input alone costs (charged if it is abandoned, or its process dies).
    pub input_usd: f64,
}

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
    /// Reservations of processes that no longer run, settled when this ledger was opened.
    pub orphans_settled: usize,
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
    /// Open (creating) the ledger at `path`. Processes that open a new ledger at the same
    /// moment may find it locked while one of them creates it or turns on its WAL (SQLite does
    /// not wait for that lock): such an open is tried again, for as long as a busy ledger is
    /// waited for.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let deadline = std::time::Instant::now() + BUSY_WAIT;
        loop {
            let busy = std::cell::Cell::new(false);
            match Ledger::open_once(path, &busy) {
                Err(_) if busy.get() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r,
            }
        }
    }

    fn open_once(path: &Path, busy: &std::cell::Cell<bool>) -> Result<Ledger, LedgerError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| LedgerError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let corrupt = |e: rusqlite::Error| {
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) {
                busy.set(true);
            }
            LedgerError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        };
        // SQLite follows links: the ledger is only ever a regular file.
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            crate::util::fs::regular_or_absent(Path::new(&p)).map_err(|e| {
                LedgerError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
        }
        let mut conn = Connection::open(path).map_err(corrupt)?;
        conn.busy_timeout(BUSY_WAIT).map_err(corrupt)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        // A new ledger's tables and version, or an old one's migration, are written in one
        // transaction that takes the write lock before it looks again: another process doing
        // the same at the same moment is waited for, and a ledger is never seen half made
        // (tables without a version) or migrated twice. A ledger at this version is only read.
        if version(&conn).map_err(corrupt)?.as_deref() != Some(VERSION) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(corrupt)?;
            match version(&tx).map_err(corrupt)? {
                None if tables(&tx).map_err(corrupt)? == 0 => {
                    tx.execute_batch(SCHEMA).map_err(corrupt)?;
                    tx.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?1)",
                        [VERSION],
                    )
                    .map_err(corrupt)?;
                }
                Some(v) if v == VERSION => {}
                Some(v) if v == "1" => migrate_v1(&tx).map_err(corrupt)?,
                v => {
                    return Err(LedgerError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("unknown ledger version {v:?}"),
                    })
                }
            }
            tx.commit().map_err(corrupt)?;
        }
        let mut ledger = Ledger {
            conn,
            orphans_settled: 0,
        };
        ledger.orphans_settled = ledger.settle_orphans().map_err(corrupt)?;
        Ok(ledger)
    }

    /// Settle the reservations of processes on this host that no longer run: each is charged
    /// its input (it was sent; the reply never arrived to say more), or its reservation when
    /// that is unknown (a version 1 row), and says so in `how`.
    fn settle_orphans(&mut self) -> rusqlite::Result<usize> {
        let host = crate::sys::hostname();
        let now = jiff::Timestamp::now().as_second();
        /// (id, pid, owner token, host, ts) of an open reservation.
        type Open = (i64, Option<i64>, Option<String>, Option<String>, i64);
        let open: Vec<Open> = {
            let mut q = self.conn.prepare(
                "SELECT id, pid, owner, host, ts FROM requests WHERE state = 'reserved'",
            )?;
            let rows = q.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let gone: Vec<(i64, String)> = open
            .into_iter()
            .filter_map(|(id, pid, owner, h, ts)| match (pid, h) {
                (Some(pid), Some(h)) if h == host => {
                    let pid = u32::try_from(pid).ok()?;
                    (!crate::sys::process_alive(pid, owner.as_deref().unwrap_or(""))).then(|| {
                        (
                            id,
                            format!(
                                "orphaned: process {pid} ended before settling; charged its input"
                            ),
                        )
                    })
                }
                (None, _) if now - ts > OWNERLESS_AFTER_S => Some((
                    id,
                    "orphaned: left by an earlier version; charged the reservation".to_string(),
                )),
                _ => None,
            })
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for (id, how) in &gone {
            // Still open: another process may have settled it meanwhile.
            n += tx.execute(
                "UPDATE requests SET state = 'settled', cost_usd = COALESCE(input_usd, reserved_usd), how = ?2 WHERE id = ?1 AND state = 'reserved'",
                params![id, how],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// How many of the month's requests ended each way (`how`), for `budget`.
    pub fn settled_how(&self, month: &str) -> Result<Vec<(String, u64)>, LedgerError> {
        let mut q = self.conn.prepare(
            "SELECT COALESCE(how, state), count(*) FROM requests WHERE month = ?1 GROUP BY 1 ORDER BY 1",
        )?;
        let rows = q.query_map([month], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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

    /// Reserve `r.amount` for one request if the month's committed spend plus it stays within
    /// `limit` (`None`: no hard limit). Returns the reservation id, or the committed spend that
    /// refused it.
    pub fn reserve(
        &mut self,
        r: &Reservation<'_>,
        limit: Option<f64>,
    ) -> Result<Result<i64, f64>, LedgerError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let spend = Self::spend_in(&tx, r.month)?;
        if let Some(l) = limit {
            // A hair of tolerance for floating-point sums of many small costs.
            if spend.committed_usd + r.amount > l + 1e-12 {
                return Ok(Err(spend.committed_usd));
            }
        }
        let pid = std::process::id();
        tx.execute(
            "INSERT INTO requests (ts, month, repo, provider, model, cache_type, reserved_usd, state, pid, owner, host, input_usd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'reserved', ?8, ?9, ?10, ?11)",
            params![
                r.ts,
                r.month,
                r.repo,
                r.provider,
                r.model,
                r.cache_type,
                r.amount,
                pid as i64,
                crate::sys::process_token(pid),
                crate::sys::hostname(),
                r.input_usd
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Ok(id))
    }

    /// Settle a reservation with the cost charged and the usage, saying how it ended.
    pub fn settle(
        &self,
        id: i64,
        cost: f64,
        tokens: &crate::cache::Tokens,
        how: Settled,
    ) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE requests SET state = 'settled', cost_usd = ?2, tokens_in = ?3, tokens_out = ?4, tokens_cached = ?5, how = ?6 WHERE id = ?1",
            params![id, cost, tokens.input as i64, tokens.output as i64, tokens.cached_input as i64, how.word()],
        )?;
        Ok(())
    }

    /// Release a reservation whose request was certainly not billed (refused before
    /// generating, or never sent).
    pub fn release(&self, id: i64, how: &str) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE requests SET state = 'released', cost_usd = 0, how = ?2 WHERE id = ?1",
            params![id, how],
        )?;
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

/// How many tables the database has.
fn tables(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )
}

/// The ledger's schema version; `None` when it has no tables yet, or no version.
fn version(conn: &Connection) -> rusqlite::Result<Option<String>> {
    if tables(conn)? == 0 {
        return Ok(None);
    }
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .optional()
}

/// Bring a version 1 ledger to version 2: new columns, nothing else touched. The caller holds
/// the write transaction it happens in.
fn migrate_v1(conn: &Connection) -> rusqlite::Result<()> {
    for (name, ty) in V2_COLUMNS {
        conn.execute_batch(&format!("ALTER TABLE requests ADD COLUMN {name} {ty}"))?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS requests_state ON requests(state)")?;
    conn.execute(
        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?1)",
        [VERSION],
    )?;
    Ok(())
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

#[cfg(test)]
mod tests;
