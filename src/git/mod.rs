//! Everything that touches git: opening the repository, blob ids, the index, trees.
//!
//! Blob ids are exactly what `git hash-object` prints. A tracked file whose stat data still
//! matches its index entry takes the id from the index without being read (git's own rule,
//! including the "racily clean" case where the file changed in the same second the index was
//! written); anything else is hashed with git2 in the repository's object format (SHA-1 or
//! SHA-256).

mod amend;
mod blob_id;
mod command;
mod error;
pub use blob_id::BlobId;
pub use error::GitError;
mod history;
mod log;
mod objects;
mod pack;
#[cfg(test)]
pub(crate) mod testing;
pub use log::AddedLine;
pub mod hooks;
pub mod index_file;
pub mod untracked;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::sync::{Mutex, MutexGuard};

use git2::{ObjectFormat, ObjectType, Oid, Repository};

use crate::error::UserError;
use crate::util::stat::{Lstat, Stat};

/// Mode bits of a regular file in the index (`100644` / `100755`).
const MODE_FILE_MASK: u32 = 0o170000;
const MODE_REGULAR: u32 = 0o100000;

/// An open repository with a work tree.
pub struct Repo {
    /// The git2 handle, behind a lock because libgit2 repositories may move between threads
    /// but not be shared; every hot path (stat, hashing) works without it.
    git: Mutex<Repository>,
    commondir: PathBuf,
    /// Where new objects go when git was told another place (`GIT_OBJECT_DIRECTORY`, as git
    /// sets it for a hook run in a quarantine); `None`: `<commondir>/objects`.
    object_dir: std::sync::OnceLock<PathBuf>,
    workdir: PathBuf,
    format: ObjectFormat,
}

/// The stat data git recorded for a file (fields truncated to 32 bits, as git stores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStat {
    /// Inode.
    pub ino: u32,
    /// Size.
    pub size: u32,
    /// mtime seconds and nanoseconds.
    pub mtime: (u32, u32),
}

impl IndexStat {
    /// Whether a file git recorded with this stat data is the one with `(ino, size, mtime_ns)`
    /// as far as stat data can tell.
    pub fn matches(&self, ino: u64, size: u64, mtime_ns: i64) -> bool {
        let secs = mtime_ns.div_euclid(1_000_000_000);
        let nanos = mtime_ns.rem_euclid(1_000_000_000);
        self.ino == ino as u32
            && self.size == size as u32
            && self.mtime == (secs as u32, nanos as u32)
    }
}

/// One tracked file as the index records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// Repository-relative path with `/` separators (shared with the [`FileId`] made for it).
    pub path: std::sync::Arc<str>,
    /// Blob id recorded in the index.
    pub blob: BlobId,
    /// Size recorded in the index (truncated to 32 bits by git).
    pub size: u32,
    mtime: (i32, u32),
    ctime: i32,
    ino: u32,
    racy: bool,
}

/// (path, blob id) pairs read from git's index.
pub type PathBlobs = Vec<(String, String)>;

/// How the analysed bytes are identified and where they come from.
#[derive(Debug, Clone)]
pub struct FileId {
    /// Repository-relative path.
    pub path: std::sync::Arc<str>,
    /// Blob id.
    pub blob: BlobId,
    /// Size in bytes.
    pub size: u64,
    /// Content already read while hashing (modified and untracked files), so a miss does not
    /// read it twice.
    pub content: Option<Vec<u8>>,
    /// Where the content lives when it is not in `content`.
    pub source: Source,
}

/// Where to read a file's content from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The work tree.
    WorkTree,
    /// The object database (staged content, for the pre-commit hook).
    Object,
}

impl Repo {
    /// Find the repository containing `start`, like git does.
    pub fn discover(start: &Path) -> Result<Repo, UserError> {
        let repo =
            Repository::discover(start).map_err(|_| UserError::NotARepo(start.to_path_buf()))?;
        let Some(workdir) = repo.workdir() else {
            return Err(UserError::Bare(repo.path().to_path_buf()));
        };
        let workdir = workdir
            .canonicalize()
            .unwrap_or_else(|_| workdir.to_path_buf());
        let format = repo.object_format();
        let commondir = repo.commondir().to_path_buf();
        Ok(Repo {
            git: Mutex::new(repo),
            commondir,
            object_dir: std::sync::OnceLock::new(),
            workdir,
            format,
        })
    }

    /// The git2 repository, locked for the guard's lifetime. Private to `git/`: a guard held
    /// while calling another method that locks would deadlock, so every use takes and drops it
    /// inside one method.
    fn git(&self) -> MutexGuard<'_, Repository> {
        self.git.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The git directory (`.git`, or the worktree's own folder).
    pub fn git_dir(&self) -> PathBuf {
        self.git().path().to_path_buf()
    }

    /// The common git directory (shared by every worktree of the repository).
    pub fn commondir(&self) -> &Path {
        &self.commondir
    }

    /// The work tree root.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The folder for local, never-committed state: `<git dir>/rustassistant`. A linked worktree
    /// has its own git dir and its own entry files, so its own index.
    pub fn state_dir(&self) -> PathBuf {
        self.git_dir().join("rustassistant")
    }

    /// The repository's object format.
    pub fn format(&self) -> ObjectFormat {
        self.format
    }

    /// Blob id of `bytes` in this repository's object format.
    pub fn hash_blob(&self, bytes: &[u8]) -> String {
        self.hash_blob_id(bytes).to_string()
    }

    /// [`Repo::hash_blob`] as a [`BlobId`].
    pub fn hash_blob_id(&self, bytes: &[u8]) -> BlobId {
        Oid::hash_object_ext(ObjectType::Blob, bytes, self.format)
            .map(BlobId::from)
            .expect("hashing an in-memory buffer cannot fail")
    }

    /// Parse a hex object id in this repository's format.
    pub fn oid(&self, hex: &str) -> Result<Oid, git2::Error> {
        Oid::from_str_ext(hex, self.format)
    }

    /// Open the index git is using: `GIT_INDEX_FILE` when set (git sets it for hooks of
    /// `git commit -a` and `git commit PATH`), else the repository's.
    pub fn index(&self, index_file: Option<&str>) -> Result<git2::Index, git2::Error> {
        match index_file {
            Some(f) => {
                let p = Path::new(f);
                let p = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    self.workdir.join(p)
                };
                git2::Index::open_ext(&p, self.format)
            }
            None => self.git().index(),
        }
    }

    /// Every regular file in the index (stage 0), in index order.
    pub fn tracked(&self, index_file: Option<&str>) -> Result<Vec<Tracked>, git2::Error> {
        self.tracked_where(index_file, |_| true)
    }

    /// [`Repo::tracked`], keeping only paths `keep` accepts (checked before anything is
    /// allocated for the entry).
    pub fn tracked_where(
        &self,
        index_file: Option<&str>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<Tracked>, git2::Error> {
        let path = match index_file {
            Some(f) if Path::new(f).is_absolute() => PathBuf::from(f),
            Some(f) => self.workdir.join(f),
            None => self.git_dir().join("index"),
        };
        if let Some(v) = self.tracked_fast(&path, &keep) {
            return Ok(v);
        }
        Ok(self
            .tracked_git2(index_file)?
            .into_iter()
            .filter(|t| keep(&t.path))
            .collect())
    }

    fn tracked_fast(&self, path: &Path, keep: &dyn Fn(&str) -> bool) -> Option<Vec<Tracked>> {
        let (data, index_mtime) = index_file::read(path)?;
        // Sized from the header's entry count, bounded by the file's size (an entry takes at
        // least 64 bytes): no regrowth of the list.
        let mut out = Vec::with_capacity(index_file::entry_count(&data).min(data.len() / 64));
        self.parse_index(&data, |e| {
            if e.stage != 0 || e.mode & MODE_FILE_MASK != MODE_REGULAR {
                return;
            }
            let Some(path) = crate::util::utf8(e.path).filter(|p| keep(p)) else {
                return;
            };
            let mtime = (e.mtime.0 as i32, e.mtime.1);
            out.push(Tracked {
                path: path.into(),
                blob: BlobId::from_raw(e.oid).expect("the reader cuts ids of 20 or 32 bytes"),
                size: e.size,
                mtime,
                ctime: e.ctime as i32,
                ino: e.ino,
                racy: (mtime.0 as i64, mtime.1 as i64) >= index_mtime,
            });
        })?;
        Some(out)
    }

    /// Every blob id the index git is using records (any path, UTF-8 or not, any stage), for
    /// deciding what a commit still contains, the (path, blob id) of the regular files under
    /// `prefix` (UTF-8 ones: shard paths always are), and the paths under `prefix` that the
    /// index records as something else (a symbolic link, a submodule), in one read of the
    /// index. An unreadable index is an error, never "empty".
    pub fn index_blobs_and_paths(
        &self,
        index_file: Option<&str>,
        prefix: &str,
    ) -> Result<(HashSet<String>, PathBlobs, HashSet<String>), git2::Error> {
        let path = match index_file {
            Some(f) if Path::new(f).is_absolute() => PathBuf::from(f),
            Some(f) => self.workdir.join(f),
            None => self.git_dir().join("index"),
        };
        let mut blobs = HashSet::new();
        let mut under = Vec::new();
        let mut odd = HashSet::new();
        if let Some((data, _)) = index_file::read(&path) {
            let parsed = self.parse_index(&data, |e| {
                if e.mode & MODE_FILE_MASK != MODE_REGULAR {
                    if e.path.starts_with(prefix.as_bytes()) {
                        odd.insert(String::from_utf8_lossy(e.path).into_owned());
                    }
                    return;
                }
                let oid = crate::util::hex(e.oid);
                if e.stage == 0 && e.path.starts_with(prefix.as_bytes()) {
                    if let Ok(p) = std::str::from_utf8(e.path) {
                        under.push((p.to_string(), oid.clone()));
                    }
                }
                blobs.insert(oid);
            });
            if parsed.is_some() {
                return Ok((blobs, under, odd));
            }
            blobs.clear();
            under.clear();
            odd.clear();
        }
        let index = self.index(index_file)?;
        for e in index.iter() {
            if e.mode & MODE_FILE_MASK != MODE_REGULAR {
                if e.path.starts_with(prefix.as_bytes()) {
                    odd.insert(String::from_utf8_lossy(&e.path).into_owned());
                }
                continue;
            }
            blobs.insert(e.id.to_string());
            let stage = (e.flags >> 12) & 0x3;
            if stage == 0 && e.path.starts_with(prefix.as_bytes()) {
                if let Ok(p) = String::from_utf8(e.path) {
                    under.push((p, e.id.to_string()));
                }
            }
        }
        Ok((blobs, under, odd))
    }

    /// The size of git's index file (`<git dir>/index`), when there is one.
    pub fn index_len(&self) -> Option<u64> {
        std::fs::metadata(self.git_dir().join("index"))
            .ok()
            .map(|m| m.len())
    }

    /// The stat data git's index (`<git dir>/index`) recorded for the regular files under
    /// `prefix` (a work-tree-relative folder ending in `/`), in index order, as (the path below
    /// `prefix`, stat, object id in hex). Entries whose stat data git itself would not trust
    /// are left out: racily clean ones (not older than the index file), assume-unchanged and
    /// skip-worktree ones, and unmerged ones. Returns the index file's mtime (ns), or `None` when the fast
    /// reader cannot read the index (no index yields nothing and mtime 0).
    pub fn index_stat_under(
        &self,
        prefix: &str,
        mut each: impl FnMut(&[u8], IndexStat, String),
    ) -> Option<i64> {
        let (data, index_mtime) = index_file::read(&self.git_dir().join("index"))?;
        self.parse_index(&data, |e| {
            let Some(rest) = e.path.strip_prefix(prefix.as_bytes()) else {
                return;
            };
            if e.stage != 0
                || e.stat_ignored
                || e.mode & MODE_FILE_MASK != MODE_REGULAR
                || (e.mtime.0 as i64, e.mtime.1 as i64) >= index_mtime
            {
                return;
            }
            each(
                rest,
                IndexStat {
                    ino: e.ino,
                    size: e.size,
                    mtime: e.mtime,
                },
                crate::util::hex(e.oid),
            );
        })?;
        Some(index_mtime.0 * 1_000_000_000 + index_mtime.1)
    }

    /// Every entry of the index file bytes `data` (none when empty: no index yet), or `None`
    /// when the fast reader does not handle them.
    fn parse_index(&self, data: &[u8], each: impl FnMut(index_file::RawEntry<'_>)) -> Option<()> {
        if data.is_empty() {
            return Some(());
        }
        let oid_len = if self.format == ObjectFormat::Sha1 {
            20
        } else {
            32
        };
        index_file::parse(data, oid_len, each)
    }

    /// [`Repo::tracked`] through libgit2 (the reference the fast reader is tested against).
    pub fn tracked_git2(&self, index_file: Option<&str>) -> Result<Vec<Tracked>, git2::Error> {
        let index = self.index(index_file)?;
        let index_path = index.path().map(Path::to_path_buf);
        // git's racy-clean rule: an entry whose mtime is not older than the index file itself
        // may have changed after it was recorded, so its stat match proves nothing.
        let index_mtime = index_path
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| (m.mtime(), m.mtime_nsec()))
            .unwrap_or((i64::MAX, 0));
        let mut out = Vec::with_capacity(index.len());
        for e in index.iter() {
            let stage = (e.flags >> 12) & 0x3;
            if stage != 0 || e.mode & MODE_FILE_MASK != MODE_REGULAR {
                continue;
            }
            let Ok(path) = String::from_utf8(e.path) else {
                continue;
            };
            let mtime = (e.mtime.seconds(), e.mtime.nanoseconds());
            let racy = (mtime.0 as i64, mtime.1 as i64) >= index_mtime;
            out.push(Tracked {
                path: path.into(),
                blob: e.id.into(),
                size: e.file_size,
                mtime,
                ctime: e.ctime.seconds(),
                ino: e.ino,
                racy,
            });
        }
        Ok(out)
    }

    /// Identify the work-tree file at `rel`, trusting `tracked` when its stat data matches.
    /// Returns `Ok(None)` when the path is not a regular file.
    pub fn work_file(
        &self,
        rel: &str,
        tracked: Option<&Tracked>,
        max_bytes: u64,
    ) -> std::io::Result<Option<WorkFile>> {
        self.work_file_with(
            &mut Lstat::new(&self.workdir),
            &rel.into(),
            tracked,
            max_bytes,
        )
    }

    /// [`Repo::work_file`] looking the file up through `lstat`, which callers identifying many
    /// files keep from one file to the next (it reuses the handle of the folder looked in).
    pub fn work_file_with(
        &self,
        lstat: &mut Lstat<'_>,
        rel: &std::sync::Arc<str>,
        tracked: Option<&Tracked>,
        max_bytes: u64,
    ) -> std::io::Result<Option<WorkFile>> {
        let meta = lstat.get(rel)?;
        if !meta.is_file {
            return Ok(None);
        }
        // Over the bound is a skip whether or not git's stat data vouches for the file (an
        // unchanged tracked file included): a file is never analysed, nor reported as an
        // error, for being large.
        if meta.len > max_bytes {
            return Ok(Some(WorkFile::TooLarge(meta.len)));
        }
        if let Some(t) = tracked {
            if stat_matches(t, &meta) {
                return Ok(Some(WorkFile::Known(FileId {
                    path: rel.clone(),
                    blob: t.blob.clone(),
                    size: meta.len,
                    content: None,
                    source: Source::WorkTree,
                })));
            }
        }
        let abs = self.workdir.join(&**rel);
        // Bounded even if the file grew since the stat.
        let content = match crate::util::fs::read_user_file(&abs, max_bytes) {
            Ok(c) => c,
            Err(crate::util::fs::ReadError::TooLarge { .. }) => {
                return Ok(Some(WorkFile::TooLarge(meta.len.max(max_bytes + 1))))
            }
            Err(crate::util::fs::ReadError::NotRegular(_)) => return Ok(None),
            Err(crate::util::fs::ReadError::Io { source, .. }) => return Err(source),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        Ok(Some(WorkFile::Known(FileId {
            path: rel.clone(),
            blob: self.hash_blob_id(&content),
            size: content.len() as u64,
            content: Some(content),
            source: Source::WorkTree,
        })))
    }

    /// The content of blob `blob`, refused (an error) when it is over `limit` bytes: the size
    /// is read from the object header first, so a planted giant blob is never loaded.
    pub fn read_blob_within(&self, blob: &str, limit: u64) -> Result<Vec<u8>, git2::Error> {
        let oid = self.oid(blob)?;
        let git = self.git();
        let (size, _) = git.odb()?.read_header(oid)?;
        if size as u64 > limit {
            return Err(git2::Error::from_str(&format!(
                "blob {blob} is {size} bytes, over the {limit}-byte bound"
            )));
        }
        let content = git.find_blob(oid)?.content().to_vec();
        Ok(content)
    }

    /// The content of blob `blob`.
    pub fn read_blob(&self, blob: &str) -> Result<Vec<u8>, git2::Error> {
        let oid = self.oid(blob)?;
        let git = self.git();
        let blob = git.find_blob(oid)?;
        Ok(blob.content().to_vec())
    }

    /// Convert a user-given path (relative to `cwd`, or absolute) to a repository-relative one
    /// with `/` separators. Errors name the path and say what is wrong.
    pub fn relative(&self, cwd: &Path, given: &Path) -> Result<String, UserError> {
        let abs = if given.is_absolute() {
            given.to_path_buf()
        } else {
            cwd.join(given)
        };
        let canon = abs.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                UserError::Input(format!("{}: no such file or directory", given.display()))
            }
            _ => UserError::Input(format!("{}: {e}", given.display())),
        })?;
        self.inside(&canon, given)
    }

    /// [`Repo::relative`] for a path that need not exist (a file as of another revision): the
    /// current directory is resolved, `given` is joined to it with `.` and `..` applied as
    /// written.
    pub fn relative_lexical(&self, cwd: &Path, given: &Path) -> Result<String, UserError> {
        let base = cwd
            .canonicalize()
            .map_err(|e| UserError::Input(format!("{}: {e}", cwd.display())))?;
        let mut abs = PathBuf::new();
        for c in base.join(given).components() {
            match c {
                std::path::Component::ParentDir => {
                    abs.pop();
                }
                std::path::Component::CurDir => {}
                other => abs.push(other),
            }
        }
        self.inside(&abs, given)
    }

    /// `abs` relative to the work tree, `/`-separated; an error naming `given` when it is
    /// outside or not UTF-8.
    fn inside(&self, abs: &Path, given: &Path) -> Result<String, UserError> {
        let rel = abs.strip_prefix(&self.workdir).map_err(|_| {
            UserError::Input(format!(
                "{}: outside the repository at {}",
                given.display(),
                self.workdir.display()
            ))
        })?;
        let s = rel
            .to_str()
            .ok_or_else(|| UserError::Input(format!("{}: path is not UTF-8", given.display())))?;
        Ok(s.replace(std::path::MAIN_SEPARATOR, "/"))
    }
}

/// A work-tree file, identified or skipped.
#[derive(Debug)]
pub enum WorkFile {
    /// Identified by blob id.
    Known(FileId),
    /// Larger than the analysis bound (its size); not read.
    TooLarge(u64),
}

fn stat_matches(t: &Tracked, m: &Stat) -> bool {
    !t.racy
        && m.len as u32 == t.size
        && m.mtime.0 as i32 == t.mtime.0
        && (t.mtime.1 == 0 || m.mtime.1 as u32 == t.mtime.1)
        && m.ctime as i32 == t.ctime
        && (t.ino == 0 || m.ino as u32 == t.ino)
}

/// True when `bytes` looks binary: a NUL in the first 8000 bytes, git's own heuristic.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

/// A new, empty repository at `dir` (unit tests of the layers above build workspaces on it).
#[cfg(test)]
pub(crate) fn init_for_tests(dir: &Path) {
    Repository::init(dir).expect("git init");
}
