//! `GET|POST /api/oauth2/authorize`: Box's sign-in and consent for OAuth 2.0 apps,
//! as plain HTML forms a headless test can fill in.
//!
//! 1. `GET` with `response_type=code`, `client_id`, `redirect_uri`, `state`, `scope`:
//!    the request is checked, then a login form for the seeded users.
//! 2. `POST action=login` with `login` and `password` (plus the request again):
//!    a consent page listing the app's scopes, carrying a one-use ticket.
//! 3. `POST action=grant|deny` with the ticket: a redirect to `redirect_uri` with
//!    `code` and `state`, or with `error=access_denied`.
//!
//! An unknown client or a redirect URI that is not registered for it is answered
//! with an error page and never redirected (RFC 6749 §4.1.2.1); other errors are
//! redirected to the client with `error` and `state`.

use std::collections::BTreeSet;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use html_escape::encode_double_quoted_attribute as esc;
use url::Url;

use crate::{grants::AuthRequest, request_log::OAuthInfo, seed::AppAuth, state::AppState};

/// A refusal of the authorize endpoint.
enum Refusal {
    /// Shown to the user; the client cannot be trusted with a redirect.
    Page(StatusCode, String),
    /// Sent back to the client: `error` (RFC 6749 §4.1.2.1) and a description.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl Refusal {
    fn error(&self) -> String {
        match self {
            Refusal::Page(..) => "invalid_request".into(),
            Refusal::Redirect { error, .. } => (*error).into(),
        }
    }

    fn into_response(self) -> Response {
        match self {
            Refusal::Page(status, message) => {
                let body = page("Box sign-in", &format!("<p>{}</p>", esc(&message)));
                (status, Html(body)).into_response()
            }
            Refusal::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => redirect(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description.as_str())),
                    ("state", state.as_deref()),
                ],
            ),
        }
    }
}

/// Query or form parameters; a repeated parameter is refused.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Result<Params, Refusal> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(Refusal::Page(
                    StatusCode::BAD_REQUEST,
                    format!("The parameter '{k}' is repeated."),
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Checks an authorization request against the app's registration.
fn check_request(state: &AppState, p: &Params) -> Result<AuthRequest, Refusal> {
    let store = state.store();
    let bad_page = |m: &str| Refusal::Page(StatusCode::BAD_REQUEST, m.to_string());
    let client_id = p
        .get("client_id")
        .ok_or_else(|| bad_page("The client_id parameter is required."))?;
    let app = store
        .app(client_id)
        .filter(|a| a.auth == AppAuth::OAuth2)
        .ok_or_else(|| bad_page("No OAuth 2.0 app has this client_id."))?;
    let (redirect_uri, given) = match p.get("redirect_uri") {
        Some(uri) if app.redirect_uris.iter().any(|r| r == uri) => (uri.to_string(), true),
        Some(_) => {
            return Err(bad_page(
                "The redirect_uri is not registered for this app (it must match exactly).",
            ));
        }
        None => match app.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => return Err(bad_page("The redirect_uri parameter is required.")),
        },
    };
    let client_state = p.get("state").map(str::to_string);
    let to_client = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
        description,
    };
    if p.get("response_type") != Some("code") {
        return Err(to_client(
            "unsupported_response_type",
            "response_type must be 'code'".into(),
        ));
    }
    let scopes: BTreeSet<String> = match p.get("scope") {
        None => app.scopes.clone(),
        Some(list) => list.split_whitespace().map(str::to_string).collect(),
    };
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !app.scopes.contains(*s))
        .collect();
    if !unknown.is_empty() || scopes.is_empty() {
        return Err(to_client(
            "invalid_scope",
            format!(
                "The app is not configured for the scopes: {}",
                unknown.join(" ")
            ),
        ));
    }
    Ok(AuthRequest {
        client_id: client_id.to_string(),
        redirect_uri,
        redirect_uri_given: given,
        scopes,
        state: client_state,
    })
}

/// `GET /api/oauth2/authorize`: the login form.
pub async fn start(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mut info = OAuthInfo {
        endpoint: "authorize",
        ..OAuthInfo::default()
    };
    let result =
        Params::parse(query.unwrap_or_default().as_bytes()).and_then(|p| check_request(&state, &p));
    let response = match result {
        Ok(request) => {
            info.client_id = Some(request.client_id.clone());
            Html(login_page(&request, None)).into_response()
        }
        Err(refusal) => {
            info.error = Some(refusal.error());
            refusal.into_response()
        }
    };
    finish(response, info)
}

/// `POST /api/oauth2/authorize`: the login, then the consent.
pub async fn submit(State(state): State<AppState>, body: Bytes) -> Response {
    let mut info = OAuthInfo {
        endpoint: "authorize",
        ..OAuthInfo::default()
    };
    let response = match Params::parse(&body) {
        Ok(p) => match p.get("action") {
            Some("login") => login(&state, &p, &mut info),
            Some("grant") | Some("deny") => consent(&state, &p, &mut info),
            _ => Refusal::Page(StatusCode::BAD_REQUEST, "Unknown action.".into()).into_response(),
        },
        Err(refusal) => refusal.into_response(),
    };
    finish(response, info)
}

fn login(state: &AppState, p: &Params, info: &mut OAuthInfo) -> Response {
    let request = match check_request(state, p) {
        Ok(r) => r,
        Err(refusal) => {
            info.error = Some(refusal.error());
            return refusal.into_response();
        }
    };
    info.client_id = Some(request.client_id.clone());
    let user = {
        let store = state.store();
        let login = p.get("login").unwrap_or("").trim().to_lowercase();
        let password = p.get("password").unwrap_or("");
        store
            .users
            .values()
            .find(|u| !u.service_account && u.login.to_lowercase() == login)
            .filter(|u| {
                u.password.as_deref().is_some_and(|expected| {
                    aws_lc_rs::constant_time::verify_slices_are_equal(
                        expected.as_bytes(),
                        password.as_bytes(),
                    )
                    .is_ok()
                })
            })
            .map(|u| (u.id.clone(), u.name.clone()))
    };
    let Some((user, name)) = user else {
        info.error = Some("login_failed".into());
        return (
            StatusCode::UNAUTHORIZED,
            Html(login_page(&request, Some("Invalid login credentials."))),
        )
            .into_response();
    };
    info.user = Some(user.clone());
    let scopes: Vec<String> = request.scopes.iter().cloned().collect();
    let client_id = request.client_id.clone();
    let ticket = state.grants().open_ticket(request, user);
    Html(consent_page(&client_id, &name, &scopes, &ticket)).into_response()
}

fn consent(state: &AppState, p: &Params, info: &mut OAuthInfo) -> Response {
    let taken = p.get("ticket").and_then(|t| state.grants().take_ticket(t));
    let Some((request, user)) = taken else {
        info.error = Some("invalid_request".into());
        return Refusal::Page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used. Start again from the app.".into(),
        )
        .into_response();
    };
    info.client_id = Some(request.client_id.clone());
    info.user = Some(user.clone());
    if p.get("action") == Some("deny") {
        info.error = Some("access_denied".into());
        return Refusal::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "access_denied",
            description: "The user denied access to their Box account".into(),
        }
        .into_response();
    }
    let (redirect_uri, client_state) = (request.redirect_uri.clone(), request.state.clone());
    let code = state.grants().issue_code(request, user);
    redirect(
        &redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", client_state.as_deref()),
        ],
    )
}

fn finish(mut response: Response, info: OAuthInfo) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The pages are never framed (clickjacking of the consent button).
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response.extensions_mut().insert(info);
    response
}

/// A 302 to `base` with `params` added to its query.
fn redirect(base: &str, params: &[(&str, Option<&str>)]) -> Response {
    let Ok(mut url) = Url::parse(base) else {
        return Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a URL.".into(),
        )
        .into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><h1>{}</h1>\n{body}\n<p><small>box-sandbox: a local stand-in for Box, for tests and demos.</small></p></body></html>\n",
        esc(title),
        esc(title)
    )
}

/// Hidden fields that carry the authorization request through the login form.
fn request_fields(r: &AuthRequest) -> String {
    let scope = r.scopes.iter().cloned().collect::<Vec<_>>().join(" ");
    let mut fields = vec![
        ("response_type", "code".to_string()),
        ("client_id", r.client_id.clone()),
        ("scope", scope),
    ];
    if r.redirect_uri_given {
        fields.push(("redirect_uri", r.redirect_uri.clone()));
    }
    if let Some(s) = &r.state {
        fields.push(("state", s.clone()));
    }
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">\n",
                esc(v)
            )
        })
        .collect()
}

fn login_page(r: &AuthRequest, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    page(
        "Log in to grant access to Box",
        &format!(
            "{error}<form method=\"post\" action=\"/api/oauth2/authorize\">\n{}\
             <label>Email <input type=\"email\" name=\"login\" autocomplete=\"username\"></label>\n\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
             <button type=\"submit\" name=\"action\" value=\"login\">Authorize</button>\n</form>",
            request_fields(r)
        ),
    )
}

fn consent_page(client_id: &str, user_name: &str, scopes: &[String], ticket: &str) -> String {
    let list: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>\n", esc(s)))
        .collect();
    page(
        "Grant access to Box",
        &format!(
            "<p>{} is asking to access the Box account of {}:</p>\n<ul id=\"scopes\">\n{list}</ul>\n\
             <form method=\"post\" action=\"/api/oauth2/authorize\">\n\
             <input type=\"hidden\" name=\"ticket\" value=\"{}\">\n\
             <button type=\"submit\" name=\"action\" value=\"grant\">Grant access to Box</button>\n\
             <button type=\"submit\" name=\"action\" value=\"deny\">Deny access</button>\n</form>",
            esc(client_id),
            esc(user_name),
            esc(ticket)
        ),
    )
}
