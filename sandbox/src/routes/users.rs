//! `GET /users/me` and `GET /users?filter_term=`.

use axum::{
    Json,
    extract::{RawQuery, State},
};
use serde_json::{Value, json};

use crate::{
    caller::Caller,
    error::ApiError,
    paging::{Limits, Page, Query},
    render::{self, Fields, USER_STANDARD},
    scopes::Operation,
    state::AppState,
};

const LIMITS: Limits = Limits {
    default: 100,
    max: 1000,
    strict: false,
    markers: true,
};

/// `GET /users/me`: the acting user.
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::CurrentUser)?;
    let q = Query::parse(q.as_deref());
    let store = state.store();
    let user = store.user(&caller.user).ok_or_else(ApiError::not_found)?;
    let fields = Fields::parse(q.get("fields"));
    Ok(Json(render::user(
        &store,
        &state.base_url,
        user,
        &fields,
        USER_STANDARD,
    )))
}

/// `GET /users`: the enterprise's managed users, for the service account or an admin.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Operation::FindUsers)?;
    let q = Query::parse(q.as_deref());
    let store = state.store();
    if !caller.is_admin(&store) {
        return Err(ApiError::access_denied());
    }
    let page = Page::parse(&q, &LIMITS)?;
    let term = q.get("filter_term").unwrap_or("").to_lowercase();
    let include_all = q.get("user_type") == Some("all");
    let users: Vec<_> = store
        .users
        .values()
        .filter(|u| u.is_managed())
        .filter(|u| include_all || !u.service_account)
        .filter(|u| {
            term.is_empty()
                || u.login.to_lowercase().starts_with(&term)
                || u.name.to_lowercase().starts_with(&term)
                || u.name
                    .to_lowercase()
                    .split_whitespace()
                    .any(|w| w.starts_with(&term))
        })
        .collect();
    let (users, mut body) = page.apply(users);
    let fields = Fields::parse(q.get("fields"));
    let entries: Vec<Value> = users
        .into_iter()
        .map(|u| render::user(&store, &state.base_url, u, &fields, USER_STANDARD))
        .collect();
    body.insert("entries".into(), json!(entries));
    Ok(Json(Value::Object(body)))
}
