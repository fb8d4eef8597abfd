//! The trust boundary around the repository's `.rustassistant/config.toml`.
//!
//! That file is written by whoever committed last, so by default it may only choose *what* to
//! analyse and ask for *more* safety (DESIGN.md, "Trust: what a repository may set"). Settings
//! that could move the user's key, money or secrets — endpoints, `[budget]`, `[pricing]`,
//! `allow_secrets`, lowering `require_signature`, timeouts and limits above the defaults, and
//! anything that deletes paid results or makes them misses (`[cache] max_age`, `max_size`,
//! `eviction`) — are
//! dropped with one warning each, unless the user trusted that exact file with
//! `rustassistant trust`, which records its sha256 (and where it lives) in
//! `$RUSTASSISTANT_HOME/trusted.tsv`, like direnv's allow list. Any change to the file needs a new
//! trust.
//!
//! What callers may rely on: [`restrict`] is the only place that decides what an untrusted file
//! may set; what it drops is named in the returned list, in the words a user would search the
//! config for (`[llm] base_url`).

use std::path::{Path, PathBuf};

use super::{ConfigFile, Env};

/// Seconds per request when nothing sets it: an LLM review of a large file can take a minute.
pub const DEFAULT_TIMEOUT_S: u64 = 120;
/// Output tokens per request when nothing sets it.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// Requests in flight when nothing sets it.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Time bound of the pre-commit hook's analysis when nothing sets it.
pub const DEFAULT_PRE_COMMIT_TIMEOUT_S: u64 = 30;

/// The file (under `$RUSTASSISTANT_HOME`) listing trusted repository configs.
const TRUST_FILE: &str = "trusted.tsv";
/// The marker (under `<git dir>/rustassistant/`) recording that this clone's repository config
/// once required signed entries: a later commit can no longer silently lower it.
const SIGNATURE_RATCHET: &str = "require-signature";

/// Drop from an untrusted repository `file` everything it may not set; returns what is left and
/// the names of what was dropped. `required_signatures` says this clone has seen the repository
/// require signed entries before (the ratchet): then the file no longer asking for them is a
/// lowering too.
pub fn restrict(mut file: ConfigFile, required_signatures: bool) -> (ConfigFile, Vec<String>) {
    let mut dropped = Vec::new();
    macro_rules! drop_if {
        ($field:expr, $name:expr, $cond:expr) => {
            if $field.as_ref().is_some_and($cond) {
                $field = None;
                dropped.push($name.to_string());
            }
        };
    }
    drop_if!(file.llm.base_url, "[llm] base_url", |_| true);
    drop_if!(
        file.llm.timeout,
        "[llm] timeout (above the default)",
        |t| *t > DEFAULT_TIMEOUT_S
    );
    drop_if!(
        file.llm.max_tokens,
        "[llm] max_tokens (above the default)",
        |t| *t > DEFAULT_MAX_TOKENS
    );
    drop_if!(
        file.llm.max_concurrency,
        "[llm] max_concurrency (above the default)",
        |t| *t > DEFAULT_MAX_CONCURRENCY
    );
    drop_if!(
        file.analysis.allow_secrets,
        "[analysis] allow_secrets",
        |_| { true }
    );
    drop_if!(
        file.cache.require_signature,
        "[cache] require_signature = false",
        |r| !*r
    );
    drop_if!(
        file.hooks.pre_commit_timeout_s,
        "[hooks] pre_commit_timeout_s (above the default)",
        |t| *t > DEFAULT_PRE_COMMIT_TIMEOUT_S
    );
    // A repository can never make you pay again: settings that make paid results misses or
    // delete them (the default keeps every result for ever) are the user's to choose.
    drop_if!(file.cache.max_age, "[cache] max_age", |_| true);
    drop_if!(file.cache.max_size, "[cache] max_size", |_| true);
    drop_if!(file.cache.eviction, "[cache] eviction", |_| true);
    let b = &mut file.budget;
    drop_if!(b.monthly_limit_usd, "[budget] monthly_limit_usd", |_| true);
    drop_if!(b.warn_at, "[budget] warn_at", |_| true);
    drop_if!(b.alert_at, "[budget] alert_at", |_| true);
    drop_if!(b.hard_limit, "[budget] hard_limit", |_| true);
    drop_if!(
        b.allow_unknown_price,
        "[budget] allow_unknown_price",
        |_| { true }
    );
    for model in std::mem::take(&mut file.pricing).into_keys() {
        dropped.push(format!("[pricing.\"{}\"]", crate::output::sanitize(&model)));
    }
    if required_signatures && file.cache.require_signature != Some(true) {
        file.cache.require_signature = Some(true);
        dropped.push(
            "[cache] require_signature no longer set (this clone has required signed entries before)"
                .to_string(),
        );
    }
    (file, dropped)
}

/// Whether `config` (the absolute path of a repository's config file) is trusted with content
/// whose sha256 is `sha`.
pub fn is_trusted(env: &Env, config: &Path, sha: &str) -> bool {
    read_list(env)
        .iter()
        .any(|(s, p)| s == sha && Path::new(p) == config)
}

/// Record `config` as trusted at `sha` (replacing any earlier trust of that path).
pub fn trust(env: &Env, config: &Path, sha: &str) -> std::io::Result<PathBuf> {
    let mut list = read_list(env);
    list.retain(|(_, p)| Path::new(p) != config);
    list.push((sha.to_string(), config.display().to_string()));
    write_list(env, &list)
}

/// Forget every trust of `config`; returns whether there was one.
pub fn revoke(env: &Env, config: &Path) -> std::io::Result<bool> {
    let mut list = read_list(env);
    let before = list.len();
    list.retain(|(_, p)| Path::new(p) != config);
    if list.len() == before {
        return Ok(false);
    }
    write_list(env, &list)?;
    Ok(true)
}

fn list_path(env: &Env) -> Option<PathBuf> {
    env.user_home().map(|h| h.join(TRUST_FILE))
}

/// `(sha256, path)` pairs; a missing or unreadable list trusts nothing.
fn read_list(env: &Env) -> Vec<(String, String)> {
    let Some(p) = list_path(env) else {
        return Vec::new();
    };
    // 1 MiB holds thousands of repositories; a larger file is not ours.
    let Ok(bytes) = crate::util::fs::read_user_file(&p, 1024 * 1024) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (sha, path) = l.split_once('\t')?;
            (sha.len() == 64 && crate::util::is_lower_hex(sha))
                .then(|| (sha.to_string(), path.to_string()))
        })
        .collect()
}

fn write_list(env: &Env, list: &[(String, String)]) -> std::io::Result<PathBuf> {
    let p = list_path(env).ok_or_else(|| {
        std::io::Error::other("neither RUSTASSISTANT_HOME nor HOME is set: nowhere to record trust")
    })?;
    let mut text = String::from(
        "# Repository configs trusted with `rustassistant trust`: sha256 <TAB> path. Any change to a file needs a new trust.\n",
    );
    for (sha, path) in list {
        text.push_str(&format!("{sha}\t{path}\n"));
    }
    crate::util::write_atomic(&p, text.as_bytes())?;
    Ok(p)
}

/// Whether this clone has seen its repository require signed entries.
pub fn signature_ratchet(state_dir: &Path) -> bool {
    state_dir.join(SIGNATURE_RATCHET).is_file()
}

/// Remember that the repository requires signed entries (best effort: a read-only git dir only
/// loses the ratchet, never the current setting).
pub fn set_signature_ratchet(state_dir: &Path) {
    let p = state_dir.join(SIGNATURE_RATCHET);
    if !p.is_file() {
        let _ = crate::util::write_atomic(
            &p,
            b"The repository config asked for require_signature = true; lowering it needs `rustassistant trust`.\n",
        );
    }
}

/// Forget the ratchet (after the user trusted a config that lowers it).
pub fn clear_signature_ratchet(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(SIGNATURE_RATCHET));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ConfigFile {
        ConfigFile::parse(s, Path::new("config.toml")).unwrap()
    }

    #[test]
    fn an_untrusted_file_keeps_what_to_analyse_and_loses_what_moves_keys_or_money() {
        let f = parse(
            r#"
[llm]
provider = "openai"
model = "gpt-4o"
base_url = "http://evil.example/v1"
timeout = 900
max_tokens = 1000
[analysis]
types = ["todos"]
allow_secrets = ["**"]
max_file_bytes = 1000
[cache]
require_signature = false
[budget]
hard_limit = false
monthly_limit_usd = 1000.0
[hooks]
strict = true
[pricing."gpt-4o"]
input = 0.0
output = 0.0
"#,
        );
        let (kept, dropped) = restrict(f, false);
        assert_eq!(kept.llm.provider.as_deref(), Some("openai"));
        assert_eq!(kept.llm.model.as_deref(), Some("gpt-4o"));
        assert_eq!(kept.llm.max_tokens, Some(1000), "lower than the default");
        assert!(kept.llm.base_url.is_none());
        assert!(kept.llm.timeout.is_none());
        assert!(kept.analysis.allow_secrets.is_none());
        assert_eq!(kept.analysis.max_file_bytes, Some(1000));
        assert!(kept.cache.require_signature.is_none());
        assert!(kept.budget.hard_limit.is_none());
        assert!(kept.budget.monthly_limit_usd.is_none());
        assert!(kept.pricing.is_empty());
        assert_eq!(kept.hooks.strict, Some(true));
        for name in [
            "[llm] base_url",
            "[analysis] allow_secrets",
            "[budget] hard_limit",
            "[pricing.\"gpt-4o\"]",
            "[cache] require_signature = false",
        ] {
            assert!(dropped.iter().any(|d| d == name), "{name} in {dropped:?}");
        }
    }

    #[test]
    fn the_signature_ratchet_keeps_signatures_required() {
        let (kept, dropped) = restrict(parse("[cache]\ncompression = \"none\"\n"), true);
        assert_eq!(kept.cache.require_signature, Some(true));
        assert_eq!(dropped.len(), 1);
        let (kept, dropped) = restrict(parse("[cache]\nrequire_signature = true\n"), true);
        assert_eq!(kept.cache.require_signature, Some(true));
        assert!(dropped.is_empty());
    }

    #[test]
    fn trust_is_of_one_exact_file_at_one_path() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([(
            "RUSTASSISTANT_HOME".to_string(),
            dir.path().display().to_string(),
        )]);
        let a = Path::new("/repo/a/.rustassistant/config.toml");
        let b = Path::new("/repo/b/.rustassistant/config.toml");
        let sha = "a".repeat(64);
        assert!(!is_trusted(&env, a, &sha));
        trust(&env, a, &sha).unwrap();
        assert!(is_trusted(&env, a, &sha));
        assert!(!is_trusted(&env, b, &sha), "another repository");
        assert!(!is_trusted(&env, a, &"b".repeat(64)), "changed content");
        assert!(revoke(&env, a).unwrap());
        assert!(!is_trusted(&env, a, &sha));
        assert!(!revoke(&env, a).unwrap());
    }
}
