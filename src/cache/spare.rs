//! Replacing shards by exchange with spare files.
//!
//! A shard is replaced atomically: its new bytes go into another file, which takes the shard's
//! name in one rename, so a reader sees the old shard or the new one, never a mix. Done the
//! usual way (a fresh temporary file renamed over the shard) that costs, on the ext4 this tool
//! is measured on, 200–300 µs per shard: allocating the inode scans past every inode freed in
//! the last half minute, and renaming a freshly written file over an existing one makes ext4
//! start writing it out (`auto_da_alloc`, its guard for programs that do not fsync). A commit
//! that moves a hundred files' analyses replaces ~270 shards, so that was most of the hook's
//! time (BENCHMARKS.md, stand-ins: the hook of 100 modified files takes about twice as long
//! with temporary files).
//!
//! So a replaced shard is not freed but kept, in `<git dir>/rustassistant/spare/`, and the next
//! replacement overwrites such a spare in place (without truncating it to zero first, which
//! would again start a write-out) and exchanges it with its shard (`renameat2` with
//! `RENAME_EXCHANGE`): the new bytes take the shard's name and the old shard becomes a spare,
//! in one atomic step that creates and frees nothing.
//!
//! Contract:
//! - used only by writers holding the cache lock (no two writers fill one spare);
//! - a spare is overwritten only when nothing else names it (link count 1, so no backup made
//!   with hard links is changed) and it has not changed for [`QUARANTINE`]: a reader that
//!   opened the shard just before it was exchanged has long finished reading it;
//! - at most [`MAX_SPARES`] spares are kept (about one old copy of each shard of two types,
//!   in the work tree and the overlay);
//! - anything unexpected (no `renameat2` on this system or filesystem, the git dir on another
//!   filesystem than the work tree) falls back to the temporary file, for the rest of the
//!   process.
//!
//! Durability is that of [`crate::util::write_atomic`] (no fsync): after a power loss a shard
//! may hold torn lines, which every reader skips and reports, as it does for a torn
//! temporary file.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A spare is overwritten only once it has not changed for this long.
pub const QUARANTINE: Duration = Duration::from_secs(1);
/// Spares kept at most.
pub const MAX_SPARES: usize = 1024;
/// Prefix of the spares' names (`cache verify` and the index sync know the folder is not theirs).
const PREFIX: &str = "s-";

/// The spare folder of one store.
#[derive(Debug)]
pub struct Spares {
    dir: PathBuf,
    quarantine: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Whether the folder has been listed.
    listed: bool,
    /// Spares found by the listing not yet tried (the last ones are tried first).
    candidates: Vec<PathBuf>,
    /// Spares in the folder.
    count: usize,
    /// Set once exchanging failed: temporary files from then on.
    off: bool,
    /// Next name to try for a new spare.
    seq: u64,
}

impl Spares {
    /// The spares kept in `dir`.
    pub fn new(dir: PathBuf) -> Spares {
        Spares {
            dir,
            quarantine: QUARANTINE,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replace (or create) `path` with `bytes` atomically (see the module docs). The caller
    /// holds the cache lock.
    pub fn replace(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        // Whatever is in the shard's place that is not a regular file (a link a commit put
        // there, a folder, a FIFO) is never exchanged into the spares, written through or
        // replaced: it stays exactly as it is.
        crate::util::fs::regular_or_absent(path)?;
        let Some((spare, file)) = self.take() else {
            return crate::util::write_atomic(path, bytes);
        };
        let filled = fill(file, bytes);
        let done = filled.and_then(|()| match crate::sys::exchange(&spare, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A new shard: the spare simply takes its name (no target, no write-out).
                std::fs::rename(&spare, path).map(|()| false)
            }
            Err(e) => Err(e),
        });
        match done {
            Ok(true) => {
                // The old shard is the spare now, quarantined by its fresh ctime.
                if self.state().count > MAX_SPARES {
                    self.drop_spare(&spare);
                }
                Ok(())
            }
            Ok(false) => {
                let mut st = self.state();
                st.count = st.count.saturating_sub(1);
                Ok(())
            }
            Err(_) => {
                // No exchange here (another filesystem, an old kernel): the ordinary way, for
                // the rest of this process.
                self.state().off = true;
                self.drop_spare(&spare);
                crate::util::write_atomic(path, bytes)
            }
        }
    }

    /// Remove `path`, keeping it as a spare when there is room.
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        if !crate::util::fs::regular_or_absent(path)? {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        let name = {
            let mut st = self.state();
            if !crate::sys::fast() || st.off || !self.list(&mut st) || st.count >= MAX_SPARES {
                None
            } else {
                Some(self.next_name(&mut st))
            }
        };
        let Some(name) = name else {
            return std::fs::remove_file(path);
        };
        match std::fs::rename(path, &name) {
            Ok(()) => {
                self.state().count += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
            Err(_) => {
                self.state().off = true;
                std::fs::remove_file(path)
            }
        }
    }

    /// A spare to overwrite, open for writing: a listed one that is ready, or a new file in
    /// the folder. None when spares are off.
    fn take(&self) -> Option<(PathBuf, std::fs::File)> {
        // No exchange of names on this platform (or the fallbacks were asked for): the
        // temporary file, always.
        if !crate::sys::fast() {
            return None;
        }
        {
            let mut st = self.state();
            if st.off || !self.list(&mut st) {
                return None;
            }
        }
        let now = SystemTime::now();
        // Candidates are checked outside the lock: the writers of a commit run in parallel.
        loop {
            let Some(path) = self.state().candidates.pop() else {
                break;
            };
            // Never through a link: only the regular file this folder holds is written.
            let file = match crate::sys::open_write_no_follow(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let mut st = self.state();
                    st.count = st.count.saturating_sub(1);
                    continue;
                }
                Err(_) => {
                    self.drop_spare(&path);
                    continue;
                }
            };
            let Ok(m) = file.metadata() else { continue };
            if !m.is_file() || m.nlink() != 1 {
                // Named elsewhere too (a backup made with hard links): never written into.
                drop(file);
                self.drop_spare(&path);
                continue;
            }
            let changed = SystemTime::UNIX_EPOCH
                + Duration::new(
                    m.ctime().max(0) as u64,
                    m.ctime_nsec().clamp(0, 999_999_999) as u32,
                );
            if now
                .duration_since(changed)
                .is_ok_and(|age| age >= self.quarantine)
            {
                return Some((path, file));
            }
        }
        // None ready: a new file in the folder. Creating it costs what a temporary file
        // costs, but the shard it replaces is then kept for next time rather than freed.
        let mut st = self.state();
        for _ in 0..8 {
            let path = self.next_name(&mut st);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    st.count += 1;
                    return Some((path, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(_) => break,
            }
        }
        st.off = true;
        None
    }

    /// Unlink a spare (too many, or unusable).
    fn drop_spare(&self, spare: &Path) {
        if std::fs::remove_file(spare).is_ok() {
            let mut st = self.state();
            st.count = st.count.saturating_sub(1);
        }
    }

    fn next_name(&self, st: &mut State) -> PathBuf {
        st.seq += 1;
        self.dir
            .join(format!("{PREFIX}{}-{}", std::process::id(), st.seq))
    }

    /// List the folder once (creating it when missing). False when it cannot be used.
    fn list(&self, st: &mut State) -> bool {
        if st.listed {
            return !st.off;
        }
        st.listed = true;
        if std::fs::create_dir_all(&self.dir).is_err() {
            st.off = true;
            return false;
        }
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            st.off = true;
            return false;
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(PREFIX) {
                st.candidates.push(e.path());
            }
        }
        st.count = st.candidates.len();
        true
    }
}

/// Write `bytes` over the start of `file` and cut it to their length. Not truncated to zero
/// first: on ext4 that marks the file for a write-out when it is closed.
fn fill(file: std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    file.write_all_at(bytes, 0)?;
    file.set_len(bytes.len() as u64)?;
    let mode = 0o666 & !crate::util::current_umask();
    if file.metadata()?.mode() & 0o7777 != mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spares(dir: &Path, quarantine: Duration) -> Spares {
        Spares {
            quarantine,
            ..Spares::new(dir.join("spare"))
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn ino(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().ino()
    }

    /// Spares are a Linux fast path: with the fallbacks asked for, a replacement is the plain
    /// temporary file and a removal the plain unlink, and no spare is ever kept.
    fn fallback_only(dir: &Path) -> bool {
        if crate::sys::fast() {
            return false;
        }
        assert!(names(&dir.join("spare")).is_empty(), "no spare kept");
        eprintln!("note: RUSTASSISTANT_PORTABLE set: the fallback was checked instead");
        true
    }

    #[test]
    fn a_replaced_shard_becomes_the_next_spare() {
        let t = tempfile::tempdir().unwrap();
        let shard = t.path().join("00.jsonl");
        std::fs::write(&shard, "old line that is longer than the new one\n").unwrap();
        let old = ino(&shard);
        let s = spares(t.path(), Duration::ZERO);
        s.replace(&shard, b"new\n").unwrap();
        assert_eq!(std::fs::read(&shard).unwrap(), b"new\n");
        if fallback_only(t.path()) {
            return;
        }
        if s.state().off {
            // No renameat2 here: the temporary file did the job, which is all that is promised.
            eprintln!("note: RENAME_EXCHANGE unsupported here; fallback exercised instead");
            return;
        }
        let kept = names(&t.path().join("spare"));
        assert_eq!(kept.len(), 1, "{kept:?}");
        let spare = t.path().join("spare").join(&kept[0]);
        assert_eq!(ino(&spare), old, "the old shard is the spare");
        assert_eq!(
            std::fs::read(&spare).unwrap(),
            b"old line that is longer than the new one\n"
        );
        // The next replacement, in a later process, writes into that inode: none is created.
        let s = spares(t.path(), Duration::ZERO);
        let before = ino(&shard);
        s.replace(&shard, b"newer, and longer than before\n")
            .unwrap();
        assert_eq!(
            std::fs::read(&shard).unwrap(),
            b"newer, and longer than before\n"
        );
        assert_eq!(ino(&shard), old, "the spare took the shard's name");
        assert_eq!(ino(&spare), before, "and the replaced shard is the spare");
        assert_eq!(names(&t.path().join("spare")).len(), 1);
        let mode = std::fs::metadata(&shard).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o666 & !crate::util::current_umask());
    }

    #[test]
    fn a_new_shard_takes_a_spare_and_a_removed_one_becomes_one() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.jsonl");
        std::fs::write(&a, "a\n").unwrap();
        let a_ino = ino(&a);
        let s = spares(t.path(), Duration::ZERO);
        s.remove(&a).unwrap();
        assert!(!a.exists());
        if fallback_only(t.path()) {
            return;
        }
        assert_eq!(names(&t.path().join("spare")).len(), 1);
        let s = spares(t.path(), Duration::ZERO);
        let b = t.path().join("b.jsonl");
        s.replace(&b, b"b\n").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"b\n");
        assert_eq!(ino(&b), a_ino);
        assert!(names(&t.path().join("spare")).is_empty());
        assert_eq!(
            s.remove(&a).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }

    #[test]
    fn young_and_hard_linked_spares_are_never_written_into() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("spare");
        std::fs::create_dir_all(&dir).unwrap();
        // A backup made with hard links names this spare too.
        std::fs::write(dir.join("s-1-1"), "backed up\n").unwrap();
        std::fs::hard_link(dir.join("s-1-1"), t.path().join("backup")).unwrap();
        let shard = t.path().join("00.jsonl");
        std::fs::write(&shard, "old\n").unwrap();
        // The spare made by this replacement is young: quarantined for the next one.
        let s = spares(t.path(), Duration::from_secs(3600));
        s.replace(&shard, b"one\n").unwrap();
        assert_eq!(
            std::fs::read(t.path().join("backup")).unwrap(),
            b"backed up\n"
        );
        assert_eq!(std::fs::read(&shard).unwrap(), b"one\n");
        if !crate::sys::fast() {
            // The fallback never looks at the folder: the spare stays as it was.
            assert_eq!(std::fs::read(dir.join("s-1-1")).unwrap(), b"backed up\n");
            return;
        }
        assert!(!dir.join("s-1-1").exists(), "the shared name is dropped");
        let kept = names(&dir);
        let s = spares(t.path(), Duration::from_secs(3600));
        s.replace(&shard, b"two\n").unwrap();
        assert_eq!(std::fs::read(&shard).unwrap(), b"two\n");
        for k in &kept {
            assert_eq!(std::fs::read(dir.join(k)).unwrap(), b"old\n", "quarantined");
        }
    }

    #[test]
    fn an_unusable_folder_falls_back_to_temporary_files() {
        let t = tempfile::tempdir().unwrap();
        // The folder's place is taken by a file.
        std::fs::write(t.path().join("spare"), "").unwrap();
        let shard = t.path().join("00.jsonl");
        std::fs::write(&shard, "old\n").unwrap();
        let s = spares(t.path(), Duration::ZERO);
        s.replace(&shard, b"new\n").unwrap();
        assert_eq!(std::fs::read(&shard).unwrap(), b"new\n");
        s.remove(&shard).unwrap();
        assert!(!shard.exists());
        assert_eq!(
            s.state().off,
            crate::sys::fast(),
            "the fallback never tried the folder"
        );
    }
}
