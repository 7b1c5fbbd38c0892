//! What files and folders share: update (rename, move, describe, shared link),
//! copy and delete.

use axum::{
    Json,
    http::{HeaderMap, StatusCode},
};
use serde_json::{Map, Value};

use super::{check_if_match, shared_links, view};
use crate::{
    caller::{Caller, permit},
    error::{ApiError, parse_json},
    paging::Query,
    render::{FILE_STANDARD, FOLDER_STANDARD, Fields, View},
    scopes::Operation,
    state::AppState,
    store::{Container, Item, ItemKind},
};

/// A JSON object body.
pub fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match parse_json::<Value>(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
    }
}

/// An optional string field.
pub fn string_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("'{key}' must be a string"))),
    }
}

/// `parent.id` of a body (ids may be given as strings or numbers).
pub fn parent_id(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(parent) = body.get("parent").filter(|p| !p.is_null()) else {
        return Ok(None);
    };
    match parent.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => Err(ApiError::bad_request("'parent.id' is required")),
    }
}

/// An item with its standard fields (or the requested ones).
pub fn render(view: &View, item: &Item, fields: &Fields) -> Value {
    match item.kind {
        ItemKind::File => view.file(item, fields, FILE_STANDARD),
        ItemKind::Folder => view.folder(item, fields, FOLDER_STANDARD),
    }
}

/// `PUT /files/{id}`, `PUT /folders/{id}`.
pub fn update(
    state: AppState,
    caller: Caller,
    kind: ItemKind,
    id: String,
    q: Query,
    headers: HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let body = object_body(body)?;
    let name = string_field(&body, "name")?;
    let description = string_field(&body, "description")?;
    let parent = parent_id(&body)?;
    let shared = body.get("shared_link");
    let renames = name.is_some() || description.is_some() || parent.is_some();
    if renames {
        caller.require(Operation::Rename)?;
    }
    if shared.is_some() {
        caller.require(Operation::Share)?;
    }
    if !renames && shared.is_none() {
        caller.require(Operation::ReadItem)?;
    }
    let mut store = state.store_mut();
    let (item, access) = caller.item(&store, kind, &id)?;
    check_if_match(&headers, item)?;
    let perms = access.perms();
    let link = match shared {
        Some(value) => {
            permit(perms.share)?;
            Some(shared_links::parse(value, kind, item.shared_link.as_ref())?)
        }
        None => None,
    };
    if renames {
        permit(perms.rename)?;
        let dest = match &parent {
            Some(pid) => {
                let (_, container, dest_perms) = caller.folder(&store, pid)?;
                permit(dest_perms.upload)?;
                Some(container)
            }
            None => None,
        };
        store.update_item(&id, &caller.user, name, description, dest)?;
    }
    if let Some(link) = link {
        store.set_shared_link(&id, link, &caller.user)?;
    }
    let item = store.item(&id).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    Ok(Json(render(
        &view(&state, &store, &caller.user, &headers),
        item,
        &fields,
    )))
}

/// `POST /files/{id}/copy`, `POST /folders/{id}/copy`.
pub fn copy(
    state: AppState,
    caller: Caller,
    kind: ItemKind,
    id: String,
    q: Query,
    headers: HeaderMap,
    body: &[u8],
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::Upload)?;
    let body = object_body(body)?;
    let dest = parent_id(&body)?.ok_or_else(|| ApiError::bad_request("'parent.id' is required"))?;
    let name = string_field(&body, "name")?;
    let mut store = state.store_mut();
    let (_, access) = caller.item(&store, kind, &id)?;
    permit(access.perms().download)?;
    let (_, container, dest_perms) = caller.folder(&store, &dest)?;
    permit(dest_perms.upload)?;
    let new_id = store.copy_item(&id, container, name, &caller.user)?;
    let item = store.item(&new_id).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    let body = render(&view(&state, &store, &caller.user, &headers), item, &fields);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `DELETE /files/{id}`, `DELETE /folders/{id}?recursive=true`.
pub fn delete(
    state: AppState,
    caller: Caller,
    kind: ItemKind,
    id: String,
    q: Query,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require(Operation::Delete)?;
    let mut store = state.store_mut();
    let (item, access) = caller.item(&store, kind, &id)?;
    check_if_match(&headers, item)?;
    permit(access.perms().delete)?;
    store.delete_item(&id, kind == ItemKind::File || q.flag("recursive"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The container a create or upload targets, which the caller must be able to
/// upload into.
pub fn upload_target(
    store: &crate::store::Store,
    caller: &Caller,
    folder_id: &str,
) -> Result<Container, ApiError> {
    let (_, container, perms) = caller.folder(store, folder_id)?;
    permit(perms.upload)?;
    Ok(container)
}
