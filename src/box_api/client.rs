//! The request core: every Box call goes through [`BoxClient::execute`], which
//! adds the credential, retries 429 and 5xx with backoff (honouring
//! `Retry-After`, bounded in attempts and time), renews the credential once on a
//! 401, and turns Box's answers into [`BoxError`]s.

use crate::metrics::{self, Answered};
use std::{future::Future, time::Duration};

use bytes::Bytes;
use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::BoxError;
use crate::retry::{self, Attempts, RetryPolicy, retry_after};

/// What a call is authorised with: a Box access token and, for a service token
/// acting for a user, that user's id for the `As-User` header.
pub struct Bearer {
    pub token: SecretString,
    pub as_user: Option<String>,
}

/// Where credentials come from. `renew = true` asks for a fresh one (after Box
/// answered 401 to the last).
pub trait CredentialSource: Send + Sync {
    fn bearer(&self, renew: bool) -> impl Future<Output = Result<Bearer, BoxError>> + Send;
}

/// Base URLs, configurable so the same code talks to api.box.com or the sandbox.
#[derive(Debug, Clone)]
pub struct BoxEndpoints {
    /// e.g. `https://api.box.com/2.0`
    pub api: Url,
    /// e.g. `https://upload.box.com/api/2.0`
    pub upload: Url,
}

/// The body of a request, rebuilt for each attempt.
#[derive(Clone)]
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    /// Box uploads: the `attributes` part must come before the `file` part.
    Upload {
        attributes: serde_json::Value,
        file_name: String,
        content: Bytes,
    },
}

/// One Box request, as data, so it can be sent again.
#[derive(Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// A successful answer longer than the limit is cut at the limit instead of
    /// failing with [`BoxError::TooLarge`] (for reading the start of a text).
    pub keep_prefix: bool,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            keep_prefix: false,
        }
    }

    /// Keep the first bytes of a longer answer instead of failing.
    pub fn prefix_only(mut self) -> Self {
        self.keep_prefix = true;
        self
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub fn header(mut self, key: &'static str, value: impl ToString) -> Self {
        self.headers.push((key, value.to_string()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }
}

/// A successful answer, read whole (bounded).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, BoxError> {
        serde_json::from_slice(&self.body).map_err(|e| BoxError::InvalidResponse(e.to_string()))
    }
}

/// Largest JSON answer read from Box (item listings, search results).
const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct BoxClient {
    http: reqwest::Client,
    pub(crate) endpoints: BoxEndpoints,
    retry: RetryPolicy,
    /// Timeout of one attempt (also bounded by what is left of the retry budget).
    timeout: Duration,
}

impl BoxClient {
    pub fn new(
        endpoints: BoxEndpoints,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, BoxError> {
        let http = reqwest::Client::builder()
            // Downloads redirect to a pre-signed URL that must not get our token:
            // redirects are followed by hand, without credentials.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("box-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BoxError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            endpoints,
            retry,
            timeout,
        })
    }

    /// `<api>/<segments…>`, each segment percent-encoded.
    pub(crate) fn api(&self, segments: &[&str]) -> Url {
        join(&self.endpoints.api, segments)
    }

    pub(crate) fn upload(&self, segments: &[&str]) -> Url {
        join(&self.endpoints.upload, segments)
    }

    /// Sends `request` and returns the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        creds: &impl CredentialSource,
        request: Request,
    ) -> Result<T, BoxError> {
        self.execute(creds, request, MAX_JSON_BYTES).await?.json()
    }

    /// Sends `request`, retrying as the policy allows; reads at most `max_bytes`.
    pub(crate) async fn execute(
        &self,
        creds: &impl CredentialSource,
        request: Request,
        max_bytes: u64,
    ) -> Result<Answer, BoxError> {
        let mut attempts = Attempts::new(&self.retry);
        let mut bearer = creds.bearer(false).await?;
        let mut renewed = false;
        loop {
            let Some(left) = attempts.start() else {
                return Err(BoxError::Timeout);
            };
            let outcome = self.send_once(&bearer, &request, max_bytes, left).await;
            let wait = match outcome {
                Ok(answer) if answer.status.is_success() || answer.status == StatusCode::FOUND => {
                    return Ok(answer);
                }
                Ok(answer) if answer.status == StatusCode::UNAUTHORIZED && !renewed => {
                    // One re-mint: the cached token may have been revoked early.
                    renewed = true;
                    bearer = creds.bearer(true).await?;
                    Duration::ZERO
                }
                Ok(answer) if is_retryable(answer.status) => {
                    match attempts.next_wait(retry_after(&answer.headers)) {
                        Ok(wait) => {
                            tracing::info!(
                                status = answer.status.as_u16(),
                                attempt = attempts.made(),
                                ?wait,
                                "Box asked to retry"
                            );
                            wait
                        }
                        Err(_) => {
                            return Err(BoxError::from_status(
                                answer.status.as_u16(),
                                &answer.body,
                            ));
                        }
                    }
                }
                Ok(answer) => {
                    return Err(BoxError::from_status(answer.status.as_u16(), &answer.body));
                }
                Err(error @ (BoxError::Transport(_) | BoxError::Timeout)) => {
                    match attempts.next_wait(None) {
                        Ok(wait) => {
                            tracing::info!(%error, attempt = attempts.made(), ?wait, "Box call failed; retrying");
                            wait
                        }
                        Err(_) => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        bearer: &Bearer,
        request: &Request,
        max_bytes: u64,
        time_left: Duration,
    ) -> Result<Answer, BoxError> {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .timeout(self.timeout.min(time_left))
            .bearer_auth(bearer.token.expose_secret());
        if let Some(user) = &bearer.as_user {
            builder = builder.header("As-User", user);
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (k, v) in &request.headers {
            builder = builder.header(*k, v);
        }
        builder = match &request.body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Upload {
                attributes,
                file_name,
                content,
            } => {
                let file = reqwest::multipart::Part::stream(reqwest::Body::from(content.clone()))
                    .file_name(file_name.clone())
                    .mime_str("application/octet-stream")
                    .map_err(|e| BoxError::Transport(e.to_string()))?;
                let form = reqwest::multipart::Form::new()
                    .text("attributes", attributes.to_string())
                    .part("file", file);
                builder.multipart(form)
            }
        };
        let started = std::time::Instant::now();
        let result = match builder.send().await.map_err(transport_error) {
            Ok(response) => read_answer(response, max_bytes, request.keep_prefix).await,
            Err(error) => Err(error),
        };
        let answered = match &result {
            Ok(answer) => Answered::Status(answer.status.as_u16()),
            Err(BoxError::Timeout) => Answered::Timeout,
            Err(_) => Answered::NoAnswer,
        };
        metrics::box_request(
            metrics::box_endpoint(&request.method, request.url.path()),
            answered,
            started.elapsed(),
        );
        result
    }

    /// Follows a download redirect without credentials (the URL is pre-signed).
    /// With `keep_prefix`, a longer answer is cut at `max_bytes`.
    pub(crate) async fn fetch_unauthenticated(
        &self,
        url: &str,
        max_bytes: u64,
        keep_prefix: bool,
    ) -> Result<Answer, BoxError> {
        let response = self.http.get(url).send().await.map_err(transport_error)?;
        let answer = read_answer(response, max_bytes, keep_prefix).await?;
        if !answer.status.is_success() {
            return Err(BoxError::from_status(answer.status.as_u16(), &answer.body));
        }
        Ok(answer)
    }
}

fn transport_error(e: reqwest::Error) -> BoxError {
    if e.is_timeout() {
        BoxError::Timeout
    } else {
        // The URL is ours (no token in it); reqwest's own text names the failure.
        BoxError::Transport(e.without_url().to_string())
    }
}

async fn read_answer(
    mut response: reqwest::Response,
    max_bytes: u64,
    keep_prefix: bool,
) -> Result<Answer, BoxError> {
    let status = response.status();
    let headers = response.headers().clone();
    let fail_when_long = status.is_success() && !keep_prefix;
    if fail_when_long && response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(BoxError::TooLarge { limit: max_bytes });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            if fail_when_long {
                return Err(BoxError::TooLarge { limit: max_bytes });
            }
            // A prefix, or an error body: keep what fits.
            let room = usize::try_from(max_bytes).unwrap_or(usize::MAX) - body.len();
            body.extend_from_slice(&chunk[..room.min(chunk.len())]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: Bytes::from(body),
    })
}

/// Transient answers, and 202: a download's content is not ready yet.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::ACCEPTED || retry::is_transient(status)
}

fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_under_the_base_path() {
        let base = Url::parse("https://api.box.com/2.0").unwrap();
        assert_eq!(
            join(&base, &["files", "12"]).as_str(),
            "https://api.box.com/2.0/files/12"
        );
        assert_eq!(
            join(&base, &["folders", "../x"]).as_str(),
            "https://api.box.com/2.0/folders/..%2Fx"
        );
        let slash = Url::parse("http://127.0.0.1:9/2.0/").unwrap();
        assert_eq!(
            join(&slash, &["users", "me"]).as_str(),
            "http://127.0.0.1:9/2.0/users/me"
        );
    }
}
