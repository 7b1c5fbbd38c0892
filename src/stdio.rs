//! MCP over stdio, for a single local user. There is no OAuth here: whoever can
//! start the process is the caller, so the OS user is the security boundary.
//! Tools see a principal with subject `local:<OS user>`, the roles and Box user
//! from the `[stdio]` configuration, and every supported scope.

use anyhow::Context;
use rmcp::ServiceExt;

use crate::{auth::Principal, config::Settings, mcp::BoxMcp};

/// The identity tools see over stdio.
pub fn local_principal(settings: &Settings) -> Principal {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Principal {
        issuer: "local".into(),
        subject: format!("local:{user}"),
        username: Some(user),
        email: None,
        client_id: None,
        roles: settings.raw.stdio.roles.clone(),
        groups: Vec::new(),
        scopes: settings.scopes_supported.clone(),
        box_user_id: settings.raw.stdio.box_user_id.clone(),
        valid_until: u64::MAX,
    }
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let principal = local_principal(&settings);
    tracing::info!(subject = %principal.subject, "serving MCP over stdio");
    let box_context = crate::tools::BoxContext::from_settings(&settings)?;
    let authorizer = crate::authz::Authorizer::from_config(&settings.raw.policy)
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
