//! The configuration's modes, as types: what each setting's words mean.

/// What the pre-commit hook does (`[hooks] pre_commit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreCommitMode {
    /// Analyse the staged content that lacks entries and commit the entries with it.
    Analyze,
    /// Only report staged content that lacks entries.
    Check,
    /// Do nothing.
    Off,
}

/// What the pre-push hook does (`[hooks] pre_push`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrePushMode {
    /// Warn about pushed commits whose files lack entries.
    Warn,
    /// Refuse such a push.
    Strict,
    /// Do nothing.
    Off,
}

/// Eviction order (`[cache] eviction`, `cache evict --policy`): what goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Least recently used first (never-used entries by creation time).
    Lru,
    /// Oldest `created_at` first.
    Oldest,
    /// Largest on disk first.
    Largest,
    /// Most tokens (the dearest to have produced) first.
    Expensive,
}

impl std::str::FromStr for Eviction {
    type Err = String;
    fn from_str(s: &str) -> Result<Eviction, String> {
        match s {
            "lru" => Ok(Eviction::Lru),
            "oldest" => Ok(Eviction::Oldest),
            "largest" => Ok(Eviction::Largest),
            "expensive" => Ok(Eviction::Expensive),
            _ => Err(format!(
                "`{}` is not one of lru, oldest, largest, expensive",
                crate::output::sanitize(s)
            )),
        }
    }
}

/// Entry encoding on disk (`[cache] compression`, `cache migrate --to`): the one name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain, pretty JSON (`.json`).
    None,
    /// zstd-compressed JSON (`.json.zst`).
    Zstd,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Compression, String> {
        match s {
            "none" | "json" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!(
                "`{}` is not one of none (json), zstd",
                crate::output::sanitize(s)
            )),
        }
    }
}
