//! `GET /search`: items the acting user can see (and the token may reach) whose
//! name, description or text contains every term of the query.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::HeaderMap,
};
use serde_json::{Value, json};

use super::view;
use crate::{
    caller::Caller,
    error::ApiError,
    paging::{Limits, Page, Query},
    render::Fields,
    scopes::Operation,
    state::AppState,
    store::{Item, ItemKind, Store},
};

const LIMITS: Limits = Limits {
    default: 30,
    max: 200,
    strict: true,
    markers: false,
};

/// Terms of a query: words, or "quoted phrases".
pub fn terms(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in query.split('"').enumerate() {
        if i % 2 == 1 {
            let phrase = part.trim().to_lowercase();
            if !phrase.is_empty() {
                out.push(phrase);
            }
        } else {
            out.extend(part.split_whitespace().map(str::to_lowercase));
        }
    }
    out
}

/// Occurrences of all terms in the chosen fields, or `None` if a term is missing.
fn score(item: &Item, terms: &[String], content_types: &[String]) -> Option<usize> {
    let want = |t: &str| content_types.is_empty() || content_types.iter().any(|c| c == t);
    let mut haystacks = Vec::new();
    if want("name") {
        haystacks.push((item.name.to_lowercase(), 3));
    }
    if want("description") {
        haystacks.push((item.description.to_lowercase(), 2));
    }
    if want("file_content")
        && let Some(text) = Store::text_of(item)
    {
        haystacks.push((text.to_lowercase(), 1));
    }
    let mut total = 0;
    for term in terms {
        let hits: usize = haystacks
            .iter()
            .map(|(h, weight)| h.matches(term.as_str()).count() * weight)
            .sum();
        if hits == 0 {
            return None;
        }
        total += hits;
    }
    Some(total)
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Search)?;
    let q = Query::parse(q.as_deref());
    let query = q.get("query").unwrap_or("").trim();
    let terms = terms(query);
    if terms.is_empty() {
        return Err(ApiError::bad_request(
            "The 'query' parameter is required (mdfilters are not emulated)",
        ));
    }
    let page = Page::parse(&q, &LIMITS)?;
    let kind = match q.get("type") {
        None | Some("") => None,
        Some("file") => Some(ItemKind::File),
        Some("folder") => Some(ItemKind::Folder),
        Some("web_link") => return Ok(Json(empty(&page))),
        Some(other) => return Err(ApiError::bad_request(format!("Invalid type '{other}'"))),
    };
    let extensions: Vec<String> = q
        .list("file_extensions")
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_lowercase())
        .collect();
    let ancestors = q.list("ancestor_folder_ids");
    let content_types = q.list("content_types");
    let store = state.store();
    let mut hits: Vec<(usize, &Item)> = store
        .visible_items(&caller.user)
        .into_iter()
        .filter(|i| caller.within_restriction(&store, &i.id))
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .filter(|i| {
            extensions.is_empty()
                || (i.kind == ItemKind::File && extensions.contains(&i.extension().to_lowercase()))
        })
        .filter(|i| {
            ancestors.is_empty()
                || ancestors
                    .iter()
                    .any(|a| a == "0" || (a != &i.id && store.is_within(&i.id, a)))
        })
        .filter_map(|i| score(i, &terms, &content_types).map(|s| (s, i)))
        .collect();
    hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let items: Vec<&Item> = hits.into_iter().map(|(_, i)| i).collect();
    let (items, mut body) = page.apply(items);
    let fields = Fields::parse(q.get("fields"));
    let view = view(&state, &store, &caller.user, &headers);
    let entries: Vec<Value> = items.iter().map(|i| view.standard(i, &fields)).collect();
    body.insert("type".into(), json!("search_results_items"));
    body.insert("entries".into(), json!(entries));
    Ok(Json(Value::Object(body)))
}

fn empty(page: &Page) -> Value {
    let (_, mut body) = page.apply(Vec::<()>::new());
    body.insert("type".into(), json!("search_results_items"));
    body.insert("entries".into(), json!([]));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_words_and_phrases() {
        assert_eq!(
            terms(r#"Falcon "launch date" x"#),
            ["falcon", "launch date", "x"].map(String::from)
        );
        assert!(terms("   ").is_empty());
    }
}
