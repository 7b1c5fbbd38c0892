//! Box's OAuth endpoints: `POST /oauth2/token` (client credentials, JWT bearer,
//! token exchange, and the user grants: authorization code and refresh token),
//! `POST /oauth2/revoke`, with Box's form fields and `OAuth2Error` answers, and the
//! user sign-in pages of `/api/oauth2/authorize`.

pub mod authorize;
mod ccg;
mod exchange;
mod jwt;
mod user;

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    render,
    request_log::OAuthInfo,
    scopes::RESOURCE_SCOPES,
    seed::AppAuth,
    state::AppState,
    store::{App, Store},
    tokens::{self, SubjectType, TokenKind, TokenRecord},
};

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// An error answered in Box's `OAuth2Error` shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }

    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "The client credentials are invalid")
    }

    pub fn unauthorized_client() -> Self {
        Self::new(
            "unauthorized_client",
            "The grant type is unauthorized for this client_id",
        )
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", d)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// The decoded form body.
pub struct Form(HashMap<String, String>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form_type {
            return Err(OAuthError::invalid_request(
                "The request must be application/x-www-form-urlencoded",
            ));
        }
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter '{k}' is repeated"
                )));
            }
        }
        Ok(Form(map))
    }

    /// A non-empty parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key).ok_or_else(|| {
            OAuthError::invalid_request(format!("The '{key}' parameter is required"))
        })
    }
}

/// A freshly issued token.
pub struct Issued {
    pub raw: String,
    pub record: TokenRecord,
    /// The new refresh token, for the user grants.
    pub refresh_token: Option<String>,
}

/// Check the client's id and secret, and that the app uses this grant.
fn authenticate(store: &Store, form: &Form, auth: AppAuth) -> Result<App, OAuthError> {
    let id = form
        .get("client_id")
        .ok_or_else(OAuthError::invalid_client)?;
    let secret = form
        .get("client_secret")
        .ok_or_else(OAuthError::invalid_client)?;
    let app = store.app(id).ok_or_else(OAuthError::invalid_client)?;
    let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
        app.client_secret.as_bytes(),
        secret.as_bytes(),
    )
    .is_ok();
    if !equal {
        return Err(OAuthError::invalid_client());
    }
    if app.auth != auth {
        return Err(OAuthError::unauthorized_client());
    }
    Ok(app.clone())
}

/// The user a parent token is for: the service account for the app's enterprise,
/// or a managed user when the app may generate user tokens.
fn resolve_subject(
    store: &Store,
    app: &App,
    subject_type: Option<&str>,
    subject_id: Option<&str>,
) -> Result<(SubjectType, String), OAuthError> {
    let invalid = || OAuthError::invalid_grant("Grant credentials are invalid");
    match subject_type {
        Some("enterprise") => {
            if subject_id != Some(store.enterprise_id.as_str()) {
                return Err(invalid());
            }
            Ok((SubjectType::Enterprise, store.service_account.clone()))
        }
        Some("user") => {
            if !app.user_tokens {
                return Err(OAuthError::invalid_grant(
                    "This app is not configured to generate user access tokens",
                ));
            }
            let user = subject_id
                .and_then(|id| store.user(id))
                .filter(|u| !u.service_account && u.is_managed())
                .ok_or_else(invalid)?;
            Ok((SubjectType::User, user.id.clone()))
        }
        Some(_) => Err(OAuthError::invalid_request(
            "box_subject_type must be 'enterprise' or 'user'",
        )),
        None => Err(OAuthError::invalid_request(
            "The 'box_subject_type' parameter is required",
        )),
    }
}

/// The `AccessToken` body of a successful grant.
fn token_body(store: &Store, issued: &Issued) -> Value {
    let r = &issued.record;
    let restricted: Vec<Value> = match (&r.restricted_to, r.kind) {
        (Some(res), TokenKind::Downscoped) => match store.item(&res.id) {
            Some(item) => r
                .scopes
                .iter()
                .filter(|s| RESOURCE_SCOPES.contains(&s.as_str()))
                .map(|s| json!({"scope": s, "object": render::mini(item)}))
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut body = json!({
        "access_token": issued.raw,
        "expires_in": r.expires_in(),
        "token_type": "bearer",
        "restricted_to": restricted,
    });
    if let Some(map) = body.as_object_mut() {
        if r.kind == TokenKind::Downscoped {
            map.insert("issued_token_type".into(), json!(ACCESS_TOKEN_TYPE));
        }
        if let Some(refresh) = &issued.refresh_token {
            map.insert("refresh_token".into(), json!(refresh));
        }
    }
    body
}

fn describe(form: &Form, info: &mut OAuthInfo) {
    let s = |k: &str| form.get(k).map(str::to_string);
    info.grant_type = s("grant_type");
    info.client_id = s("client_id");
    info.box_subject_type = s("box_subject_type");
    info.box_subject_id = s("box_subject_id");
    info.scope = form
        .get("scope")
        .map(|v| v.split_whitespace().map(str::to_string).collect());
    info.resource = s("resource");
    info.box_shared_link = s("box_shared_link");
    info.subject_token = form.get("subject_token").map(tokens::fingerprint);
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /oauth2/token`
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut info = OAuthInfo {
        endpoint: "token",
        ..OAuthInfo::default()
    };
    let result = Form::parse(&headers, &body).and_then(|form| {
        describe(&form, &mut info);
        match form.require("grant_type")? {
            GRANT_CLIENT_CREDENTIALS => ccg::grant(&state, &form),
            GRANT_JWT => jwt::grant(&state, &form, &mut info),
            GRANT_TOKEN_EXCHANGE => exchange::grant(&state, &form),
            "authorization_code" => user::authorization_code(&state, &form, &mut info),
            "refresh_token" => user::refresh_token(&state, &form, &mut info),
            other => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("The grant type '{other}' is not supported"),
            )),
        }
    });
    let response = match result {
        Ok(issued) => {
            info.issued_token = Some(issued.record.fingerprint.clone());
            info.issued_kind = Some(issued.record.kind);
            info.issued_scopes = Some(issued.record.scopes.iter().cloned().collect());
            info.issued_restricted_to = issued.record.restricted_to.clone();
            let body = token_body(&state.store(), &issued);
            Json(body).into_response()
        }
        Err(e) => {
            info.error = Some(e.error.to_string());
            e.into_response()
        }
    };
    let mut response = no_store(response);
    response.extensions_mut().insert(info);
    response
}

/// `POST /oauth2/revoke`
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut info = OAuthInfo {
        endpoint: "revoke",
        ..OAuthInfo::default()
    };
    let result = Form::parse(&headers, &body).and_then(|form| {
        info.client_id = form.get("client_id").map(str::to_string);
        let store = state.store();
        let id = form
            .get("client_id")
            .ok_or_else(OAuthError::invalid_client)?;
        let app = store.app(id).ok_or_else(OAuthError::invalid_client)?;
        if form.get("client_secret") != Some(app.client_secret.as_str()) {
            return Err(OAuthError::invalid_client());
        }
        drop(store);
        let token = form.require("token")?;
        info.revoked_token = Some(tokens::fingerprint(token));
        // A token of a user grant (access or refresh) ends the whole grant, as Box
        // revokes both tokens of a pair.
        let grant = state.grants().grant_of_token(token);
        if let Some(grant) = grant {
            let revoked = state.grants().revoke_grant(grant);
            state.revoke_access_tokens(&revoked);
        }
        state.tokens().revoke(token);
        Ok(())
    });
    let response = match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            info.error = Some(e.error.to_string());
            e.into_response()
        }
    };
    let mut response = no_store(response);
    response.extensions_mut().insert(info);
    response
}

/// Issue a parent token for `app`'s subject.
fn issue_parent(state: &AppState, app: &App, subject: (SubjectType, String)) -> Issued {
    let (subject_type, user) = subject;
    let (raw, record) = state.tokens().issue(tokens::Grant {
        kind: TokenKind::Parent,
        client_id: app.client_id.clone(),
        subject_type,
        user,
        scopes: app.scopes.clone(),
        restricted_to: None,
        ttl: state.token_ttl,
        parent: None,
        as_user_allowed: app.as_user,
    });
    Issued {
        raw,
        record,
        refresh_token: None,
    }
}
