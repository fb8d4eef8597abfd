//! `cat`: print an entry file as JSON. Also git's textconv for `.json.zst` entries, so it
//! accepts any file name (git hands it a temporary copy).

use std::path::PathBuf;

use anyhow::Result;

use crate::cache::entry::decode_json_bytes;
use crate::error::UserError;
use crate::output::Printer;

/// Print an entry (plain or zstd) as pretty JSON.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// The entry file.
    pub file: PathBuf,
}

/// Run `cat`.
pub fn cat(args: &CatArgs, _out: Printer) -> Result<i32> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| UserError::Input(format!("{}: {e}", args.file.display())))?;
    let json = decode_json_bytes(&bytes)
        .map_err(|e| UserError::Input(format!("{}: {e}", args.file.display())))?;
    match serde_json::from_slice::<serde_json::Value>(&json) {
        // serde_json escapes every control character, so the output is terminal-safe.
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(e) => {
            return Err(
                UserError::Input(format!("{}: not JSON ({e})", args.file.display())).into(),
            );
        }
    }
    Ok(0)
}
