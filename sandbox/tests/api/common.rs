//! A sandbox per test, and helpers to call it.

use box_sandbox::{Sandbox, SandboxConfig, fixture::*};
use reqwest::{Client, Method, RequestBuilder, StatusCode, header::HeaderMap};
use serde_json::Value;

use crate::schemas;

pub struct Env {
    pub sb: Sandbox,
    pub http: Client,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    /// The body as JSON (`null` if it is not JSON).
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert the status, and that an error body is Box's `ClientError`.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        if status >= 400 && !self.bytes.is_empty() {
            schemas::check("ClientError", &self.body);
        }
        &self.body
    }

    /// Assert a Box error with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        self.expect(status);
        assert_eq!(self.body["type"], "error", "{}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
    }

    /// Assert an `OAuth2Error` with this error.
    #[track_caller]
    pub fn expect_oauth_error(&self, error: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "body: {}", self.body);
        schemas::check("OAuth2Error", &self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
    }
}

pub async fn reply(builder: RequestBuilder) -> Reply {
    let resp = builder.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body read").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        bytes,
        body,
    }
}

impl Env {
    pub async fn start() -> Env {
        Env::with(SandboxConfig::default()).await
    }

    pub async fn with(config: SandboxConfig) -> Env {
        let sb = Sandbox::start(config).await.expect("sandbox starts");
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Env { sb, http }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.sb.api_base_url())
    }

    pub fn upload_url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.upload_base_url())
    }

    pub fn control(&self, path: &str) -> String {
        format!("{}/_sandbox{path}", self.sb.base_url())
    }

    /// `POST /oauth2/token` with a form.
    pub async fn token_call(&self, form: &[(&str, &str)]) -> Reply {
        reply(self.http.post(self.sb.token_url()).form(form)).await
    }

    /// A token from an accepted grant (asserting success and the `AccessToken` shape).
    pub async fn grant(&self, form: &[(&str, &str)]) -> Value {
        let r = self.token_call(form).await;
        assert_eq!(r.status, StatusCode::OK, "grant refused: {}", r.body);
        schemas::check("AccessToken", &r.body);
        r.body
    }

    /// A CCG token from the CCG app.
    pub async fn ccg(&self, subject_type: &str, subject_id: &str) -> String {
        let body = self
            .grant(&[
                ("grant_type", "client_credentials"),
                ("client_id", CCG_CLIENT_ID),
                ("client_secret", CCG_CLIENT_SECRET),
                ("box_subject_type", subject_type),
                ("box_subject_id", subject_id),
            ])
            .await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The service account's token.
    pub async fn service_token(&self) -> String {
        self.ccg("enterprise", ENTERPRISE_ID).await
    }

    /// A managed user's token.
    pub async fn user_token(&self, user: &str) -> String {
        self.ccg("user", user).await
    }

    pub async fn exchange(&self, subject: &str, scope: &str, resource: Option<&str>) -> Reply {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", scope),
        ];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        self.token_call(&form).await
    }

    /// A downscoped token (asserting success).
    pub async fn downscope(&self, subject: &str, scope: &str, resource: Option<&str>) -> String {
        let r = self.exchange(subject, scope, resource).await;
        assert_eq!(r.status, StatusCode::OK, "exchange refused: {}", r.body);
        schemas::check("AccessToken", &r.body);
        r.body["access_token"].as_str().expect("token").to_string()
    }

    /// A call to the API base.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let b = self.http.request(method, self.api(path));
        match token {
            Some(t) => b.bearer_auth(t),
            None => b,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        reply(self.request(Method::GET, path, Some(token))).await
    }

    pub async fn send_json(&self, method: Method, token: &str, path: &str, body: &Value) -> Reply {
        reply(self.request(method, path, Some(token)).json(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        reply(self.request(Method::DELETE, path, Some(token))).await
    }

    /// Upload a new file (attributes first).
    pub async fn upload(&self, token: &str, parent: &str, name: &str, content: &[u8]) -> Reply {
        let attributes = serde_json::json!({"name": name, "parent": {"id": parent}}).to_string();
        let form = reqwest::multipart::Form::new()
            .text("attributes", attributes)
            .part(
                "file",
                reqwest::multipart::Part::bytes(content.to_vec()).file_name(name.to_string()),
            );
        reply(
            self.http
                .post(self.upload_url("/files/content"))
                .bearer_auth(token)
                .multipart(form),
        )
        .await
    }

    /// The request log, via the control endpoint.
    pub async fn log(&self) -> Vec<Value> {
        let r = reply(self.http.get(self.control("/requests"))).await;
        assert_eq!(r.status, StatusCode::OK);
        r.body["entries"].as_array().cloned().unwrap_or_default()
    }
}

/// Ids of the entries of a list answer.
pub fn ids(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the entries of a list answer.
pub fn names(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
