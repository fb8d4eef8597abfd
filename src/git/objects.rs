//! Where objects are read from and written to: the repository's own object database, plus
//! the directories git was told about in the environment (`GIT_OBJECT_DIRECTORY`,
//! `GIT_ALTERNATE_OBJECT_DIRECTORIES`), which git honours and so must this tool.

use std::path::{Path, PathBuf};

use super::Repo;

impl Repo {
    /// Honour the object directories git was given (`GIT_OBJECT_DIRECTORY`, and
    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES`, colon-separated), as git itself does: their objects
    /// are read, and new objects are written to the first. Relative paths are taken from `cwd`.
    /// Called once, by whoever read the environment.
    pub fn use_object_dirs(
        &self,
        cwd: &Path,
        object_dir: Option<&str>,
        alternates: Option<&str>,
    ) -> Result<(), git2::Error> {
        let abs = |p: &str| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            }
        };
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(d) = object_dir.filter(|d| !d.is_empty()) {
            let d = abs(d);
            let default = self.commondir.join("objects");
            let same = d.canonicalize().ok() == default.canonicalize().ok();
            if !same {
                dirs.push(d.clone());
                let _ = self.object_dir.set(d);
            }
        }
        dirs.extend(
            alternates
                .unwrap_or_default()
                .split(':')
                .filter(|d| !d.is_empty())
                .map(abs),
        );
        if dirs.is_empty() {
            return Ok(());
        }
        let git = self.git();
        let odb = git.odb()?;
        for d in dirs.iter().filter(|d| d.is_dir()) {
            if let Some(s) = d.to_str() {
                odb.add_disk_alternate(s)?;
            }
        }
        Ok(())
    }

    /// Where new objects go: `GIT_OBJECT_DIRECTORY` when git set one, else `<commondir>/objects`.
    pub(crate) fn objects_dir(&self) -> PathBuf {
        self.object_dir
            .get()
            .cloned()
            .unwrap_or_else(|| self.commondir.join("objects"))
    }

    /// Write `bytes` as a blob into the object database; returns its id. Into the directory
    /// git was told to use, when it was told one (then by git itself: libgit2 writes only to
    /// the repository's own).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<String, super::GitError> {
        if self.object_dir.get().is_some() {
            return self.git_text_with_input(&["hash-object", "-w", "--stdin"], &[], bytes);
        }
        Ok(self.git().blob(bytes)?.to_string())
    }
}
