//! Secrets never leave: files whose names say they hold credentials, and content that a
//! maintained rule set takes for a live credential, are not sent to a provider (unless the
//! user's own `[analysis] allow_secrets` allows the path).
//!
//! The content rules are `nosecrets-rules`' built-in set (MIT, kept up to date on crates.io;
//! AWS, GCP, Azure, GitHub, GitLab, npm, PyPI, Slack, Stripe, Twilio, database URIs with
//! passwords, private keys and more), each with its keyword pre-filter, validation (prefix,
//! alphabet, length) and allow-list of placeholders. Only its critical and high rules are
//! applied: its medium ones (`password = "…"`, `api_key = …` assignments) fire on ordinary code
//! and tests, and would keep files from ever being analysed. The set has no rule for the LLM
//! vendors' own keys, which this tool's users hold by definition: three shapes are added here.
//!
//! What callers may rely on: [`reason`] is pure and deterministic; the rules compile once per
//! process.

use std::sync::OnceLock;

use regex::Regex;

/// File names that hold credentials whatever their content: never sent, even when a
/// repository's include asks for `**`.
fn secret_name(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let lower = path.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        ".env",
        ".envrc",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        ".pypirc",
        ".git-credentials",
        ".s3cfg",
        ".boto",
        ".htpasswd",
        "credentials",
        "secrets.yml",
        "secrets.yaml",
        "terraform.tfvars",
    ];
    const SUFFIXES: &[&str] = &[
        ".pem",
        ".key",
        ".p12",
        ".pfx",
        ".keystore",
        ".jks",
        ".ppk",
        ".kdbx",
        ".tfstate",
    ];
    const PREFIXES: &[&str] = &[
        ".env.",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "credentials.",
    ];
    EXACT.contains(&base.as_str())
        || SUFFIXES.iter().any(|s| base.ends_with(s))
        || PREFIXES.iter().any(|p| base.starts_with(p))
        // Docker's and cloud CLIs' credential stores, wherever they are committed.
        || lower.ends_with(".docker/config.json")
        || lower.ends_with(".aws/credentials")
        || lower.ends_with(".kube/config")
        || lower.ends_with(".config/gh/hosts.yml")
}

/// One compiled content rule.
struct Compiled {
    name: String,
    keywords: Vec<String>,
    pattern: Regex,
    capture: usize,
    validate: Option<nosecrets_rules::RuleValidate>,
    allow: Vec<Regex>,
    allow_values: Vec<String>,
    exclude: Vec<globset::GlobMatcher>,
}

impl Compiled {
    /// Whether the value `v` the rule captured passes its validation and is not allowed.
    fn confirms(&self, v: &str) -> bool {
        if let Some(val) = &self.validate {
            if !val.prefix.is_empty() && !val.prefix.iter().any(|p| v.starts_with(p.as_str())) {
                return false;
            }
            let n = v.chars().count();
            if val.length.is_some_and(|l| n != l)
                || val.min_length.is_some_and(|l| n < l)
                || val.max_length.is_some_and(|l| n > l)
            {
                return false;
            }
            if let Some(cs) = &val.charset {
                if !charset_matches(cs, v) {
                    return false;
                }
            }
        }
        !(self.allow.iter().any(|a| a.is_match(v)) || self.allow_values.iter().any(|a| a == v))
    }
}

/// Whether every character of `v` is in `charset`, written as in a regex class (`A-Za-z0-9_-`).
fn charset_matches(charset: &str, v: &str) -> bool {
    let class = format!("^[{}]*$", charset.replace('\\', "\\\\").replace(']', "\\]"));
    Regex::new(&class).map_or(true, |r| r.is_match(v))
}

/// The LLM vendors' key shapes, which the rule set lacks: (name, pattern).
const VENDOR_KEYS: &[(&str, &str)] = &[
    ("an Anthropic API key", r"\b(sk-ant-[A-Za-z0-9_-]{32,})"),
    (
        "an OpenAI API key",
        r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{40,})",
    ),
    ("an xAI API key", r"\b(xai-[A-Za-z0-9]{40,})"),
];

fn rules() -> &'static [Compiled] {
    static RULES: OnceLock<Vec<Compiled>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut out = Vec::new();
        // The built-in set is data compiled into the crate; a rule this regex engine cannot
        // compile is left out rather than failing every run.
        for r in nosecrets_rules::load_builtin_rules().unwrap_or_default() {
            use nosecrets_rules::Severity;
            if !matches!(r.severity, Severity::Critical | Severity::High) {
                continue;
            }
            let Ok(pattern) = Regex::new(&r.pattern) else {
                continue;
            };
            let allow = r.allow.as_ref();
            out.push(Compiled {
                name: r.name.clone(),
                keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
                pattern,
                capture: r.capture,
                validate: r.validate.clone(),
                allow: allow
                    .map(|a| {
                        a.patterns
                            .iter()
                            .filter_map(|p| Regex::new(p).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                allow_values: allow.map(|a| a.values.clone()).unwrap_or_default(),
                exclude: r
                    .paths
                    .as_ref()
                    .map(|p| {
                        p.exclude
                            .iter()
                            .filter_map(|g| globset::Glob::new(g).ok())
                            .map(|g| g.compile_matcher())
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        for (name, pattern) in VENDOR_KEYS {
            if let Ok(pattern) = Regex::new(pattern) {
                out.push(Compiled {
                    name: name.to_string(),
                    keywords: Vec::new(),
                    pattern,
                    capture: 1,
                    validate: None,
                    allow: Vec::new(),
                    allow_values: Vec::new(),
                    exclude: Vec::new(),
                });
            }
        }
        out
    })
}

/// Why `content` (at `path`) must not be sent, if it must not.
pub fn reason(path: &str, content: &str) -> Option<String> {
    if secret_name(path) {
        let base = path.rsplit('/').next().unwrap_or(path);
        return Some(format!(
            "skipped (secret): `{}` is a credentials file; not sent to the provider",
            crate::output::sanitize(base)
        ));
    }
    let lower = content.to_ascii_lowercase();
    let base = path.rsplit('/').next().unwrap_or(path);
    for rule in rules() {
        if !rule.keywords.is_empty() && !rule.keywords.iter().any(|k| lower.contains(k.as_str())) {
            continue;
        }
        if rule
            .exclude
            .iter()
            .any(|g| g.is_match(path) || g.is_match(base))
        {
            continue;
        }
        for caps in rule.pattern.captures_iter(content) {
            let Some(m) = caps.get(rule.capture).or_else(|| caps.get(0)) else {
                continue;
            };
            if rule.confirms(m.as_str()) {
                let line = content[..m.start()].matches('\n').count() + 1;
                return Some(format!(
                    "skipped (secret): what looks like {} at line {line}; not sent to the provider",
                    describe(&rule.name)
                ));
            }
        }
    }
    None
}

/// A rule's name as a phrase ("a GitHub Personal Access Token").
fn describe(name: &str) -> String {
    if name.starts_with("a ") || name.starts_with("an ") {
        return name.to_string();
    }
    let article = match name.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    };
    format!("{article} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` characters of a token alphabet, varied so no rule takes them for a placeholder.
    fn body(n: usize, alphabet: &str) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n).map(|i| a[(i * 7 + 3) % a.len()]).collect()
    }

    const ALNUM: &str = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    #[test]
    fn credential_files_are_never_sent_whatever_their_content() {
        for p in [
            ".env",
            "config/.env.production",
            ".envrc",
            ".npmrc",
            "pkg/.pypirc",
            ".netrc",
            ".git-credentials",
            "home/.docker/config.json",
            "deploy/server.pem",
            "home/id_rsa",
            "infra/terraform.tfstate",
        ] {
            assert!(reason(p, "nothing").is_some(), "{p}");
        }
        assert!(reason("src/keyboard.rs", "fn key() {}").is_none());
        assert!(reason("docker/config.json.md", "").is_none());
    }

    #[test]
    fn real_format_tokens_of_each_family_are_caught() {
        let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let b64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
        let cases = [
            (
                "AWS access key id",
                format!("id = \"AKIA{}\"", body(16, upper)),
            ),
            (
                "AWS secret access key",
                format!("aws_secret_access_key = \"{}\"\n", body(40, b64)),
            ),
            ("GitHub", format!("token = \"ghp_{}\"", body(36, ALNUM))),
            ("GitLab", format!("GITLAB=glpat-{}\n", body(20, ALNUM))),
            (
                "npm",
                format!("//registry.npmjs.org/:_authToken=npm_{}\n", body(36, ALNUM)),
            ),
            (
                "Slack",
                format!(
                    "SLACK=xoxb-1234567890123-1234567890123-{}\n",
                    body(24, ALNUM)
                ),
            ),
            (
                "Stripe",
                format!("stripe.key = \"sk_live_{}\"", body(28, ALNUM)),
            ),
            (
                "private key",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"
                    .to_string(),
            ),
            ("Anthropic", format!("K=sk-ant-api03-{}", body(40, ALNUM))),
            ("OpenAI", format!("K=\"sk-proj-{}\"", body(48, ALNUM))),
            ("xAI", format!("K=xai-{}", body(48, ALNUM))),
        ];
        for (family, text) in cases {
            let r = reason("src/config.rs", &format!("fn f() {{}}\n{text}\n"));
            assert!(r.is_some(), "{family} not caught in {text:?}");
            assert!(r.unwrap().contains("line 2"), "{family}");
        }
    }

    #[test]
    fn placeholders_and_ordinary_code_are_not_secrets() {
        for text in [
            "let k = \"AKIAIOSFODNN7EXAMPLE\";",
            "fn risk() { let task = \"sk-short\"; } // AKIA in prose",
            "let password = \"correct horse battery\"; // a test fixture",
            "const API_KEY_HEADER: &str = \"x-api-key\";",
            "# GITHUB_TOKEN=ghp_xxx",
        ] {
            assert_eq!(reason("src/a.rs", text), None, "{text}");
        }
    }
}
