//! `box_whoami`: the Box user the caller's calls act as.

use rmcp::{
    ErrorData, RoleServer, model::CallToolResult, service::RequestContext, tool, tool_router,
};

use super::{BoxTool, Outcome, respond};
use crate::authz::Action;
use crate::mcp::BoxMcp;

pub const BOX_WHOAMI: BoxTool = BoxTool {
    name: "box_whoami",
    scopes: &["item_preview"],
    action: Action::Read,
};

#[tool_router(router = users_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_whoami",
        description = "Show the Box user your calls act as (id, name, login). Use it to check which Box account the server maps you to.",
        annotations(
            title = "Box: who am I",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_whoami(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let call = self.box_call(&context, &BOX_WHOAMI, None)?;
                let user = call.client().current_user(&call).await?;
                let summary = format!(
                    "Box user {} ({}), id {}",
                    user.name.as_deref().unwrap_or("?"),
                    user.login.as_deref().unwrap_or("?"),
                    user.id
                );
                Ok(Outcome::new(summary, &user))
            }
            .await,
        )
    }
}
