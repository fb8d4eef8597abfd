//! Helpers for this module's unit tests.

use std::path::Path;
use std::process::Output;

/// Run the git binary in `dir`, away from the user's and the system's config, with a fixed
/// identity, plus `env`.
pub(crate) fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .envs(env.iter().copied())
        .output()
        .expect("git runs")
}

/// `len` bytes that do not compress (a zlib stream of them is longer than they are), the same
/// for the same `seed`.
pub(crate) fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 56) as u8
        })
        .collect()
}
