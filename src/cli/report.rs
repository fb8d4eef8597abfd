//! `report [-o FILE.html]`: one self-contained HTML page (charts as inline SVG, no network, no
//! script) about spend, savings, hit rate, authors, findings and hotspots.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::error::{Exit, UserError};
use crate::workspace::Workspace;

/// Write an HTML report: spend and savings per month, hit rate, spend by model, type and
/// author (from git history), top findings and hotspots.
///
/// The page is one file with no external resources: open it in any browser, attach it to a CI
/// run, or mail it. Text from entries and commits is escaped and the page runs no script.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where to write the page (default: `<git dir>/rustassistant/report.html`, outside the
    /// work tree).
    #[arg(long, short = 'o', value_name = "FILE.html")]
    pub output: Option<PathBuf>,
}

/// Run `report`.
pub fn run(session: &Workspace, args: &ReportArgs) -> Result<Exit> {
    let path = match &args.output {
        Some(p) => session.cwd.join(p),
        None => session.repo.state_dir().join("report.html"),
    };
    let data = crate::report::gather(session)?;
    let page = crate::report::page(&data);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::Input(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::util::fs::write_output(&path, page.as_bytes())
        .map_err(|e| UserError::Input(format!("cannot write {}: {e}", path.display())))?;
    let out = session.out;
    if out.json {
        out.json_doc(&json!({
            "path": path.display().to_string(),
            "bytes": page.len(),
            "months": data.months,
            "days": data.days.len(),
            "authors": data.by_author,
            "findings": data.findings.len(),
            "files": data.files,
            "unanalysed": data.unanalysed,
        }));
    } else {
        out.line(&format!(
            "📊 Report written to {} ({}, {} of spend); open it in a browser",
            path.display(),
            crate::output::count(data.findings.len(), "finding", "findings"),
            crate::output::count(data.months.len(), "month", "months")
        ));
    }
    Ok(Exit::Success)
}
