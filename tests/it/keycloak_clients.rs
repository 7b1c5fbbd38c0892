//! MCP clients at the bundled Keycloak, the ways real ones get there: dynamic client
//! registration with a hosted client's callback, a Client ID Metadata Document (CIMD)
//! served by the test on loopback, step-up from `mcp:tools` to `box:write`, and a user
//! who exists only in the corporate realm `acme-corp`, brokered in.
//!
//! Each client signs its user in the way an MCP client's browser does: authorization
//! code with PKCE S256, Keycloak's login and consent pages (a headless browser), then
//! the code at the token endpoint. Nothing here uses the password grant.

use std::{collections::BTreeSet, net::SocketAddr};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use box_mcp::{authz::Action, mcp::tools::catalog};
use box_sandbox::{Sandbox, SandboxConfig, fixture};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    common::{
        ServerProcess,
        box_env::{BoxAuth, BoxMode, McpUser, box_settings},
        browser::{Browser, Page},
    },
    keycloak::{
        Admin, KeycloakEnv, REALM, REALM_KEYS, assert_insufficient_scope, audiences, claims, form,
        http, listed_tools, mcp_token, unique,
    },
};

const CORPORATE_REALM: &str = "acme-corp";
const CORPORATE_IDP: &str = "acme-corp";

/// A client as the authorization server knows it, with what removes it again.
struct Client {
    client_id: String,
    redirect_uri: String,
    /// DCR: `registration_client_uri` and the registration access token.
    registration: Option<(String, String)>,
}

impl Client {
    /// Removes the client: through its registration (RFC 7592) or the admin API.
    async fn remove(&self, admin: &Admin) {
        match &self.registration {
            Some((uri, token)) => {
                let status = http()
                    .delete(uri)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("DELETE registration")
                    .status();
                assert_eq!(status, StatusCode::NO_CONTENT, "client {}", self.client_id);
            }
            None => {
                let found = admin
                    .get(&format!(
                        "/{REALM}/clients?clientId={}",
                        url::form_urlencoded::byte_serialize(self.client_id.as_bytes())
                            .collect::<String>()
                    ))
                    .await;
                if let Some(id) = found[0]["id"].as_str() {
                    admin.delete(&format!("/{REALM}/clients/{id}")).await;
                }
            }
        }
    }
}

/// Anonymous dynamic client registration, as an MCP client sends it: a public client
/// (PKCE, no secret). `Err` holds Keycloak's status and answer.
async fn register(
    kc: &KeycloakEnv,
    redirect_uris: &[&str],
    scope: Option<&str>,
) -> Result<(Client, Value), (StatusCode, String)> {
    let mut metadata = json!({
        "client_name": unique("mcp-client"),
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    if let Some(scope) = scope {
        metadata["scope"] = json!(scope);
    }
    let response = http()
        .post(format!(
            "{}/clients-registrations/openid-connect",
            kc.issuer(REALM)
        ))
        .json(&metadata)
        .send()
        .await
        .expect("registration request");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != StatusCode::CREATED {
        return Err((status, body));
    }
    let reply: Value = serde_json::from_str(&body).expect("registration JSON");
    let client = Client {
        client_id: reply["client_id"].as_str().unwrap().to_string(),
        redirect_uri: redirect_uris[0].to_string(),
        registration: Some((
            reply["registration_client_uri"]
                .as_str()
                .unwrap()
                .to_string(),
            reply["registration_access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )),
    };
    Ok((client, reply))
}

/// A loopback redirect URI nothing listens on: the browser stops before opening it.
fn loopback_redirect() -> String {
    format!("http://127.0.0.1:9/{}/callback", unique("cb"))
}

/// Who signs in, and where.
#[derive(Clone, Copy)]
enum Login<'a> {
    /// A user of the box-mcp realm.
    Realm(&'a str),
    /// A user of the corporate realm, sent straight there by `kc_idp_hint`.
    Corporate(&'a str),
}

/// What the authorization server said instead of a code.
#[derive(Debug)]
struct Refused(Page);

/// The authorization code flow with PKCE S256 in `browser` (which keeps its SSO
/// cookies between calls), then the code at the token endpoint: the token response.
async fn sign_in(
    kc: &KeycloakEnv,
    browser: &Browser,
    client: &Client,
    scope: &str,
    login: Login<'_>,
) -> Result<Value, Refused> {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let state = unique("state");
    let mut authorize = Url::parse(&format!(
        "{}/protocol/openid-connect/auth",
        kc.issuer(REALM)
    ))
    .unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let (user, password) = match login {
        Login::Realm(user) => (user, format!("{user}-password")),
        Login::Corporate(user) => {
            authorize
                .query_pairs_mut()
                .append_pair("kc_idp_hint", CORPORATE_IDP);
            (user, format!("{user}-password"))
        }
    };
    let stop = Some(client.redirect_uri.as_str());
    let mut page = browser.open(authorize.as_str(), stop).await;
    for _ in 0..4 {
        if page.url.as_str().starts_with(&client.redirect_uri) {
            break;
        }
        if page.status != StatusCode::OK {
            return Err(Refused(page));
        }
        page = if page.html.contains("name=\"username\"") {
            if let Login::Corporate(_) = login {
                assert!(
                    page.url
                        .as_str()
                        .contains(&format!("/realms/{CORPORATE_REALM}/")),
                    "kc_idp_hint goes straight to the corporate sign-in: {}",
                    page.url
                );
            }
            let form = page.form().set("username", user).set("password", &password);
            browser.submit(&form, stop).await
        } else if page.html.contains("name=\"accept\"") {
            // Consent: every self-registered client asks the user first.
            browser
                .submit(&page.form().set("accept", "Yes"), stop)
                .await
        } else {
            return Err(Refused(page));
        }
    }
    let params: std::collections::HashMap<String, String> =
        page.url.query_pairs().into_owned().collect();
    assert!(
        page.url.as_str().starts_with(&client.redirect_uri),
        "the flow ended at the client: {} {}",
        page.url,
        page.html
    );
    assert_eq!(params.get("state"), Some(&state), "{}", page.url);
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("a code: {}", page.url));
    let response = http()
        .post(format!(
            "{}/protocol/openid-connect/token",
            kc.issuer(REALM)
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("client_id", &client.client_id),
            ("code_verifier", &verifier),
        ]))
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token JSON");
    assert_eq!(status, StatusCode::OK, "code exchange: {body}");
    Ok(body)
}

fn access_token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_string()
}

fn scopes_of(token: &str) -> BTreeSet<String> {
    claims(token)["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_owned)
        .collect()
}

/// A Client ID Metadata Document for `client_id`, served on loopback by the test.
struct MetadataDocument {
    client_id: String,
    task: tokio::task::JoinHandle<()>,
}

impl MetadataDocument {
    async fn serve(redirect_uri: &str, scope: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let client_id = format!("http://{addr}/{}/client-metadata.json", unique("mcp"));
        let mut document = json!({
            "client_id": client_id,
            "client_name": "CIMD test client",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        if let Some(scope) = scope {
            document["scope"] = json!(scope);
        }
        let path = Url::parse(&client_id).unwrap().path().to_string();
        let app = axum::Router::new().route(
            &path,
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { client_id, task }
    }
}

impl Drop for MetadataDocument {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The catalog's tools the shipped policy gives a caller whose only MCP role allows
/// `actions` (no per-user rule names the corporate users).
fn tools_for(actions: &[Action]) -> BTreeSet<String> {
    catalog::ALL
        .iter()
        .filter(|tool| actions.contains(&tool.action))
        .map(|tool| tool.name.to_string())
        .collect()
}

/// box-mcp in per-user mode against a fresh sandbox (CCG user tokens).
async fn box_server(kc: &KeycloakEnv, sandbox: &Sandbox, extra: &[(&str, &str)]) -> ServerProcess {
    let settings = box_settings(sandbox, BoxMode::PerUser, BoxAuth::Ccg);
    let mut env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend_from_slice(extra);
    kc.server(&env).await
}

mod tests {
    use super::*;

    #[tokio::test]
    async fn hosted_clients_register_with_allow_listed_callbacks_and_nothing_else() {
        let kc = KeycloakEnv::get();
        let admin = Admin::new(&kc);
        let mut created = Vec::new();

        // Hosted clients' callbacks from the allow-list, and loopback for native ones.
        for redirect in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "http://localhost:6274/oauth/callback",
        ] {
            let (client, reply) = register(&kc, &[redirect], Some("mcp:tools"))
                .await
                .unwrap_or_else(|e| panic!("{redirect}: {e:?}"));
            assert_eq!(reply["redirect_uris"], json!([redirect]));
            // Registered with the first challenge's scope, it may still step up.
            let scope: BTreeSet<&str> = reply["scope"].as_str().unwrap().split(' ').collect();
            assert!(
                scope.contains("mcp:tools") && scope.contains("box:write"),
                "{redirect}: {reply}"
            );
            let stored = admin
                .get(&format!("/{REALM}/clients?clientId={}", client.client_id))
                .await;
            let stored = &stored[0];
            assert_eq!(stored["consentRequired"], true, "{stored}");
            assert_eq!(stored["fullScopeAllowed"], false, "{stored}");
            assert_eq!(stored["publicClient"], true, "{stored}");
            assert_eq!(
                stored["attributes"]["pkce.code.challenge.method"], "S256",
                "{stored}"
            );
            created.push(client);
        }

        // Everything else is refused, including near misses of allowed callbacks.
        for redirect in [
            "https://evil.example/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/other_callback",
            "http://claude.ai/api/mcp/auth_callback",
            "https://claude.ai.evil.example/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/../../evil",
            "https://claude.ai/api/mcp/auth_callback?next=https://evil.example",
            "http://127.0.0.1.evil.example/callback",
            "http://10.0.0.5:8080/callback",
            "myapp://callback",
        ] {
            let (status, body) = register(&kc, &[redirect], Some("mcp:tools"))
                .await
                .map(|(c, _)| c.client_id)
                .expect_err(redirect);
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN,
                "{redirect}: {status} {body}"
            );
            assert!(
                body.contains("invalid_client_metadata"),
                "{redirect}: {body}"
            );
        }
        // One bad URI spoils the registration.
        register(
            &kc,
            &[
                "https://claude.ai/api/mcp/auth_callback",
                "https://evil.example/cb",
            ],
            None,
        )
        .await
        .map(|(c, _)| c.client_id)
        .expect_err("a list with one unknown callback");

        for client in &created {
            client.remove(&admin).await;
        }
    }

    #[tokio::test]
    async fn a_cimd_client_signs_in_with_its_metadata_document_and_box_mcp_accepts_its_token() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let admin = Admin::new(&kc);
        let server = kc.server(&[]).await;
        let redirect = loopback_redirect();
        let document = MetadataDocument::serve(&redirect, Some("mcp:tools")).await;
        let client = Client {
            client_id: document.client_id.clone(),
            redirect_uri: redirect.clone(),
            registration: None,
        };
        let browser = Browser::new();

        let tokens = sign_in(
            &kc,
            &browser,
            &client,
            "openid mcp:tools",
            Login::Realm("carol"),
        )
        .await
        .expect("the CIMD flow completes");
        let token = access_token(&tokens);
        let c = claims(&token);
        assert_eq!(c["azp"], document.client_id, "{c}");
        assert!(
            audiences(&c).contains(&kc.resource),
            "the MCP audience: {c}"
        );
        let me = server.whoami(&token).await;
        assert_eq!(me["client_id"], document.client_id, "{me}");
        assert_eq!(me["username"], "carol", "{me}");

        // The client Keycloak made from the document: public, consent, PKCE.
        let stored = admin
            .get(&format!(
                "/{REALM}/clients?clientId={}",
                url::form_urlencoded::byte_serialize(document.client_id.as_bytes())
                    .collect::<String>()
            ))
            .await;
        let stored = &stored[0];
        assert_eq!(stored["consentRequired"], true, "{stored}");
        assert_eq!(stored["publicClient"], true, "{stored}");
        assert_eq!(
            stored["attributes"]["pkce.code.challenge.method"], "S256",
            "{stored}"
        );

        // A redirect URI the document does not list gets no code.
        let elsewhere = Client {
            client_id: document.client_id.clone(),
            redirect_uri: loopback_redirect(),
            registration: None,
        };
        let refused = sign_in(
            &kc,
            &Browser::new(),
            &elsewhere,
            "openid mcp:tools",
            Login::Realm("carol"),
        )
        .await
        .expect_err("a redirect URI outside the document");
        assert!(
            !refused.0.url.as_str().contains("code="),
            "{:?}",
            refused.0.url
        );

        // A document on a domain that is not trusted is never fetched.
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await;
        if let Ok(listener) = listener {
            let addr = listener.local_addr().unwrap();
            let untrusted = Client {
                client_id: format!("http://{addr}/client-metadata.json"),
                redirect_uri: loopback_redirect(),
                registration: None,
            };
            let refused = sign_in(
                &kc,
                &Browser::new(),
                &untrusted,
                "openid mcp:tools",
                Login::Realm("carol"),
            )
            .await
            .expect_err("an untrusted CIMD domain");
            assert_eq!(
                refused.0.status,
                StatusCode::BAD_REQUEST,
                "{}",
                refused.0.html
            );
            let accepted =
                tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept())
                    .await;
            assert!(accepted.is_err(), "Keycloak fetched an untrusted document");
        }
        client.remove(&admin).await;
    }

    #[tokio::test]
    async fn dcr_and_cimd_clients_step_up_to_box_write_and_opted_in_clients_get_a_tool_error() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let admin = Admin::new(&kc);
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let server = box_server(&kc, &sandbox, &[]).await;

        // The DCR client registers with the scope of box-mcp's first challenge, as the
        // SDKs do; the CIMD client's document names it too.
        let (dcr, _) = register(&kc, &[&loopback_redirect()], Some("mcp:tools"))
            .await
            .expect("DCR");
        let cimd_redirect = loopback_redirect();
        let document = MetadataDocument::serve(&cimd_redirect, Some("mcp:tools")).await;
        let cimd = Client {
            client_id: document.client_id.clone(),
            redirect_uri: cimd_redirect,
            registration: None,
        };

        for (kind, client) in [("DCR", &dcr), ("CIMD", &cimd)] {
            let browser = Browser::new();
            let read = sign_in(
                &kc,
                &browser,
                client,
                "openid mcp:tools",
                Login::Realm("bob"),
            )
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
            let read = access_token(&read);
            assert!(
                !scopes_of(&read).contains("box:write"),
                "{kind}: {:?}",
                scopes_of(&read)
            );
            let mut bob = McpUser::connect(&server, read.clone()).await;
            bob.ok(
                "box_folder_list",
                json!({"folder_id": fixture::BOB_PRIVATE_FOLDER}),
            )
            .await;
            let name = format!("{}-step-up.txt", unique(kind));
            let upload = json!({"parent_folder_id": fixture::BOB_PRIVATE_FOLDER, "name": name, "content_text": "after step-up"});
            let refused = server
                .rpc(
                    &read,
                    bob.session.as_deref(),
                    "tools/call",
                    json!({"name": "box_file_upload", "arguments": upload}),
                )
                .await;
            assert_insufficient_scope(&refused, &kc, kind);

            // Step-up: the same client, signed in already, asks for box:write.
            let write = sign_in(
                &kc,
                &browser,
                client,
                "openid mcp:tools box:write",
                Login::Realm("bob"),
            )
            .await
            .unwrap_or_else(|e| panic!("{kind} step-up: {e:?}"));
            let write = access_token(&write);
            assert!(
                scopes_of(&write).contains("box:write"),
                "{kind}: {:?}",
                scopes_of(&write)
            );
            assert_eq!(claims(&write)["azp"], client.client_id, "{kind}");
            bob.token = write;
            let uploaded = bob.ok("box_file_upload", upload.clone()).await;
            assert_eq!(uploaded["name"], name, "{kind}: {uploaded}");
        }

        // Opt-in: a client listed in auth.tool_error_on_insufficient_scope gets a tool
        // error naming the missing scope; the tool does not run. Others keep the 403.
        let patterns = json!([dcr.client_id]).to_string();
        let lenient = box_server(
            &kc,
            &sandbox,
            &[("BOX_MCP_AUTH__TOOL_ERROR_ON_INSUFFICIENT_SCOPE", &patterns)],
        )
        .await;
        let browser = Browser::new();
        let read = access_token(
            &sign_in(&kc, &browser, &dcr, "openid mcp:tools", Login::Realm("bob"))
                .await
                .expect("DCR sign-in"),
        );
        let bob = McpUser::connect(&lenient, read).await;
        let name = format!("{}-never.txt", unique("lenient"));
        let reply = bob
            .fails(
                "box_file_upload",
                json!({"parent_folder_id": fixture::BOB_PRIVATE_FOLDER, "name": name, "content_text": "x"}),
                "insufficient_scope",
            )
            .await;
        let error = reply.structured();
        assert_eq!(error["missing_scopes"], json!(["box:write"]), "{error}");
        assert_eq!(
            error["required_scopes"],
            json!(["mcp:tools", "box:write"]),
            "{error}"
        );
        let text = reply.text();
        assert!(
            text.contains("box:write") && text.contains("Reconnect"),
            "{text}"
        );
        let listing = bob
            .ok(
                "box_folder_list",
                json!({"folder_id": fixture::BOB_PRIVATE_FOLDER}),
            )
            .await;
        assert!(
            !listing.to_string().contains(&name),
            "nothing uploaded: {listing}"
        );
        // A client the setting does not name still gets the 403.
        let other = mcp_token(&kc, "bob").await;
        let session = lenient.initialize(&other).await;
        let refused = lenient
            .rpc(
                &other,
                session.as_deref(),
                "tools/call",
                json!({"name": "box_file_upload", "arguments": {"parent_folder_id": fixture::BOB_PRIVATE_FOLDER, "name": name, "content_text": "x"}}),
            )
            .await;
        assert_insufficient_scope(&refused, &kc, "a client not opted in");

        dcr.remove(&admin).await;
        cimd.remove(&admin).await;
    }

    #[tokio::test]
    async fn corporate_users_sign_in_through_their_idp_with_roles_from_their_groups() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let admin = Admin::new(&kc);
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let server = box_server(&kc, &sandbox, &[]).await;
        let (client, _) = register(&kc, &[&loopback_redirect()], Some("mcp:tools"))
            .await
            .expect("DCR");

        // (corporate user, corporate group's role, Box user, its private folder)
        let users = [
            (
                "erin",
                "mcp-editor",
                "31000005",
                "200000000005",
                vec![Action::Read, Action::Write],
            ),
            (
                "sam",
                "mcp-viewer",
                "31000006",
                "200000000006",
                vec![Action::Read],
            ),
        ];
        for (user, role, box_user, folder, actions) in users {
            assert!(
                admin
                    .get(&format!("/{REALM}/users?username={user}&exact=true"))
                    .await
                    .as_array()
                    .unwrap()
                    .is_empty(),
                "{user} exists only in the corporate realm before the first login"
            );
            let tokens = sign_in(
                &kc,
                &Browser::new(),
                &client,
                "openid mcp:tools",
                Login::Corporate(user),
            )
            .await
            .unwrap_or_else(|e| panic!("{user}: no extra prompt on first login: {e:?}"));
            let token = access_token(&tokens);
            let c = claims(&token);
            assert_eq!(c["iss"], kc.issuer(REALM), "{user}: {c}");
            assert!(audiences(&c).contains(&kc.resource), "{user}: {c}");
            assert_eq!(c["preferred_username"], user, "{user}: {c}");
            assert_eq!(c["email"], format!("{user}@acme.example"), "{user}: {c}");
            assert_eq!(c["box_user_id"], box_user, "from the corporate claim: {c}");
            let roles: BTreeSet<&str> = c["realm_access"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|r| r.starts_with("mcp-"))
                .collect();
            let expected: BTreeSet<&str> = match role {
                "mcp-editor" => ["mcp-editor", "mcp-viewer"].into(),
                _ => ["mcp-viewer"].into(),
            };
            assert_eq!(roles, expected, "{user}: {c}");

            // The user now exists in the box-mcp realm, linked to the corporate IdP.
            let found = admin
                .get(&format!("/{REALM}/users?username={user}&exact=true"))
                .await;
            let id = found[0]["id"].as_str().unwrap().to_string();
            let links = admin
                .get(&format!("/{REALM}/users/{id}/federated-identity"))
                .await;
            assert_eq!(links[0]["identityProvider"], CORPORATE_IDP, "{links}");

            // Exactly the policy's tools for that role, and their own Box content.
            let caller = McpUser::connect(&server, token.clone()).await;
            let listed = listed_tools(&server, &token, caller.session.as_deref()).await;
            assert_eq!(listed, tools_for(&actions), "{user}");
            assert_eq!(
                caller.ok("box_whoami", json!({})).await["id"],
                box_user,
                "{user}"
            );
            let file = caller.a_file_in(folder).await;
            caller
                .ok("box_file_read_text", json!({"file_id": file}))
                .await;
            caller
                .fails(
                    "box_file_get",
                    json!({"file_id": fixture::ALICE_NOTES_FILE}),
                    "not_found",
                )
                .await;

            admin.delete(&format!("/{REALM}/users/{id}")).await;
        }
        client.remove(&admin).await;
    }
}
