//! Secrets never leave: files whose names say they hold credentials, and content with
//! high-confidence secret shapes, are not sent to a provider (unless the path is allowed by
//! `[analysis] allow_secrets`).

/// File names (or patterns on the base name) that hold credentials.
fn secret_name(base: &str) -> bool {
    let b = base.to_ascii_lowercase();
    b == ".env"
        || b.starts_with(".env.")
        || b.ends_with(".pem")
        || b.ends_with(".key")
        || b.ends_with(".p12")
        || b.ends_with(".pfx")
        || b.ends_with(".keystore")
        || b.ends_with(".jks")
        || b.starts_with("id_rsa")
        || b.starts_with("id_dsa")
        || b.starts_with("id_ecdsa")
        || b.starts_with("id_ed25519")
        || b == "credentials"
        || b.starts_with("credentials.")
        || b == ".netrc"
        || b == ".pgpass"
}

/// Token shapes: a literal prefix followed by at least `min` characters of the token alphabet.
const TOKENS: &[(&str, usize, &str)] = &[
    ("AKIA", 16, "an AWS access key id"),
    ("ASIA", 16, "an AWS access key id"),
    ("ghp_", 36, "a GitHub token"),
    ("gho_", 36, "a GitHub token"),
    ("ghu_", 36, "a GitHub token"),
    ("ghs_", 36, "a GitHub token"),
    ("ghr_", 36, "a GitHub token"),
    ("github_pat_", 40, "a GitHub token"),
    ("sk-ant-", 32, "an Anthropic API key"),
    ("sk-proj-", 32, "an OpenAI API key"),
    ("sk-", 40, "an OpenAI API key"),
    ("xai-", 40, "an xAI API key"),
    ("AIza", 35, "a Google API key"),
];

fn token_char(c: u8, prefix: &str) -> bool {
    if prefix.starts_with("AKIA") || prefix.starts_with("ASIA") {
        c.is_ascii_uppercase() || c.is_ascii_digit()
    } else {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
    }
}

/// Why `content` (at `path`) must not be sent, if it must not.
pub fn reason(path: &str, content: &str) -> Option<String> {
    let base = path.rsplit('/').next().unwrap_or(path);
    if secret_name(base) {
        return Some(format!(
            "skipped (secret): `{base}` is a credentials file name; not sent to the provider"
        ));
    }
    for (i, line) in content.lines().enumerate() {
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            return Some(format!(
                "skipped (secret): a private key block at line {}; not sent to the provider",
                i + 1
            ));
        }
        let bytes = line.as_bytes();
        for (prefix, min, what) in TOKENS {
            let mut from = 0;
            while let Some(pos) = line[from..].find(prefix) {
                let at = from + pos;
                // A token starts at a word boundary.
                let boundary =
                    at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
                let run = bytes[at + prefix.len()..]
                    .iter()
                    .take_while(|&&c| token_char(c, prefix))
                    .count();
                if boundary && run >= *min {
                    return Some(format!("skipped (secret): what looks like {what} at line {}; not sent to the provider", i + 1));
                }
                from = at + prefix.len();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes_are_caught() {
        assert!(reason(".env", "").is_some());
        assert!(reason("config/.env.production", "").is_some());
        assert!(reason("deploy/server.pem", "").is_some());
        assert!(reason("home/id_rsa", "").is_some());
        assert!(reason("a.rs", "let k = \"AKIAIOSFODNN7EXAMPLE\";").is_some());
        assert!(reason("a.rs", &format!("token = \"ghp_{}\"", "a".repeat(36))).is_some());
        assert!(reason(
            "a.rs",
            &format!("K={}", format_args!("sk-ant-{}", "x".repeat(40)))
        )
        .is_some());
        assert!(reason("a.rs", "-----BEGIN OPENSSH PRIVATE KEY-----").is_some());
        assert!(reason(
            "a.rs",
            "fn risk() { let task = \"sk-short\"; } // AKIA in prose"
        )
        .is_none());
        assert!(reason("src/keyboard.rs", "fn key() {}").is_none());
    }
}
