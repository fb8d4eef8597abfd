//! `lstat` of many work-tree files, as cheaply as the kernel allows: each file is looked up
//! relative to an open handle on its folder (one path component for the kernel to walk instead
//! of the whole absolute path), and paths in one folder share that handle. Callers hand paths
//! in index order, where a folder's files sit together.
//!
//! What callers may rely on: [`Lstat::get`] never follows a symbolic link at the end of the path
//! (like `lstat`), returns exactly the error `lstat` would for a missing file or folder, and
//! keeps at most one folder handle open.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What the hot path needs of a file's stat data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// A regular file (not a folder, link, device, FIFO or socket).
    pub is_file: bool,
    /// Size in bytes.
    pub len: u64,
    /// Inode.
    pub ino: u64,
    /// mtime: seconds and nanoseconds.
    pub mtime: (i64, i64),
    /// ctime seconds.
    pub ctime: i64,
}

impl Stat {
    /// Modification time in nanoseconds.
    pub fn mtime_ns(&self) -> i64 {
        self.mtime.0 * 1_000_000_000 + self.mtime.1
    }

    fn from_raw(st: &libc::stat) -> Stat {
        Stat {
            is_file: st.st_mode & libc::S_IFMT == libc::S_IFREG,
            len: st.st_size as u64,
            ino: st.st_ino,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: st.st_ctime,
        }
    }
}

/// `lstat` of paths below one root, reusing the handle of the last folder looked in.
pub struct Lstat<'a> {
    root: &'a Path,
    /// The folder (relative to `root`) whose handle is open, and the handle (or why it is not).
    dir: Option<(Vec<u8>, Result<OwnedFd, i32>)>,
    name: Vec<u8>,
}

impl<'a> Lstat<'a> {
    /// Look up paths below `root`.
    pub fn new(root: &'a Path) -> Lstat<'a> {
        Lstat {
            root,
            dir: None,
            name: Vec::with_capacity(64),
        }
    }

    /// `lstat` of `rel` (relative to the root, `/`-separated).
    pub fn get(&mut self, rel: &str) -> std::io::Result<Stat> {
        // Plain byte loops: paths are short and this runs for every file of a run, where
        // `rfind`, `contains` and `CStr::from_bytes_with_nul` each scanned the path again.
        let bytes = rel.as_bytes();
        if bytes.contains(&0) {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        let (dir, name) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&b""[..], bytes),
        };
        if name.is_empty() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        if self.dir.as_ref().is_none_or(|(d, _)| d.as_slice() != dir) {
            self.dir = Some((dir.to_vec(), self.open_dir(dir)));
        }
        let fd = match &self.dir {
            Some((_, Ok(fd))) => fd.as_raw_fd(),
            Some((_, Err(errno))) => return Err(std::io::Error::from_raw_os_error(*errno)),
            None => unreachable!("set just above"),
        };
        self.name.clear();
        self.name.extend_from_slice(name);
        self.name.push(0);
        // SAFETY: `name` holds no NUL (checked above with the whole path) and one was pushed
        // after it.
        let name = unsafe { CStr::from_bytes_with_nul_unchecked(&self.name) };
        stat_at(fd, name).map(|st| Stat::from_raw(&st))
    }

    fn open_dir(&self, dir: &[u8]) -> Result<OwnedFd, i32> {
        let path = if dir.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(std::ffi::OsStr::from_bytes(dir))
        };
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::ENOENT)?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: the stat data of `name` in the open folder `dir`
/// (a descriptor that is not one is an error from the kernel, not undefined behaviour).
fn stat_at(dir: libc::c_int, name: &CStr) -> std::io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated and `st` is written by the kernel on success.
    let rc = unsafe {
        libc::fstatat(
            dir,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fstatat returned 0, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// What a folder entry is, as [`read_folder`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// Anything else: a symbolic link (never followed), a device, a FIFO, a socket.
    Other,
}

/// Call `each` with the name and kind of every entry of the folder `path` (`.` and `..` left
/// out, names that are not UTF-8 too), until it returns `false`. An unreadable folder reports
/// nothing.
///
/// The kind comes from the folder listing itself where the file system records it (ext4,
/// btrfs, xfs and tmpfs do), else from an `lstat` relative to the open folder, as
/// `std::fs::DirEntry::file_type` does. Unlike `std::fs::read_dir` no name is copied: a walk of
/// a 10,000-file tree made 10,000 allocations for names it mostly only compares.
pub fn read_folder(path: &Path, mut each: impl FnMut(&str, Kind) -> bool) {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `c` is a valid NUL-terminated path; a non-null stream is closed below.
    let dir = unsafe { libc::opendir(c.as_ptr()) };
    if dir.is_null() {
        return;
    }
    loop {
        // SAFETY: `dir` is an open stream; the entry stays valid until the next readdir or
        // closedir, and is not used after either.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid entry whose name is NUL-terminated.
        let (c_name, d_type) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()), (*ent).d_type) };
        let Some(name) = crate::util::utf8(c_name.to_bytes()) else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let kind = match d_type {
            libc::DT_REG => Kind::File,
            libc::DT_DIR => Kind::Dir,
            libc::DT_UNKNOWN => {
                // SAFETY: `dir` is an open stream, so dirfd returns its descriptor.
                let Ok(st) = stat_at(unsafe { libc::dirfd(dir) }, c_name) else {
                    continue;
                };
                match st.st_mode & libc::S_IFMT {
                    libc::S_IFREG => Kind::File,
                    libc::S_IFDIR => Kind::Dir,
                    _ => Kind::Other,
                }
            }
            _ => Kind::Other,
        };
        if !each(name, kind) {
            break;
        }
    }
    // SAFETY: `dir` is open and closed exactly once.
    unsafe { libc::closedir(dir) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn read_folder_lists_names_and_kinds_as_read_dir_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("f.rs"), "x").unwrap();
        std::os::unix::fs::symlink("f.rs", root.join("link")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("dirlink")).unwrap();
        let mut ours = Vec::new();
        read_folder(root, |n, k| {
            ours.push((n.to_string(), k));
            true
        });
        ours.sort_by(|a, b| a.0.cmp(&b.0));
        let mut std_view: Vec<(String, Kind)> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let t = e.file_type().unwrap();
                let k = if t.is_file() {
                    Kind::File
                } else if t.is_dir() {
                    Kind::Dir
                } else {
                    Kind::Other
                };
                (e.file_name().into_string().unwrap(), k)
            })
            .collect();
        std_view.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(ours, std_view);
        assert_eq!(ours.len(), 4);
        // Stopping early, and a missing folder reporting nothing.
        let mut seen = 0;
        read_folder(root, |_, _| {
            seen += 1;
            false
        });
        assert_eq!(seen, 1);
        read_folder(&root.join("missing"), |_, _| panic!("nothing to list"));
    }

    #[test]
    fn agrees_with_symlink_metadata_for_files_folders_links_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("top.rs"), "x").unwrap();
        std::fs::write(root.join("a/one.rs"), "one").unwrap();
        std::fs::write(root.join("a/b/two.rs"), "two!").unwrap();
        std::os::unix::fs::symlink("one.rs", root.join("a/link.rs")).unwrap();
        let mut l = Lstat::new(root);
        for rel in [
            "top.rs",
            "a/one.rs",
            "a/b/two.rs",
            "a/link.rs",
            "a/b",
            "a/one.rs",
        ] {
            let got = l.get(rel).unwrap();
            let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
            assert_eq!(got.is_file, m.file_type().is_file(), "{rel}");
            assert_eq!(
                (got.len, got.ino, got.mtime, got.ctime),
                (m.len(), m.ino(), (m.mtime(), m.mtime_nsec()), m.ctime()),
                "{rel}"
            );
        }
        for missing in ["nope.rs", "a/nope.rs", "gone/x.rs", "top.rs/x", "a/\0x"] {
            let e = l.get(missing).unwrap_err();
            assert!(
                matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)),
                "{missing}: {e}"
            );
        }
        assert_eq!(
            l.get("a/one.rs").unwrap().len,
            3,
            "the folder handle is reopened after an error"
        );
    }
}
