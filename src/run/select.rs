//! Turning a selection (paths, `--all`, `--changed`, `--staged`) into identified files: blob
//! ids from git's index where its stat data vouches, hashing otherwise; include/exclude;
//! submodules and nested repositories left out and named.

use rustc_hash::{FxHashMap, FxHashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::config::Config;
use crate::error::UserError;
use crate::git::{looks_binary, FileId, Repo, Source, Tracked, WorkFile};
use crate::util::glob::GlobList;
use crate::util::par::parallel_map_with;
use crate::util::stat::Lstat;
use crate::workspace::Workspace;

use super::report::Status;
use super::{RunOptions, Selection, Skip, Target, FEW_FILES};

/// What a selection came to.
pub(crate) struct Collected {
    /// The files, identified or skipped.
    pub targets: Vec<Target>,
    /// Submodules and nested repositories left out.
    pub submodules: Vec<String>,
    /// Files `--all` left out because include/exclude do not match them.
    pub not_matched: Vec<String>,
}

/// `--all`'s read of the folders, under way on a thread of its own.
pub(crate) struct Walk(std::thread::JoinHandle<crate::git::untracked::Walked>);

/// For `--all`, start reading the folders (for the untracked files) on a thread of their own:
/// it needs nothing but the repository, so it runs while the caller does the rest of its
/// setup (opening the local index) and reads git's index, and is ready by the time those are
/// sorted into tracked and untracked. `None` for other selections.
pub(crate) fn start_walk(repo: &Repo, sel: &Selection) -> Option<Walk> {
    sel.all.then(|| {
        let root = repo.workdir().to_path_buf();
        let exclude = repo.commondir().join("info/exclude");
        Walk(std::thread::spawn(move || {
            crate::git::untracked::walk(&root, &exclude)
        }))
    })
}

/// Turn the selection into identified files; `walk` is what [`start_walk`] returned for `sel`.
pub(crate) fn collect(
    session: &Workspace,
    sel: &Selection,
    opts: &RunOptions,
    walk: Option<Walk>,
) -> Result<Collected> {
    let repo = &session.repo;
    let cfg = &session.config;
    // Compiling the globs costs more than a one-file hit's lookup: only the paths that filter
    // (`--all`, `--changed`, `--since`, `--staged`, folders) compile them.
    let filter = LazyFilter::new(cfg);
    let max = cfg.max_file_bytes();
    let mut seen = FxHashSet::default();
    let mut targets = Vec::new();
    let submodules: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    // Files `--all` leaves out because include/exclude do not match them (said in the summary).
    let not_matched: std::cell::RefCell<Vec<String>> = Default::default();

    if sel.staged {
        let filter = filter.get()?;
        // The staged content, from the object database: exactly what the commit will hold.
        for t in repo.tracked(opts.index_file.as_deref())? {
            if !filter.matches(&t.path) || !seen.insert(t.path.to_string()) {
                continue;
            }
            let id = if t.size as u64 > max {
                Err(Skip {
                    reason: format!("over max_file_bytes ({} > {max})", t.size),
                    path: t.path.to_string(),
                    status: Status::Skipped,
                })
            } else {
                Ok(FileId {
                    path: t.path,
                    blob: t.blob,
                    size: t.size as u64,
                    content: None,
                    source: Source::Object,
                })
            };
            targets.push(Target { id });
        }
        return Ok(Collected {
            targets,
            submodules: Vec::new(),
            not_matched: Vec::new(),
        });
    }

    // Only entries that can be wanted are materialised: --all needs those passing the filter,
    // named paths need their own (or, for folders, those below them).
    let named: Vec<String> = sel
        .paths
        .iter()
        .map(|g| repo.relative(&session.cwd, g))
        .collect::<Result<_, _>>()?;
    let under = |p: &str, n: &str| {
        n.is_empty() || p == n || (p.starts_with(n) && p.as_bytes().get(n.len()) == Some(&b'/'))
    };
    // A handful of named files: hashing them (bounded by max_file_bytes) is cheaper than
    // loading the git index, which is megabytes once the cache itself is tracked, and gives
    // the same ids.
    let few_named_files = !sel.all
        && !sel.changed
        && sel.since.is_none()
        && named.len() <= FEW_FILES
        && named.iter().all(|n| repo.workdir().join(n).is_file());
    // --all: the folders are read on a thread of their own (see `start_walk`); what they hold
    // is sorted into tracked and untracked below, once the index is known.
    let reading = walk.filter(|_| sel.all).map(|w| w.0);
    let tracked = if few_named_files {
        Vec::new()
    } else {
        let filter = filter.get()?;
        repo.tracked_where(None, |p| {
            let keep = ((sel.all || sel.changed || sel.since.is_some()) && filter.matches(p))
                || named.iter().any(|n| under(p, n));
            if sel.all && !keep && !p.starts_with(".rustassistant/") {
                not_matched.borrow_mut().push(p.to_string());
            }
            keep
        })?
    };
    // Tracked files are listed by their index entry: neither their path is copied nor is the
    // entry looked up again to identify them.
    let mut wanted: Vec<Want<'_>> = Vec::new();
    if sel.all {
        let filter = filter.get()?;
        // Without named paths, everything tracked_where kept passed the filter already.
        wanted.extend(
            tracked
                .iter()
                .filter(|t| named.is_empty() || filter.matches(&t.path))
                .map(Want::Tracked),
        );
    }
    // What the untracked files found by --all's walk go after.
    let tracked_wanted = wanted.len();
    // Only two selections (or two named paths) can name a file twice.
    let selections = usize::from(sel.all)
        + usize::from(sel.changed)
        + usize::from(sel.since.is_some())
        + if sel.since.is_some() { 0 } else { named.len() };
    if sel.changed {
        let filter = filter.get()?;
        for p in repo.changed_paths()? {
            if filter.matches(&p) {
                wanted.push(Want::Path(p.into()));
            }
        }
    }
    if let Some(rev) = &sel.since {
        let changed = repo
            .changed_since(rev)
            .map_err(|e| UserError::Input(format!("--since {rev}: {}", e.message())))?;
        let filter = filter.get()?;
        // With named paths, only the changed files below them.
        for p in changed {
            if filter.matches(&p) && (named.is_empty() || named.iter().any(|n| under(&p, n))) {
                wanted.push(Want::Path(p.into()));
            }
        }
    }
    // With --since, named paths only narrow the changed files (above).
    let walk_named = if sel.since.is_some() {
        Vec::new()
    } else {
        named
    };
    for (given, rel) in sel.paths.iter().zip(walk_named) {
        let abs = repo.workdir().join(&rel);
        if abs.is_dir() {
            let filter = filter.get()?;
            let mut walk = ignore::WalkBuilder::new(&abs);
            walk.hidden(false)
                .git_ignore(true)
                .git_exclude(true)
                .parents(true)
                .require_git(false);
            let root = repo.workdir().to_path_buf();
            let subs = submodules.clone();
            walk.filter_entry(move |e| e.file_name() != ".git" && !is_nested_repo(e, &root, &subs));
            for item in walk.build().flatten() {
                if !item.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                if let Ok(r) = item.path().strip_prefix(repo.workdir()) {
                    let r = r.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if filter.matches(&r) {
                        wanted.push(Want::Path(r.into()));
                    }
                }
            }
        } else if rel.starts_with(".rustassistant/") {
            return Err(UserError::Input(format!(
                "{}: is a cache entry, not a source file",
                given.display()
            ))
            .into());
        } else {
            wanted.push(Want::Path(rel.into()));
        }
    }
    if selections > 1 {
        dedupe(&mut wanted);
    }
    // The index's entries by path, for the paths named without their entry. A plain --all
    // names none (the untracked files it adds are, by definition, in no entry): there only the
    // walk's thread needs the map, to tell untracked files, and builds it there.
    let by_path_here = wanted.iter().any(|w| matches!(w, Want::Path(_)));
    let by_path = if by_path_here {
        by_path_of(&tracked)
    } else {
        FxHashMap::default()
    };
    // --all: what git would track next (untracked files that .gitignore does not exclude), found
    // by a walk on its own thread while the others identify the files already listed.
    let (resolved, walked) = std::thread::scope(|sc| {
        let walk = if let Some(reading) = reading {
            let filter = filter.get()?;
            let not_kept = not_matched.borrow().clone();
            let submodules = &submodules;
            let (by_path, tracked) = (&by_path, &tracked);
            Some(sc.spawn(move || {
                let built;
                let by_path = if by_path_here {
                    by_path
                } else {
                    built = by_path_of(tracked);
                    &built
                };
                let not_kept: FxHashSet<&str> = not_kept.iter().map(String::as_str).collect();
                let tracked = |p: &str| by_path.contains_key(p) || not_kept.contains(p);
                let walked = reading.join().expect("the folder walk panicked");
                untracked_files(walked, filter, &tracked, submodules)
            }))
        } else {
            None
        };
        let resolved = identify_all(repo, &wanted, &by_path, max);
        let walked = walk.map(|h| h.join().expect("the untracked walk panicked"));
        Ok::<_, anyhow::Error>((resolved, walked))
    })?;
    // Moved, not copied: only --staged (returned above) fills the list beforehand.
    if targets.is_empty() {
        targets = resolved;
    } else {
        targets.extend(resolved);
    }
    if let Some((mut untracked, left)) = walked {
        not_matched.borrow_mut().extend(left);
        if selections > 1 {
            let listed: FxHashSet<&str> = wanted.iter().map(|w| &**w.path()).collect();
            untracked.retain(|p| !listed.contains(p.as_str()));
        }
        let untracked: Vec<Want<'_>> = untracked
            .into_iter()
            .map(|p| Want::Path(p.into()))
            .collect();
        let found = identify_all(repo, &untracked, &by_path, max);
        // In selection order: the tracked files --all lists, then the untracked ones.
        targets.splice(tracked_wanted..tracked_wanted, found);
    }
    let mut submodules = std::mem::take(&mut *submodules.lock().unwrap_or_else(|p| p.into_inner()));
    submodules.sort();
    submodules.dedup();
    let mut not_matched = not_matched.into_inner();
    not_matched.sort();
    not_matched.dedup();
    Ok(Collected {
        targets,
        submodules,
        not_matched,
    })
}

/// `tracked` by path. Sized once: growing it would rehash a 100,000-file index several times.
fn by_path_of(tracked: &[Tracked]) -> FxHashMap<&str, &Tracked> {
    let mut by_path = FxHashMap::default();
    by_path.reserve(tracked.len());
    by_path.extend(tracked.iter().map(|t| (&*t.path, t)));
    by_path
}

/// A file a selection names: by its entry in git's index, or by a path the index may not hold.
enum Want<'a> {
    Tracked(&'a Tracked),
    Path(Arc<str>),
}

impl Want<'_> {
    fn path(&self) -> &Arc<str> {
        match self {
            Want::Tracked(t) => &t.path,
            Want::Path(p) => p,
        }
    }
}

/// Drop repeated paths, keeping the first of each.
fn dedupe(paths: &mut Vec<Want<'_>>) {
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    let keep: Vec<bool> = paths.iter().map(|w| seen.insert(&**w.path())).collect();
    drop(seen);
    let mut k = keep.into_iter();
    paths.retain(|_| k.next().unwrap_or(true));
}

/// Identify `paths` (on every core): blob ids from the index where its entry (or, for a path
/// given without one, `tracked`) vouches by stat data, hashing otherwise; what cannot be
/// analysed is skipped with its reason.
fn identify_all(
    repo: &Repo,
    paths: &[Want<'_>],
    tracked: &FxHashMap<&str, &Tracked>,
    max: u64,
) -> Vec<Target> {
    parallel_map_with(
        paths,
        || Lstat::new(repo.workdir()),
        |lstat, w| {
            let (p, entry) = match w {
                Want::Tracked(t) => (&t.path, Some(*t)),
                Want::Path(p) => (p, tracked.get(&**p).copied()),
            };
            let skip = |status, reason| Skip {
                path: p.to_string(),
                status,
                reason,
            };
            let id = match repo.work_file_with(lstat, p, entry, max) {
                Ok(Some(WorkFile::Known(f))) => {
                    if f.content.as_deref().is_some_and(looks_binary) {
                        Err(skip(Status::Skipped, "binary file".to_string()))
                    } else {
                        Ok(f)
                    }
                }
                Ok(Some(WorkFile::TooLarge(n))) => Err(skip(
                    Status::Skipped,
                    format!("over max_file_bytes ({n} > {max})"),
                )),
                Ok(None) => Err(skip(Status::Skipped, "not a regular file".to_string())),
                // A tracked file deleted and not yet staged has no content to analyse.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && matches!(w, Want::Tracked(_)) =>
                {
                    Err(skip(
                        Status::Skipped,
                        "deleted in the working tree".to_string(),
                    ))
                }
                Err(e) => Err(skip(Status::Error, format!("cannot read: {e}"))),
            };
            Target { id }
        },
    )
}

/// A [`Filter`] compiled on first use.
struct LazyFilter<'a> {
    cfg: &'a Config,
    compiled: std::cell::OnceCell<Filter>,
}

impl<'a> LazyFilter<'a> {
    fn new(cfg: &'a Config) -> Self {
        LazyFilter {
            cfg,
            compiled: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Result<&Filter, UserError> {
        if let Some(f) = self.compiled.get() {
            return Ok(f);
        }
        let f = Filter::new(self.cfg)?;
        Ok(self.compiled.get_or_init(|| f))
    }
}

/// `[analysis] include` / `exclude`, compiled.
pub struct Filter {
    include: GlobList,
    exclude: GlobList,
}

impl Filter {
    /// Compile the configured patterns; a bad pattern is a usage error naming it.
    pub fn new(cfg: &Config) -> Result<Filter, UserError> {
        let build = |pats: Vec<String>, what: &str| {
            let mut all = Vec::with_capacity(pats.len() * 2);
            for p in pats {
                // `dir/**` should match the folder itself at any depth too, like .gitignore.
                let doubled = (what == "exclude" && !p.starts_with("**/") && !p.starts_with('/'))
                    .then(|| format!("**/{p}"));
                all.push(p);
                all.extend(doubled);
            }
            GlobList::new(&all).map_err(|(p, e)| {
                if p.is_empty() {
                    UserError::Usage(format!("invalid [analysis] {what} patterns: {e}"))
                } else {
                    UserError::Usage(format!("invalid [analysis] {what} pattern `{p}`: {e}"))
                }
            })
        };
        Ok(Filter {
            include: build(cfg.include(), "include")?,
            exclude: build(cfg.exclude(), "exclude")?,
        })
    }

    /// Whether `path` (repository-relative) is analysed by walks and `--all`.
    pub fn matches(&self, path: &str) -> bool {
        // The cache's own files first (the shards are 512 of a large repository's paths).
        if path.starts_with(".rustassistant")
            && matches!(
                path.as_bytes().get(".rustassistant".len()),
                None | Some(b'/')
            )
        {
            return false;
        }
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

/// Untracked files that `.gitignore` (and `.git/info/exclude`) do not exclude, split into those
/// the filter accepts and those it does not; submodules and nested clones are recorded.
/// `tracked` says whether the index records a path (kept or not by the filter).
fn untracked_files(
    walked: crate::git::untracked::Walked,
    filter: &Filter,
    tracked: &(dyn Fn(&str) -> bool + Sync),
    submodules: &Arc<std::sync::Mutex<Vec<String>>>,
) -> (Vec<String>, Vec<String>) {
    let found = walked.untracked(tracked);
    submodules
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(found.nested);
    found.files.into_iter().partition(|p| filter.matches(p))
}

/// Whether the walked folder `e` is a repository of its own (a submodule's checkout, or a
/// nested clone): its files are not this repository's, so it is skipped and recorded.
fn is_nested_repo(
    e: &ignore::DirEntry,
    root: &Path,
    found: &std::sync::Mutex<Vec<String>>,
) -> bool {
    if e.depth() == 0 || !e.file_type().is_some_and(|t| t.is_dir()) {
        return false;
    }
    if std::fs::symlink_metadata(e.path().join(".git")).is_err() {
        return false;
    }
    if let Ok(rel) = e.path().strip_prefix(root) {
        let mut v = found.lock().unwrap_or_else(|p| p.into_inner());
        v.push(
            rel.to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/"),
        );
    }
    true
}
