//! The AI stand-in: deterministic, extractive answers computed from the files'
//! text. It is not a language model: `ask` returns the sentences that share the
//! most keywords with the prompt (with citations), `extract` returns the
//! `key: value` pairs it finds, and `extract_structured` fills each requested field
//! from the pair whose key matches it.

use serde_json::{Map, Value, json};

/// A file given to the stand-in.
#[derive(Debug, Clone)]
pub struct Doc {
    pub id: String,
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub id: String,
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    pub citations: Vec<Citation>,
}

/// A field to extract (from the request, or from a metadata template).
#[derive(Debug, Clone, Default)]
pub struct Field {
    pub key: String,
    pub display_name: Option<String>,
    pub prompt: Option<String>,
    pub kind: Option<String>,
    pub options: Vec<String>,
}

/// The answer when nothing in the files matches.
pub const NO_ANSWER: &str =
    "The provided files do not appear to contain information that answers this question.";

/// Sentences cited per answer.
const MAX_SENTENCES: usize = 3;

const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "what",
    "which",
    "who",
    "whom",
    "when",
    "where",
    "why",
    "how",
    "does",
    "did",
    "was",
    "were",
    "are",
    "is",
    "this",
    "that",
    "these",
    "those",
    "with",
    "from",
    "into",
    "about",
    "there",
    "their",
    "they",
    "them",
    "have",
    "has",
    "had",
    "will",
    "would",
    "should",
    "could",
    "can",
    "please",
    "tell",
    "give",
    "list",
    "document",
    "documents",
    "file",
    "files",
    "say",
    "says",
    "according",
    "any",
    "all",
    "our",
    "your",
    "you",
    "not",
    "but",
    "its",
    "of",
    "in",
    "on",
    "at",
    "to",
    "an",
    "a",
    "be",
    "by",
    "or",
    "as",
    "it",
    "me",
    "my",
    "we",
    "do",
    "extract",
    "find",
    "show",
    "value",
    "values",
];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The prompt's keywords, in order, without duplicates or stop words.
pub fn keywords(prompt: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(prompt) {
        if (w.len() >= 2 || w.chars().all(|c| c.is_ascii_digit()))
            && !STOPWORDS.contains(&w.as_str())
            && !out.contains(&w)
        {
            out.push(w);
        }
    }
    out
}

/// Whether a word of the text matches a keyword (equal, or sharing a stem).
fn matches(word: &str, keyword: &str) -> bool {
    word == keyword
        || (keyword.len() >= 4 && word.starts_with(keyword))
        || (word.len() >= 4 && keyword.starts_with(word))
}

/// The sentences of a text: its lines, split after `. `, without Markdown heading
/// or bullet markers.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches(['#', '-', '*', '>']).trim();
        if line.is_empty() {
            continue;
        }
        let mut rest = line;
        while let Some(pos) = rest.find(". ") {
            let (head, tail) = rest.split_at(pos + 1);
            if !head.trim().is_empty() {
                out.push(head.trim().to_string());
            }
            rest = tail.trim_start();
        }
        if !rest.trim().is_empty() {
            out.push(rest.trim().to_string());
        }
    }
    out
}

/// Answer a question from the files: the best-matching sentences, cited.
pub fn ask(prompt: &str, docs: &[Doc]) -> Answer {
    let kws = keywords(prompt);
    let mut scored: Vec<(usize, usize, usize, String)> = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        for (s, sentence) in sentences(&doc.text).into_iter().enumerate() {
            let sw = words(&sentence);
            let score = kws
                .iter()
                .filter(|k| sw.iter().any(|w| matches(w, k)))
                .count();
            if score > 0 {
                scored.push((score, d, s, sentence));
            }
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let best = scored.first().map_or(0, |s| s.0);
    // Keep sentences at least half as relevant as the best one.
    let mut chosen: Vec<_> = scored
        .into_iter()
        .filter(|s| s.0 * 2 >= best)
        .take(MAX_SENTENCES)
        .collect();
    chosen.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)));
    if chosen.is_empty() {
        return Answer {
            text: NO_ANSWER.to_string(),
            citations: Vec::new(),
        };
    }
    let text = chosen
        .iter()
        .map(|c| c.3.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let citations = chosen
        .into_iter()
        .map(|(_, d, _, content)| Citation {
            id: docs[d].id.clone(),
            name: docs[d].name.clone(),
            content,
        })
        .collect();
    Answer { text, citations }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

/// `key: value` pairs found in a file: top-level JSON fields, CSV rows (two
/// columns) or header/first row, and `key: value` / `key = value` lines.
pub fn pairs(doc: &Doc) -> Vec<(String, String)> {
    let lower = doc.name.to_lowercase();
    if lower.ends_with(".json")
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&doc.text)
    {
        return map
            .iter()
            .filter_map(|(k, v)| scalar(v).map(|s| (k.clone(), s)))
            .collect();
    }
    if lower.ends_with(".csv") {
        let rows: Vec<Vec<&str>> = doc
            .text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').map(str::trim).collect())
            .collect();
        return match rows.as_slice() {
            [header, data @ ..] if header.len() == 2 => data
                .iter()
                .filter(|r| r.len() == 2)
                .map(|r| (r[0].to_string(), r[1].to_string()))
                .collect(),
            [header, first, ..] => header
                .iter()
                .zip(first.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _ => Vec::new(),
        };
    }
    let mut out = Vec::new();
    for line in doc.text.lines() {
        let line = line.trim().trim_start_matches(['#', '-', '*']).trim();
        let Some(pos) = line.find([':', '=']) else {
            continue;
        };
        let (key, value) = (line[..pos].trim(), line[pos + 1..].trim());
        let key_words = key.split_whitespace().count();
        if (1..=6).contains(&key_words) && !value.is_empty() && !key.contains("//") {
            let value = value.trim_end_matches('.').trim();
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

/// Free-form extraction: the pairs whose keys match the prompt (all pairs if none
/// match), as a JSON object in a string; the `ask` answer if there are no pairs.
pub fn extract(prompt: &str, docs: &[Doc]) -> String {
    let kws = keywords(prompt);
    let all: Vec<(String, String)> = docs.iter().flat_map(pairs).collect();
    if all.is_empty() {
        return ask(prompt, docs).text;
    }
    let relevant: Vec<&(String, String)> = all
        .iter()
        .filter(|(k, _)| words(k).iter().any(|w| kws.iter().any(|kw| matches(w, kw))))
        .collect();
    let chosen: Vec<&(String, String)> = if relevant.is_empty() {
        all.iter().collect()
    } else {
        relevant
    };
    let mut map = Map::new();
    for (k, v) in chosen {
        map.entry(k.clone()).or_insert_with(|| json!(v));
    }
    Value::Object(map).to_string()
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn first_number(s: &str) -> Option<f64> {
    let cleaned: String = s.chars().filter(|c| *c != ',').collect();
    cleaned
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .find_map(|t| t.parse::<f64>().ok())
}

fn first_date(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let cand = s.get(i..i + 10)?;
        let ok = cand.chars().enumerate().all(|(j, c)| match j {
            4 | 7 => c == '-',
            _ => c.is_ascii_digit(),
        });
        ok.then(|| format!("{cand}T00:00:00Z"))
    })
}

fn convert(field: &Field, value: &str) -> Value {
    match field.kind.as_deref() {
        Some("float" | "number") => first_number(value).map_or(Value::Null, |n| json!(n)),
        Some("integer") => first_number(value).map_or(Value::Null, |n| json!(n.trunc() as i64)),
        Some("date") => first_date(value).map_or(Value::Null, Value::String),
        Some("enum") => {
            let v = normalize(value);
            field
                .options
                .iter()
                .find(|o| normalize(o) == v || (!v.is_empty() && v.contains(&normalize(o))))
                .map_or(Value::Null, |o| json!(o))
        }
        Some("multiSelect") => {
            let v = normalize(value);
            let chosen: Vec<&String> = field
                .options
                .iter()
                .filter(|o| v.contains(&normalize(o)))
                .collect();
            json!(chosen)
        }
        _ => json!(value),
    }
}

/// Structured extraction: each field from the first pair whose key matches the
/// field's key or display name; `null` when none does.
pub fn extract_structured(fields: &[Field], docs: &[Doc]) -> Map<String, Value> {
    let all: Vec<(String, String)> = docs.iter().flat_map(pairs).collect();
    let mut out = Map::new();
    for field in fields {
        let names: Vec<String> = [Some(&field.key), field.display_name.as_ref()]
            .into_iter()
            .flatten()
            .map(|n| normalize(n))
            .filter(|n| !n.is_empty())
            .collect();
        let by_name = all.iter().find(|(k, _)| {
            let k = normalize(k);
            names.iter().any(|n| {
                *n == k
                    || (n.len() >= 4
                        && k.len() >= 4
                        && (k.contains(n.as_str()) || n.contains(k.as_str())))
            })
        });
        // Otherwise, a pair whose key shares a keyword with the field's prompt.
        let found = by_name.or_else(|| {
            let kws = keywords(field.prompt.as_deref()?);
            all.iter()
                .find(|(k, _)| words(k).iter().any(|w| kws.iter().any(|kw| matches(w, kw))))
        });
        let value = found.map_or(Value::Null, |(_, v)| convert(field, v));
        out.insert(field.key.clone(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, text: &str) -> Doc {
        Doc {
            id: "1".into(),
            name: name.into(),
            text: text.into(),
        }
    }

    const NOTES: &str = "Project Falcon kickoff meeting, 2026-03-02.\nDecision: the launch date is 2026-06-15.\nBudget: 120000 USD, approved by finance.\n";

    #[test]
    fn ask_cites_the_matching_sentences() {
        let docs = [doc("notes.txt", NOTES)];
        let a = ask("When is the launch date?", &docs);
        assert_eq!(a.text, "Decision: the launch date is 2026-06-15.");
        assert_eq!(a.citations.len(), 1);
        assert_eq!(a.citations[0].content, a.text);
        assert_eq!(ask("When is the launch date?", &docs), a, "deterministic");
        let none = ask("zebra xylophone", &docs);
        assert_eq!(none.text, NO_ANSWER);
        assert!(none.citations.is_empty());
    }

    #[test]
    fn pairs_come_from_json_csv_and_lines() {
        let j = pairs(&doc(
            "a.json",
            r#"{"theme": "dark", "n": 3, "list": ["x", "y"], "o": {}}"#,
        ));
        assert_eq!(j.len(), 3);
        let c = pairs(&doc("a.csv", "date,name\n2026-01-01,New Year\n"));
        assert_eq!(c, [("2026-01-01".to_string(), "New Year".to_string())]);
        let t = pairs(&doc("a.txt", NOTES));
        assert!(t.contains(&(
            "Budget".to_string(),
            "120000 USD, approved by finance".to_string()
        )));
    }

    #[test]
    fn structured_extraction_converts_types() {
        let docs = [doc(
            "p.md",
            "Project name: Falcon\nStatus: Active\nBudget: 120,000\nDue date: 2026-06-15\n",
        )];
        let fields = [
            Field {
                key: "projectName".into(),
                display_name: Some("Project name".into()),
                ..Field::default()
            },
            Field {
                key: "status".into(),
                kind: Some("enum".into()),
                options: vec!["active".into(), "on_hold".into()],
                ..Field::default()
            },
            Field {
                key: "budget".into(),
                kind: Some("float".into()),
                ..Field::default()
            },
            Field {
                key: "dueDate".into(),
                kind: Some("date".into()),
                ..Field::default()
            },
            Field {
                key: "missing".into(),
                ..Field::default()
            },
        ];
        let out = extract_structured(&fields, &docs);
        assert_eq!(out["projectName"], "Falcon");
        assert_eq!(out["status"], "active");
        assert_eq!(out["budget"], 120000.0);
        assert_eq!(out["dueDate"], "2026-06-15T00:00:00Z");
        assert!(out["missing"].is_null());
    }

    #[test]
    fn free_extraction_filters_by_prompt() {
        let docs = [doc("notes.txt", NOTES)];
        let out: Value = serde_json::from_str(&extract("budget", &docs)).unwrap();
        assert_eq!(out, json!({"Budget": "120000 USD, approved by finance"}));
    }
}
