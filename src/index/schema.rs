//! The index schema, in one place. `SCHEMA` creates the current version from nothing; an index
//! at any other version is rebuilt from the shards (it is derived data; what only it holds,
//! access history and counters, is lost with one warning).
//!
//! Versions 1–5 indexed the per-entry layout (one row per entry file). 6 indexes shards: a row
//! per line (`entries`, found by key id or by shard and line hash) and a row per shard
//! (`shards`: its stat data and every line's hash, offset and length, so a shard a sync finds
//! changed is compared line by line without reading its rows). 7 keeps the line tables in
//! `shard_lines`, so the stat data every lookup reads stays a few pages. 8 adds the covering
//! index `entries_hits`. 9 changes `line_hash` (four lanes: a sync after a large pull hashes
//! hundreds of megabytes). 10 adds `entries_dups`; 11 `entries.overlay`; 12 `findings`; 13 `daily`;
//! 14 `shard_hits` (each shard's valid keys as one blob, for all-cached runs; an index at 13 is
//! migrated in place, keeping its history: see `MIGRATE_13`). 15 `savings` (what hits of paid
//! analyses saved, per month, model and type; they were recorded in the user's ledger, one
//! durable write per run on the path of every paid hit).

/// Current schema version, stored in `meta`.
pub const VERSION: i64 = 15;

/// Tables, indices and the triggers that keep `totals` in step with `entries`, so `cache stats`
/// reads a few dozen rows instead of scanning every entry.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id            INTEGER PRIMARY KEY,
    shard         TEXT NOT NULL,      -- cache/<type>/<b0b1>.jsonl or overlay/<type>/<b0b1>.jsonl
    overlay       INTEGER NOT NULL,   -- 1 when the shard is in the local overlay
    line_hash     INTEGER NOT NULL,   -- cache::shard::line_hash of the line's bytes
    key_id        INTEGER NOT NULL,   -- index::key_id: lookups and `access`
    cache_type    TEXT NOT NULL,
    blob          TEXT NOT NULL,
    variant       TEXT NOT NULL,
    valid         INTEGER NOT NULL,   -- 1 the key's line, 0 untrusted (error says why), 2 a duplicate that lost
    error         TEXT,
    path          TEXT,
    file_size     INTEGER,
    provider      TEXT,
    model         TEXT,
    created_at    TEXT,
    tokens_in     INTEGER NOT NULL DEFAULT 0,
    tokens_out    INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL,
    size_on_disk  INTEGER NOT NULL,   -- the line's bytes and its newline
    json_size     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_key ON entries(key_id);
CREATE INDEX IF NOT EXISTS entries_shard ON entries(shard, line_hash);
CREATE INDEX IF NOT EXISTS entries_untrusted ON entries(valid) WHERE valid = 0;
-- Shards holding a key twice (union-merge leftovers): a sync of such a shard re-reads it whole.
CREATE INDEX IF NOT EXISTS entries_dups ON entries(shard) WHERE valid = 2;
-- What an all-cached run reads for every key, in a few pages instead of the whole table.
CREATE INDEX IF NOT EXISTS entries_hits ON entries(key_id, cost_usd, created_at, overlay) WHERE valid = 1;
-- What the last sync saw of each shard: its stat data (a small table: every lookup reads it),
-- and apart from it its lines as (hash u64, offset u32, length u32) little-endian records in
-- file order.
CREATE TABLE IF NOT EXISTS shards (shard TEXT PRIMARY KEY, ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shard_lines (shard TEXT PRIMARY KEY, lines BLOB NOT NULL);
-- Each recorded shard's valid keys (index::hits): (key_id i64, cost saved f64, created_at Unix
-- seconds i64) little-endian records sorted by key_id, and its count of untrusted lines.
CREATE TABLE IF NOT EXISTS shard_hits (shard TEXT PRIMARY KEY, invalid INTEGER NOT NULL, hits BLOB NOT NULL);
-- Access history lives apart from entries so a rebuild keeps it, keyed by key_id.
CREATE TABLE IF NOT EXISTS access (id INTEGER PRIMARY KEY, last_accessed INTEGER NOT NULL, access_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS totals (
    cache_type TEXT NOT NULL, model TEXT NOT NULL, valid INTEGER NOT NULL,
    n INTEGER NOT NULL, size_on_disk INTEGER NOT NULL, json_size INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, tokens_cached INTEGER NOT NULL,
    cost_usd REAL NOT NULL, cost_unknown INTEGER NOT NULL,
    PRIMARY KEY (cache_type, model, valid)
);
-- Each valid line's findings (crate::findings), derived once: a row holds while the line's hash
-- is the one recorded here and meta 'findings_rules' names the thresholds in force. `data` is
-- the findings as a JSON array; `n` and `worst` (0 error, 1 warning, 2 note) answer counts.
CREATE TABLE IF NOT EXISTS findings (key_id INTEGER PRIMARY KEY, line_hash INTEGER NOT NULL, n INTEGER NOT NULL, worst INTEGER, data TEXT NOT NULL);
-- Hits and misses per UTC day, for the report's hit rate over time (local history, like access).
CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, hits INTEGER NOT NULL, misses INTEGER NOT NULL, saved_usd REAL NOT NULL);
-- What hits of paid analyses saved, per month (UTC), model and type.
CREATE TABLE IF NOT EXISTS savings (month TEXT NOT NULL, model TEXT NOT NULL, cache_type TEXT NOT NULL, hits INTEGER NOT NULL, saved_usd REAL NOT NULL, PRIMARY KEY (month, model, cache_type));
-- The item ids of a blob (space-separated; empty: analysed whole), derived once (index::blob_items).
CREATE TABLE IF NOT EXISTS blob_items (blob TEXT PRIMARY KEY, ids TEXT NOT NULL);
-- Triggers are in TRIGGERS so a bulk load can drop them and recompute `totals` in one pass.
"#;

/// From version 13: the rows derived from the shards are dropped (the next sync reads every
/// shard again and writes its hit table); access history, counters, findings and the daily tally
/// are kept.
pub const MIGRATE_13: &str =
    "DROP TRIGGER IF EXISTS entries_ins; DROP TRIGGER IF EXISTS entries_del;
DELETE FROM entries; DELETE FROM shards; DELETE FROM shard_lines;
DELETE FROM totals; UPDATE meta SET value = '15' WHERE key = 'schema_version';";

/// From version 14: the `savings` table is new (SCHEMA creates it); nothing else changes.
pub const MIGRATE_14: &str = "UPDATE meta SET value = '15' WHERE key = 'schema_version';";

/// The indexes of `entries`, dropped while `rebuild` fills the table (SCHEMA recreates them).
pub const DROP_ENTRY_INDEXES: &str = "DROP INDEX IF EXISTS entries_key; DROP INDEX IF EXISTS entries_shard;
DROP INDEX IF EXISTS entries_untrusted; DROP INDEX IF EXISTS entries_dups; DROP INDEX IF EXISTS entries_hits;";

/// The triggers that keep `totals` in step with row-at-a-time changes.
pub const TRIGGERS: &str = r#"
CREATE TRIGGER IF NOT EXISTS entries_ins AFTER INSERT ON entries BEGIN
    INSERT INTO totals VALUES (NEW.cache_type, COALESCE(NEW.model, ''), NEW.valid, 1, NEW.size_on_disk, NEW.json_size,
        NEW.tokens_in, NEW.tokens_out, NEW.tokens_cached, COALESCE(NEW.cost_usd, 0), NEW.valid = 1 AND NEW.cost_usd IS NULL)
    ON CONFLICT (cache_type, model, valid) DO UPDATE SET
        n = n + 1, size_on_disk = size_on_disk + excluded.size_on_disk, json_size = json_size + excluded.json_size,
        tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
        tokens_cached = tokens_cached + excluded.tokens_cached, cost_usd = cost_usd + excluded.cost_usd,
        cost_unknown = cost_unknown + excluded.cost_unknown;
END;
CREATE TRIGGER IF NOT EXISTS entries_del AFTER DELETE ON entries BEGIN
    UPDATE totals SET n = n - 1, size_on_disk = size_on_disk - OLD.size_on_disk, json_size = json_size - OLD.json_size,
        tokens_in = tokens_in - OLD.tokens_in, tokens_out = tokens_out - OLD.tokens_out,
        tokens_cached = tokens_cached - OLD.tokens_cached, cost_usd = cost_usd - COALESCE(OLD.cost_usd, 0),
        cost_unknown = cost_unknown - (OLD.valid = 1 AND OLD.cost_usd IS NULL)
    WHERE cache_type = OLD.cache_type AND model = COALESCE(OLD.model, '') AND valid = OLD.valid;
    DELETE FROM totals WHERE n <= 0;
END;
"#;

/// Recompute `totals` from scratch (after a bulk load without triggers).
pub const RECOMPUTE_TOTALS: &str = r#"
DELETE FROM totals;
INSERT INTO totals
SELECT cache_type, COALESCE(model, ''), valid, count(*), sum(size_on_disk), sum(json_size), sum(tokens_in), sum(tokens_out),
       sum(tokens_cached), sum(COALESCE(cost_usd, 0)), sum(valid = 1 AND cost_usd IS NULL)
FROM entries GROUP BY cache_type, COALESCE(model, ''), valid;
"#;
