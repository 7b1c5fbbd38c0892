//! Entry points for the fuzzers (`fuzz/`, afl.rs) and for the replay of their
//! corpus in the tests (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes and
//! runs one parser of attacker- or operator-written input the way the server
//! does; the only property checked is the one that matters for all of them: no
//! panic, no hang, whatever the input.
//!
//! Not an API: the functions are public only so that the fuzz targets, a
//! separate crate, can reach them.

use std::path::Path;

use http::{HeaderMap, HeaderValue, Uri, header::AUTHORIZATION};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::{
    auth::{
        ClaimsConfig, DpopConfig, DpopMode, DpopVerifier, Principal, bearer_token,
        check_before_signature, check_required_claims, dpop_proof as read_dpop_header,
        registered_claims, token_in_query,
    },
    authz,
    config::{Config, Settings},
    http::jsonrpc_peek,
    mcp::tools::catalog,
};

/// One fuzz target: arbitrary bytes in, nothing out.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name their corpus directory has.
pub const TARGETS: &[(&str, Target)] = &[
    ("bearer_header", bearer_header),
    ("token_before_signature", token_before_signature),
    ("claims_after_signature", claims_after_signature),
    ("tools_call_body", tools_call_body),
    ("config_toml", config_toml),
    ("policy_files", policy_files),
    ("dpop_proof", dpop_proof),
];

/// `Authorization` headers (one per line of the input, so duplicates are tried)
/// and a request URI, as the authentication layer reads them.
pub fn bearer_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n').take(4) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(AUTHORIZATION, value);
        }
    }
    if let Ok(Some(token)) = bearer_token(&headers) {
        let _ = crate::http::authn::claimed_client(token);
    }
    if let Ok(uri) = Uri::try_from(data) {
        let _ = token_in_query(&uri);
    }
}

/// A token through every check made before its signature (structure, header,
/// `alg`, `typ`, `crit`), and the audit's unverified read of its client id.
pub fn token_before_signature(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = check_before_signature(
        token,
        &[Algorithm::RS256, Algorithm::ES256, Algorithm::PS256],
    );
    let _ = crate::http::authn::claimed_client(token);
}

/// A payload as it is handled once its signature verified: the registered
/// claims checked exactly, then the principal read through the claim paths of
/// each preset.
pub fn claims_after_signature(data: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    const ISSUER: &str = "https://idp.example/realms/box-mcp";
    let _ = check_required_claims(&claims);
    for now in [0, 1_700_000_000, u64::MAX] {
        let _ = registered_claims(&claims, ISSUER, now, 300);
    }
    for paths in claim_paths() {
        let _ = Principal::from_claims(ISSUER, &claims, paths, u64::MAX);
    }
}

/// The claim paths of each preset, resolved once.
fn claim_paths() -> &'static [crate::auth::ClaimPaths] {
    static PATHS: std::sync::OnceLock<Vec<crate::auth::ClaimPaths>> = std::sync::OnceLock::new();
    PATHS.get_or_init(|| {
        ["keycloak", "auth0", "custom"]
            .iter()
            .filter_map(|preset| {
                Config::from_toml(&format!("[claims]\npreset = \"{preset}\"")).ok()
            })
            .map(|config| ClaimsConfig::resolve(&config.claims))
            .collect()
    })
}

/// A POST body as the body gate reads it, and the tool it names looked up.
pub fn tools_call_body(data: &[u8]) {
    if let Ok(jsonrpc_peek::Message::ToolCall { tool }) = jsonrpc_peek::classify(data) {
        let _ = catalog::find(&tool);
    }
}

/// A configuration file: parsed over the defaults and validated as at start.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text) {
        let _ = Settings::from_config(config);
    }
}

/// A model and a policy (the input split at its first NUL byte), checked and
/// compiled as a policy load does, then asked one decision.
pub fn policy_files(data: &[u8]) {
    let (model, policy) = split_at_first(data, 0);
    let (Ok(model), Ok(policy)) = (std::str::from_utf8(model), std::str::from_utf8(policy)) else {
        return;
    };
    let compiled = authz::load::compile(
        Path::new("model.conf"),
        model,
        Path::new("policy.csv"),
        policy,
        &catalog::policy_tools(),
    );
    if let Ok(compiled) = compiled {
        let _ = compiled.evaluate(&[], "whoami", "read");
        let _ = compiled.changed_rules_since(&compiled);
    }
}

/// A `DPoP` header (the input's first line) on a POST that carries an access token
/// (the rest), read and checked as the authentication layer does: the header, then
/// the proof's `typ`, `alg`, key, signature and claims, at several clocks.
pub fn dpop_proof(data: &[u8]) {
    static VERIFIER: std::sync::OnceLock<DpopVerifier> = std::sync::OnceLock::new();
    let verifier = VERIFIER.get_or_init(dpop_verifier);
    let (header, token) = split_at_first(data, b'\n');
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(header) {
        headers.append("dpop", value);
    }
    let (Ok(Some(proof)), Ok(token)) = (read_dpop_header(&headers), std::str::from_utf8(token))
    else {
        return;
    };
    for now in [0, 1_700_000_000, u64::MAX] {
        let _ = verifier.check(proof, "POST", token, now);
    }
}

/// The verifier [`dpop_proof`] checks with: DPoP accepted, the default algorithms,
/// for `https://mcp.example/mcp` (the `htu` of the corpus seeds). A new one each
/// call, with an empty replay cache.
pub fn dpop_verifier() -> DpopVerifier {
    let config = DpopConfig {
        mode: DpopMode::Accepted,
        ..DpopConfig::default()
    };
    let resource = url::Url::parse("https://mcp.example/mcp").expect("a constant URL");
    DpopVerifier::new(&config, resource).expect("DPoP is on in this config")
}

/// `data` before and after the first `byte` (all of it, and nothing, without one).
pub fn split_at_first(data: &[u8], byte: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == byte) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}
