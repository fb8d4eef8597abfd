//! `cat`: print a shard (one pretty JSON document per line) or an entry file of the earlier
//! layout as JSON. Also usable as git's textconv (`cat --textconv`): it accepts any file name
//! (git hands it a temporary copy) and passes files that are not entries through unchanged.

use std::path::PathBuf;

use anyhow::Result;

use crate::cache::entry::decode_json_bytes;
use crate::error::{Exit, UserError};
use crate::output::Printer;

/// Print a shard's entries, or an entry file (plain or zstd), as pretty JSON.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// The shard or entry file.
    pub file: PathBuf,
    /// Act as git's diff textconv: a file that is not an entry (a `.gitattributes` routed it
    /// here) is printed unchanged, so `git diff` keeps working on it.
    #[arg(long)]
    pub textconv: bool,
}

/// Largest file `cat --textconv` passes through unchanged (git diffs larger files as binary
/// anyway, and nothing is read without a bound).
const MAX_TEXTCONV_BYTES: u64 = 256 << 20;

/// Run `cat`.
pub fn cat(args: &CatArgs, _out: Printer) -> Result<Exit> {
    let bound = if args.textconv {
        MAX_TEXTCONV_BYTES
    } else {
        crate::cache::entry::MAX_ENTRY_FILE_BYTES
    };
    let bytes = crate::util::fs::read_user_file(&args.file, bound)
        .map_err(|e| UserError::Input(e.to_string()))?;
    // Decoded once: an entry (plain or zstd) or a shard's lines as JSON, or why the bytes are
    // not that.
    let decoded = decode_json_bytes(&bytes)
        .map_err(|e| e.to_string())
        .and_then(
            |json| match serde_json::from_slice::<serde_json::Value>(&json) {
                Ok(v) => Ok(vec![v]),
                Err(e) => json
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(serde_json::from_slice::<serde_json::Value>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("not JSON ({e})")),
            },
        );
    match decoded {
        // serde_json escapes every control character, so the output is terminal-safe.
        Ok(docs) => {
            let text: Vec<String> = docs
                .iter()
                .map(serde_json::to_string_pretty)
                .collect::<Result<_, _>>()?;
            crate::output::print_stdout(&text.join("\n"))
        }
        // As git's textconv, a file that is not an entry passes through unchanged.
        Err(_) if args.textconv => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes).and_then(|()| out.flush());
        }
        Err(why) => {
            return Err(UserError::Input(format!("{}: {why}", args.file.display())).into());
        }
    }
    Ok(Exit::Success)
}
