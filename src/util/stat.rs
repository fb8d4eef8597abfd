//! `lstat` of many work-tree files, as cheaply as the kernel allows: each file is looked up
//! relative to an open handle on its folder (one path component for the kernel to walk instead
//! of the whole absolute path), and paths in one folder share that handle. Callers hand paths
//! in index order, where a folder's files sit together.
//!
//! What callers may rely on: [`Lstat::get`] never follows a symbolic link at the end of the path
//! (like `lstat`), returns exactly the error `lstat` would for a missing file or folder, and
//! keeps at most one folder handle open.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use crate::sys::{read_folder, Kind, Stat};

/// `lstat` of paths below one root, reusing the handle of the last folder looked in.
pub struct Lstat<'a> {
    root: &'a Path,
    /// The folder (relative to `root`) that is open, and it (or why it is not).
    dir: Option<(Vec<u8>, Result<crate::sys::Dir, Failed>)>,
}

/// The error `lstat` gives for a path that names nothing.
fn not_found() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::NotFound)
}

impl<'a> Lstat<'a> {
    /// Look up paths below `root`.
    pub fn new(root: &'a Path) -> Lstat<'a> {
        Lstat { root, dir: None }
    }

    /// `lstat` of `rel` (relative to the root, `/`-separated).
    pub fn get(&mut self, rel: &str) -> std::io::Result<Stat> {
        // Plain byte loops: paths are short and this runs for every file of a run.
        let bytes = rel.as_bytes();
        if bytes.contains(&0) {
            return Err(not_found());
        }
        let (dir, name) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&b""[..], bytes),
        };
        if name.is_empty() {
            return Err(not_found());
        }
        if self.dir.as_ref().is_none_or(|(d, _)| d.as_slice() != dir) {
            let path = if dir.is_empty() {
                self.root.to_path_buf()
            } else {
                self.root.join(std::ffi::OsStr::from_bytes(dir))
            };
            let opened =
                crate::sys::open_dir(&path).map_err(|e| Failed(e.raw_os_error(), e.kind()));
            self.dir = Some((dir.to_vec(), opened));
        }
        match &self.dir {
            Some((_, Ok(d))) => crate::sys::lstat_in(d, name),
            Some((_, Err(Failed(Some(code), _)))) => Err(std::io::Error::from_raw_os_error(*code)),
            Some((_, Err(Failed(None, kind)))) => Err(std::io::Error::from(*kind)),
            None => unreachable!("set just above"),
        }
    }
}

/// Why a folder could not be opened: the OS error code (when there is one) and its kind, kept
/// so each lookup in it fails as `lstat` would.
#[derive(Debug, Clone, Copy)]
struct Failed(Option<i32>, std::io::ErrorKind);

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
                matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ),
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
