//! The index schema and its migrations, in one place. `SCHEMA` creates the current version from
//! nothing; an index at any other version is rebuilt from the entry files (it is derived data;
//! what only it holds, access history and counters, is lost with one warning).
//!
//! Versions: 1 first release; 2 adds `entries.ino` (sync tells replaced files by inode); 3 makes
//! `entries` WITHOUT ROWID and drops two indices no query used (faster bulk loads); 4 drops
//! `entries.dir` and its index and adds `manifests` (see index::scan); 5 makes `entries` a rowid
//! table found through an index on `id` (index::rel_id: a folder's rows are a range of ids), so
//! rows a sync adds are appended instead of spread over every page of the table.

/// Current schema version, stored in `meta`.
pub const VERSION: i64 = 5;

/// Tables, indices and the triggers that keep `totals` in step with `entries`, so `cache stats`
/// reads a few dozen rows instead of scanning every entry.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    rel           TEXT NOT NULL,      -- path relative to .rustassistant/ (one row each)
    id            INTEGER NOT NULL,   -- rel_id(rel): the lookup key; joins `access`
    cache_type    TEXT NOT NULL,
    blob          TEXT NOT NULL,
    variant       TEXT NOT NULL,
    valid         INTEGER NOT NULL,   -- 0: malformed or mislabelled (error says why)
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
    size_on_disk  INTEGER NOT NULL,
    json_size     INTEGER NOT NULL DEFAULT 0,
    mtime_ns      INTEGER NOT NULL,
    ino           INTEGER NOT NULL DEFAULT 0  -- a replaced file has a new inode
);
-- Lookups are by id and rel; a folder's rows are a range of ids. Eviction and prune order or
-- scan all rows.
CREATE INDEX IF NOT EXISTS entries_id ON entries(id);
-- What the last sync saw in each cache/<type>/<b0b1> folder: its mtime (0: list it again) and
-- whether `manifests` lists every row of the folder (0: a run changed the rows since; go by them).
CREATE TABLE IF NOT EXISTS dirs (dir TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, manifest_ok INTEGER NOT NULL);
-- Each folder's entry files as the last syncs saw them (index::scan::Manifest): a base (seq 0)
-- and the small deltas later syncs appended.
CREATE TABLE IF NOT EXISTS manifests (dir TEXT NOT NULL, seq INTEGER NOT NULL, records BLOB NOT NULL, PRIMARY KEY (dir, seq));
-- Access history lives apart from entries so a rebuild keeps it. Keyed by a 64-bit hash of
-- `rel` (see index::rel_id): stamping 20,000 hits costs a third of what text keys cost.
CREATE TABLE IF NOT EXISTS access (id INTEGER PRIMARY KEY, last_accessed INTEGER NOT NULL, access_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS totals (
    cache_type TEXT NOT NULL, model TEXT NOT NULL, valid INTEGER NOT NULL,
    n INTEGER NOT NULL, size_on_disk INTEGER NOT NULL, json_size INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, tokens_cached INTEGER NOT NULL,
    cost_usd REAL NOT NULL, cost_unknown INTEGER NOT NULL,
    PRIMARY KEY (cache_type, model, valid)
);
-- Triggers are in TRIGGERS so a bulk load can drop them and recompute `totals` in one pass.
"#;

/// The triggers that keep `totals` in step with row-at-a-time changes.
pub const TRIGGERS: &str = r#"
CREATE TRIGGER IF NOT EXISTS entries_ins AFTER INSERT ON entries BEGIN
    INSERT INTO totals VALUES (NEW.cache_type, COALESCE(NEW.model, ''), NEW.valid, 1, NEW.size_on_disk, NEW.json_size,
        NEW.tokens_in, NEW.tokens_out, NEW.tokens_cached, COALESCE(NEW.cost_usd, 0), NEW.valid AND NEW.cost_usd IS NULL)
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
        cost_unknown = cost_unknown - (OLD.valid AND OLD.cost_usd IS NULL)
    WHERE cache_type = OLD.cache_type AND model = COALESCE(OLD.model, '') AND valid = OLD.valid;
    DELETE FROM totals WHERE n <= 0;
END;
"#;

/// Recompute `totals` from scratch (after a bulk load without triggers).
pub const RECOMPUTE_TOTALS: &str = r#"
DELETE FROM totals;
INSERT INTO totals
SELECT cache_type, COALESCE(model, ''), valid, count(*), sum(size_on_disk), sum(json_size), sum(tokens_in), sum(tokens_out),
       sum(tokens_cached), sum(COALESCE(cost_usd, 0)), sum(valid AND cost_usd IS NULL)
FROM entries GROUP BY cache_type, COALESCE(model, ''), valid;
"#;
