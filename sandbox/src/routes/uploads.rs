//! Uploads at the upload base (`/api/2.0`): a new file, or a new version of a file.
//! Multipart, with the `attributes` part before the `file` part (Box answers 400
//! `metadata_after_file_contents` otherwise).

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, RawQuery, Request, State},
    http::{HeaderMap, StatusCode},
};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{check_if_match, items, view};
use crate::{
    caller::{Caller, permit},
    error::ApiError,
    paging::Query,
    render::{FILE_STANDARD, Fields},
    scopes::Operation,
    state::AppState,
    store::{ItemKind, NewItem},
};

/// The parts of an upload.
struct Upload {
    attributes: Option<Map<String, Value>>,
    file: Bytes,
}

fn multipart_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid multipart body: {e}"))
}

async fn read_upload(state: &AppState, req: Request) -> Result<Upload, ApiError> {
    let mut multipart = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::bad_request(format!("The upload must be multipart/form-data: {e}"))
    })?;
    let mut attributes = None;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("attributes") => {
                if file.is_some() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "metadata_after_file_contents",
                        "The 'attributes' part must come before the 'file' part",
                    ));
                }
                let text = field.text().await.map_err(multipart_error)?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => attributes = Some(m),
                    _ => {
                        return Err(ApiError::bad_request(
                            "The 'attributes' part must be a JSON object",
                        ));
                    }
                }
            }
            Some("file") => {
                if file.is_some() {
                    return Err(ApiError::bad_request("Only one 'file' part is allowed"));
                }
                file = Some(field.bytes().await.map_err(multipart_error)?);
            }
            _ => {
                // Box ignores other parts.
                field.bytes().await.map_err(multipart_error)?;
            }
        }
    }
    let file =
        file.ok_or_else(|| ApiError::bad_request("API upload did not contain a file part"))?;
    Ok(Upload { attributes, file })
}

fn files_body(entry: Value) -> Json<Value> {
    Json(json!({"total_count": 1, "entries": [entry]}))
}

/// `POST /api/2.0/files/content`
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::Upload)?;
    let q = Query::parse(q.as_deref());
    let upload = read_upload(&state, req).await?;
    let attributes = upload
        .attributes
        .ok_or_else(|| ApiError::bad_request("API upload did not contain an attributes part"))?;
    let name = items::string_field(&attributes, "name")?
        .ok_or_else(|| ApiError::bad_request("'attributes.name' is required"))?;
    let parent = items::parent_id(&attributes)?
        .ok_or_else(|| ApiError::bad_request("'attributes.parent.id' is required"))?;
    let mut store = state.store_mut();
    let container = items::upload_target(&store, &caller, &parent)?;
    let id = store.create(NewItem {
        kind: ItemKind::File,
        name,
        parent: container,
        by: caller.user.clone(),
        description: items::string_field(&attributes, "description")?.unwrap_or_default(),
        content: Some(upload.file),
        content_created_at: items::string_field(&attributes, "content_created_at")?,
        content_modified_at: items::string_field(&attributes, "content_modified_at")?,
    })?;
    let item = store.item(&id).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    let entry = view(&state, &store, &caller.user, &headers).file(item, &fields, FILE_STANDARD);
    Ok((StatusCode::CREATED, files_body(entry)))
}

/// `POST /api/2.0/files/{id}/content` (optionally with `If-Match`).
pub async fn new_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::Upload)?;
    let q = Query::parse(q.as_deref());
    {
        // Check before reading the body, as Box does.
        let store = state.store();
        let (item, access) = caller.item(&store, ItemKind::File, &id)?;
        check_if_match(&headers, item)?;
        permit(access.perms().upload)?;
    }
    let upload = read_upload(&state, req).await?;
    let name = match &upload.attributes {
        Some(a) => items::string_field(a, "name")?,
        None => None,
    };
    let mut store = state.store_mut();
    let (item, _) = caller.item(&store, ItemKind::File, &id)?;
    check_if_match(&headers, item)?;
    store.new_version(&id, upload.file, name, &caller.user)?;
    let item = store.item(&id).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    let entry = view(&state, &store, &caller.user, &headers).file(item, &fields, FILE_STANDARD);
    Ok((StatusCode::CREATED, files_body(entry)))
}
