//! Files: get (with the extracted-text representation), content, update, copy,
//! delete, and the representation and download-link endpoints.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{items, view};
use crate::{
    caller::{Caller, permit},
    downloads::DownloadMode,
    error::ApiError,
    paging::Query,
    render::{FILE_STANDARD, Fields},
    scopes::Operation,
    state::AppState,
    store::{ItemKind, Store},
};

/// `GET /files/{id}`
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
    let (item, _) = caller.item(&store, ItemKind::File, &id)?;
    let fields = Fields::parse(q.get("fields"));
    Ok(Json(view(&state, &store, &caller.user, &headers).file(
        item,
        &fields,
        FILE_STANDARD,
    )))
}

fn bytes_response(content: Bytes, content_type: &'static str, filename: Option<&str>) -> Response {
    let mut response = (StatusCode::OK, content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(value) = filename
        .map(|n| format!("attachment; filename=\"{}\"", n.replace(['"', '\\'], "_")))
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `GET /files/{id}/content`: the bytes, or a 302 to a pre-authorised link when the
/// download mode is `redirect`.
pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Operation::Download)?;
    let (content, name) = {
        let store = state.store();
        let (item, access) = caller.item(&store, ItemKind::File, &id)?;
        permit(access.perms().download)?;
        let content = item
            .file
            .as_ref()
            .map(|f| f.content.clone())
            .unwrap_or_default();
        (content, item.name.clone())
    };
    let mut downloads = state.downloads();
    if downloads.mode == DownloadMode::Redirect {
        let key = downloads.link(content);
        let location = format!("{}/_dl/{key}", state.base_url);
        let mut response = StatusCode::FOUND.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(response);
    }
    Ok(bytes_response(
        content,
        "application/octet-stream",
        Some(&name),
    ))
}

/// `GET /_dl/{key}`: a pre-authorised download link (like dl.boxcloud.com).
pub async fn download_link(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let content = state
        .downloads()
        .get(&key)
        .ok_or_else(ApiError::not_found)?;
    Ok(bytes_response(content, "application/octet-stream", None))
}

/// The file a representation URL names, if the caller may download it and the
/// version is current.
fn text_for(store: &Store, caller: &Caller, id: &str, version: &str) -> Result<String, ApiError> {
    let (item, access) = caller.item(store, ItemKind::File, id)?;
    permit(access.perms().download)?;
    let current = item.file.as_ref().is_some_and(|f| f.version_id == version);
    if !current {
        return Err(ApiError::not_found());
    }
    Store::text_of(item)
        .map(str::to_string)
        .ok_or_else(ApiError::not_found)
}

/// `GET …/representations/extracted_text/content/` (the `url_template` with an
/// empty `{+asset_path}`).
pub async fn extracted_text(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Operation::Download)?;
    let text = text_for(&state.store(), &caller, &id, &version)?;
    Ok(bytes_response(
        Bytes::from(text.into_bytes()),
        "text/plain; charset=utf-8",
        None,
    ))
}

/// `GET …/extracted_text/content/{asset}`: extracted text has one asset, the text.
pub async fn extracted_text_asset(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version, asset)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if !asset.is_empty() && asset != "text.txt" {
        return Err(ApiError::not_found());
    }
    extracted_text(State(state), caller, Path((id, version))).await
}

/// `GET …/representations/extracted_text`: the representation's status.
pub async fn representation_info(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Download)?;
    text_for(&state.store(), &caller, &id, &version)?;
    let base = format!(
        "{}/2.0/internal_files/{id}/versions/{version}/representations/extracted_text",
        state.base_url
    );
    Ok(Json(json!({
        "representation": "extracted_text",
        "properties": {},
        "info": {"url": base},
        "status": {"state": "success"},
        "content": {"url_template": format!("{base}/content/{{+asset_path}}")},
    })))
}

/// `PUT /files/{id}`
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let q = Query::parse(q.as_deref());
    items::update(state, caller, ItemKind::File, id, q, headers, &body)
}

/// `POST /files/{id}/copy`
pub async fn copy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let q = Query::parse(q.as_deref());
    items::copy(state, caller, ItemKind::File, id, q, headers, &body)
}

/// `DELETE /files/{id}`
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let q = Query::parse(q.as_deref());
    items::delete(state, caller, ItemKind::File, id, q, headers)
}
