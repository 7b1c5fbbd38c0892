//! The integration tests, as one test binary (`cargo test --test it`): one link of
//! the crate and its dependencies instead of one per file. Each module is one area,
//! run against the real `box-mcp` binary or the library's public API; `common` is the
//! shared harness (a local OIDC issuer, the server process, the Box sandbox).
//!
//! Run one area with a filter, e.g. `cargo test --test it keycloak::`.

mod common;

mod audit_events;
mod auth0;
mod box_tools;
mod broker_flows;
mod capabilities;
mod cli;
mod dpop;
mod fuzz_corpus;
mod http_auth;
mod introspection;
mod keycloak;
mod keycloak_clients;
mod keycloak_dpop;
mod keycloak_introspection;
mod linked_flows;
mod linked_keycloak;
mod load_limits;
mod log_secrets;
mod metrics;
mod otlp_traces;
mod policy_cli;
mod policy_reload;
mod rate_limits;
mod rbac_http;
mod stdio;
mod tls;
mod verifier;
