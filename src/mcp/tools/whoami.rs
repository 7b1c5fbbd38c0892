//! `whoami`: the caller as the server sees it. Never a token.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Json, service::RequestContext, tool,
    tool_router,
};

use crate::{auth::Principal, mcp::BoxMcp};

#[tool_router(router = whoami_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "whoami",
        description = "Show who you are signed in as: subject, username, email, client, roles, groups, scopes and the mapped Box user.",
        annotations(
            title = "Who am I",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn whoami(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Principal>, ErrorData> {
        let caller = self.caller(&context)?;
        Ok(Json((*caller).clone()))
    }
}
