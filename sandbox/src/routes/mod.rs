//! The Box API routes, one module per area.

mod ai;
mod collaborations;
mod files;
mod folders;
mod items;
mod metadata;
mod search;
mod shared_links;
mod uploads;
mod users;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};

use crate::{
    error::ApiError,
    render::{self, View},
    state::AppState,
    store::{Item, MetadataError, Store, StoreError},
};

/// Largest upload accepted.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// `/2.0/...` and the upload routes under `/api/2.0/...`.
pub fn router() -> Router<AppState> {
    let api = Router::new()
        .route("/users/me", get(users::me))
        .route("/users", get(users::list))
        .route("/folders", post(folders::create))
        .route(
            "/folders/{id}",
            get(folders::get).put(folders::update).delete(folders::delete),
        )
        .route("/folders/{id}/items", get(folders::items))
        .route("/folders/{id}/copy", post(folders::copy))
        .route("/folders/{id}/collaborations", get(collaborations::list_folder))
        .route(
            "/files/{id}",
            get(files::get).put(files::update).delete(files::delete),
        )
        .route("/files/{id}/content", get(files::content))
        .route("/files/{id}/copy", post(files::copy))
        .route("/files/{id}/collaborations", get(collaborations::list_file))
        .route(
            "/internal_files/{id}/versions/{version}/representations/extracted_text",
            get(files::representation_info),
        )
        .route(
            "/internal_files/{id}/versions/{version}/representations/extracted_text/content",
            get(files::extracted_text),
        )
        .route(
            "/internal_files/{id}/versions/{version}/representations/extracted_text/content/",
            get(files::extracted_text),
        )
        .route(
            "/internal_files/{id}/versions/{version}/representations/extracted_text/content/{*asset}",
            get(files::extracted_text_asset),
        )
        .route("/search", get(search::search))
        .route("/ai/ask", post(ai::ask))
        .route("/ai/extract", post(ai::extract))
        .route("/ai/extract_structured", post(ai::extract_structured))
        .route("/files/{id}/metadata", get(metadata::list_file))
        .route("/folders/{id}/metadata", get(metadata::list_folder))
        .route(
            "/files/{id}/metadata/{scope}/{template}",
            get(metadata::get_file)
                .post(metadata::create_file)
                .put(metadata::update_file)
                .delete(metadata::delete_file),
        )
        .route(
            "/folders/{id}/metadata/{scope}/{template}",
            get(metadata::get_folder)
                .post(metadata::create_folder)
                .put(metadata::update_folder)
                .delete(metadata::delete_folder),
        )
        .route("/metadata_templates/enterprise", get(metadata::templates))
        .route(
            "/metadata_templates/{scope}/{template}/schema",
            get(metadata::template_schema),
        )
        .route("/collaborations", post(collaborations::create))
        .route(
            "/collaborations/{id}",
            get(collaborations::get).delete(collaborations::remove),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let upload = Router::new()
        .route("/files/content", post(uploads::upload))
        .route("/files/{id}/content", post(uploads::new_version))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/2.0", api)
        .nest("/api/2.0", upload)
        .route("/_dl/{key}", get(files::download_link))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A view of the store as the caller's acting user sees it.
pub fn view<'a>(
    state: &'a AppState,
    store: &'a Store,
    user: &'a str,
    headers: &'a HeaderMap,
) -> View<'a> {
    View {
        store,
        viewer: user,
        base_url: &state.base_url,
        rep_hints: headers.get("x-rep-hints").and_then(|v| v.to_str().ok()),
    }
}

/// `If-Match`: 412 when it names another version of the item.
pub fn check_if_match(headers: &HeaderMap, item: &Item) -> Result<(), ApiError> {
    match headers.get("if-match").and_then(|v| v.to_str().ok()) {
        Some(tag) if tag.trim().trim_matches('"') != item.etag() => {
            Err(ApiError::precondition_failed())
        }
        _ => Ok(()),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameInvalid(m) => ApiError::item_name_invalid(m),
            StoreError::NameInUse(conflict) => {
                ApiError::item_name_in_use(vec![render::mini(&conflict)])
            }
            StoreError::FolderNotEmpty => ApiError::new(
                StatusCode::BAD_REQUEST,
                "folder_not_empty",
                "Cannot delete – folder not empty",
            ),
            StoreError::IntoItself => {
                ApiError::bad_request("An item cannot be moved or copied into itself")
            }
            StoreError::NotFound => ApiError::not_found(),
        }
    }
}

impl From<MetadataError> for ApiError {
    fn from(e: MetadataError) -> Self {
        let message = e.to_string();
        match e {
            MetadataError::TemplateNotFound => ApiError::not_found().with_message(message),
            MetadataError::InstanceNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "instance_not_found", message)
            }
            MetadataError::AlreadyExists => {
                ApiError::new(StatusCode::CONFLICT, "tuple_already_exists", message)
            }
            MetadataError::Invalid(_) => ApiError::bad_request(message),
            MetadataError::TestFailed(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
        }
    }
}
