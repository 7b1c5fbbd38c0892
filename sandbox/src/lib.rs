//! box-sandbox: a local server that speaks the Box API subset box-mcp uses —
//! OAuth (client credentials, JWT bearer, token exchange, revoke), users, folders,
//! files, uploads, extracted text, search, metadata, collaborations, shared links
//! and a deterministic AI stand-in — with Box's scope, visibility and restriction
//! rules, fault injection and a request log. See `sandbox/README.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), box_sandbox::StartError> {
//! let sandbox = box_sandbox::Sandbox::start(box_sandbox::SandboxConfig::default()).await?;
//! println!("API at {}", sandbox.api_base_url());
//! # Ok(()) }
//! ```

pub mod ai;
mod caller;
mod clock;
mod control;
pub mod downloads;
pub mod error;
pub mod faults;
mod grants;
mod ids;
mod middleware;
mod oauth;
mod paging;
mod render;
pub mod request_log;
mod routes;
pub mod scopes;
pub mod seed;
mod server;
mod state;
mod store;
pub mod tokens;

pub use downloads::DownloadMode;
pub use faults::{Fault, FaultError, FaultSpec};
pub use request_log::{LogEntry, OAuthInfo, TokenInfo};
pub use seed::{Seed, SeedError, SeedSource};
pub use server::{Sandbox, SandboxConfig, StartError};

/// Ids and credentials of the builtin seed (`fixtures/seed.json`), as
/// `docs/box-scopes.md` states them.
pub mod fixture {
    pub const ENTERPRISE_ID: &str = "1100000";
    pub const SERVICE_ACCOUNT_ID: &str = "31000000";
    pub const ALICE: &str = "31000001";
    pub const BOB: &str = "31000002";
    pub const CAROL: &str = "31000003";
    pub const DAVE: &str = "31000004";
    pub const CCG_CLIENT_ID: &str = "sandbox-ccg-app";
    pub const CCG_CLIENT_SECRET: &str = "sandbox-ccg-secret";
    pub const JWT_CLIENT_ID: &str = "sandbox-jwt-app";
    pub const JWT_CLIENT_SECRET: &str = "sandbox-jwt-secret";
    pub const JWT_KEY_ID: &str = "sandbox-jwt-key";
    /// Box app config JSON of the JWT app (test-only key material).
    pub const JWT_APP_CONFIG: &str = include_str!("../fixtures/jwt-app-config.json");
    /// Client of an extra app: enterprise tokens only, `root_readonly`, no As-User.
    pub const LIMITED_CLIENT_ID: &str = "sandbox-ccg-limited";
    pub const LIMITED_CLIENT_SECRET: &str = "sandbox-ccg-limited-secret";
    /// Alice's folder "Team Projects", with bob (editor) and carol (viewer).
    pub const TEAM_PROJECTS_FOLDER: &str = "200000000010";
    /// "Falcon", inside "Team Projects".
    pub const FALCON_FOLDER: &str = "200000000011";
    /// The service account's "Service Library".
    pub const SERVICE_LIBRARY_FOLDER: &str = "200000000020";
    pub const ALICE_PRIVATE_FOLDER: &str = "200000000001";
    pub const BOB_PRIVATE_FOLDER: &str = "200000000002";
    pub const CAROL_PRIVATE_FOLDER: &str = "200000000003";
    pub const DAVE_PRIVATE_FOLDER: &str = "200000000004";
    /// alice's `meeting-notes.txt`.
    pub const ALICE_NOTES_FILE: &str = "400000000101";
    /// `project-falcon.md` in Team Projects (has a `projectInfo` instance).
    pub const FALCON_OVERVIEW_FILE: &str = "400000001001";
    /// `requirements.txt` in Team Projects/Falcon.
    pub const FALCON_REQUIREMENTS_FILE: &str = "400000001003";
    /// dave's `readme.md`.
    pub const DAVE_README_FILE: &str = "400000000402";
    pub const METADATA_TEMPLATE: &str = "projectInfo";
    /// A user of another enterprise ("Northwind Traders", `2200000`): reachable only
    /// through her own OAuth 2.0 sign-in, never by the apps' CCG/JWT or As-User.
    pub const NORA: &str = "41000001";
    pub const NORA_LOGIN: &str = "nora@northwind.example";
    pub const NORA_PASSWORD: &str = "nora-box";
    pub const NORA_PRIVATE_FOLDER: &str = "200000000030";
    /// Nora's `orders.txt`.
    pub const NORA_ORDERS_FILE: &str = "400000003001";
    /// A free personal Box account, in no enterprise.
    pub const PAT: &str = "51000001";
    pub const PAT_LOGIN: &str = "pat@personal.example";
    pub const PAT_PASSWORD: &str = "pat-box";
    pub const PAT_PRIVATE_FOLDER: &str = "200000000040";
    /// Pat's `journal.md`, which holds a secret word (Osprey) nobody else should see.
    pub const PAT_JOURNAL_FILE: &str = "400000004002";
    /// The User Authentication (OAuth 2.0) app, for users' own sign-in.
    pub const OAUTH_CLIENT_ID: &str = "sandbox-oauth-app";
    pub const OAUTH_CLIENT_SECRET: &str = "sandbox-oauth-secret";
}
