//! The MCP server: protocol handling by rmcp, and the tools it serves ([`tools`]).
//!
//! `list_tools` and `call_tool` are written out (not generated) because they are
//! where the per-caller tool policy applies.

pub mod tools;

use crate::metrics::{self, ToolOutcome};
use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::tool::{ToolCallContext, ToolRouter},
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, CompleteRequestMethod,
        CompleteRequestParams, CompleteResult, Implementation, ListPromptsRequestMethod,
        ListPromptsResult, ListResourceTemplatesRequestMethod, ListResourceTemplatesResult,
        ListResourcesRequestMethod, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};

use std::time::Instant;

use crate::{
    audit::AuditEvent,
    auth::{CallerToken, Principal},
    authz::{Authorizer, Decision},
    telemetry::RequestId,
};
use tools::{BoxContext, catalog};

const INSTRUCTIONS: &str = "Tools over a Box enterprise. Every call acts as the signed-in \
user; `whoami` shows who the server thinks you are.";

/// Who may see and call which tools.
#[derive(Clone)]
pub enum ToolPolicy {
    /// The Casbin policy: every real deployment.
    Enforced(Arc<Authorizer>),
    /// Every tool for every caller. Only with `auth.insecure_disabled` in a
    /// benchmark build, to measure what the policy costs.
    Unenforced,
}

impl ToolPolicy {
    /// The decision for `caller` on `tool`; `Unenforced` allows without a rule.
    fn decide(&self, caller: &Principal, tool: &tools::BoxTool) -> Decision {
        match self {
            Self::Enforced(authorizer) => authorizer.decide(caller, tool.name, tool.action),
            Self::Unenforced => Decision {
                allowed: true,
                rule: None,
                line: None,
                subjects: Arc::from([]),
                generation: 0,
            },
        }
    }
}

#[derive(Clone)]
pub struct BoxMcp {
    tools: Arc<ToolRouter<Self>>,
    /// Over stdio there is no token: the identity of the local OS user.
    local_principal: Option<Arc<Principal>>,
    /// The Box client and credential broker; `None` when Box is not configured.
    box_context: Option<Arc<BoxContext>>,
    /// The tool policy: who may see and call which tools.
    policy: ToolPolicy,
}

impl BoxMcp {
    /// The server for HTTP: each request's principal comes from its token.
    pub fn for_http(box_context: Option<Arc<BoxContext>>, policy: ToolPolicy) -> Self {
        Self {
            tools: tools::router(),
            local_principal: None,
            box_context,
            policy,
        }
    }

    /// The server for stdio, acting as `principal` for every call.
    pub fn for_stdio(
        principal: Principal,
        box_context: Option<Arc<BoxContext>>,
        authorizer: Arc<Authorizer>,
    ) -> Self {
        Self {
            tools: tools::router(),
            local_principal: Some(Arc::new(principal)),
            box_context,
            policy: ToolPolicy::Enforced(authorizer),
        }
    }

    pub(crate) fn box_context(&self) -> Option<Arc<BoxContext>> {
        self.box_context.clone()
    }

    /// The caller of the current request: the verified token's principal (put into
    /// the HTTP request by the authentication layer), or the local user over stdio.
    pub fn caller(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Arc<Principal>, ErrorData> {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<Principal>>().cloned())
            .or_else(|| self.local_principal.clone())
            .ok_or_else(|| {
                ErrorData::internal_error("no authenticated caller for this request", None)
            })
    }
}

impl BoxMcp {
    /// The caller's own token, when linked Box accounts need it (see
    /// [`crate::auth::CallerToken`]); `None` otherwise and over stdio.
    pub(crate) fn caller_token(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Option<Arc<CallerToken>> {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<CallerToken>>().cloned())
    }
}

impl ServerHandler for BoxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("box-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS.to_string())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // A caller sees only the tools the policy lets them call.
        let caller = self.caller(&context)?;
        let visible = match &self.policy {
            ToolPolicy::Enforced(authorizer) => {
                let decisions = authorizer.for_principal(&caller);
                self.tools
                    .list_all()
                    .into_iter()
                    .filter(|tool| {
                        catalog::find(&tool.name)
                            .is_some_and(|t| decisions.allows(t.name, t.action))
                    })
                    .collect()
            }
            ToolPolicy::Unenforced => self.tools.list_all(),
        };
        let all = self.tools.list_all().len();
        crate::audit::tools_listed(
            request_id(&context).as_deref(),
            client_address(&context),
            &caller,
            visible.len(),
            all.saturating_sub(visible.len()),
        );
        let mut result = ListToolsResult::with_all_items(visible);
        // 2026-07-28 cache hints: the list depends on who asks, so it is private.
        if context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
        {
            result.ttl_ms = Some(0);
            result.cache_scope = Some(CacheScope::Private);
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        use tracing::Instrument as _;
        // A span per call; under the trace the request's `_meta` names, if any
        // (MCP 2026-07-28). The tool label is the catalog's, never the client's text.
        let declared = catalog::find(&request.name);
        // The span's and the metrics' label: a catalog name, never what the client wrote.
        let tool = declared.map_or("unknown", |t| t.name);
        let span = tracing::info_span!("tools/call", tool);
        // rmcp moves a request's `_meta` into the context.
        let meta = request.meta.as_ref().unwrap_or(&context.meta);
        if let Some(traceparent) = meta.get_traceparent() {
            crate::telemetry::otlp::adopt_from_meta(&span, traceparent, meta.get_tracestate());
        }
        self.call_tool_in_span(request, declared, context)
            .instrument(span)
            .await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }

    // box-mcp declares only the tools capability. rmcp's defaults answer these with
    // empty lists, which tells a client the server has prompts, resources and
    // completions after all (the conformance suite's server-stateless scenario
    // checks it); a method the server does not offer is -32601.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Err(ErrorData::method_not_found::<
            ListResourceTemplatesRequestMethod,
        >())
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Err(ErrorData::method_not_found::<CompleteRequestMethod>())
    }
}

impl BoxMcp {
    async fn call_tool_in_span(
        &self,
        request: CallToolRequestParams,
        declared: Option<&'static tools::BoxTool>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let caller = self.caller(&context)?;
        let request_id = request_id(&context);
        let name = request.name.to_string();
        let argument_names: Vec<String> = request
            .arguments
            .as_ref()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        let mut audit = AuditEvent::new(&caller, &name);
        audit.request_id = request_id.as_deref();
        audit.client = client_address(&context);
        audit.argument_names = argument_names.iter().map(String::as_str).collect();

        let tool_label = declared.map_or("unknown", |t| t.name);
        let decision = declared.map(|t| self.policy.decide(&caller, t));
        audit.scopes_checked = declared.map_or(&[], |t| catalog::oauth_scopes(t.action));
        audit.rule = decision.as_ref().and_then(|d| d.rule.as_deref());
        if !decision.as_ref().is_some_and(|d| d.allowed) {
            // Exactly what the router answers for a tool that does not exist, so a
            // refusal reveals nothing; the audit event says why.
            audit.decision = "deny";
            audit.outcome = if declared.is_some() {
                "denied"
            } else {
                "unknown_tool"
            };
            audit.latency(started.elapsed()).emit();
            metrics::tool_call(tool_label, ToolOutcome::Refused, started.elapsed());
            return Err(ErrorData::invalid_params("tool not found", None));
        }
        // The HTTP layer let this call through without a scope it needs, for a client
        // that mishandles the 403 challenge: answer with a tool error instead.
        if let Some(shortfall) = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<tools::ScopeShortfall>())
        {
            tracing::info!(code = "insufficient_scope", tool = %name, "request refused");
            audit.decision = "insufficient_scope";
            audit.outcome = "refused";
            audit.latency(started.elapsed()).emit();
            metrics::tool_call(tool_label, ToolOutcome::Refused, started.elapsed());
            return tools::respond(Err(tools::ToolError::InsufficientScope(shortfall.clone())))
                .map(CallToolResponse::Complete);
        }
        let client = context.peer.peer_info();
        let call = self
            .tools
            .call(ToolCallContext::new(self, request, context));
        let result = match self.box_context.as_ref().map(|c| c.limits.call_timeout) {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                // Dropping the call stops its Box requests where they are.
                Err(_) => tools::respond(Err(tools::ToolError::Timeout(limit)))
                    .map(CallToolResponse::Complete),
            },
            None => call.await,
        }
        .map(tools::structure_argument_error);
        // A caller who must link their Box account first: a client that can open
        // URLs for its user gets MCP's URL elicitation error instead.
        let result = match &result {
            Ok(response) => {
                match tools::link_elicitation(response, client.as_deref().map(|c| &c.capabilities))
                {
                    Some(error) => Err(error),
                    None => result,
                }
            }
            Err(_) => result,
        };
        let measured = match &result {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => ToolOutcome::Error,
            Ok(_) => ToolOutcome::Ok,
            Err(_) => ToolOutcome::Refused,
        };
        metrics::tool_call(tool_label, measured, started.elapsed());
        let outcome = match &result {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => format!(
                "error:{}",
                r.structured_content
                    .as_ref()
                    .and_then(|c| c.get("error"))
                    .and_then(|e| e.as_str())
                    .unwrap_or("tool_error")
            ),
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error:{}", e.code.0),
        };
        audit.outcome = &outcome;
        audit.latency(started.elapsed()).emit();
        result
    }
}

/// The id of the HTTP request this MCP request came in (none over stdio).
fn request_id(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestId>())
        .and_then(|id| id.as_str().map(str::to_owned))
}

/// The TCP peer of the HTTP request this MCP request came in (none over stdio).
fn client_address(context: &RequestContext<RoleServer>) -> Option<std::net::IpAddr> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| crate::audit::client_of(&parts.extensions))
}
