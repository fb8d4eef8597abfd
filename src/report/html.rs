//! The report page: one HTML file with inline CSS and inline SVG charts; no script, no
//! request, and a content security policy that forbids both. Every string from the data is
//! escaped here.

use super::charts;
use super::{author_series, hotspots, longest_functions, Data};
use crate::findings::format::Counts;

/// Findings listed on the page (the most severe first).
const TOP_FINDINGS: usize = 25;

/// `s` as HTML text or attribute value: markup characters as entities, control characters
/// dropped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match crate::findings::format::html_entity(c) {
            Some(e) => out.push_str(e),
            None if crate::output::is_control(c) => {}
            None if crate::output::is_bidi(c) => out.push_str(&crate::output::bidi_name(c)),
            None => out.push(c),
        }
    }
    out
}

fn usd(v: f64) -> String {
    crate::util::money::display_usd(v)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1.2rem;min-width:150px}
.card b{display:block;font-size:1.5rem}figure{margin:1.5rem 0}figcaption{color:#555;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.error{color:#b00020}.warning{color:#a15c00}.note{color:#555}";

/// The whole page.
pub fn page(d: &Data) -> String {
    let counts = Counts::of(&d.findings);
    let spent: f64 = d.months.iter().map(|m| m.spent_usd).sum();
    let saved: f64 = d.months.iter().map(|m| m.saved_usd).sum();
    let (hits, misses) = d
        .days
        .iter()
        .fold((0, 0), |(h, m), (_, a, b)| (h + a, m + b));
    let rate = if hits + misses > 0 {
        format!("{:.1}%", 100.0 * hits as f64 / (hits + misses) as f64)
    } else {
        "–".to_string()
    };
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
    h.push_str(&format!(
        "<title>rustassistant report: {}</title>\n<style>{STYLE}</style></head><body>\n",
        esc(&d.repo_name)
    ));
    h.push_str(&format!(
        "<h1>rustassistant report: {}</h1><p class=\"sub\">generated {}</p>\n",
        esc(&d.repo_name),
        esc(&d.generated_at)
    ));
    h.push_str("<div class=\"cards\">");
    for (label, value) in [
        ("cached analyses", d.entries.to_string()),
        ("their cost", usd(d.entries_cost_usd)),
        ("you spent here", usd(spent)),
        ("hits saved you", usd(saved)),
        ("hit rate", rate),
        ("findings", counts.total().to_string()),
    ]
    .into_iter()
    .chain((d.items.reused > 0).then(|| {
        (
            "item reuse saved you",
            format!(
                "{} ({} items, {} not sent)",
                usd(d.items.saved_usd),
                d.items.reused,
                crate::util::format_size(d.items.bytes_not_sent)
            ),
        )
    }))
    .chain((d.invalid_replies.entries > 0).then(|| {
        (
            "paid for replies that missed their schema (stored, not paid again)",
            format!(
                "{} ({} replies)",
                usd(d.invalid_replies.cost_usd),
                d.invalid_replies.entries
            ),
        )
    })) {
        h.push_str(&format!(
            "<div class=\"card\"><b>{}</b>{}</div>",
            esc(&value),
            esc(label)
        ));
    }
    h.push_str("</div>\n");

    h.push_str("<h2>Spend and savings</h2>\n");
    let months: Vec<String> = d.months.iter().map(|m| m.month.clone()).collect();
    figure_if(
        &mut h,
        !d.months.is_empty(),
        "spend",
        || {
            charts::bars(
                "Spend and savings per month (USD)",
                "USD",
                &months,
                &[
                    ("spent", d.months.iter().map(|m| m.spent_usd).collect()),
                    ("saved by hits", d.months.iter().map(|m| m.saved_usd).collect()),
                ],
            )
        },
        "Your paid requests and what cache hits saved, per month (this repository, from your ledger).",
        "No paid request or saving recorded in your ledger for this repository yet.",
    );
    let days: Vec<String> = d.days.iter().map(|x| x.0.clone()).collect();
    let rates: Vec<f64> = d
        .days
        .iter()
        .map(|(_, a, b)| {
            if a + b > 0 {
                100.0 * *a as f64 / (*a + *b) as f64
            } else {
                0.0
            }
        })
        .collect();
    figure_if(
        &mut h,
        !d.days.is_empty(),
        "hit-rate",
        || charts::line("Hit rate per day (%)", "%", &days, &rates, 100.0),
        "Cache hits among all lookups of each day's runs in this clone.",
        "No run recorded in this clone yet.",
    );
    // Only what cost something (the offline types are free).
    let paid =
        |v: &[(String, u64, f64)]| v.iter().filter(|x| x.2 > 0.0).cloned().collect::<Vec<_>>();
    let names = |v: &[(String, u64, f64)]| paid(v).into_iter().map(|x| x.0).collect::<Vec<_>>();
    let costs = |v: &[(String, u64, f64)]| paid(v).into_iter().map(|x| x.2).collect::<Vec<_>>();
    let any_paid = !paid(&d.by_model).is_empty();
    figure_if(
        &mut h,
        any_paid,
        "by-model",
        || {
            charts::bars(
                "Cost of the cached analyses by model (USD)",
                "USD",
                &names(&d.by_model),
                &[("cost", costs(&d.by_model))],
            )
        },
        "What the analyses in the cache cost, by the model that produced them.",
        "The cache holds no paid analysis yet (the offline types cost nothing).",
    );
    figure_if(
        &mut h,
        !paid(&d.by_type).is_empty(),
        "by-type",
        || {
            charts::bars(
                "Cost of the cached analyses by type (USD)",
                "USD",
                &names(&d.by_type),
                &[("cost", costs(&d.by_type))],
            )
        },
        "The same, by analysis type.",
        "",
    );
    h.push_str("<h2>Spend by author</h2>\n");
    let (amonths, aseries) = author_series(&d.by_author);
    let aseries_ref: Vec<(&str, Vec<f64>)> = aseries
        .iter()
        .map(|(a, v)| (a.as_str(), v.clone()))
        .collect();
    figure_if(
        &mut h,
        !d.by_author.is_empty(),
        "by-author",
        || charts::bars("Cost of the analyses each author committed, per month (USD)", "USD", &amonths, &aseries_ref),
        "Lines carrying a cost that each author's commits added to .rustassistant/cache (merges excluded; a line counts once).",
        "No commit has added a paid analysis to .rustassistant/cache yet.",
    );
    if let Some(e) = &d.history_error {
        h.push_str(&format!(
            "<p>The history could not be read: {}</p>\n",
            esc(e)
        ));
    }
    if !d.by_author.is_empty() {
        table(
            &mut h,
            &["month", "author", "analyses", "cost"],
            d.by_author.iter().map(|r| {
                vec![
                    esc(&r.month),
                    esc(&r.author),
                    r.lines.to_string(),
                    esc(&usd(r.cost_usd)),
                ]
            }),
        );
    }

    h.push_str(&format!(
        "<h2>Findings</h2>\n<p>{}; {} files checked",
        esc(&counts.sentence()),
        d.files
    ));
    if d.unanalysed > 0 {
        h.push_str(&format!(
            ", {} of them without any analysis yet",
            d.unanalysed
        ));
    }
    h.push_str(".</p>\n");
    let mut top: Vec<&crate::findings::Finding> = d.findings.iter().collect();
    top.sort_by_key(|f| f.severity);
    top.truncate(TOP_FINDINGS);
    table(
        &mut h,
        &["severity", "where", "rule", "message"],
        top.iter().map(|f| {
            vec![
                format!("<span class=\"{0}\">{0}</span>", f.severity.as_str()),
                format!("{}:{}", esc(&f.path), f.line_start),
                esc(&f.rule()),
                esc(&f.message),
            ]
        }),
    );
    h.push_str("<h2>Hotspots</h2>\n<h3>Files with the most findings</h3>\n");
    table(
        &mut h,
        &["file", "findings", "errors"],
        hotspots(&d.findings, 10)
            .into_iter()
            .map(|(p, n, e)| vec![esc(&p), n.to_string(), e.to_string()]),
    );
    h.push_str("<h3>Longest functions</h3>\n");
    table(
        &mut h,
        &["where", "lines", "finding"],
        longest_functions(&d.findings, 10).into_iter().map(|f| {
            vec![
                format!("{}:{}", esc(&f.path), f.line_start),
                (f.line_end - f.line_start + 1).to_string(),
                esc(&f.message),
            ]
        }),
    );
    h.push_str("</body></html>\n");
    h
}

fn figure(h: &mut String, id: &str, svg: &str, caption: &str) {
    h.push_str(&format!(
        "<figure class=\"chart\" id=\"{id}\">{svg}<figcaption>{}</figcaption></figure>\n",
        esc(caption)
    ));
}

/// [`figure`] when the chart has something to show; otherwise one line saying there is
/// nothing yet (an empty chart only looks broken).
fn figure_if(
    h: &mut String,
    has_data: bool,
    id: &str,
    svg: impl FnOnce() -> String,
    caption: &str,
    none: &str,
) {
    if has_data {
        figure(h, id, &svg(), caption);
    } else if !none.is_empty() {
        h.push_str(&format!("<p class=\"sub\" id=\"{id}\">{}</p>\n", esc(none)));
    }
}

/// A table whose cells are already escaped HTML.
fn table(h: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let mut body = String::new();
    for r in rows {
        body.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let numeric = i > 0
                && c.chars()
                    .all(|x| x.is_ascii_digit() || x == '$' || x == '.');
            body.push_str(if numeric { "<td class=\"n\">" } else { "<td>" });
            body.push_str(c);
            body.push_str("</td>");
        }
        body.push_str("</tr>\n");
    }
    if body.is_empty() {
        h.push_str("<p>Nothing yet.</p>\n");
        return;
    }
    h.push_str("<table><thead><tr>");
    for c in head {
        h.push_str(&format!("<th>{}</th>", esc(c)));
    }
    h.push_str("</tr></thead><tbody>\n");
    h.push_str(&body);
    h.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Finding, Raw, Severity};

    #[test]
    fn charts_without_data_are_left_out_with_a_line_saying_so() {
        let page = page(&Data::default());
        assert!(!page.contains("<figure"), "{page}");
        assert!(
            page.contains("No paid request or saving recorded"),
            "{page}"
        );
        assert!(page.contains("No run recorded in this clone yet"), "{page}");
    }

    #[test]
    fn bidirectional_controls_never_reach_the_page() {
        let e = esc("a\u{202E}b\u{2066}c\u{200F}<");
        assert!(!e.chars().any(crate::output::is_bidi), "{e}");
        assert_eq!(e, "aU+202EbU+2066cU+200F&lt;");
    }

    #[test]
    fn everything_from_entries_is_escaped_and_the_page_forbids_scripts() {
        let key = crate::cache::Key {
            cache_type: "analysis".into(),
            blob: "ab".repeat(20),
            variant: "0123456789abcdef".into(),
        };
        let evil = "</script><script>alert(1)</script>\u{1b}[2J";
        let d = Data {
            repo_name: evil.into(),
            findings: vec![Finding::at(
                &format!("src/{evil}.rs"),
                &key,
                Raw {
                    line_start: 1,
                    line_end: 1,
                    kind: "security".into(),
                    severity: Severity::Error,
                    message: evil.into(),
                },
            )],
            by_model: vec![(evil.into(), 1, 2.0)],
            by_author: vec![super::super::AuthorMonth {
                month: "2026-11".into(),
                author: evil.into(),
                lines: 1,
                cost_usd: 0.5,
            }],
            ..Data::default()
        };
        let p = page(&d);
        assert!(!p.contains("<script"), "a script tag got through");
        assert!(!p.contains('\u{1b}'));
        assert!(p.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        assert!(p.contains("default-src 'none'"));
        // Spend per month and the hit rate have no data here: left out; the cost by model,
        // by type (none paid: left out) and by author are drawn.
        assert_eq!(p.matches("<figure class=\"chart\"").count(), 2, "{p}");
    }
}
