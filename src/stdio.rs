//! MCP over stdio, for a single local user. There is no OAuth here: whoever can
//! start the process is the caller, so the OS user is the security boundary.
//! Tools see a principal with subject `local:<OS user>`, the roles and Box user
//! from the `[stdio]` configuration, and every supported scope.

use anyhow::Context;
use rmcp::ServiceExt;

use crate::{
    authz::Authorizer,
    config::Settings,
    mcp::{
        BoxMcp,
        tools::{BoxContext, catalog},
    },
};

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let principal = settings
        .raw
        .stdio
        .local_principal(settings.scopes_supported.clone());
    tracing::info!(subject = %principal.subject, "serving MCP over stdio");
    let box_context = BoxContext::new(&settings.raw.r#box, &settings.box_plan)?;
    let authorizer = Authorizer::from_config(&settings.raw.policy, catalog::policy_tools())
        .map_err(|e| anyhow::anyhow!("tool policy: {e}"))?;
    let service = BoxMcp::for_stdio(principal, box_context, authorizer)
        .serve(rmcp::transport::stdio())
        .await
        .context("stdio handshake failed")?;
    service
        .waiting()
        .await
        .context("stdio session ended with an error")?;
    Ok(())
}
