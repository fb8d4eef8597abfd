//! The cache lock: an exclusive lock on `<git dir>/rustassistant/cache.lock`, taken by every
//! writer of shards for the time of a read-modify-replace (never across a network request).

use std::path::Path;

/// An exclusive lock on the cache lock file, released on drop (and by the kernel if the
/// process dies).
pub struct CacheLock {
    _file: std::fs::File,
}

impl CacheLock {
    /// Take the lock on `path`, waiting for other holders.
    pub fn take(path: &Path) -> std::io::Result<CacheLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // std's advisory lock: flock on Unix, as git-lfs and cargo take theirs.
        file.lock()?;
        Ok(CacheLock { _file: file })
    }
}
