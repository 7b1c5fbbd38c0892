"""The official Python MCP SDK (`mcp` 2.3) against box-mcp, the bundled Keycloak and Box
(the sandbox, managed users).

Nothing is configured but the server URL: `OAuthClientProvider` (an httpx2 auth) must go
401 → RFC 9728 metadata → Keycloak's authorization server metadata → dynamic client
registration → authorization code with PKCE (S256) → token, and `ClientSession` then lists
and calls tools over streamable HTTP: whoami, a Box folder listing, a file read, and an
upload, which box-mcp refuses with 403 `insufficient_scope` until the SDK has stepped up
to `box:write` by itself (a second authorization, inline). The browser part is headless
(keycloak_login.py).
"""

from __future__ import annotations

import json
import os
from base64 import urlsafe_b64decode
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from keycloak_login import LoginResult, keycloak_headless_login

MCP_URL = os.environ["BOX_MCP_TEST_MCP_URL"]
KEYCLOAK_URL = os.environ["BOX_MCP_TEST_KEYCLOAK_URL"].rstrip("/")
ISSUER = f"{KEYCLOAK_URL}/realms/box-mcp"
# A loopback redirect URI nobody listens on: the final redirect is read, never followed.
REDIRECT_URI = "http://127.0.0.1:47920/callback"
BOB_PRIVATE_FOLDER = "200000000002"
OVERALL_TIMEOUT_S = 120


class MemoryStorage:
    """TokenStorage that records what the SDK saved."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.saved_client_infos: list[OAuthClientInformationFull] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.saved_client_infos.append(client_info)
        self.client_info = client_info


class HeadlessBrowser:
    """redirect_handler + callback_handler pair for OAuthClientProvider."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.authorization_urls: list[str] = []
        self.logins: list[LoginResult] = []

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        self.logins.append(
            await keycloak_headless_login(
                authorization_url, username=self.username, password=self.password, redirect_uri=REDIRECT_URI
            )
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        login = self.logins[-1]
        return AuthorizationCodeResult(code=login.code, state=login.state, iss=login.iss)


def jwt_payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_python_sdk_discovers_keycloak_registers_calls_box_tools_and_steps_up() -> None:
    anyio.run(_flow)


async def _flow() -> None:
    storage = MemoryStorage()
    browser = HeadlessBrowser("bob", "bob-password")
    auth = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            client_name="box-mcp client test (Python SDK)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )

    seen: list[tuple[str, str, int, bytes]] = []

    async def record(response: httpx2.Response) -> None:
        req = response.request
        seen.append((req.method, str(req.url), response.status_code, req.content))

    with anyio.fail_after(OVERALL_TIMEOUT_S):
        async with httpx2.AsyncClient(
            auth=auth, timeout=httpx2.Timeout(30.0), event_hooks={"response": [record]}
        ) as http:
            async with streamable_http_client(MCP_URL, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    print(f"initialize: protocol {init.protocol_version}, server {init.server_info.name} {init.server_info.version}")
                    tools = await session.list_tools()
                    names = [t.name for t in tools.tools]
                    print(f"tools/list: {names}")
                    assert "whoami" in names
                    result = await session.call_tool("whoami", {})
                    print(f"whoami structured_content: {json.dumps(result.structured_content)}")
                    authorizations_before_box = len(browser.authorization_urls)

                    # Box: bob's own folder and one of his files (read tools: no step-up).
                    listing = await session.call_tool("box_folder_list", {"folder_id": BOB_PRIVATE_FOLDER})
                    assert not listing.is_error, listing
                    entries = listing.structured_content["entries"]
                    text_file = next(e for e in entries if e["type"] == "file" and e["name"].endswith(".txt"))
                    read = await session.call_tool("box_file_read_text", {"file_id": text_file["id"]})
                    assert not read.is_error, read
                    assert read.structured_content["text"], read
                    assert len(browser.authorization_urls) == authorizations_before_box

                    # A write tool: 403 insufficient_scope, the SDK re-authorizes with the
                    # challenged scope and retries; the upload lands in bob's Box.
                    name = f"python-sdk-step-up-{os.getpid()}.txt"
                    upload = await session.call_tool(
                        "box_file_upload",
                        {"parent_folder_id": BOB_PRIVATE_FOLDER, "name": name, "content_text": "written after step-up"},
                    )
                    assert not upload.is_error, upload
                    assert upload.structured_content["name"] == name, upload
                    after = await session.call_tool("box_folder_list", {"folder_id": BOB_PRIVATE_FOLDER})
                    assert any(e["name"] == name for e in after.structured_content["entries"]), after

    print("requests:\n  " + "\n  ".join(f"{m} {u.split('?')[0]} {s}" for m, u, s, _ in seen))
    print("Keycloak pages: " + " | ".join(browser.logins[0].steps))

    # The flow as seen on the wire.
    first = seen[0]
    assert (first[0], first[1], first[2]) == ("POST", MCP_URL, 401)
    assert any(u.endswith("/.well-known/oauth-protected-resource/mcp") and s == 200 for _, u, s, _ in seen)
    assert any(u.startswith(KEYCLOAK_URL) and "/.well-known/" in u and s == 200 for _, u, s, _ in seen)
    registrations = [x for x in seen if x[1] == f"{ISSUER}/clients-registrations/openid-connect"]
    assert len(registrations) == 1 and registrations[0][2] == 201, registrations

    # Dynamic client registration happened and was stored.
    assert len(storage.saved_client_infos) == 1
    client_id = storage.saved_client_infos[0].client_id
    assert client_id
    print(f"registered client_id {client_id}")

    # Authorization requests: PKCE S256, challenged scope, resource indicator. The first asks
    # for what the 401 challenge named, the second (the step-up) adds box:write.
    assert len(browser.authorization_urls) == 2, browser.authorization_urls
    step_up = {k: v[0] for k, v in parse_qs(urlparse(browser.authorization_urls[1]).query).items()}
    print(f"step-up authorization request scope: {step_up['scope']!r}")
    assert {"mcp:tools", "box:write"} <= set(step_up["scope"].split())
    assert any(
        m == "POST" and u == MCP_URL and st == 403 and b"box_file_upload" in body for m, u, st, body in seen
    ), "box-mcp refused the upload before the step-up"
    az = urlparse(browser.authorization_urls[0])
    q = {k: v[0] for k, v in parse_qs(az.query).items()}
    assert f"{az.scheme}://{az.netloc}{az.path}" == f"{ISSUER}/protocol/openid-connect/auth"
    assert q["client_id"] == client_id
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43
    assert "mcp:tools" in q["scope"].split()
    assert q["resource"] == MCP_URL
    print(f"authorization request scope: {q['scope']!r}, prompt: {q.get('prompt')!r}")

    login = browser.logins[0]
    assert login.saw_login_form and login.saw_consent
    assert login.iss == ISSUER

    # Token request: authorization code with the PKCE verifier.
    token_requests = [x for x in seen if x[1] == f"{ISSUER}/protocol/openid-connect/token"]
    assert len(token_requests) == 2 and all(x[2] == 200 for x in token_requests), token_requests
    form = {k: v[0] for k, v in parse_qs(token_requests[0][3].decode()).items()}
    assert form["grant_type"] == "authorization_code"
    assert len(form["code_verifier"]) >= 43
    assert form["client_id"] == client_id
    assert form["resource"] == MCP_URL

    assert storage.tokens is not None
    claims = jwt_payload(storage.tokens.access_token)
    assert {"mcp:tools", "box:write"} <= set(claims["scope"].split()), claims["scope"]
    assert claims["iss"] == ISSUER
    assert claims["azp"] == client_id
    assert MCP_URL in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])

    # What box-mcp made of it.
    assert not result.is_error
    me = result.structured_content
    assert me["subject"] == "b0b0b0b0-0000-4000-8000-000000000002"
    assert me["username"] == "bob"
    assert "mcp-editor" in me["roles"] and "mcp-admin" not in me["roles"]
    assert str(me["box_user_id"]) == "31000002"
    assert me["client_id"] == client_id
    assert storage.tokens.access_token not in json.dumps(me)
