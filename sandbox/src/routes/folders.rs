//! Folders: get, items, create, update, copy, delete.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
};
use serde_json::{Value, json};

use super::{items, view};
use crate::{
    caller::{Caller, Target},
    error::ApiError,
    paging::{Limits, Page, Query},
    render::{FOLDER_STANDARD, Fields, sort_items},
    scopes::Operation,
    state::AppState,
    store::{ItemKind, NewItem},
};

const LIMITS: Limits = Limits {
    default: 100,
    max: 1000,
    strict: false,
    markers: true,
};

/// `GET /folders/{id}` (`0` is the acting user's root).
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadItem)?;
    let q = Query::parse(q.as_deref());
    let store = state.store();
    let (target, _, _) = caller.folder(&store, &id)?;
    let fields = Fields::parse(q.get("fields"));
    let view = view(&state, &store, &caller.user, &headers);
    Ok(Json(match target {
        Target::Root => view.root(&fields, FOLDER_STANDARD),
        Target::Item(item) => view.folder(item, &fields, FOLDER_STANDARD),
    }))
}

/// `GET /folders/{id}/items`
pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadItem)?;
    let q = Query::parse(q.as_deref());
    let page = Page::parse(&q, &LIMITS)?;
    let store = state.store();
    let (_, container, _) = caller.folder(&store, &id)?;
    let view = view(&state, &store, &caller.user, &headers);
    let mut entries = view.entries(&container);
    let sort = q.get("sort");
    let descending = q
        .get("direction")
        .is_some_and(|d| d.eq_ignore_ascii_case("DESC"));
    if let Some(by) = sort {
        if !matches!(by, "id" | "name" | "date" | "size") {
            return Err(ApiError::bad_request(format!("Invalid sort field '{by}'")));
        }
        sort_items(&mut entries, by, descending);
    } else if descending {
        sort_items(&mut entries, "name", true);
    }
    let (entries, mut body) = page.apply(entries);
    let fields = Fields::parse(q.get("fields"));
    let rendered: Vec<Value> = entries.iter().map(|i| view.listed(i, &fields)).collect();
    body.insert("entries".into(), json!(rendered));
    let direction = if descending { "DESC" } else { "ASC" };
    let order = match sort {
        Some(by) => json!([{"by": by, "direction": direction}]),
        None => json!([{"by": "type", "direction": "ASC"}, {"by": "name", "direction": direction}]),
    };
    body.insert("order".into(), order);
    Ok(Json(Value::Object(body)))
}

/// `POST /folders {name, parent: {id}}`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::Upload)?;
    let q = Query::parse(q.as_deref());
    let body = items::object_body(&body)?;
    let name = items::string_field(&body, "name")?
        .ok_or_else(|| ApiError::bad_request("'name' is required"))?;
    let parent =
        items::parent_id(&body)?.ok_or_else(|| ApiError::bad_request("'parent.id' is required"))?;
    let mut store = state.store_mut();
    let container = items::upload_target(&store, &caller, &parent)?;
    let id = store.create(NewItem {
        kind: ItemKind::Folder,
        name,
        parent: container,
        by: caller.user.clone(),
        description: items::string_field(&body, "description")?.unwrap_or_default(),
        content: None,
        content_created_at: None,
        content_modified_at: None,
    })?;
    let item = store.item(&id).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    let body = view(&state, &store, &caller.user, &headers).folder(item, &fields, FOLDER_STANDARD);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `PUT /folders/{id}`
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if id == "0" {
        return Err(ApiError::forbidden("The root folder cannot be changed"));
    }
    let q = Query::parse(q.as_deref());
    items::update(state, caller, ItemKind::Folder, id, q, headers, &body)
}

/// `POST /folders/{id}/copy`
pub async fn copy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if id == "0" {
        return Err(ApiError::forbidden("The root folder cannot be copied"));
    }
    let q = Query::parse(q.as_deref());
    items::copy(state, caller, ItemKind::Folder, id, q, headers, &body)
}

/// `DELETE /folders/{id}?recursive=true`
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if id == "0" {
        return Err(ApiError::forbidden("The root folder cannot be deleted"));
    }
    let q = Query::parse(q.as_deref());
    items::delete(state, caller, ItemKind::Folder, id, q, headers)
}
