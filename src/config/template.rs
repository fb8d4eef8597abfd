//! The commented template `init` writes, and a line editor that sets one value while keeping
//! every other line and comment (for `budget set`).

use std::path::Path;

/// The commented defaults written by `init` into `.rustassistant/config.toml`.
pub const DEFAULT_CONFIG_TOML: &str = r#"# rustassistant team settings, committed with the repository.
# Personal settings (budget, default provider) belong in ~/.rustassistant/config.toml.
# Precedence: flags > RUSTASSISTANT_* environment > user config > this file > defaults.
# Settings marked (trust) take effect from this file only after `rustassistant trust`:
# whoever committed last wrote it, so it may not move your key, budget or secrets.

[llm]
# provider = "xai"            # xai | openai | anthropic | gemini | ollama | openai-compatible | none
# model = "grok-4-fast"
# base_url = "http://localhost:11434/v1"   # (trust) OpenAI-style URLs include the version
# timeout = 120               # seconds per request, retries included (above 120: trust)
# max_concurrency = 4         # requests in flight (above 4: trust)
# max_tokens = 4096           # output tokens per request (above 4096: trust)

[analysis]
# types = ["todos", "metrics", "refactor"]   # default: todos + metrics (+ refactor with a provider)
# include = ["**/*.rs", "**/*.py"]            # default: common source extensions
# exclude = ["target/**", "vendor/**"]
# max_file_bytes = 262144
# allow_secrets = []         # (trust) paths that may be sent even if they look like secrets
#                            # (globs as in include: `*` stays within a folder, `**` crosses)
# granularity = "item"       # refactor and analysis send only the functions, methods and
#                            # types without a result (Rust, Python, TS/JS, Go); "file":
#                            # whole files (RUSTASSISTANT_GRANULARITY overrides)

[cache]
# max_age = "180d"            # older entries are misses, so analyses refresh (user or trusted config only)
# max_size = "500MB"          # evict after writes past this size (user or trusted config only)
# eviction = "lru"            # lru | oldest | largest | expensive (user or trusted config only)
# prune_on_commit = true      # the pre-commit hook drops entries of blobs no longer committed
# require_signature = false   # with RUSTASSISTANT_SIGNING_KEY: unsigned entries are misses (lowering: trust)

[budget]                      # (trust) the whole section; personal budgets belong in ~/.rustassistant
# monthly_limit_usd = 3.00
# warn_at = 0.75
# alert_at = 0.90
# hard_limit = true
# allow_unknown_price = false # allow models without a known price under a hard limit

[hooks]
# pre_commit = "analyze"      # analyze | check | off
# pre_push = "warn"           # warn | strict | off
# strict = false              # a failed analysis blocks the commit (never for a missing key or provider)
# pre_commit_timeout_s = 30   # (above 30: trust)

[findings]
# function_lines = 80         # a longer function is a finding
# nesting = 4                 # deeper nesting inside a function is a finding
# panic_sites = true          # unwrap/expect/panic! outside tests are findings
# fail_on = "none"            # error | warning | note | none: the severity that makes `findings` exit 1

# [pricing."my-local-model"]  # (trust)
# input = 0.0                 # USD per million tokens
# output = 0.0
# cached_input = 0.0
# batch_input = 0.0           # in a batch job (default: half of input)
# batch_output = 0.0          # (default: half of output)
"#;

/// Set `key = value` (a TOML literal) in `[section]` of the file at `path`, keeping every other
/// line and comment: an existing assignment (or its commented-out default) is replaced in
/// place, else the line is added to the section, else the section is appended.
pub fn set_value(path: &Path, section: &str, key: &str, value: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = format!("[{section}]");
    let new_line = format!("{key} = {value}");
    let mut in_section = false;
    let mut section_at = None;
    let mut target = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_section = t == header;
            if in_section {
                section_at = Some(i);
            }
            continue;
        }
        if in_section {
            let bare = t.trim_start_matches('#').trim_start();
            if bare.starts_with(key) && bare[key.len()..].trim_start().starts_with('=') {
                let commented = t.starts_with('#');
                if target.is_none() || !commented {
                    target = Some(i);
                }
            }
        }
    }
    match (target, section_at) {
        (Some(i), _) => lines[i] = new_line,
        (None, Some(s)) => lines.insert(s + 1, new_line),
        (None, None) => {
            lines.push(String::new());
            lines.push(header);
            lines.push(new_line);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    crate::util::write_atomic(path, out.as_bytes())
}
