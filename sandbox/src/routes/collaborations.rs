//! Collaborations: list on a folder or file, add, get, remove.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use serde_json::{Value, json};

use super::items::{object_body, string_field};
use crate::{
    caller::{Caller, permit},
    error::ApiError,
    paging::{Limits, Page, Query},
    render,
    scopes::Operation,
    state::AppState,
    store::{ItemKind, Role},
};

const LIMITS: Limits = Limits {
    default: 100,
    max: 1000,
    strict: false,
    markers: true,
};

fn list(
    state: &AppState,
    caller: &Caller,
    kind: ItemKind,
    id: &str,
    q: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Share)?;
    let q = Query::parse(q);
    let page = Page::parse_markers(&q, &LIMITS)?;
    let store = state.store();
    let (_, access) = caller.item(&store, kind, id)?;
    permit(access.perms().preview)?;
    let (collabs, mut body) = page.apply(store.collaborations_on(id));
    let entries: Vec<Value> = collabs
        .into_iter()
        .map(|c| render::collaboration(&store, c))
        .collect();
    body.insert("entries".into(), json!(entries));
    Ok(Json(Value::Object(body)))
}

/// `GET /folders/{id}/collaborations`
pub async fn list_folder(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    list(&s, &c, ItemKind::Folder, &id, q.as_deref())
}

/// `GET /files/{id}/collaborations`
pub async fn list_file(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    list(&s, &c, ItemKind::File, &id, q.as_deref())
}

/// `POST /collaborations {item: {type, id}, accessible_by: {type: user, id | login}, role}`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Operation::Share)?;
    let body = object_body(&body)?;
    let item = body
        .get("item")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("'item' is required"))?;
    let kind = string_field(item, "type")?
        .as_deref()
        .and_then(ItemKind::parse)
        .ok_or_else(|| ApiError::bad_request("'item.type' must be file or folder"))?;
    let item_id =
        string_field(item, "id")?.ok_or_else(|| ApiError::bad_request("'item.id' is required"))?;
    let grantee = body
        .get("accessible_by")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("'accessible_by' is required"))?;
    match string_field(grantee, "type")?.as_deref() {
        Some("user") => {}
        Some("group") => {
            return Err(
                ApiError::not_found().with_message("Groups are not emulated by box-sandbox")
            );
        }
        _ => {
            return Err(ApiError::bad_request(
                "'accessible_by.type' must be user or group",
            ));
        }
    }
    let role_name =
        string_field(&body, "role")?.ok_or_else(|| ApiError::bad_request("'role' is required"))?;
    let role = Role::parse(&role_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "'role' must be one of: {}",
            render::role_names().join(", ")
        ))
    })?;
    let mut store = state.store_mut();
    let (target, access) = caller.item(&store, kind, &item_id)?;
    permit(access.perms().invite)?;
    let owner = target.owner.clone();
    let user = match (
        string_field(grantee, "id")?,
        string_field(grantee, "login")?,
    ) {
        (Some(id), _) => store.user(&id),
        (None, Some(login)) => store
            .users
            .values()
            .find(|u| u.login.eq_ignore_ascii_case(&login)),
        (None, None) => {
            return Err(ApiError::bad_request(
                "'accessible_by.id' or 'accessible_by.login' is required",
            ));
        }
    }
    .ok_or_else(|| {
        ApiError::not_found().with_message(
            "The user is not in this enterprise (external invitations are not emulated)",
        )
    })?
    .id
    .clone();
    if user == owner
        || store
            .collaborations_on(&item_id)
            .iter()
            .any(|c| c.user == user)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user_already_collaborator",
            "User is already a collaborator",
        ));
    }
    let id = store.add_collaboration(&item_id, &user, role, &caller.user);
    let collab = store
        .collaborations
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(render::collaboration(&store, collab)),
    ))
}

/// `GET /collaborations/{id}`
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::Share)?;
    let store = state.store();
    let collab = store
        .collaborations
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    let kind = store
        .item(&collab.item)
        .map(|i| i.kind)
        .ok_or_else(ApiError::not_found)?;
    caller.item(&store, kind, &collab.item)?;
    Ok(Json(render::collaboration(&store, collab)))
}

/// `DELETE /collaborations/{id}`: by someone who may invite on the item, or by the
/// collaborator themselves.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Operation::Share)?;
    let mut store = state.store_mut();
    let collab = store
        .collaborations
        .get(&id)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let kind = store
        .item(&collab.item)
        .map(|i| i.kind)
        .ok_or_else(ApiError::not_found)?;
    let (_, access) = caller.item(&store, kind, &collab.item)?;
    permit(access.perms().invite || collab.user == caller.user)?;
    store.remove_collaboration(&id);
    Ok(StatusCode::NO_CONTENT)
}
