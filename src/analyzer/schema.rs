//! The result schema of each LLM type as JSON Schema, in one place: requests carry it as a
//! structured output (the provider then answers in it by construction: `llm::wire`), and
//! [`super::prompts::check_schema`] checks replies against its top-level fields. It is the
//! schema the prompt states in words (`prompts::schema`), so asking for it does not change
//! what a result is, nor its key.
//!
//! Written for the strictest of the vendors' modes (OpenAI's `strict`): every object lists all
//! of its properties as required and allows no others; an optional value is nullable instead.

use serde_json::{json, Value};

fn object(props: &[(&str, Value)]) -> Value {
    let properties: serde_json::Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn score() -> Value {
    json!({"type": "number"})
}

fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

fn location() -> Value {
    object(&[
        ("line_start", json!({"type": "integer"})),
        ("line_end", json!({"type": "integer"})),
        ("symbol", nullable("string")),
    ])
}

/// The JSON Schema of a `cache_type` result (`refactor`, `docs`, and `analysis` for the rest).
pub fn result(cache_type: &str) -> Value {
    match cache_type {
        "refactor" => object(&[
            ("summary", string()),
            (
                "smells",
                array(object(&[
                    ("type", string()),
                    ("severity", one_of(&["low", "medium", "high", "critical"])),
                    ("location", location()),
                    ("description", string()),
                ])),
            ),
            (
                "suggestions",
                array(object(&[
                    ("title", string()),
                    ("description", string()),
                    ("priority", one_of(&["low", "medium", "high"])),
                    ("effort", one_of(&["small", "medium", "large"])),
                    ("location", json!({"anyOf": [location(), {"type": "null"}]})),
                ])),
            ),
            (
                "scores",
                object(&[
                    ("maintainability", score()),
                    ("readability", score()),
                    ("complexity", score()),
                ]),
            ),
        ]),
        "docs" => object(&[("summary", string()), ("markdown", string())]),
        _ => {
            let finding = |severities: &[&str]| {
                array(object(&[
                    ("severity", one_of(severities)),
                    ("description", string()),
                    ("line", nullable("integer")),
                ]))
            };
            object(&[
                (
                    "quality",
                    object(&[
                        ("score", score()),
                        ("findings", finding(&["low", "medium", "high"])),
                    ]),
                ),
                (
                    "complexity",
                    object(&[
                        ("score", score()),
                        (
                            "hotspots",
                            array(object(&[
                                ("symbol", string()),
                                ("line", nullable("integer")),
                                ("reason", string()),
                            ])),
                        ),
                    ]),
                ),
                (
                    "security",
                    object(&[
                        ("score", score()),
                        ("findings", finding(&["low", "medium", "high", "critical"])),
                    ]),
                ),
            ])
        }
    }
}

/// The schema of an item reply to the items `ids`: `{"items": [{"id", "result"}, ...]}`, each
/// id one of those sent. A list, not a map from id to result: a strict schema cannot leave a
/// map's keys open, and naming each id as a property would repeat the result schema once per
/// item in every request (vendors bill a schema as input).
pub fn item_reply(cache_type: &str, ids: &[&str]) -> Value {
    object(&[(
        "items",
        array(object(&[
            ("id", one_of(ids)),
            ("result", result(cache_type)),
        ])),
    )])
}

/// The top-level fields of a schema and their JSON kinds, what every reply is checked for.
pub fn top_level(schema: &Value) -> Vec<(String, String)> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.get("type")?.as_str()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every object is strict: all properties required, no others allowed.
    fn assert_strict(v: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(props) = m.get("properties").and_then(Value::as_object) {
                    let req: Vec<&str> = m["required"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap())
                        .collect();
                    assert_eq!(req.len(), props.len(), "{v}");
                    assert!(props.keys().all(|k| req.contains(&k.as_str())), "{v}");
                    assert_eq!(m["additionalProperties"], false, "{v}");
                }
                m.values().for_each(assert_strict);
            }
            Value::Array(a) => a.iter().for_each(assert_strict),
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_strict_and_the_prompt_states_its_fields() {
        for ty in ["refactor", "docs", "analysis"] {
            let s = result(ty);
            assert_strict(&s);
            for (field, _) in top_level(&s) {
                assert!(
                    super::super::prompts::schema(ty).contains(&format!("\"{field}\"")),
                    "{ty}: {field}"
                );
            }
        }
        let r = item_reply("refactor", &["00aa", "11bb"]);
        assert_strict(&r);
        let entry = &r["properties"]["items"]["items"];
        assert_eq!(entry["properties"]["id"]["enum"], json!(["00aa", "11bb"]));
        // The result schema once, whatever the number of items.
        assert_eq!(entry["properties"]["result"], result("refactor"));
    }
}
