//! The MCP server: protocol handling by rmcp, tools from [`crate::tools`].
//!
//! `list_tools` and `call_tool` are written out (not generated) because they are
//! where the per-caller tool policy applies.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::tool::{ToolCallContext, ToolRouter},
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
        PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};

use crate::{auth::Principal, tools::BoxContext};

const INSTRUCTIONS: &str = "Tools over a Box enterprise. Every call acts as the signed-in \
user; `whoami` shows who the server thinks you are.";

#[derive(Clone)]
pub struct BoxMcp {
    tools: ToolRouter<Self>,
    /// Over stdio there is no token: the identity of the local OS user.
    local_principal: Option<Arc<Principal>>,
    /// The Box client and credential broker; `None` when Box is not configured.
    box_context: Option<Arc<BoxContext>>,
}

impl BoxMcp {
    /// The server for HTTP: each request's principal comes from its token.
    pub fn for_http(box_context: Option<Arc<BoxContext>>) -> Self {
        Self {
            tools: crate::tools::router(),
            local_principal: None,
            box_context,
        }
    }

    /// The server for stdio, acting as `principal` for every call.
    pub fn for_stdio(principal: Principal, box_context: Option<Arc<BoxContext>>) -> Self {
        Self {
            tools: crate::tools::router(),
            local_principal: Some(Arc::new(principal)),
            box_context,
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
        let mut result = ListToolsResult::with_all_items(self.tools.list_all());
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
        self.tools
            .call(ToolCallContext::new(self, request, context))
            .await
            .map(crate::tools::structure_argument_error)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }
}
