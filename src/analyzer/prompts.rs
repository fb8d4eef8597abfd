//! Prompt templates for the LLM types, the JSON schema each result must follow, and the
//! `prompt_hash` that puts both (and every request option) into the key.
//!
//! A template is the user message; `{{path}}`, `{{language}}` and `{{content}}` are replaced
//! per file. `.rustassistant/prompts/<type>.md` replaces the built-in template. The hash covers
//! the template text, not the expanded file: the file is already in the key as its blob id,
//! and leaving the path out is what lets a renamed file hit.

use serde_json::Value;

/// The system message: JSON only, in the type's schema.
pub fn system(cache_type: &str) -> String {
    format!(
        "You are a meticulous senior software engineer reviewing one source file. \
Answer with a single JSON object and nothing else (no prose, no code fences), following this schema:\n{}",
        schema(cache_type)
    )
}

/// The documented result schema per type (also in README).
pub fn schema(cache_type: &str) -> &'static str {
    match cache_type {
        "refactor" => {
            r#"{
  "summary": "one paragraph",
  "smells": [{"type": "long-function|duplication|deep-nesting|naming|error-handling|...", "severity": "low|medium|high|critical",
              "location": {"line_start": 1, "line_end": 1, "symbol": "name or null"}, "description": "..."}],
  "suggestions": [{"title": "...", "description": "...", "priority": "low|medium|high", "effort": "small|medium|large",
                   "location": {"line_start": 1, "line_end": 1, "symbol": "name or null"}}],
  "scores": {"maintainability": 0-10, "readability": 0-10, "complexity": 0-10}
}"#
        }
        "docs" => {
            r#"{
  "summary": "one sentence",
  "markdown": "module documentation in Markdown: purpose, public items, examples, caveats"
}"#
        }
        _ => {
            r#"{
  "quality": {"score": 0-10, "findings": [{"severity": "low|medium|high", "description": "...", "line": 1}]},
  "complexity": {"score": 0-10, "hotspots": [{"symbol": "...", "line": 1, "reason": "..."}]},
  "security": {"score": 0-10, "findings": [{"severity": "low|medium|high|critical", "description": "...", "line": 1}]}
}"#
        }
    }
}

/// The built-in user template for `cache_type`.
pub fn builtin_template(cache_type: &str) -> &'static str {
    match cache_type {
        "refactor" => "Review `{{path}}` ({{language}}) for refactoring opportunities: code smells with their location and severity, \
and concrete suggestions with priority and effort. Score maintainability, readability and complexity from 0 to 10.\n\n```\n{{content}}\n```\n",
        "docs" => "Write module documentation in Markdown for `{{path}}` ({{language}}): what it is for, its public items and how to use them, \
with a short example where it helps.\n\n```\n{{content}}\n```\n",
        _ => "Review `{{path}}` ({{language}}) for quality, complexity and security. Report concrete findings with line numbers.\n\n```\n{{content}}\n```\n",
    }
}

/// Expand `template` for one file.
pub fn expand(template: &str, path: &str, content: &str) -> String {
    let lang = super::builtin::lex::Lang::of(path).name();
    template
        .replace("{{path}}", path)
        .replace("{{language}}", lang)
        .replace("{{content}}", content)
}

/// `prompt_hash`: sha256 over the system message, the template and every request option.
pub fn prompt_hash(system: &str, template: &str, max_tokens: u32, temperature: f64) -> String {
    let mut s = String::new();
    for part in [
        system,
        template,
        &format!("max_tokens={max_tokens}"),
        &format!("temperature={temperature}"),
        "response_format=json",
    ] {
        s.push_str(part);
        s.push('\0');
    }
    crate::util::sha256_hex(s.as_bytes())
}

/// Parse a reply into a result: JSON, or JSON inside a code fence (repaired); checked against
/// the type's required fields.
pub fn parse_reply(cache_type: &str, text: &str) -> Result<Value, String> {
    check_schema(cache_type, parse_json(text)?)
}

/// A reply's JSON: the text, or the JSON inside its code fence.
pub fn parse_json(text: &str) -> Result<Value, String> {
    let t = text.trim();
    match serde_json::from_str(t) {
        Ok(v) => Ok(v),
        Err(first) => {
            let inner =
                strip_fence(t).ok_or_else(|| format!("the reply is not valid JSON ({first})"))?;
            serde_json::from_str(inner).map_err(|e| {
                format!("the reply is not valid JSON, even inside its code fence ({e})")
            })
        }
    }
}

/// `v` if it is an object with the type's required fields.
pub fn check_schema(cache_type: &str, v: Value) -> Result<Value, String> {
    let obj = v.as_object().ok_or("the reply is JSON but not an object")?;
    // The schema's top-level fields (`schema::result`), but the summary: text a model asked for
    // none (an item's) may leave out.
    for (field, kind) in super::schema::top_level(&super::schema::result(cache_type)) {
        let ok = match obj.get(&field) {
            None => field == "summary",
            Some(v) => matches!(
                (v, kind.as_str()),
                (Value::Array(_), "array")
                    | (Value::Object(_), "object")
                    | (Value::String(_), "string")
            ),
        };
        if !ok {
            return Err(format!(
                "the reply does not follow the {cache_type} schema: `{field}` must be an {kind}"
            ));
        }
    }
    Ok(v)
}

fn strip_fence(t: &str) -> Option<&str> {
    let start = t.find("```")?;
    let after = &t[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let end = body.rfind("```")?;
    Some(body[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_json_is_repaired_and_prose_is_rejected() {
        let fenced = "Here you go:\n```json\n{\"markdown\": \"# m\"}\n```\n";
        assert_eq!(parse_reply("docs", fenced).unwrap()["markdown"], "# m");
        assert!(parse_reply("docs", "I cannot help with that.").is_err());
        assert!(parse_reply("docs", "{\"summary\": \"x\"}")
            .unwrap_err()
            .contains("markdown"));
        let r = parse_reply(
            "refactor",
            r#"{"smells": [], "suggestions": [], "scores": {}}"#,
        );
        assert!(r.is_ok());
    }

    #[test]
    fn every_option_changes_the_hash_but_the_file_does_not() {
        let base = prompt_hash("s", "t", 100, 0.2);
        assert_ne!(base, prompt_hash("s2", "t", 100, 0.2));
        assert_ne!(base, prompt_hash("s", "t2", 100, 0.2));
        assert_ne!(base, prompt_hash("s", "t", 101, 0.2));
        assert_ne!(base, prompt_hash("s", "t", 100, 0.3));
        assert!(
            expand("{{path}} {{language}}\n{{content}}", "a.rs", "fn x(){}")
                .starts_with("a.rs rust\n")
        );
    }
}
