//! `POST /ai/ask`, `/ai/extract`, `/ai/extract_structured`, answered by the
//! deterministic stand-in in [`crate::ai`].

use axum::{Json, body::Bytes, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    ai::{self, Doc, Field},
    caller::{Caller, permit},
    clock,
    error::{ApiError, parse_json},
    scopes::Operation,
    state::AppState,
    store::{ItemKind, Store},
};

/// Most items per request (Box's limit).
const MAX_ITEMS: usize = 25;

#[derive(Debug, Deserialize)]
struct AiItem {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AskBody {
    mode: String,
    prompt: String,
    items: Vec<AiItem>,
    #[serde(default)]
    include_citations: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ExtractBody {
    prompt: String,
    items: Vec<AiItem>,
}

#[derive(Debug, Deserialize)]
struct TemplateRef {
    template_key: String,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FieldBody {
    key: String,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    options: Vec<OptionBody>,
}

#[derive(Debug, Deserialize)]
struct OptionBody {
    key: String,
}

#[derive(Debug, Deserialize)]
struct StructuredBody {
    items: Vec<AiItem>,
    #[serde(default)]
    fields: Option<Vec<FieldBody>>,
    #[serde(default)]
    metadata_template: Option<TemplateRef>,
    #[serde(default)]
    include_confidence_score: Option<bool>,
}

fn agent_info() -> Value {
    json!({
        "models": [{
            "name": "box-sandbox-extractive",
            "provider": "box-sandbox",
            "supported_purpose": "deterministic extractive stand-in for tests",
        }],
        "processor": "box-sandbox extractive stand-in (not a language model)",
    })
}

/// The files' text, checking that the caller may download each one.
fn docs(state: &AppState, caller: &Caller, items: &[AiItem]) -> Result<Vec<Doc>, ApiError> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(format!(
            "'items' must have 1 to {MAX_ITEMS} entries"
        )));
    }
    let store = state.store();
    items
        .iter()
        .map(|i| {
            if i.kind != "file" {
                return Err(ApiError::bad_request(format!(
                    "Items of type '{}' are not supported",
                    i.kind
                )));
            }
            let (item, access) = caller.item(&store, ItemKind::File, &i.id)?;
            permit(access.perms().download)?;
            let text = match &i.content {
                Some(c) => c.clone(),
                None => Store::text_of(item).unwrap_or_default().to_string(),
            };
            Ok(Doc {
                id: item.id.clone(),
                name: item.name.clone(),
                text,
            })
        })
        .collect()
}

fn check_prompt(prompt: &str) -> Result<(), ApiError> {
    if prompt.trim().is_empty() || prompt.chars().count() > 10_000 {
        return Err(ApiError::bad_request(
            "'prompt' must have 1 to 10000 characters",
        ));
    }
    Ok(())
}

pub async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Ai)?;
    let body: AskBody = parse_json(&body)?;
    check_prompt(&body.prompt)?;
    match body.mode.as_str() {
        "single_item_qa" if body.items.len() != 1 => {
            return Err(ApiError::bad_request(
                "single_item_qa takes exactly one item",
            ));
        }
        "single_item_qa" | "multiple_item_qa" => {}
        other => return Err(ApiError::bad_request(format!("Invalid mode '{other}'"))),
    }
    let docs = docs(&state, &caller, &body.items)?;
    let answer = ai::ask(&body.prompt, &docs);
    let mut out = json!({
        "answer": answer.text,
        "created_at": clock::now(),
        "completion_reason": "done",
        "ai_agent_info": agent_info(),
    });
    if body.include_citations != Some(false)
        && let Some(map) = out.as_object_mut()
    {
        let citations: Vec<Value> = answer
            .citations
            .into_iter()
            .map(|c| json!({"type": "file", "id": c.id, "name": c.name, "content": c.content}))
            .collect();
        map.insert("citations".into(), json!(citations));
    }
    Ok(Json(out))
}

pub async fn extract(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Ai)?;
    let body: ExtractBody = parse_json(&body)?;
    check_prompt(&body.prompt)?;
    let docs = docs(&state, &caller, &body.items)?;
    Ok(Json(json!({
        "answer": ai::extract(&body.prompt, &docs),
        "created_at": clock::now(),
        "completion_reason": "done",
        "ai_agent_info": agent_info(),
    })))
}

pub async fn extract_structured(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Ai)?;
    let body: StructuredBody = parse_json(&body)?;
    let fields: Vec<Field> = match (body.fields, body.metadata_template) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Give either 'fields' or 'metadata_template', not both",
            ));
        }
        (Some(fields), None) if !fields.is_empty() => fields
            .into_iter()
            .map(|f| Field {
                key: f.key,
                display_name: f.display_name,
                prompt: f.prompt,
                kind: f.kind,
                options: f.options.into_iter().map(|o| o.key).collect(),
            })
            .collect(),
        (None, Some(t)) => {
            let store = state.store();
            let scope = store
                .canonical_scope(t.scope.as_deref().unwrap_or("enterprise"))
                .ok_or_else(ApiError::not_found)?;
            let template = store.template(&scope, &t.template_key).ok_or_else(|| {
                ApiError::not_found().with_message("Specified Metadata Template not found")
            })?;
            template
                .fields
                .iter()
                .map(|f| Field {
                    key: f.key.clone(),
                    display_name: Some(f.display_name.clone()),
                    prompt: None,
                    kind: Some(f.kind.clone()),
                    options: f.options.iter().map(|(_, k)| k.clone()).collect(),
                })
                .collect()
        }
        _ => {
            return Err(ApiError::bad_request(
                "One of 'fields' (non-empty) or 'metadata_template' is required",
            ));
        }
    };
    let docs = docs(&state, &caller, &body.items)?;
    let answer = ai::extract_structured(&fields, &docs);
    let mut out = json!({
        "answer": answer,
        "created_at": clock::now(),
        "completion_reason": "done",
        "ai_agent_info": agent_info(),
    });
    if body.include_confidence_score == Some(true)
        && let Some(map) = out.as_object_mut()
    {
        let scores: serde_json::Map<String, Value> = answer
            .iter()
            .map(|(k, v)| {
                let (level, score) = if v.is_null() {
                    ("LOW", 0.0)
                } else {
                    ("HIGH", 1.0)
                };
                (k.clone(), json!({"level": level, "score": score}))
            })
            .collect();
        map.insert("confidence_score".into(), Value::Object(scores));
    }
    Ok(Json(out))
}
