//! The cache lock: an exclusive `flock` on `<git dir>/rustassistant/cache.lock`, taken by every
//! writer of shards for the time of a read-modify-replace (never across a network request).

use std::path::Path;

/// An exclusive `flock` on the cache lock file, released on drop (and by the kernel if the
/// process dies).
pub struct CacheLock {
    _file: std::fs::File,
}

impl CacheLock {
    /// Take the lock on `path`, waiting for other holders.
    pub fn take(path: &Path) -> std::io::Result<CacheLock> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on a descriptor this function owns; no memory is touched.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(CacheLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}
