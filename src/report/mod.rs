//! `report`: one self-contained HTML page about the repository's analyses — spend and savings
//! per month (the user's ledger, this repository), hit rate per day (the local index), spend by
//! model and type (the committed entries), spend by author (who committed the lines that carry
//! a cost, from git's history), the top findings and the hotspots.
//!
//! Everything shown comes from entries, commits and paths that other people wrote: the page
//! escapes all of it, carries no script, and forbids any by its content security policy.

mod charts;
mod collect;
mod html;

pub use collect::{collect, Collected};
pub use html::page;

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use serde::Serialize;

use crate::findings::{Finding, Severity};
use crate::index::Index;
use crate::run::Selection;
use crate::workspace::Workspace;

/// Commits of the cache's history read for spend by author (the newest).
const MAX_HISTORY_COMMITS: usize = 20_000;

/// Authors shown by name in the by-author chart; the rest are summed as "others".
const TOP_AUTHORS: usize = 5;

/// What the page shows.
#[derive(Debug, Default, Serialize)]
pub struct Data {
    /// The work tree's folder name.
    pub repo_name: String,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// Per month (oldest first): month, spent, saved, paid requests, hits.
    pub months: Vec<Month>,
    /// Per day (oldest first): day, hits, misses.
    pub days: Vec<(String, u64, u64)>,
    /// Spend of the committed entries by model: (model, entries, cost).
    pub by_model: Vec<(String, u64, f64)>,
    /// Spend of the committed entries by type.
    pub by_type: Vec<(String, u64, f64)>,
    /// Spend by author and month, from the history of the committed cache.
    pub by_author: Vec<AuthorMonth>,
    /// Whether reading the history failed (and why).
    pub history_error: Option<String>,
    /// The findings of every file `analyze --all` takes.
    pub findings: Vec<Finding>,
    /// Files looked at, and how many have no analysis.
    pub files: usize,
    /// Files without any analysis.
    pub unanalysed: usize,
    /// Entries in the cache and their total known cost.
    pub entries: u64,
    /// Sum of the entries' known costs.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub entries_cost_usd: f64,
    /// What item reuse saved in this clone (DESIGN.md, "Items").
    pub items: crate::index::ItemSavings,
    /// Stored replies that missed their type's schema, and what they cost.
    pub invalid_replies: crate::index::InvalidReplies,
}

/// One month of the user's ledger for this repository.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Spent on requests.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub spent_usd: f64,
    /// Saved by cache hits.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub saved_usd: f64,
    /// Paid requests.
    pub requests: u64,
    /// Cache hits of paid analyses.
    pub hits: u64,
}

/// What one author's commits added to the cache in one month.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorMonth {
    /// `YYYY-MM` of the author date.
    pub month: String,
    /// Author name.
    pub author: String,
    /// Lines with a cost.
    pub lines: u64,
    /// Their cost.
    #[serde(serialize_with = "crate::util::money::ser_usd")]
    pub cost_usd: f64,
}

/// Gather everything the page shows.
pub fn gather(session: &Workspace) -> Result<Data> {
    let mut index = Index::open(session);
    let mut d = Data {
        repo_name: session
            .repo
            .workdir()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        generated_at: crate::util::now_timestamp(&session.env)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        ..Data::default()
    };
    let repo_key = session.repo.workdir().display().to_string();
    if let Ok(ledger) = crate::budget::open_ledger(&session.env) {
        let mut months: BTreeMap<String, Month> = BTreeMap::new();
        for r in ledger.report_for(Some(&repo_key))? {
            let m = months.entry(r.month.clone()).or_default();
            m.month = r.month;
            m.spent_usd += r.cost_usd;
            m.saved_usd += r.saved_usd;
            m.requests += r.requests;
            m.hits += r.hits;
        }
        for v in index.savings()? {
            let m = months.entry(v.month.clone()).or_default();
            m.month = v.month;
            m.saved_usd += v.saved_usd;
            m.hits += v.hits;
        }
        d.months = months.into_values().collect();
    }
    d.days = index.daily()?;
    let stats = index.stats(None)?;
    d.entries = stats.total_entries;
    d.entries_cost_usd = stats.estimated_cost_usd;
    d.invalid_replies = stats.invalid_replies;
    d.items = stats.items;
    let groups = |g: &[crate::index::Group]| -> Vec<(String, u64, f64)> {
        g.iter()
            .map(|x| (x.name.clone(), x.entries, x.cost_usd))
            .collect()
    };
    d.by_model = groups(&stats.by_model);
    d.by_type = groups(&stats.by_type);
    match by_author(session) {
        Ok(rows) => d.by_author = rows,
        Err(e) => d.history_error = Some(e),
    }
    let types: Vec<String> = crate::cache::KNOWN_TYPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sel = Selection {
        all: true,
        ..Selection::default()
    };
    let c = collect(session, &mut index, &sel, &types, None, false)?;
    d.files = c.files;
    d.unanalysed = c.unanalysed.len();
    d.findings = c.findings;
    Ok(d)
}

/// Spend by author: the lines with a cost that each non-merge commit added to the committed
/// cache, counted once each (a line that comes back after a revert is not paid twice).
fn by_author(session: &Workspace) -> Result<Vec<AuthorMonth>, String> {
    #[derive(serde::Deserialize)]
    struct Cost {
        cost_usd: Option<f64>,
    }
    let added = session
        .repo
        .added_lines(".rustassistant/cache", MAX_HISTORY_COMMITS, |l| {
            l.contains("\"cost_usd\":")
                && !l.contains("\"cost_usd\":0.0,")
                && !l.contains("\"cost_usd\":null")
        })
        .map_err(|e| e.to_string())?;
    let mut seen = HashSet::new();
    let mut by: BTreeMap<(String, String), (u64, f64)> = BTreeMap::new();
    // Oldest first, so a line is credited to the commit that first added it.
    for a in added.iter().rev() {
        let Ok(c) = serde_json::from_str::<Cost>(&a.line) else {
            continue;
        };
        let Some(cost) = c.cost_usd.filter(|c| c.is_finite() && *c > 0.0) else {
            continue;
        };
        if !seen.insert(crate::cache::shard::line_hash(a.line.as_bytes())) {
            continue;
        }
        let month = jiff::Timestamp::from_second(a.time)
            .map(crate::budget::month_of)
            .unwrap_or_default();
        let e = by.entry((month, a.author.clone())).or_default();
        e.0 += 1;
        e.1 += cost;
    }
    Ok(by
        .into_iter()
        .map(|((month, author), (lines, cost_usd))| AuthorMonth {
            month,
            author,
            lines,
            cost_usd,
        })
        .collect())
}

/// Files with the most findings (errors counted first), at most `n`.
pub fn hotspots(findings: &[Finding], n: usize) -> Vec<(String, usize, usize)> {
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for f in findings {
        let e = by.entry(&f.path).or_default();
        e.0 += 1;
        if f.severity == Severity::Error {
            e.1 += 1;
        }
    }
    let mut v: Vec<(String, usize, usize)> = by
        .into_iter()
        .map(|(p, (all, errors))| (p.to_string(), all, errors))
        .collect();
    v.sort_by(|a, b| (b.2, b.1, &a.0).cmp(&(a.2, a.1, &b.0)));
    v.truncate(n);
    v
}

/// The longest functions the metrics found over the threshold, at most `n`.
pub fn longest_functions(findings: &[Finding], n: usize) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.cache_type == "metrics" && f.kind == "long-function")
        .collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.line_end - f.line_start));
    v.truncate(n);
    v
}

/// The by-author rows as chart series: months, and per top author (then "others") the cost
/// of each month.
pub fn author_series(rows: &[AuthorMonth]) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let months: Vec<String> = rows
        .iter()
        .map(|r| r.month.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for r in rows {
        *totals.entry(&r.author).or_default() += r.cost_usd;
    }
    let mut ranked: Vec<(&str, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<&str> = ranked.iter().take(TOP_AUTHORS).map(|(a, _)| *a).collect();
    let mut series: Vec<(String, Vec<f64>)> = top
        .iter()
        .map(|a| (a.to_string(), vec![0.0; months.len()]))
        .collect();
    let mut others = vec![0.0; months.len()];
    for r in rows {
        let m = months.iter().position(|x| *x == r.month).unwrap_or(0);
        match top.iter().position(|a| *a == r.author) {
            Some(i) => series[i].1[m] += r.cost_usd,
            None => others[m] += r.cost_usd,
        }
    }
    if others.iter().any(|v| *v > 0.0) {
        series.push(("others".to_string(), others));
    }
    (months, series)
}
