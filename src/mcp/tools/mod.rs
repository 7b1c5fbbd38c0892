//! MCP tools, one module per area. Each module contributes a router; they are
//! added together here.
//!
//! Box tools share one path ([`BoxMcp::box_call`]): the caller's principal, then
//! a Box credential from the broker holding exactly the tool's declared scopes
//! (and, for tools that target one item, only that item), then the Box client.
//! Failures become tool results with `isError: true` and a message the agent can
//! act on; they never carry a token.

pub(crate) mod ai;
pub mod args;
pub mod catalog;
pub(crate) mod files;
pub(crate) mod folders;
mod items;
pub(crate) mod metadata;
#[cfg(test)]
mod policy_tests;
pub(crate) mod search;
pub(crate) mod sharing;
pub(crate) mod users;
mod whoami;

use std::sync::{Arc, LazyLock};

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::ToolRouter,
    model::{CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, ErrorCode},
    service::RequestContext,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    auth::{CallerToken, Principal},
    authz::Action,
    box_api::{Bearer, BoxClient, BoxEndpoints, BoxError, CredentialSource},
    broker::{BoxConfig, BoxItem, Broker, BrokerError, Plan, ToolAccess},
    mcp::BoxMcp,
};

/// Every tool, built once per process and shared: building a router hashes and
/// validates every tool definition, which cost more than the rest of a request
/// when it happened per request (a stateless MCP request is a new service).
pub fn router() -> Arc<ToolRouter<BoxMcp>> {
    static ROUTER: LazyLock<Arc<ToolRouter<BoxMcp>>> = LazyLock::new(|| Arc::new(build_router()));
    Arc::clone(&ROUTER)
}

fn build_router() -> ToolRouter<BoxMcp> {
    BoxMcp::whoami_router()
        + BoxMcp::users_router()
        + BoxMcp::search_router()
        + BoxMcp::folders_router()
        + BoxMcp::files_router()
        + BoxMcp::sharing_router()
        + BoxMcp::metadata_router()
        + BoxMcp::ai_router()
}

/// A Box tool's declaration: the Box scopes its downscoped token holds, and its
/// action (what it does to Box content, as the policy names it).
#[derive(Debug, Clone, Copy)]
pub struct BoxTool {
    pub name: &'static str,
    pub scopes: &'static [&'static str],
    pub action: Action,
}

/// Size limits of the content tools.
#[derive(Debug, Clone)]
pub struct ToolLimits {
    /// Text returned by `box_file_read_text`, in bytes.
    pub read_text_bytes: u64,
    /// Bytes returned by `box_file_download`.
    pub download_bytes: u64,
    /// Bytes accepted by `box_file_upload`.
    pub upload_bytes: u64,
    /// Longest one tool call may take (`box.tool_timeout`).
    pub call_timeout: std::time::Duration,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            read_text_bytes: 200_000,
            download_bytes: 1024 * 1024,
            upload_bytes: 4 * 1024 * 1024,
            call_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// What Box tools need, shared by every session.
pub struct BoxContext {
    pub client: BoxClient,
    pub broker: Broker,
    pub limits: ToolLimits,
}

impl BoxContext {
    /// Builds the Box client and broker from `[box]` and the plan configuration
    /// resolved from it; `None` when Box access is disabled (Box tools then answer
    /// that Box is not configured).
    pub fn new(config: &BoxConfig, plan: &Plan) -> anyhow::Result<Option<Arc<Self>>> {
        let broker = Broker::from_plan(plan.clone())
            .map_err(|e| anyhow::anyhow!("Box credential broker: {e}"))?;
        if !broker.is_enabled() {
            return Ok(None);
        }
        let endpoints = BoxEndpoints {
            api: url::Url::parse(&config.api_base_url)?,
            upload: url::Url::parse(&config.upload_base_url)?,
        };
        let client = BoxClient::new(endpoints, plan.api_retry.clone(), plan.timeout)
            .map_err(|e| anyhow::anyhow!("Box client: {e}"))?;
        Ok(Some(Arc::new(Self {
            client,
            broker,
            limits: ToolLimits {
                call_timeout: config.tool_timeout,
                ..ToolLimits::default()
            },
        })))
    }
}

/// The tool error code of a caller whose own Box account must be linked first.
pub const LINK_REQUIRED: &str = "box_account_not_linked";

/// MCP's `URLElicitationRequiredError` (2025-11-25).
const URL_ELICITATION_REQUIRED: ErrorCode = ErrorCode(-32042);

/// A "link your Box account" tool error, as MCP's URL elicitation for a client
/// that declared `elicitation.url`: the client can open the link for the user.
/// `None` for any other result, or when the client cannot do URL elicitation
/// (it then gets the tool error, which holds the same URL).
pub fn link_elicitation(
    response: &CallToolResponse,
    client: Option<&ClientCapabilities>,
) -> Option<ErrorData> {
    let supports_url = client
        .and_then(|c| c.elicitation.as_ref())
        .is_some_and(|e| e.url.is_some());
    let CallToolResponse::Complete(result) = response else {
        return None;
    };
    let content = result.structured_content.as_ref()?;
    if !supports_url || content.get("error")?.as_str()? != LINK_REQUIRED {
        return None;
    }
    let url = content.get("link_url")?.as_str()?;
    let message = content.get("message")?.as_str()?;
    Some(ErrorData::new(
        URL_ELICITATION_REQUIRED,
        "This request requires linking your Box account.".to_string(),
        Some(json!({
            "elicitations": [{
                "mode": "url",
                "elicitationId": uuid::Uuid::new_v4().to_string(),
                "url": url,
                "message": message,
            }]
        })),
    ))
}

/// A tool failure, shown to the agent as an error result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid argument `{argument}`: {problem}")]
    Invalid {
        argument: &'static str,
        problem: String,
    },
    #[error("{0}")]
    Box(#[from] BoxError),
    #[error("Box is not configured on this server")]
    NotConfigured,
    #[error(
        "the tool did not finish within {0:?} (box.tool_timeout) and was stopped; \
         if it changes data, check whether the change happened before trying again"
    )]
    Timeout(std::time::Duration),
    #[error(
        "this tool needs the OAuth scopes {required}, and this connection was authorized without {missing}. \
         Reconnect to this MCP server (sign out of it or remove it in your MCP client, then add or \
         authorize it again) and grant {missing} when asked, then try again",
        required = .0.required.join(" "),
        missing = .0.missing.join(" ")
    )]
    InsufficientScope(ScopeShortfall),
}

/// A `tools/call` the HTTP layer let through although its token lacks scopes the
/// tool needs, because the client is one of `auth.tool_error_on_insufficient_scope`
/// (clients that mishandle the 403 challenge). Put into the request's extensions;
/// the MCP layer answers the call with [`ToolError::InsufficientScope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeShortfall {
    /// Every scope the tool needs, as the 403 challenge would list them.
    pub required: Vec<String>,
    /// The ones the token lacks.
    pub missing: Vec<String>,
}

impl ToolError {
    pub fn invalid(argument: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            argument,
            problem: problem.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_argument",
            Self::NotConfigured => "not_configured",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Timeout(_) => "tool_timeout",
            Self::Box(BoxError::NotFound) => "not_found",
            Self::Box(BoxError::NameInUse { .. }) => "name_in_use",
            Self::Box(BoxError::Credentials(_)) => "no_box_access",
            Self::Box(BoxError::LinkRequired { .. }) => LINK_REQUIRED,
            Self::Box(
                BoxError::RateLimited
                | BoxError::Unavailable { .. }
                | BoxError::Timeout
                | BoxError::CredentialsUnavailable(_),
            ) => "box_unavailable",
            Self::Box(BoxError::TooLarge { .. }) => "too_large",
            Self::Box(_) => "box_error",
        }
    }
}

/// A successful tool answer: a one-line summary and the structured result.
pub struct Outcome {
    summary: String,
    data: Value,
}

impl Outcome {
    pub fn new(summary: impl Into<String>, data: &impl Serialize) -> Self {
        let data = serde_json::to_value(data).unwrap_or(Value::Null);
        // MCP structured content is an object.
        let data = if data.is_object() {
            data
        } else {
            json!({ "result": data })
        };
        Self {
            summary: summary.into(),
            data,
        }
    }
}

/// Turns a tool's outcome into its MCP result.
pub fn respond(result: Result<Outcome, ToolError>) -> Result<CallToolResult, ErrorData> {
    Ok(match result {
        Ok(outcome) => {
            let mut r = CallToolResult::structured(outcome.data);
            r.content.insert(0, ContentBlock::text(outcome.summary));
            r
        }
        Err(error) => {
            let mut body = json!({
                "error": error.code(),
                "message": error.to_string(),
            });
            match &error {
                ToolError::Box(BoxError::LinkRequired { link_url, .. }) => {
                    body["link_url"] = json!(link_url);
                }
                ToolError::InsufficientScope(shortfall) => {
                    body["required_scopes"] = json!(shortfall.required);
                    body["missing_scopes"] = json!(shortfall.missing);
                }
                _ => {}
            }
            let mut r = CallToolResult::structured_error(body);
            r.content = vec![ContentBlock::text(error.to_string())];
            r
        }
    })
}

/// One Box call on behalf of one caller: a [`CredentialSource`] that asks the
/// broker for a token with exactly the tool's access.
pub struct BoxCall {
    context: Arc<BoxContext>,
    caller: Arc<Principal>,
    /// Linked accounts only: the caller's token, for the IdP exchange.
    caller_token: Option<Arc<CallerToken>>,
    access: ToolAccess,
}

impl BoxCall {
    pub fn client(&self) -> &BoxClient {
        &self.context.client
    }

    pub fn limits(&self) -> &ToolLimits {
        &self.context.limits
    }
}

impl CredentialSource for BoxCall {
    async fn bearer(&self, renew: bool) -> Result<Bearer, BoxError> {
        if renew {
            self.context.broker.forget(&self.caller, &self.access).await;
        }
        let credential = self
            .context
            .broker
            .credential(
                &self.caller,
                self.caller_token.as_deref().map(CallerToken::secret),
                &self.access,
            )
            .await
            .map_err(|e| credential_error(e, &self.access))?;
        Ok(Bearer {
            token: credential.token,
            as_user: credential.as_user,
        })
    }
}

/// A broker failure as the tool reports it.
fn credential_error(error: BrokerError, access: &ToolAccess) -> BoxError {
    match &error {
        // Box refuses to restrict a token to an item the user cannot reach; to the
        // caller that is the item not being found, as the API itself would answer.
        BrokerError::TokenEndpoint {
            grant: "downscoping exchange",
            status: 400,
            error: code,
            ..
        } if access.resource.is_some()
            && matches!(code.as_str(), "invalid_request" | "invalid_resource") =>
        {
            BoxError::NotFound
        }
        BrokerError::Linked(link) if link.link_url().is_some() => BoxError::LinkRequired {
            link_url: link.link_url().unwrap_or_default().to_string(),
            message: link.to_string(),
        },
        e if e.is_transient() => BoxError::CredentialsUnavailable(e.to_string()),
        e => BoxError::Credentials(e.to_string()),
    }
}

/// rmcp answers arguments that do not deserialize (a missing or mistyped field)
/// with an error result without structured content; give it the shape of every
/// other tool error (`invalid_argument`).
pub fn structure_argument_error(response: CallToolResponse) -> CallToolResponse {
    const PREFIX: &str = "failed to deserialize parameters:";
    let CallToolResponse::Complete(result) = &response else {
        return response;
    };
    if result.is_error != Some(true) || result.structured_content.is_some() {
        return response;
    }
    let detail = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .and_then(|t| t.text.strip_prefix(PREFIX))
        .map(|d| d.trim().to_string());
    match detail {
        Some(detail) => match respond(Err(ToolError::invalid("arguments", detail))) {
            Ok(result) => result.into(),
            Err(_) => response,
        },
        None => response,
    }
}

impl BoxMcp {
    /// Prepares a Box call for `tool`, targeting `resource` when the tool acts on one item.
    pub(crate) fn box_call(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &BoxTool,
        resource: Option<BoxItem>,
    ) -> Result<BoxCall, ToolError> {
        let box_context = self.box_context().ok_or(ToolError::NotConfigured)?;
        let caller = self
            .caller(context)
            .map_err(|_| ToolError::invalid("caller", "no authenticated caller"))?;
        // The root folder is the whole of the user's Box: a token restricted to it
        // is the unrestricted token (and Box accepts no `resource` for folder 0).
        let resource = resource.filter(|r| !matches!(r, BoxItem::Folder(id) if id == "0"));
        Ok(BoxCall {
            context: box_context,
            caller,
            caller_token: self.caller_token(context),
            access: ToolAccess {
                scopes: tool.scopes,
                resource,
            },
        })
    }
}
