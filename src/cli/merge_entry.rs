//! `merge-entry BASE OURS THEIRS`: git's merge driver for entries, where union merge cannot
//! apply.

use std::path::PathBuf;

use anyhow::Result;

use crate::error::Exit;

/// Git merge driver for entries (`merge-entry %O %A %B`).
///
/// Two results for one key converge deterministically: the earliest `created_at` wins, then
/// the smaller bytes, so both sides of any merge pick the same winner. It is written to OURS
/// and the driver exits 0. Anything that is not a valid entry, or two entries for different
/// keys, is a conflict: OURS is left untouched (no conflict markers in an entry) and the driver
/// exits 1 with a line saying what to do.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The common ancestor's version (%O).
    pub base: PathBuf,
    /// Ours (%A): the result is written here.
    pub ours: PathBuf,
    /// Theirs (%B).
    pub theirs: PathBuf,
}

/// Run `merge-entry`.
pub fn merge(args: &MergeArgs) -> Result<Exit> {
    // Git hands the driver temporary regular files; anything else is not merged at all.
    for p in [&args.base, &args.ours, &args.theirs] {
        if !std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
            crate::output::print_stderr(&format!(
                "rustassistant merge-entry: {} is not a regular file; nothing merged",
                p.display()
            ));
            return Ok(Exit::Failure);
        }
    }
    let read = |p: &PathBuf| -> std::result::Result<(Vec<u8>, crate::cache::Entry), String> {
        let bytes = crate::util::fs::read_user_file(p, crate::cache::entry::MAX_ENTRY_FILE_BYTES)
            .map_err(|e| e.to_string())?;
        let entry = crate::cache::Entry::decode(&bytes, None).map_err(|e| e.to_string())?;
        Ok((bytes, entry))
    };
    let (ours, theirs) = match (read(&args.ours), read(&args.theirs)) {
        (Ok(o), Ok(t)) => (o, t),
        (o, t) => {
            // Not entries (a hostile or mistaken `.gitattributes` routed a source file here):
            // merge them as git would, conflict markers and all; exit non-zero only when there
            // are conflicts, so git reports them and nothing is silently kept.
            let why = o.err().or(t.err()).unwrap_or_default();
            let clean = crate::git::Repo::merge_file_as_text(&args.ours, &args.base, &args.theirs);
            crate::output::print_stderr(&format!(
                "rustassistant merge-entry: {} is not a cache entry ({why}); {}. Review it, `git add` it, and remove `merge=rustassistant` from the .gitattributes that routes it here.",
                args.ours.display(),
                match clean {
                    Ok(true) => "merged it as text (no conflicting lines)",
                    Ok(false) => "merged it as text with conflict markers",
                    Err(_) => "kept ours unchanged (git merge-file failed)",
                }
            ));
            // A clean text merge is a clean merge, as git would have made it.
            return Ok(if matches!(clean, Ok(true)) {
                Exit::Success
            } else {
                Exit::Failure
            });
        }
    };
    let ((ours_bytes, ours), (theirs_bytes, theirs)) = (ours, theirs);
    if ours.key() != theirs.key() {
        crate::output::print_stderr(
            "rustassistant merge-entry: cannot merge this entry (the two sides are entries for different keys); kept ours. Delete the file (it is recomputed) or check it out from one side.",
        );
        return Ok(Exit::Failure);
    }
    let winner = merge_winner(
        (&ours.created_at, &ours_bytes),
        (&theirs.created_at, &theirs_bytes),
    );
    if winner != ours_bytes.as_slice() {
        crate::util::write_atomic(&args.ours, winner)?;
    }
    Ok(Exit::Success)
}

/// The winning bytes of two entries for one key: earliest `created_at` (compared as instants),
/// then the smaller bytes (lexicographically), a total order both merge directions agree on.
pub fn merge_winner<'a>(a: (&str, &'a [u8]), b: (&str, &'a [u8])) -> &'a [u8] {
    let t = |s: &str| s.parse::<jiff::Timestamp>().ok();
    match t(a.0).cmp(&t(b.0)) {
        std::cmp::Ordering::Less => a.1,
        std::cmp::Ordering::Greater => b.1,
        std::cmp::Ordering::Equal => a.1.min(b.1),
    }
}
