//! What a run reports: one line per `(file, type)` and the totals, in the shapes `--json`
//! prints (DESIGN.md, "Command line").

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::cache::Tokens;

/// The reason of a file whose reply missed the schema and was stored.
pub(crate) fn invalid_stored(why: &str) -> String {
    format!("invalid reply, stored so it is not paid for again (`--force` asks again): {why}")
}

/// Outcome of one `(file, type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A valid entry existed.
    Hit,
    /// Analysed now (or, with `--dry-run`, would be).
    Miss,
    /// Not analysed, with a reason.
    Skipped,
    /// The analysis failed.
    Error,
}

/// Why a `(file, type)` was skipped or failed, as a value: hooks decide on this, never on the
/// wording of `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cause {
    /// Hit or miss: nothing to explain.
    #[default]
    None,
    /// Not analysable content or deliberately not sent (binary, too large, secret, not UTF-8).
    Content,
    /// The type needs an LLM provider and none is configured.
    NoProvider,
    /// The provider could not be used: no key, unreachable, timed out, rate limited, failing.
    Unavailable,
    /// Refused by the monthly budget.
    Budget,
    /// The hook's time bound was reached before this one started.
    TimeLimit,
    /// `--dry-run`: would be analysed.
    DryRun,
    /// Any other failure (an invalid reply, an entry that cannot be written).
    Failed,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// Repository-relative path (shared by the file's results, as the type is by all of them:
    /// an all-cached run of 20,000 results copies no string).
    pub path: Arc<str>,
    /// Analysis type ([`crate::util::interned`]).
    #[serde(rename = "type")]
    pub cache_type: &'static str,
    /// Blob id, when known.
    pub blob: Option<crate::git::BlobId>,
    /// What happened.
    pub status: Status,
    /// Tokens spent now (zero on a hit).
    pub tokens: Tokens,
    /// Cost spent now, when known.
    #[serde(serialize_with = "crate::util::money::ser_opt_usd")]
    pub cost_usd: Option<f64>,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it was skipped or failed.
    #[serde(skip)]
    pub cause: Cause,
    /// Cost the hit saved (the entry's own cost).
    #[serde(skip)]
    pub saved_usd: f64,
    /// How a file analysed by items was (DESIGN.md, "Items").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemUse>,
}

/// What analysing a file by items sent and reused.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ItemUse {
    /// Items sent.
    pub sent: usize,
    /// Items whose result was already cached.
    pub reused: usize,
    /// Bytes of the reused items' text, not sent.
    pub bytes_not_sent: u64,
    /// What the reused items cost when they were analysed (their share of that request): what
    /// reusing them saved.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub saved_usd: f64,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Files with a result (a file has one per type).
    #[serde(skip)]
    pub files: usize,
    /// Hits.
    pub hits: usize,
    /// Misses (analysed now).
    pub misses: usize,
    /// Skipped.
    pub skipped: usize,
    /// Errors.
    pub errors: usize,
    /// Tokens spent.
    pub tokens: Tokens,
    /// Cost spent (known prices only).
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub cost_usd: f64,
    /// Wall time.
    pub elapsed_ms: u128,
    /// Entries that existed but could not be trusted.
    #[serde(skip)]
    pub invalid_entries: usize,
    /// Whether any request was refused by the budget.
    #[serde(skip)]
    pub budget_refused: bool,
    /// Whether the run was interrupted.
    #[serde(skip)]
    pub interrupted: bool,
    /// Cost the hits saved.
    #[serde(skip)]
    pub saved_usd: f64,
    /// Files `--all` left out because `[analysis] include`/`exclude` do not match them.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_matched: usize,
    /// Submodules (and nested repositories) left out of the walk.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_submodules: Vec<String>,
    /// Items sent and reused by the files analysed by items (absent when there were none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemUse>,
    /// `--dry-run`: what the paid requests it would send could cost at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<DryRunEstimate>,
    /// Where this run's new entries went: the local overlay (the commit hook carries them into
    /// the commit that holds their content), or the work tree's shards (to commit like a lock
    /// file, when no commit hook runs). `None` when nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_in: Option<StoredIn>,
}

/// Where a run's new entries went (DESIGN.md, "Where entries go").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredIn {
    /// The commit hook is installed: new entries wait in the local overlay.
    Overlay,
    /// No commit hook: new entries are in `.rustassistant/cache`, to commit.
    Shards,
}

impl StoredIn {
    /// The rule, in the words of the summary line.
    pub fn sentence(self) -> &'static str {
        match self {
            StoredIn::Overlay => {
                "new analyses wait in the local overlay until a commit holds their files (commit hook)"
            }
            StoredIn::Shards => {
                "new analyses are in .rustassistant/cache: commit them with your changes"
            }
        }
    }
}

impl Summary {
    /// Analyses with an outcome (one per file and type): a report's lines, those of hits
    /// counted only (`RunOptions::hits_as_totals`) included.
    pub fn analyses(&self) -> usize {
        self.hits + self.misses + self.skipped + self.errors
    }
}

/// What `--dry-run`'s paid requests would cost at most.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct DryRunEstimate {
    /// Requests that would be sent.
    pub requests: usize,
    /// Their input tokens: counted with the model's tokenizer where it has one, else estimated
    /// as the budget reserves (a token per three bytes).
    pub input_tokens: u64,
    /// The most output tokens they ask for.
    pub max_output_tokens: u64,
    /// The cost if every output token were used, for the requests whose price is known.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub max_cost_usd: f64,
    /// The same requests sent as one batch job, at the batch prices.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub max_batch_cost_usd: f64,
    /// Requests to models without a known price (not in `max_cost_usd`).
    pub unknown_price: usize,
    /// Requests whose input was counted with the model's own tokenizer (the others are
    /// estimated at a token per three bytes).
    pub tokenized: usize,
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per `(file, type)` (hits counted only, with `RunOptions::hits_as_totals`, have
    /// none).
    pub results: Vec<FileResult>,
    /// Totals.
    pub summary: Summary,
    /// The paths of the files whose hits were counted only: held (never read) so that they go
    /// with the results, whether the caller drops or forgets the report.
    #[allow(dead_code)]
    pub(crate) unlisted_files: Vec<Arc<str>>,
}

impl Report {
    /// The `--json` document.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "results": self.results, "summary": self.summary })
    }
}

/// A result line for `path` and type `ty` with `status` and `reason`; its cause follows from
/// the status unless the caller sets a more precise one.
pub(crate) fn line(
    path: impl Into<Arc<str>>,
    ty: &'static str,
    blob: Option<crate::git::BlobId>,
    status: Status,
    reason: String,
) -> FileResult {
    let cause = match status {
        Status::Hit | Status::Miss => Cause::None,
        Status::Skipped => Cause::Content,
        Status::Error => Cause::Failed,
    };
    FileResult {
        path: path.into(),
        cache_type: ty,
        blob,
        status,
        tokens: Tokens::default(),
        cost_usd: None,
        reason: Some(reason),
        cause,
        saved_usd: 0.0,
        items: None,
    }
}

impl FileResult {
    /// This result with a more precise cause than its status implies.
    pub(crate) fn because(mut self, cause: Cause) -> FileResult {
        self.cause = cause;
        self
    }
}

/// What a run says about its failures and skips, one line per distinct reason: an error that
/// repeats for every file (a missing key, an unreachable provider, an unknown price, the
/// budget) is printed for its first file, then counted. Errors and refusals are printed even
/// with `-q`; skips of content (binary, too large, secret) only with `-v`.
#[derive(Default)]
pub(crate) struct Repeats {
    /// Each reason printed, with how many more results had it.
    more: std::collections::HashMap<String, usize>,
    /// Reasons in the order they were first printed.
    order: Vec<String>,
}

impl Repeats {
    /// Say result `r` (an error or a skip) unless its reason was said already.
    pub(crate) fn say(&mut self, r: &FileResult, out: crate::output::Printer) {
        let reason = r.reason.as_deref().unwrap_or("");
        let loud = r.status == Status::Error
            || matches!(
                r.cause,
                Cause::Budget | Cause::Unavailable | Cause::NoProvider
            );
        if !loud {
            // A skip of this file's content: named with -v, counted in the summary.
            out.detail(&skip_line(r));
            return;
        }
        if let Some(n) = self.more.get_mut(reason) {
            *n += 1;
            if out.verbose > 0 {
                out.err(&line_of(r));
            }
            return;
        }
        self.more.insert(reason.to_string(), 0);
        self.order.push(reason.to_string());
        out.err(&line_of(r));
    }

    /// One line per reason that repeated: how many more results it stopped.
    pub(crate) fn finish(&self, out: crate::output::Printer) {
        for reason in &self.order {
            let n = self.more[reason];
            if n > 0 && out.verbose == 0 {
                out.err(&format!(
                    "   … and {n} more {} with the same reason (-v lists them)",
                    if n == 1 { "analysis" } else { "analyses" }
                ));
            }
        }
    }
}

/// The line an error or a refusal prints.
fn line_of(r: &FileResult) -> String {
    if r.status == Status::Error {
        format!(
            "❌ {} ({}): {}",
            r.path,
            r.cache_type,
            r.reason.as_deref().unwrap_or("")
        )
    } else {
        skip_line(r)
    }
}

/// The line a skip prints: `⏭️  Skipped tests/data/x.gz (todos): binary file`.
pub(crate) fn skip_line(r: &FileResult) -> String {
    format!(
        "⏭️  Skipped {} ({}): {}",
        r.path,
        r.cache_type,
        r.reason.as_deref().unwrap_or("")
    )
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The status, cause and message of a file whose analysis failed with `e`.
pub(crate) fn failure(e: &crate::analyzer::AnalyzeError) -> (Status, Cause, String) {
    let m = e.message();
    match e.kind() {
        crate::analyzer::FailureKind::Budget => (Status::Skipped, Cause::Budget, m),
        crate::analyzer::FailureKind::Unavailable => (Status::Error, Cause::Unavailable, m),
        crate::analyzer::FailureKind::Skipped => (Status::Skipped, Cause::Content, m),
        crate::analyzer::FailureKind::Failed => (Status::Error, Cause::Failed, m),
    }
}

/// Sign `entry` when `RUSTASSISTANT_SIGNING_KEY` is set and make sure a reader would accept
/// it: why not, otherwise (nothing is written that no reader would take).
pub(crate) fn seal(
    session: &crate::workspace::Workspace,
    entry: &mut crate::cache::Entry,
) -> Result<(), String> {
    if let Some(key) = session.env.get("RUSTASSISTANT_SIGNING_KEY") {
        entry.signature = Some(crate::cache::sign(key.as_bytes(), entry));
    }
    entry.check().map_err(|e| format!("result rejected: {e}"))?;
    if entry.to_json().len() as u64 > crate::cache::entry::MAX_ENTRY_FILE_BYTES {
        return Err(format!(
            "cannot write entry: it would be over the {}-byte bound readers accept",
            crate::cache::entry::MAX_ENTRY_FILE_BYTES
        ));
    }
    Ok(())
}
