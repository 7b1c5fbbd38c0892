//! MCP tools, one module per area. Each module contributes a router; they are
//! added together here.

mod whoami;

use rmcp::handler::server::tool::ToolRouter;

use crate::mcp::BoxMcp;

pub fn router() -> ToolRouter<BoxMcp> {
    BoxMcp::whoami_router()
}
