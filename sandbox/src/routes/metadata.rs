//! Metadata instances on files and folders, and the enterprise's templates.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
};
use serde_json::{Value, json};

use crate::{
    caller::{Caller, permit},
    error::{ApiError, parse_json},
    paging::{Limits, Page, Query},
    render,
    scopes::Operation,
    state::AppState,
    store::{ItemKind, PatchOp, Store},
};

fn scope_of(store: &Store, scope: &str) -> Result<String, ApiError> {
    store
        .canonical_scope(scope)
        .ok_or_else(|| ApiError::not_found().with_message("Specified Metadata Template not found"))
}

fn list(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadMetadata)?;
    let store = state.store();
    let (_, access) = caller.item(&store, kind, id)?;
    let can_edit = access.perms().upload;
    let entries: Vec<Value> = store
        .metadata_on(id)
        .into_iter()
        .map(|m| render::metadata_instance(&store, m, can_edit))
        .collect();
    Ok(Json(json!({"entries": entries, "limit": 100})))
}

fn get(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    (id, scope, template): (String, String, String),
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadMetadata)?;
    let store = state.store();
    let (_, access) = caller.item(&store, kind, &id)?;
    let scope = scope_of(&store, &scope)?;
    let instance = store.metadata_instance(&id, &scope, &template)?;
    Ok(Json(render::metadata_instance(
        &store,
        instance,
        access.perms().upload,
    )))
}

fn create(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    (id, scope, template): (String, String, String),
    body: &[u8],
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::WriteMetadata)?;
    let values = match parse_json::<Value>(body)? {
        Value::Object(m) => m,
        _ => return Err(ApiError::bad_request("The body must be a JSON object")),
    };
    let mut store = state.store_mut();
    let (_, access) = caller.item(&store, kind, &id)?;
    permit(access.perms().upload)?;
    let scope = scope_of(&store, &scope)?;
    let instance = store
        .create_metadata(&id, &scope, &template, values)?
        .clone();
    Ok((
        StatusCode::CREATED,
        Json(render::metadata_instance(&store, &instance, true)),
    ))
}

fn update(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    (id, scope, template): (String, String, String),
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::WriteMetadata)?;
    let patch_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/json-patch+json"));
    if !patch_type {
        return Err(ApiError::bad_request(
            "Metadata updates must be sent as application/json-patch+json",
        ));
    }
    let ops: Vec<PatchOp> = parse_json(body)?;
    let mut store = state.store_mut();
    let (_, access) = caller.item(&store, kind, &id)?;
    permit(access.perms().upload)?;
    let scope = scope_of(&store, &scope)?;
    let instance = store.patch_metadata(&id, &scope, &template, &ops)?.clone();
    Ok(Json(render::metadata_instance(&store, &instance, true)))
}

fn delete(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    (id, scope, template): (String, String, String),
) -> Result<StatusCode, ApiError> {
    caller.require(Operation::WriteMetadata)?;
    let mut store = state.store_mut();
    let (_, access) = caller.item(&store, kind, &id)?;
    permit(access.perms().upload)?;
    let scope = scope_of(&store, &scope)?;
    store.delete_metadata(&id, &scope, &template)?;
    Ok(StatusCode::NO_CONTENT)
}

type Key = Path<(String, String, String)>;

pub async fn list_file(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    list(&s, &c, ItemKind::File, &id)
}
pub async fn list_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    list(&s, &c, ItemKind::Folder, &id)
}
pub async fn get_file(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
) -> Result<Json<Value>, ApiError> {
    get(&s, &c, ItemKind::File, k)
}
pub async fn get_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
) -> Result<Json<Value>, ApiError> {
    get(&s, &c, ItemKind::Folder, k)
}
pub async fn create_file(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&s, &c, ItemKind::File, k, &body)
}
pub async fn create_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create(&s, &c, ItemKind::Folder, k, &body)
}
pub async fn update_file(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
    h: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    update(&s, &c, ItemKind::File, k, &h, &body)
}
pub async fn update_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
    h: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    update(&s, &c, ItemKind::Folder, k, &h, &body)
}
pub async fn delete_file(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
) -> Result<StatusCode, ApiError> {
    delete(&s, &c, ItemKind::File, k)
}
pub async fn delete_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(k): Key,
) -> Result<StatusCode, ApiError> {
    delete(&s, &c, ItemKind::Folder, k)
}

const TEMPLATE_LIMITS: Limits = Limits {
    default: 100,
    max: 1000,
    strict: false,
    markers: true,
};

/// `GET /metadata_templates/enterprise`
pub async fn templates(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadMetadata)?;
    let q = Query::parse(q.as_deref());
    let page = Page::parse_markers(&q, &TEMPLATE_LIMITS)?;
    let store = state.store();
    let (templates, mut body) = page.apply(store.templates.iter().collect::<Vec<_>>());
    let entries: Vec<Value> = templates
        .into_iter()
        .map(|t| render::template(&store, t))
        .collect();
    body.insert("entries".into(), json!(entries));
    Ok(Json(Value::Object(body)))
}

/// `GET /metadata_templates/{scope}/{template}/schema`
pub async fn template_schema(
    State(state): State<AppState>,
    caller: Caller,
    Path((scope, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::ReadMetadata)?;
    let store = state.store();
    let scope = scope_of(&store, &scope)?;
    let template = store.template(&scope, &key).ok_or_else(|| {
        ApiError::not_found().with_message("Specified Metadata Template not found")
    })?;
    Ok(Json(render::template(&store, template)))
}
