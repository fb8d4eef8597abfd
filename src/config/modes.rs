//! The configuration's modes, as types: what each setting's words mean.

/// The value `s` names in `table`, or an error listing the words `names` says.
fn word<T: Copy>(s: &str, table: &[(&str, T)], names: &str) -> Result<T, String> {
    table
        .iter()
        .find(|(w, _)| *w == s)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("`{}` is not one of {names}", crate::output::sanitize(s)))
}

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

/// What a paid analysis sends (`[analysis] granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Split files with a grammar into items and send only the items without a result.
    Item,
    /// Send every file whole.
    File,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Granularity, String> {
        word(
            s,
            &[("item", Granularity::Item), ("file", Granularity::File)],
            "item, file",
        )
    }
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
        word(
            s,
            &[
                ("lru", Eviction::Lru),
                ("oldest", Eviction::Oldest),
                ("largest", Eviction::Largest),
                ("expensive", Eviction::Expensive),
            ],
            "lru, oldest, largest, expensive",
        )
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
        word(
            s,
            &[
                ("none", Compression::None),
                ("json", Compression::None),
                ("zstd", Compression::Zstd),
            ],
            "none (json), zstd",
        )
    }
}

impl std::str::FromStr for PreCommitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<PreCommitMode, String> {
        word(
            s,
            &[
                ("analyze", PreCommitMode::Analyze),
                ("check", PreCommitMode::Check),
                ("off", PreCommitMode::Off),
            ],
            "analyze, check, off",
        )
    }
}

impl std::str::FromStr for PrePushMode {
    type Err = String;
    fn from_str(s: &str) -> Result<PrePushMode, String> {
        word(
            s,
            &[
                ("warn", PrePushMode::Warn),
                ("strict", PrePushMode::Strict),
                ("off", PrePushMode::Off),
            ],
            "warn, strict, off",
        )
    }
}

/// The settings written as words, sizes and durations, parsed once when the configuration is
/// loaded (a value that does not parse is an error then, naming the setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `[cache] compression` (default none).
    pub compression: Compression,
    /// `[cache] eviction` (default lru).
    pub eviction: Eviction,
    /// `[cache] max_size` in bytes, when set.
    pub max_size: Option<u64>,
    /// `[cache] max_age`, when set.
    pub max_age: Option<std::time::Duration>,
    /// `[hooks] pre_commit` (default analyze).
    pub pre_commit: PreCommitMode,
    /// `[hooks] pre_push` (default warn).
    pub pre_push: PrePushMode,
    /// `[analysis] granularity` (default item).
    pub granularity: Granularity,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            compression: Compression::None,
            eviction: Eviction::Lru,
            max_size: None,
            max_age: None,
            pre_commit: PreCommitMode::Analyze,
            pre_push: PrePushMode::Warn,
            granularity: Granularity::Item,
        }
    }
}
