//! File-system helpers for data that may come from someone else's commit.
//!
//! What callers may rely on:
//! - [`read_in_tree`] reads only a regular file inside the work tree, reached through real
//!   folders (no symbolic link anywhere on the way, the file itself included), and never more
//!   than the bound it is given;
//! - [`read_user_file`] reads a file the user named (any path) but only a regular file, and never
//!   past its bound — `/dev/zero` or a FIFO is refused, not read forever;
//! - [`check_real_dirs`] says whether every existing folder from a root down to a path is a real
//!   folder, so nothing is written to or deleted from a place a symlink points at.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Modification time in nanoseconds, the index's change detector.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

/// Why a file from the repository (or named by the user) was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A symbolic link on the way or at the end.
    #[error("{0}: is a symbolic link or lies behind one; only regular files inside the work tree are read")]
    Symlink(PathBuf),
    /// Not a regular file (a folder, device, FIFO, socket).
    #[error("{0}: not a regular file")]
    NotRegular(PathBuf),
    /// Larger than the bound.
    #[error("{path}: larger than {limit} bytes; refusing to read it")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: u64,
    },
    /// The path leaves the root (`..`, absolute).
    #[error("{0}: outside the work tree")]
    Outside(PathBuf),
    /// Any other I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Read `rel` below `root` (a work tree) if it exists: `Ok(None)` when it does not. Every
/// component is checked with `lstat` (a symlink anywhere is refused), the file is opened with
/// `O_NOFOLLOW` and checked again on the open handle (so a swap between check and open cannot
/// slip a link in), and at most `max` bytes are accepted.
pub fn read_in_tree(root: &Path, rel: &Path, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let mut here = root.to_path_buf();
    let comps: Vec<Component<'_>> = rel.components().collect();
    if comps.is_empty() {
        return Err(ReadError::NotRegular(root.to_path_buf()));
    }
    for (i, c) in comps.iter().enumerate() {
        let Component::Normal(name) = c else {
            return Err(ReadError::Outside(rel.to_path_buf()));
        };
        here.push(name);
        let meta = match std::fs::symlink_metadata(&here) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ReadError::Io { path: here, source }),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            return Err(ReadError::Symlink(here));
        }
        let last = i + 1 == comps.len();
        if !last && !ft.is_dir() {
            return Ok(None);
        }
        if last && !ft.is_file() {
            return Err(ReadError::NotRegular(here));
        }
    }
    let file = crate::sys::open_read_no_follow(&here).map_err(|source| {
        if crate::sys::is_symlink_refusal(&source) {
            ReadError::Symlink(here.clone())
        } else {
            ReadError::Io {
                path: here.clone(),
                source,
            }
        }
    })?;
    read_open_bounded(file, &here, max).map(Some)
}

/// Read a file the user named on the command line: a regular file only (checked on the open
/// handle), at most `max` bytes. Symlinks are followed: the user named the path.
pub fn read_user_file(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    // Opening a FIFO with no writer must not hang before it can be refused.
    let file = crate::sys::open_read_nonblocking(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_open_bounded(file, path, max)
}

fn read_open_bounded(file: std::fs::File, path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(path.to_path_buf()));
    }
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit: max,
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Whether `path` holds a regular file (`Ok(true)`) or nothing (`Ok(false)`); anything else in
/// its place (a symbolic link, folder, FIFO, device or socket) is an error naming it. Checked
/// before any replace or remove, so that only regular files are ever replaced or written.
pub fn regular_or_absent(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(true),
        Ok(m) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}: {}; rustassistant only replaces regular files and leaves this as it is",
                path.display(),
                describe(&m.file_type())
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// How [`write_output`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A regular file was created or replaced atomically.
    Replaced,
    /// A device or FIFO was written to as it is (never replaced).
    Through,
}

/// Links followed at most when resolving an output path.
const MAX_OUTPUT_LINKS: usize = 40;

/// Write `bytes` to a file the user named (`-o FILE`): atomically (a temporary file renamed
/// into place) when it is a regular file or absent; written through, never replaced, when it is
/// a device or FIFO (`-o /dev/stdout`, a named pipe); through a symbolic link to whichever of
/// those the link points at, the link itself staying as it is. A folder or socket is an error.
pub fn write_output(path: &Path, bytes: &[u8]) -> std::io::Result<Written> {
    use std::io::Write as _;
    use std::os::unix::fs::FileTypeExt as _;
    let mut at = path.to_path_buf();
    for _ in 0..MAX_OUTPUT_LINKS {
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::util::write_atomic(&at, bytes)?;
                return Ok(Written::Replaced);
            }
            Err(e) => return Err(e),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&at)?;
            at = match at.parent() {
                Some(dir) if target.is_relative() => dir.join(target),
                _ => target,
            };
            continue;
        }
        if ft.is_file() {
            crate::util::write_atomic(&at, bytes)?;
            return Ok(Written::Replaced);
        }
        if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            let mut f = crate::sys::open_write_existing(&at)?;
            f.write_all(bytes)?;
            f.flush()?;
            return Ok(Written::Through);
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} {}: cannot write the output there",
                at.display(),
                describe(&ft)
            ),
        ));
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{}: too many levels of symbolic links", path.display()),
    ))
}

/// What a file type is, in words.
pub fn describe(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if ft.is_symlink() {
        "is a symbolic link"
    } else if ft.is_dir() {
        "is a folder"
    } else if ft.is_fifo() {
        "is a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "is a device"
    } else if ft.is_socket() {
        "is a socket"
    } else if ft.is_file() {
        "is a regular file"
    } else {
        "is not a regular file"
    }
}

/// The first folder from `root` (exclusive) down to `path` (inclusive) that exists but is not
/// a real folder (a symbolic link, or a file where a folder should be), if any. Folders that do
/// not exist yet are fine: they will be created as real folders. `path` must lie below `root`.
pub fn first_unreal_dir(root: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    let mut here = root.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Some(here);
        };
        here.push(name);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Some(here),
            Err(_) => return None,
        }
    }
    None
}

/// [`first_unreal_dir`] as an I/O error, for write and delete paths.
pub fn check_real_dirs(root: &Path, dir: &Path) -> std::io::Result<()> {
    match first_unreal_dir(root, dir) {
        None => Ok(()),
        Some(bad) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link (or not a folder); rustassistant never writes to or deletes from a cache folder that is not a real folder inside the work tree",
                bad.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_regular_files_and_refuses_links_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/c.md"), "hello").unwrap();
        assert_eq!(
            read_in_tree(root, Path::new("a/b/c.md"), 100).unwrap(),
            Some(b"hello".to_vec())
        );
        assert!(read_in_tree(root, Path::new("a/b/none.md"), 100)
            .unwrap()
            .is_none());
        symlink(root.join("a/b/c.md"), root.join("a/link.md")).unwrap();
        assert!(matches!(
            read_in_tree(root, Path::new("a/link.md"), 100),
            Err(ReadError::Symlink(_))
        ));
        symlink(root.join("a/b"), root.join("linked")).unwrap();
        assert!(matches!(
            read_in_tree(root, Path::new("linked/c.md"), 100),
            Err(ReadError::Symlink(_))
        ));
        assert!(matches!(
            read_in_tree(root, Path::new("a/b/c.md"), 3),
            Err(ReadError::TooLarge { .. })
        ));
        assert!(matches!(
            read_in_tree(root, Path::new("../x"), 3),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(
            read_in_tree(root, Path::new("a/b"), 3),
            Err(ReadError::NotRegular(_))
        ));
    }

    #[test]
    fn user_files_are_bounded_and_regular() {
        assert!(matches!(
            read_user_file(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'x'; 20]).unwrap();
        assert!(matches!(
            read_user_file(&p, 10),
            Err(ReadError::TooLarge { .. })
        ));
        assert_eq!(read_user_file(&p, 20).unwrap().len(), 20);
    }

    #[test]
    fn symlinked_folders_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("real/x")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        symlink(dir.path().join("elsewhere"), root.join("link")).unwrap();
        assert!(first_unreal_dir(&root, &root.join("real/x/y/z")).is_none());
        assert_eq!(
            first_unreal_dir(&root, &root.join("link/sub")),
            Some(root.join("link"))
        );
        assert!(check_real_dirs(&root, &root.join("link")).is_err());
    }
}
