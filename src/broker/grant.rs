//! Parent token grants: one trait, one implementation per `box.auth`, and the
//! downscoping exchange every tool call goes through.

use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::{Url, form_urlencoded};

use super::{
    Subject,
    error::BrokerError,
    jwt::JwtApp,
    token_endpoint::{Call, Outbound, TokenEndpointClient},
};

/// A token as the token endpoint gave it. `Debug` shows no token.
#[derive(Debug)]
pub(crate) struct TokenAnswer {
    pub token: SecretString,
    pub expires_in: Duration,
}

/// Used when Box leaves out `expires_in` (it does not, today): short, so a
/// wrong guess costs little.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(60);
/// Longest lifetime believed (Box's are about an hour).
const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

/// A way to obtain a parent Box token for a subject (the enterprise's service
/// account or a user). The strategy name is part of every cache key.
pub(crate) trait ParentGrant: Send + Sync {
    fn strategy(&self) -> &'static str;

    /// The app's client id and secret: what `POST /oauth2/revoke` authenticates with.
    fn app(&self) -> (&str, &SecretString);

    fn fetch<'a>(
        &'a self,
        http: &'a TokenEndpointClient,
        token_url: &'a Url,
        subject: &'a Subject,
    ) -> BoxFuture<'a, Result<TokenAnswer, BrokerError>>;
}

/// Client Credentials Grant: `box_subject_type=enterprise|user` + `box_subject_id`.
pub(crate) struct ClientCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl ParentGrant for ClientCredentials {
    fn strategy(&self) -> &'static str {
        "ccg"
    }

    fn app(&self) -> (&str, &SecretString) {
        (&self.client_id, &self.client_secret)
    }

    fn fetch<'a>(
        &'a self,
        http: &'a TokenEndpointClient,
        token_url: &'a Url,
        subject: &'a Subject,
    ) -> BoxFuture<'a, Result<TokenAnswer, BrokerError>> {
        Box::pin(async move {
            let secret = self.client_secret.expose_secret();
            let body = http
                .send(Call::ClientCredentials, &[secret], || {
                    Ok(Outbound::Form {
                        url: token_url.clone(),
                        body: form(&[
                            ("grant_type", "client_credentials"),
                            ("client_id", &self.client_id),
                            ("client_secret", secret),
                            ("box_subject_type", subject.box_subject_type()),
                            ("box_subject_id", subject.id()),
                        ]),
                    })
                })
                .await?;
            parse_token(Call::ClientCredentials, &body)
        })
    }
}

/// JWT app: an RS256 assertion signed with the app's key, fresh for every attempt.
pub(crate) struct JwtBearer {
    pub app: Box<JwtApp>,
}

impl ParentGrant for JwtBearer {
    fn strategy(&self) -> &'static str {
        "jwt"
    }

    fn app(&self) -> (&str, &SecretString) {
        (&self.app.client_id, &self.app.client_secret)
    }

    fn fetch<'a>(
        &'a self,
        http: &'a TokenEndpointClient,
        token_url: &'a Url,
        subject: &'a Subject,
    ) -> BoxFuture<'a, Result<TokenAnswer, BrokerError>> {
        Box::pin(async move {
            let secret = self.app.client_secret.expose_secret();
            let body = http
                .send(Call::JwtBearer, &[secret], || {
                    let assertion = self.app.assertion(subject, token_url.as_str())?;
                    Ok(Outbound::Form {
                        url: token_url.clone(),
                        body: form(&[
                            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                            ("assertion", assertion.expose_secret()),
                            ("client_id", &self.app.client_id),
                            ("client_secret", secret),
                        ]),
                    })
                })
                .await?;
            parse_token(Call::JwtBearer, &body)
        })
    }
}

/// `POST /oauth2/revoke`: ends `token` at Box before its expiry. The caller bounds
/// it with a deadline: an unrevoked token still expires by itself.
pub(crate) async fn revoke(
    http: &TokenEndpointClient,
    revoke_url: &Url,
    (client_id, client_secret): (&str, &SecretString),
    token: &SecretString,
) -> Result<(), BrokerError> {
    let (secret, token) = (client_secret.expose_secret(), token.expose_secret());
    http.send(Call::Revoke, &[secret, token], || {
        Ok(Outbound::Form {
            url: revoke_url.clone(),
            body: form(&[
                ("client_id", client_id),
                ("client_secret", secret),
                ("token", token),
            ]),
        })
    })
    .await
    .map(|_| ())
}

/// RFC 8693 at Box's token endpoint: a token holding only `scope` (and, with
/// `resource`, only that item) from the parent.
pub(crate) async fn exchange(
    http: &TokenEndpointClient,
    token_url: &Url,
    parent: &SecretString,
    scope: &str,
    resource: Option<&str>,
) -> Result<TokenAnswer, BrokerError> {
    let parent = parent.expose_secret();
    let body = http
        .send(Call::TokenExchange, &[parent], || {
            let mut fields = vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", parent),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("scope", scope),
            ];
            if let Some(resource) = resource {
                fields.push(("resource", resource));
            }
            Ok(Outbound::Form {
                url: token_url.clone(),
                body: form(&fields),
            })
        })
        .await?;
    parse_token(Call::TokenExchange, &body)
}

fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Reads Box's `AccessToken` answer. Parse errors say where, never what: the
/// body holds a token.
pub(crate) fn parse_token(call: Call, body: &[u8]) -> Result<TokenAnswer, BrokerError> {
    #[derive(Deserialize)]
    struct Raw {
        access_token: SecretString,
        #[serde(default)]
        expires_in: Option<f64>,
        #[serde(default)]
        token_type: Option<String>,
    }
    let invalid = |reason: String| BrokerError::InvalidResponse {
        call: call.describe(),
        reason,
    };
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "not an access token answer ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if raw.access_token.expose_secret().is_empty() {
        return Err(invalid("empty access_token".into()));
    }
    if let Some(kind) = raw.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(invalid(format!(
            "token_type {:?} is not bearer",
            kind.chars().take(32).collect::<String>()
        )));
    }
    let expires_in = match raw.expires_in {
        None => DEFAULT_EXPIRES_IN,
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s).min(MAX_EXPIRES_IN),
        Some(_) => return Err(invalid("expires_in is not a number of seconds".into())),
    };
    Ok(TokenAnswer {
        token: raw.access_token,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Box refusing a revocation, with an answer that echoes the request (as a
    /// broken proxy might): the error box-mcp logs holds neither the token nor the
    /// app secret.
    #[tokio::test]
    async fn a_refused_revocation_names_neither_the_token_nor_the_secret() {
        let app = axum::Router::new().route(
            "/oauth2/revoke",
            axum::routing::post(|body: String| async move {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({
                        "error": "invalid_request",
                        "error_description": format!("could not read {body}"),
                    })),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/oauth2/revoke",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        let http = TokenEndpointClient::new(
            crate::retry::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            },
            Duration::from_secs(5),
        )
        .unwrap();
        let secret = SecretString::from("app-secret-4711");
        let token = SecretString::from("box-token-0815");
        let error = revoke(&http, &url, ("app", &secret), &token)
            .await
            .unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("invalid_request"), "{shown}");
        assert!(!shown.contains("app-secret-4711"), "{shown}");
        assert!(!shown.contains("box-token-0815"), "{shown}");
        server.abort();
    }

    #[test]
    fn token_answers_are_parsed() {
        let t = parse_token(
            Call::TokenExchange,
            br#"{"access_token":"abc","expires_in":3600,"token_type":"bearer","restricted_to":[],"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#,
        )
        .unwrap();
        assert_eq!(t.token.expose_secret(), "abc");
        assert_eq!(t.expires_in, Duration::from_secs(3600));
        let t = parse_token(Call::TokenExchange, br#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(t.expires_in, DEFAULT_EXPIRES_IN);
    }

    #[test]
    fn bad_answers_do_not_echo_the_body() {
        for body in [
            &br#"{"access_token":""}"#[..],
            br#"{"access_token":"tok-123","token_type":"mac"}"#,
            br#"{"access_token":"tok-123","expires_in":"soon"}"#,
            br#"{"token":"tok-123"}"#,
            b"tok-123",
        ] {
            let e = parse_token(Call::ClientCredentials, body).unwrap_err();
            assert!(matches!(e, BrokerError::InvalidResponse { .. }), "{e}");
            assert!(!e.to_string().contains("tok-123"), "{e}");
        }
    }

    #[test]
    fn forms_are_url_encoded() {
        assert_eq!(
            form(&[("scope", "item_preview item_download"), ("x", "a&b=c")]),
            "scope=item_preview+item_download&x=a%26b%3Dc"
        );
    }
}
