//! A sealed test environment, in the manner of jj's `TestEnvironment`: a temporary HOME and
//! RUSTASSISTANT_HOME, no global or system git config, a fixed author and clock, and helpers to
//! run the real binary and real git.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: this build's, or `RUSTASSISTANT_TEST_BIN` to run the suite against
/// another build (e.g. to see a regression test fail on the code before its fix).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("RUSTASSISTANT_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_rustassistant").to_string())
    })
}

pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub vars: BTreeMap<String, String>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(home.join(".rustassistant")).unwrap();
        let mut vars = BTreeMap::new();
        let path = std::env::var("PATH").unwrap_or_default();
        let bin_dir = Path::new(bin()).parent().unwrap().display().to_string();
        for (k, v) in [
            ("PATH", format!("{bin_dir}:{path}")),
            ("HOME", home.display().to_string()),
            (
                "RUSTASSISTANT_HOME",
                home.join(".rustassistant").display().to_string(),
            ),
            ("GIT_CONFIG_GLOBAL", "/dev/null".to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
            ("GIT_AUTHOR_NAME", "Test Author".to_string()),
            ("GIT_AUTHOR_EMAIL", "author@example.com".to_string()),
            ("GIT_COMMITTER_NAME", "Test Committer".to_string()),
            ("GIT_COMMITTER_EMAIL", "committer@example.com".to_string()),
            ("GIT_AUTHOR_DATE", "2026-11-21T10:00:00Z".to_string()),
            ("GIT_COMMITTER_DATE", "2026-11-21T10:00:00Z".to_string()),
            ("RUSTASSISTANT_NOW", "2026-11-21T10:00:00Z".to_string()),
            ("NO_COLOR", "1".to_string()),
            // Whole-file requests, which most tests' fake providers answer and count; the
            // default (items where a grammar exists) is tested in tests/items.rs.
            ("RUSTASSISTANT_GRANULARITY", "file".to_string()),
            ("LANG", "C.UTF-8".to_string()),
        ] {
            vars.insert(k.to_string(), v);
        }
        // The suite runs on the portable fallbacks too (.ci/run): the binary under test is told.
        if let Ok(v) = std::env::var("RUSTASSISTANT_PORTABLE") {
            vars.insert("RUSTASSISTANT_PORTABLE".to_string(), v);
        }
        TestEnv { tmp, home, vars }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.vars.insert(k.to_string(), v.to_string());
    }

    /// Point this environment at an OpenAI-style provider at `base_url` with a dummy key.
    pub fn use_openai(&mut self, base_url: &str) {
        self.set("RUSTASSISTANT_PROVIDER", "openai");
        self.set("OPENAI_API_KEY", "k");
        self.set("RUSTASSISTANT_BASE_URL", base_url);
    }

    pub fn unset(&mut self, k: &str) {
        self.vars.remove(k);
    }

    /// `prog` in `dir` with exactly this environment and no stdin (callers set the pipes).
    pub fn command(&self, prog: &str, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(prog);
        c.args(args)
            .current_dir(dir)
            .env_clear()
            .envs(&self.vars)
            .stdin(Stdio::null());
        c
    }

    /// Run rustassistant in `dir`.
    pub fn run(&self, dir: &Path, args: &[&str]) -> Run {
        self.command(bin(), dir, args).output().unwrap().into()
    }

    /// Run rustassistant with extra environment.
    pub fn run_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(bin(), dir, args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap().into()
    }

    /// Run git in `dir`; panics on failure.
    #[track_caller]
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let r: Run = self.command("git", dir, args).output().unwrap().into();
        assert_eq!(
            r.code, 0,
            "git {args:?} failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        r.stdout
    }

    /// Run another program (a hook manager, say) in `dir` with this environment.
    pub fn tool(&self, prog: &Path, dir: &Path, args: &[&str]) -> Run {
        self.command(prog.to_str().unwrap(), dir, args)
            .output()
            .unwrap()
            .into()
    }

    /// Run git and return the whole result.
    pub fn git_run(&self, dir: &Path, args: &[&str]) -> Run {
        self.command("git", dir, args).output().unwrap().into()
    }

    /// A bare repository `remote.git` to push to and pull from.
    pub fn bare_remote(&self) -> PathBuf {
        let remote = self.root().join("remote.git");
        self.git(
            self.root(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        remote
    }

    /// A clone of `remote` at `name`.
    pub fn clone_of(&self, remote: &Path, name: &str) -> PathBuf {
        let dir = self.root().join(name);
        self.git(
            self.root(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        dir
    }

    /// A new repository at `name` with `files` committed.
    pub fn repo(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        self.repo_with(name, files, &[])
    }

    /// A repository with hooks installed whose first commit carries its analyses.
    pub fn hooked(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let repo = self.repo(name, files);
        self.run(&repo, &["init", "--hooks"]).ok();
        self.git(&repo, &["add", "-A"]);
        self.git(&repo, &["commit", "-q", "-m", "cache"]);
        repo
    }

    pub fn repo_with(&self, name: &str, files: &[(&str, &str)], init_args: &[&str]) -> PathBuf {
        let dir = self.root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["init", "-q", "-b", "main"];
        args.extend_from_slice(init_args);
        self.git(&dir, &args);
        write_files(&dir, files);
        if !files.is_empty() {
            self.git(&dir, &["add", "-A"]);
            self.git(&dir, &["commit", "-q", "-m", "initial"]);
        }
        dir
    }
}

/// Owned (path, text) pairs as the borrowed ones [`TestEnv::repo`] and [`write_files`] take.
pub fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, content) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// Every shard file under `.rustassistant/cache` that holds a line, relative to the
/// repository, sorted (a type's empty shards exist from its first write on).
pub fn shard_files(repo: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(repo.join(".rustassistant/cache"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.metadata().is_ok_and(|m| m.len() > 0))
        .map(|e| e.path().strip_prefix(repo).unwrap().to_path_buf())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl"))
        .collect();
    v.sort();
    v
}

/// One line of a shard.
#[derive(Debug, Clone)]
pub struct ShardLine {
    /// The shard, relative to the repository.
    pub shard: PathBuf,
    /// 1-based line number.
    pub n: usize,
    /// The line's text.
    pub text: String,
    /// The line parsed (`Null` when it is not JSON).
    pub v: serde_json::Value,
}

impl ShardLine {
    /// `<type>/<blob>-<variant>`: the entry's identity (the old per-entry file name).
    pub fn id(&self) -> String {
        format!(
            "{}/{}-{}",
            self.v["cache_type"].as_str().unwrap_or("?"),
            self.v["blob"].as_str().unwrap_or("?"),
            self.v["variant"].as_str().unwrap_or("?")
        )
    }
}

/// Every line of the shards of `dir` (a `.rustassistant/cache` or an overlay folder).
pub fn lines_in(dir: &Path, base: &Path) -> Vec<ShardLine> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().to_string_lossy().ends_with(".jsonl"))
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
            out.push(ShardLine {
                shard: f.strip_prefix(base).unwrap_or(&f).to_path_buf(),
                n: i + 1,
                text: l.to_string(),
                v: serde_json::from_str(l).unwrap_or(serde_json::Value::Null),
            });
        }
    }
    out
}

/// Every line of the committed-layout shards (`.rustassistant/cache`).
pub fn entry_lines(repo: &Path) -> Vec<ShardLine> {
    lines_in(&repo.join(".rustassistant/cache"), repo)
}

/// Every line waiting in the local overlay.
pub fn overlay_lines(repo: &Path) -> Vec<ShardLine> {
    let git_dir = std::process::Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .unwrap();
    let git_dir = PathBuf::from(String::from_utf8(git_dir.stdout).unwrap().trim());
    lines_in(&git_dir.join("rustassistant/overlay"), &git_dir)
}

/// The identity (`<type>/<blob>-<variant>`) of every entry, in the shards and in the local
/// overlay, sorted.
pub fn entry_files(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = entry_lines(repo)
        .iter()
        .chain(overlay_lines(repo).iter())
        .map(ShardLine::id)
        .collect();
    v.sort();
    v
}

/// Rewrite, in place, the first shard line `pick` accepts with `edit` (a teammate's hand edit
/// or a forgery). Returns the line's shard.
pub fn edit_line(
    repo: &Path,
    pick: impl Fn(&ShardLine) -> bool,
    edit: impl FnOnce(&str) -> String,
) -> PathBuf {
    let l = entry_lines(repo)
        .into_iter()
        .find(|l| pick(l))
        .expect("a line to edit");
    let path = repo.join(&l.shard);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    out[l.n - 1] = edit(&out[l.n - 1]);
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    l.shard
}

/// Entry identities in the shards of the tree of `rev`.
pub fn tree_entries(env: &TestEnv, repo: &Path, rev: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for shard in env
        .git(
            repo,
            &[
                "ls-tree",
                "-r",
                "--name-only",
                rev,
                "--",
                ".rustassistant/cache",
            ],
        )
        .lines()
        .filter(|l| l.ends_with(".jsonl"))
    {
        for l in env.git(repo, &["show", &format!("{rev}:{shard}")]).lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
                ids.push(format!(
                    "{}/{}-{}",
                    v["cache_type"].as_str().unwrap_or("?"),
                    v["blob"].as_str().unwrap_or("?"),
                    v["variant"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    ids.sort();
    ids
}

/// Every shard with its bytes (temporary files of interrupted writers left out: git ignores
/// them and the next run removes them).
pub fn shard_bytes(repo: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    shard_files(repo)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(repo.join(&p)).unwrap();
            (p, b)
        })
        .collect()
}

/// Bytes and mtimes of every shard.
pub fn snapshot(repo: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    shard_files(repo)
        .into_iter()
        .map(|p| {
            let abs = repo.join(&p);
            let m = std::fs::metadata(&abs).unwrap().modified().unwrap();
            (p, std::fs::read(&abs).unwrap(), m)
        })
        .collect()
}

pub const RUST_SRC: &str = "//! demo\n\n// TODO(alice): split this function\nfn main() {\n    let x: Option<u8> = None;\n    if true {\n        println!(\"{}\", x.unwrap());\n    }\n}\n";
pub const PY_SRC: &str = "def f(x):\n    # FIXME: handle None\n    return x + 1\n";

/// A real peer tool provisioned by `scripts/test.sh` under `target/peers` (or
/// `$RUSTASSISTANT_TEST_PEERS`): its path, or `None` after a loud message. Under `CI=true` a
/// missing peer fails the test instead: CI must never pass by skipping.
pub fn peer(rel: &str, what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RUSTASSISTANT_TEST_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers"));
    let p = dir.join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{what} is missing at {} (CI=true): scripts/test.sh provisions it",
            p.display()
        );
    }
    eprintln!(
        "\n==== SKIPPED: {what} is not installed at {} — run scripts/test.sh to provision it ====\n",
        p.display()
    );
    None
}

/// Every file below `dir` with its bytes, sorted (to prove a folder was left alone).
pub fn folder_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

pub mod fake;

/// `n` Rust files under `src/`, each with a TODO naming `tag`.
pub fn sources(n: usize, tag: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("src/f{i}.rs"),
                format!("// TODO {tag} {i}\nfn f{i}() {{}}\n"),
            )
        })
        .collect()
}
