//! Small helpers shared by every module: hex encoding, hashing, atomic file writes, time, and
//! the low-level pieces several layers need (`fs`, `par`, `interrupt`).

pub mod env;
pub mod fs;
pub mod glob;
pub mod interrupt;
pub mod money;
pub mod par;
pub mod stat;

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// `name` as a string that lives as long as the process, one copy per distinct name. For the
/// few names every result line of a run carries (its analysis type): a shared, counted string
/// costs an atomic count per copy, which at 200,000 lines was a third of the time it took to
/// make them. The set only grows by names no run had used before, so it stays a handful.
pub fn interned(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into());
    names.push(n);
    n
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// `bytes` as a `str` when they are UTF-8: [`std::str::from_utf8`] with a fast path for ASCII,
/// which file names almost always are. For the short names of git's index and of a folder walk
/// (tens of bytes, 20,000 of them at 10,000 files) the general check cost ~160 instructions a
/// name; `is_ascii` reads them a word at a time.
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// True when `s` is non-empty lower-case hex.
pub fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Prefix of temporary files written by [`write_atomic`]; everything that lists entries skips
/// them and `cache verify` / the index sync remove stale ones.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Write `bytes` to `path` atomically: a temporary file in the same folder, flushed, then renamed
/// over the target. A reader sees the old content or the new one, never half of either; a crash
/// leaves at worst a `.tmp-*` file beside it. Only a regular file (or nothing) is ever
/// replaced: a symbolic link, folder, device or FIFO at `path` is an error, left as it is. For a
/// file the user named, see [`fs::write_output`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::regular_or_absent(path)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // tempfile creates 0600 files; entries and config are ordinary shared files (0644 before the
    // umask, as git would create them on checkout).
    {
        use std::os::unix::fs::PermissionsExt;
        let umask = current_umask();
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o666 & !umask))?;
    }
    // No fsync: the rename is atomic against a crash of this process (SIGKILL included), which
    // is the failure that matters here. Against power loss every reader validates what it reads
    // (an empty or torn entry is reported and recomputed), and an fsync per entry would make a
    // first `analyze --all` over 10,000 files take tens of seconds.
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The process umask (see [`crate::sys::umask`]).
pub(crate) fn current_umask() -> u32 {
    crate::sys::umask()
}

/// Current time as RFC 3339 UTC with second precision (`2026-11-21T10:00:00Z`), honouring
/// `RUSTASSISTANT_NOW` (an RFC 3339 timestamp) so tests get a fixed clock.
pub fn now_rfc3339(env: &env::Env) -> String {
    let ts = now_timestamp(env);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Current instant, honouring `RUSTASSISTANT_NOW` like [`now_rfc3339`].
pub fn now_timestamp(env: &env::Env) -> jiff::Timestamp {
    if let Some(fixed) = env.get("RUSTASSISTANT_NOW") {
        if let Ok(ts) = fixed.parse::<jiff::Timestamp>() {
            return ts;
        }
    }
    jiff::Timestamp::now()
}

/// Parse an age such as `90d`, `12w`, `36h`, `30m` or `3600s`.
pub fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not an age (use e.g. 90d, 12w, 36h)"))?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(format!("`{s}` is not an age (use e.g. 90d, 12w, 36h)")),
    };
    n.checked_mul(secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is too long an age"))
}

/// Parse a human size such as `100MB`, `1.5GiB`, `4096` (bytes). Decimal units are powers of
/// 1000, binary ones (`KiB`, `MiB`, …) powers of 1024, like cargo and ccache.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try `100MB`, `2GiB` or a byte count)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (use B, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Format a byte count for people: `1.2 MB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_known_values() {
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn utf8_agrees_with_the_standard_check() {
        let cases: &[&[u8]] = &[
            b"",
            b"src/main.rs",
            "caf\u{e9}/na\u{ef}ve.rs".as_bytes(),
            "\u{1f980}.rs".as_bytes(),
            b"bad\xff.rs",
            b"\xc3",
            b"a\x00b",
        ];
        for c in cases {
            assert_eq!(utf8(c), std::str::from_utf8(c).ok(), "{c:?}");
        }
    }

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size(" 1.5 kb").unwrap(), 1500);
        assert!(parse_size("-5MB").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5XB").is_err());
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o666 & !current_umask(),
            "an ordinary file, not tempfile's 0600"
        );
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty());
    }
}
