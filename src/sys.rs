//! Every call that is specific to a platform, behind `cfg`, each with a portable fallback.
//!
//! The crate targets Unix (Linux with glibc or musl, macOS): POSIX calls that every one of them
//! has (`open` flags such as `O_NOFOLLOW`, `kill(pid, 0)`) live here too, so that the rest of
//! the crate never names `libc`. Setting `RUSTASSISTANT_PORTABLE=1` in the environment makes
//! every function with a Linux-only fast path take its fallback instead, so the test suite
//! runs the fallbacks on Linux as well.
//!
//! What callers may rely on: each function does what its doc says on every supported platform;
//! only its speed differs.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Whether the portable fallbacks were asked for (`RUSTASSISTANT_PORTABLE=1`), read once.
pub fn portable() -> bool {
    static PORTABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PORTABLE.get_or_init(|| {
        std::env::var_os("RUSTASSISTANT_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Whether `e` says a path ended in a symbolic link that an open refused to follow.
pub fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Open `path` for reading without following a symbolic link at its end, and without waiting
/// for a FIFO's writer or taking a terminal: the caller checks the type of what was opened.
pub fn open_read_no_follow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open an existing `path` for writing without following a symbolic link at its end, and
/// without waiting for a FIFO's reader or taking a terminal. The caller checks the type.
pub fn open_write_no_follow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open `path` for writing, following links (the user named it), without waiting for a FIFO's
/// reader to appear for longer than it takes to find none.
pub fn open_write_existing(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// Whether a process with id `pid` exists on this machine (it may belong to another user).
pub fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A token that tells this process apart from a later one that reuses its id: on Linux the
/// process's start time (field 22 of `/proc/self/stat`, in clock ticks since boot) with the
/// boot id; elsewhere (or with [`portable`]) empty, and only the id is compared.
pub fn process_token(pid: u32) -> String {
    #[cfg(target_os = "linux")]
    if !portable() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let start = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(19))
            .unwrap_or("");
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        if !start.is_empty() {
            return format!("{}:{start}", boot.trim());
        }
    }
    let _ = pid;
    String::new()
}

/// Whether the process that recorded `(pid, token)` (see [`process_token`]) still runs.
pub fn process_alive(pid: u32, token: &str) -> bool {
    if !process_exists(pid) {
        return false;
    }
    token.is_empty() || {
        let now = process_token(pid);
        now.is_empty() || now == token
    }
}

/// This machine's host name (empty when it cannot be read).
pub fn hostname() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most `len` bytes into the buffer it is given.
        let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if r != 0 {
            return String::new();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    })
    .clone()
}

/// The process umask, read without changing it (changing it to read it would race with other
/// threads creating files): from `/proc/self/status` on Linux; elsewhere 022, the usual value.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Some(m) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
            })
            .and_then(|v| u32::from_str_radix(&v, 8).ok())
        {
            return m;
        }
        0o022
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_one_is_not() {
        let me = std::process::id();
        let token = process_token(me);
        assert!(process_alive(me, &token));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let child_token = process_token(pid);
        child.wait().unwrap();
        assert!(!process_alive(pid, &child_token));
        #[cfg(target_os = "linux")]
        if !portable() {
            assert!(!token.is_empty());
            assert!(
                !process_alive(me, "another-boot:1"),
                "a reused id is not us"
            );
        }
    }

    #[test]
    fn opens_refuse_a_link_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(is_symlink_refusal(&open_read_no_follow(&link).unwrap_err()));
        assert!(is_symlink_refusal(
            &open_write_no_follow(&link).unwrap_err()
        ));
        assert!(open_write_no_follow(&target).is_ok());
    }
}
