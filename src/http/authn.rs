//! The bearer-token gate in front of `/mcp`: refuses query-string tokens and
//! malformed headers, waits for nothing (503 while the IdP's keys are not loaded),
//! verifies the token, checks the required scopes, and hands the [`Principal`] on
//! in the request extensions. The Authorization header is removed afterwards, so
//! nothing behind this layer (rmcp, tools, logs) can see the token; with linked
//! Box accounts the tools get it as a [`CallerToken`], for the IdP exchange only.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::header::AUTHORIZATION;

use super::{ApiError, AppState, rate_limit::Limit};
use crate::auth::{
    CallerToken, Principal, ProofRejection, Scheme, TokenRejection, access_token, dpop_proof,
    token_in_query,
};
use crate::metrics;

pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(principal) = &state.unauthenticated {
        // Benchmark build with `auth.insecure_disabled`: the baseline without auth.
        request.headers_mut().remove(AUTHORIZATION);
        request.extensions_mut().insert(principal.clone());
        return next.run(request).await;
    }
    // Read what we need from the request before awaiting: a borrowed request
    // (its body is not `Sync`) cannot be held across an await point.
    let (presented, unreadable) = match presented_token(&state, &request) {
        Ok(token) => (token.map(Presented::owned), None),
        Err(error) => (None, Some(error)),
    };
    let kept = match (&presented, state.keep_caller_token) {
        (Some(presented), true) => Some(Arc::new(CallerToken::new(&presented.token))),
        _ => None,
    };
    let client = crate::audit::client_of(request.extensions());
    let found = match unreadable {
        Some(error) => Err(error),
        None => Ok(presented.as_ref()),
    };
    match principal_for(&state, found, client).await {
        Ok(principal) => {
            metrics::auth("ok");
            tracing::Span::current().record("subject", principal.subject.as_str());
            request.headers_mut().remove(AUTHORIZATION);
            request.extensions_mut().insert(principal);
            if let Some(token) = kept {
                request.extensions_mut().insert(token);
            }
            next.run(request).await
        }
        Err(error) => {
            metrics::auth(match &error {
                ApiError::InvalidToken(reason) => reason.code(),
                other => other.code(),
            });
            // The audit event (refusals.rs) is the refusal's `info` line; it reads
            // what is known of the refused token from the response.
            let refused = RefusedToken {
                reason: match &error {
                    ApiError::InvalidToken(reason) => Some(reason.to_string()),
                    _ => None,
                },
                // Which client the token claims to be from (read only here: it
                // parses the token's payload).
                claimed_client: presented.as_ref().and_then(|p| claimed_client(&p.token)),
            };
            tracing::debug!(
                code = error.code(),
                reason = refused.reason.as_deref(),
                "request refused"
            );
            let mut response = error.into_response_with(&state.challenge);
            if refused.reason.is_some() || refused.claimed_client.is_some() {
                response.extensions_mut().insert(refused);
            }
            response
        }
    }
}

/// What the audit event of a refused token says of it.
#[derive(Debug, Clone)]
pub struct RefusedToken {
    /// Why it was refused (never the token).
    pub reason: Option<String>,
    /// The client id (`azp`, else `client_id`) the token *claims*, read without
    /// verifying it: for the audit trail only, never for a decision.
    /// Attacker-written text, so only short printable ASCII is kept.
    pub claimed_client: Option<String>,
}

pub(crate) fn claimed_client(token: &str) -> Option<String> {
    use base64::Engine as _;
    use std::borrow::Cow;
    // Only the two members are read; the rest of the payload is skipped, not
    // built (refusals come in floods).
    #[derive(serde::Deserialize)]
    struct Claimed<'a> {
        #[serde(borrow)]
        azp: Option<Cow<'a, str>>,
        #[serde(borrow)]
        client_id: Option<Cow<'a, str>>,
    }
    let payload = token.split('.').nth(1).filter(|p| p.len() <= 16 * 1024)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claimed: Claimed<'_> = serde_json::from_slice(&bytes).ok()?;
    let id = claimed.azp.or(claimed.client_id)?;
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| id.into_owned())
}

/// An access token as the request presented it.
struct Presented {
    scheme: Scheme,
    token: String,
    /// With the DPoP scheme: the proof header, or why it could not be read.
    proof: Option<Result<String, ProofRejection>>,
    method: http::Method,
}

impl Presented {
    fn owned(borrowed: PresentedRef<'_>) -> Self {
        Self {
            scheme: borrowed.scheme,
            token: borrowed.token.to_owned(),
            proof: borrowed.proof.map(|p| p.map(str::to_owned)),
            method: borrowed.method.clone(),
        }
    }
}

struct PresentedRef<'a> {
    scheme: Scheme,
    token: &'a str,
    proof: Option<Result<&'a str, ProofRejection>>,
    method: &'a http::Method,
}

/// The access token the request carries, after the checks that need no IdP.
fn presented_token<'a>(
    state: &AppState,
    request: &'a Request,
) -> Result<Option<PresentedRef<'a>>, ApiError> {
    if token_in_query(request.uri()) {
        return Err(ApiError::TokenInQuery);
    }
    let Some((scheme, token)) = access_token(request.headers(), state.dpop.is_some())? else {
        return Ok(None);
    };
    let proof = (scheme == Scheme::Dpop)
        .then(|| dpop_proof(request.headers()).and_then(|p| p.ok_or(ProofRejection::Missing)));
    Ok(Some(PresentedRef {
        scheme,
        token,
        proof,
        method: request.method(),
    }))
}

async fn principal_for(
    state: &AppState,
    presented: Result<Option<&Presented>, ApiError>,
    client: Option<std::net::IpAddr>,
) -> Result<Arc<Principal>, ApiError> {
    let limits = state.rate_limits.as_ref();
    let limited = |limit, retry_after| ApiError::RateLimited { limit, retry_after };
    // An address that has spent its failed-token bucket gets no verification work.
    if let (Some(limits), Some(client), Ok(Some(_))) = (limits, client, &presented) {
        limits
            .check_not_throttled(client)
            .map_err(|wait| limited(Limit::FailedTokens, wait))?;
    }
    let principal = verified(state, presented).await;
    if let (Some(limits), Some(client), Err(error)) = (limits, client, &principal)
        && error.is_token_failure()
    {
        limits.token_refused(client);
    }
    let principal = principal?;
    if let Some(limits) = limits {
        limits
            .check_subject(&principal)
            .map_err(|wait| limited(Limit::Subject, wait))?;
    }
    Ok(principal)
}

/// The verified caller, with the scopes the endpoint requires.
async fn verified(
    state: &AppState,
    presented: Result<Option<&Presented>, ApiError>,
) -> Result<Arc<Principal>, ApiError> {
    let presented = presented?;
    if !state.keys.is_ready() {
        let reason = match state.keys.readiness() {
            crate::auth::Readiness::Starting { reason: Some(r) } => r,
            _ => "discovery of the identity provider has not finished".into(),
        };
        return Err(ApiError::IdpUnavailable(reason));
    }
    let presented = presented.ok_or(ApiError::MissingToken)?;
    // The proof first: it needs no IdP and no cache, and a replayed or stale one
    // ends here.
    let proven_key = match (&presented.proof, &state.dpop) {
        (Some(proof), Some(dpop)) => {
            let proof = proof
                .as_deref()
                .map_err(|e| ApiError::InvalidDpopProof(e.clone()))?;
            Some(dpop.check(
                proof,
                presented.method.as_str(),
                &presented.token,
                crate::auth::unix_now(),
            )?)
        }
        _ => None,
    };
    let principal = state.verifier.verify(&presented.token).await?;
    key_binding_holds(state, presented.scheme, proven_key.as_deref(), &principal)?;
    if !state.scope_check.all(&principal, &state.required_scopes) {
        // The challenge lists every scope the request needs, not only the missing ones.
        return Err(ApiError::InsufficientScope {
            required: state.required_scopes.clone(),
        });
    }
    Ok(principal)
}

/// RFC 9449 §7: a DPoP-bound token only with a proof by its key, the DPoP scheme
/// only for a DPoP-bound token, and, when DPoP is required, nothing else.
fn key_binding_holds(
    state: &AppState,
    scheme: Scheme,
    proven_key: Option<&str>,
    principal: &Principal,
) -> Result<(), TokenRejection> {
    match (scheme, principal.bound_key.as_deref(), proven_key) {
        (Scheme::Bearer, Some(_), _) => Err(TokenRejection::SenderConstrained),
        (Scheme::Bearer, None, _) if state.dpop.as_ref().is_some_and(|d| d.required()) => {
            Err(TokenRejection::DpopRequired)
        }
        (Scheme::Bearer, None, _) => Ok(()),
        (Scheme::Dpop, None, _) => Err(TokenRejection::NotDpopBound),
        (Scheme::Dpop, Some(bound), Some(proven)) if bound == proven => Ok(()),
        (Scheme::Dpop, Some(_), _) => Err(TokenRejection::DpopKeyMismatch),
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};

    use super::claimed_client;

    fn token(payload: &str) -> String {
        format!("e30.{}.sig", B64.encode(payload))
    }

    #[test]
    fn a_refused_token_s_claimed_client_is_read_only_when_it_is_plain_text() {
        assert_eq!(
            claimed_client(&token(r#"{"azp":"mcp-client"}"#)).as_deref(),
            Some("mcp-client")
        );
        assert_eq!(
            claimed_client(&token(r#"{"client_id":"abc"}"#)).as_deref(),
            Some("abc")
        );
        assert_eq!(claimed_client(&token(r#"{"azp":"evil\nline"}"#)), None);
        assert_eq!(claimed_client(&token(r#"{"azp":"with space"}"#)), None);
        assert_eq!(
            claimed_client(&token(&format!(r#"{{"azp":"{}"}}"#, "x".repeat(200)))),
            None
        );
        assert_eq!(claimed_client(&token(r#"{"azp":7}"#)), None);
        assert_eq!(claimed_client("a.b.c"), None);
        assert_eq!(claimed_client("nodots"), None);
    }
}
