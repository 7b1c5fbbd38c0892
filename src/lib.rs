//! box-mcp: an MCP server for Box that is a pure OAuth 2.1 resource server.
//!
//! The request path, outermost first: client address → request id and tracing →
//! per-client rate limit → Host check → Origin check and CORS → body limit → bearer token verification
//! ([`auth`]) → session binding → MCP ([`mcp`], rmcp) → tools ([`mcp::tools`]).

pub mod audit;
pub mod auth;
pub mod authz;
pub mod box_api;
pub mod broker;
pub mod client_addr;
pub mod config;
pub mod fuzz;
pub mod http;
pub mod linked;
pub mod mcp;
pub mod metrics;
pub mod outbound;
pub mod remote_error;
pub mod retry;
pub mod server;
pub mod setting;
pub mod stdio;
pub mod telemetry;
