// Step-up authorization (MCP 2025-11-25 "scope challenge") with the official TypeScript
// SDK against box-mcp, the bundled Keycloak and Box (the sandbox, managed users). alice
// (mcp-admin) first authorizes with only what box-mcp's 401 challenge asks for
// (`mcp:tools`); calling a tool that writes to Box (`box_folder_create`) then gets
//   403, WWW-Authenticate: Bearer error="insufficient_scope", …, scope="mcp:tools box:write"
// and the SDK's StreamableHTTPClientTransport re-runs the authorization with the challenged
// scope: a second authorization request (headless login and consent at Keycloak), the code
// exchange, and the retried call, which now creates the folder in alice's Box. Then she
// lists it and reads a file.
//
// Two things of the SDK 1.32.2 / Keycloak 26 pair shape the set-up:
// - The SDK registers the client itself (anonymous DCR) with the scope of the first
//   challenge, `mcp:tools`. Keycloak makes a registration's `scope` the client's only
//   optional scopes; the realm's `mcp-step-up` client policy (keycloak/extension) adds
//   `box:write` to them, without which this client could never step up.
// - The client has no refresh token (`grant_types: ["authorization_code"]`, for which
//   Keycloak issues none). With a refresh token, SDK 1.32.2 answers the 403 with a refresh
//   (which cannot widen the scope), gets the same 403 and gives up with "Server returned
//   403 after trying upscoping" (typescript-sdk#2255); the second test pins that, so an SDK
//   upgrade that fixes it shows up here. Such clients are what box-mcp's
//   `auth.tool_error_on_insufficient_scope` is for (docs/clients.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { keycloakHeadlessLogin, jwtPayload, testEnv } from './lib/keycloak-login.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const issuer = `${keycloakUrl}/realms/box-mcp`;
const mcpOrigin = new URL(mcpUrl).origin;
// A loopback redirect URI nobody listens on: the final redirect is read, never followed.
const REDIRECT_URI = 'http://127.0.0.1:47921/callback';
const WRITE_CHALLENGE = new RegExp(
    '^Bearer error="insufficient_scope", error_description="[^"]+", scope="mcp:tools box:write", ' +
        `resource_metadata="${mcpOrigin.replace(/[.]/g, '\\.')}/\\.well-known/oauth-protected-resource/mcp"$`,
);

const scopesOf = (s) => (s ?? '').split(' ').filter(Boolean);

/** Registers a public PKCE client at Keycloak's anonymous DCR endpoint (what the SDK would send). */
async function registerClient({ scope, grantTypes }) {
    const response = await fetch(`${issuer}/clients-registrations/openid-connect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
            client_name: 'box-mcp step-up test (TypeScript SDK)',
            redirect_uris: [REDIRECT_URI],
            grant_types: grantTypes,
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
            scope,
        }),
        signal: AbortSignal.timeout(30_000),
    });
    const body = await response.json();
    assert.equal(response.status, 201, `DCR at Keycloak: ${JSON.stringify(body)}`);
    assert.deepEqual(scopesOf(body.scope).sort(), scopesOf(scope).sort(), `registered scope: ${JSON.stringify(body)}`);
    return body;
}

/**
 * An in-memory OAuthClientProvider with pre-registered client information whose "browser"
 * is keycloakHeadlessLogin; it keeps every authorization URL and login result.
 */
class HeadlessOAuthProvider {
    constructor({ username, password, clientInformation = undefined }) {
        this.username = username;
        this.password = password;
        this._clientInformation = clientInformation;
        this._tokens = undefined;
        this._codeVerifier = undefined;
        this.states = [];
        this.authorizationUrls = [];
        this.logins = [];
        this.savedTokens = [];
    }
    get redirectUrl() {
        return REDIRECT_URI;
    }
    get clientMetadata() {
        return {
            client_name: 'box-mcp step-up test (TypeScript SDK)',
            redirect_uris: [REDIRECT_URI],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
        };
    }
    state() {
        const state = randomBytes(16).toString('base64url');
        this.states.push(state);
        return state;
    }
    clientInformation() {
        return this._clientInformation;
    }
    saveClientInformation(info) {
        // The SDK binds pre-registered information to the authorization server it used.
        if (this._clientInformation) assert.equal(info.client_id, this._clientInformation.client_id, 'no new registration');
        this.registrations = (this.registrations ?? 0) + 1;
        this._clientInformation = info;
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this.savedTokens.push(tokens);
        this._tokens = tokens;
    }
    saveCodeVerifier(verifier) {
        this._codeVerifier = verifier;
    }
    codeVerifier() {
        if (!this._codeVerifier) throw new Error('no code verifier saved');
        return this._codeVerifier;
    }
    async redirectToAuthorization(url) {
        this.authorizationUrls.push(new URL(url));
        this.logins.push(
            await keycloakHeadlessLogin(url, { username: this.username, password: this.password, redirectUri: REDIRECT_URI }),
        );
    }
    /** The code of the last login, checked against the state sent with it. */
    lastCode() {
        const login = this.logins.at(-1);
        assert.equal(login.state, this.states.at(-1), 'state round-trips');
        assert.equal(login.iss, issuer, 'RFC 9207 iss in the authorization response');
        return login.code;
    }
}

/** fetch that records every request the SDK makes (MCP and OAuth alike). */
function recordingFetch(log) {
    return async (input, init = {}) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const method = init.method ?? (input instanceof Request ? input.method : 'GET');
        const body = typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : undefined;
        const response = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
        let rpc;
        try {
            rpc = body && url.origin === mcpOrigin ? JSON.parse(body) : undefined;
        } catch {
            rpc = undefined;
        }
        log.push({ method, url, status: response.status, body, rpc, wwwAuthenticate: response.headers.get('www-authenticate') });
        return response;
    };
}

const describe = (requests) =>
    requests
        .map((r) => `${r.method} ${r.url.origin === mcpOrigin ? 'mcp' : 'kc'}${r.url.pathname}${r.rpc?.method ? ` (${r.rpc.method}${r.rpc.params?.name ? ` ${r.rpc.params.name}` : ''})` : ''} ${r.status}`)
        .join(' | ');

const isCall = (r, tool) => r.method === 'POST' && r.url.href === mcpUrl && r.rpc?.method === 'tools/call' && r.rpc.params?.name === tool;

/**
 * First authorization of a client: connect → 401 → authorization request with the 401's
 * scope → login and consent → code exchange → a new transport, connected. Returns the
 * client and its transport.
 */
async function connectWithMcpToolsOnly(t, provider, fetchFn) {
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const client = new Client({ name: 'box-mcp-ts-sdk-step-up-test', version: '1.0.0' });
    await assert.rejects(client.connect(first), (err) => {
        assert.ok(err instanceof UnauthorizedError, `expected UnauthorizedError, got ${err?.stack ?? err}`);
        return true;
    });
    assert.equal(provider.authorizationUrls.length, 1, 'one authorization request');
    const az = provider.authorizationUrls[0];
    assert.equal(`${az.origin}${az.pathname}`, `${issuer}/protocol/openid-connect/auth`);
    assert.equal(az.searchParams.get('scope'), 'mcp:tools', 'the first authorization asks only for the 401 challenge scope');
    assert.equal(az.searchParams.get('resource'), mcpUrl);
    await first.finishAuth(provider.lastCode());
    await first.close().catch(() => {});
    const token = jwtPayload(provider.tokens().access_token);
    assert.ok(scopesOf(token.scope).includes('mcp:tools'), `scope ${token.scope}`);
    assert.ok(!scopesOf(token.scope).includes('box:write'), `no box:write yet: ${token.scope}`);
    t.diagnostic(`first token scope: ${token.scope}`);

    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const connected = new Client({ name: 'box-mcp-ts-sdk-step-up-test', version: '1.0.0' });
    await connected.connect(transport);
    return { client: connected, transport };
}

test('TypeScript SDK: registers itself, steps up to box:write on 403 insufficient_scope, and writes to Box', { timeout: 120_000 }, async (t) => {
    const provider = new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password' });
    const requests = [];
    const { client, transport } = await connectWithMcpToolsOnly(t, provider, recordingFetch(requests));
    assert.equal(provider.tokens().refresh_token, undefined, 'no refresh token (see the top of this file)');
    // The SDK's own registration, with the first challenge's scope; Keycloak's answer also
    // lists box:write (the realm's mcp-step-up client policy).
    assert.equal(provider.registrations, 1, 'the SDK registered the client');
    const registration = requests.find((r) => r.url.href === `${issuer}/clients-registrations/openid-connect`);
    assert.equal(registration?.status, 201, describe(requests));
    assert.deepEqual(scopesOf(JSON.parse(registration.body).scope), ['mcp:tools'], registration.body);
    const registered = provider.clientInformation();
    assert.ok(scopesOf(registered.scope).includes('box:write'), `registered scope: ${registered.scope}`);
    try {
        // An admin sees the write tools with an mcp:tools-only token: the list does not depend on scopes.
        const { tools } = await client.listTools(undefined, { timeout: 30_000 });
        const names = tools.map((tool) => tool.name);
        assert.ok(names.includes('box_folder_create'), `box_folder_create in ${names}`);
        assert.ok(names.includes('box_folder_delete'), `alice (admin) sees the delete tools: ${names}`);

        // A read tool needs no step-up.
        const me = await client.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: 30_000 });
        assert.notEqual(me.isError, true, JSON.stringify(me));
        assert.equal(me.structuredContent.username, 'alice');
        assert.ok(!me.structuredContent.scopes.includes('box:write'), `scopes ${me.structuredContent.scopes}`);

        // The write call: 403 insufficient_scope → the SDK re-authorizes with the challenged scope.
        const before = requests.length;
        const folderName = `step-up-ts-sdk-${randomBytes(4).toString('hex')}`;
        const call = { name: 'box_folder_create', arguments: { parent_folder_id: '0', name: folderName } };
        await assert.rejects(client.callTool(call, undefined, { timeout: 60_000 }), (err) => {
            // The transport started the second authorization; our "browser" finished it, and the
            // SDK hands control back to the application to complete it (finishAuth).
            assert.ok(err instanceof UnauthorizedError, `expected UnauthorizedError, got ${err?.stack ?? err}`);
            return true;
        });
        const stepUp = requests.slice(before);
        t.diagnostic(`requests of the step-up: ${describe(stepUp)}`);
        const refused = stepUp.find((r) => isCall(r, 'box_folder_create'));
        assert.ok(refused, 'the write call was sent');
        assert.equal(refused.status, 403, 'box-mcp refused the mcp:tools-only token for a write tool');
        assert.match(refused.wwwAuthenticate, WRITE_CHALLENGE);
        assert.equal(stepUp.filter((r) => r.method === 'POST' && r.url.href === mcpUrl).length, 1, 'no retry with the old token');

        // The second authorization request carries the challenged scope (all of it).
        assert.equal(provider.authorizationUrls.length, 2, 'a second authorization request');
        const second = provider.authorizationUrls[1];
        t.diagnostic(`second authorization request scope: ${second.searchParams.get('scope')}`);
        const asked = scopesOf(second.searchParams.get('scope'));
        assert.ok(asked.includes('box:write'), `box:write in ${asked}`);
        assert.ok(asked.includes('mcp:tools'), `mcp:tools in ${asked}`);
        assert.equal(second.searchParams.get('client_id'), registered.client_id, 'the same client');
        assert.equal(second.searchParams.get('code_challenge_method'), 'S256');
        assert.equal(second.searchParams.get('resource'), mcpUrl);
        const login = provider.logins[1];
        t.diagnostic(`Keycloak pages of the step-up: ${login.steps.join(' | ')}`);
        assert.ok(login.sawLoginForm, 'alice signed in again');
        assert.ok(login.sawConsent, 'Keycloak asked alice to consent to box:write');

        // Complete it: exchange the code, then retry the call on the same session.
        const beforeToken = requests.length;
        await transport.finishAuth(provider.lastCode());
        const tokenRequest = requests.slice(beforeToken).find((r) => r.url.href === `${issuer}/protocol/openid-connect/token`);
        assert.equal(tokenRequest?.status, 200, 'the code exchange');
        assert.equal(new URLSearchParams(tokenRequest.body).get('resource'), mcpUrl);
        const tokens = provider.tokens();
        t.diagnostic(`token response scope: ${tokens.scope}`);
        assert.ok(scopesOf(tokens.scope).includes('box:write'), `token response scope ${tokens.scope}`);
        const claims = jwtPayload(tokens.access_token);
        t.diagnostic(`stepped-up token scope claim: ${claims.scope}`);
        assert.ok(scopesOf(claims.scope).includes('box:write'), `scope claim ${claims.scope}`);
        assert.ok(scopesOf(claims.scope).includes('mcp:tools'), `scope claim ${claims.scope}`);
        assert.equal(claims.sub, 'a1a1a1a1-0000-4000-8000-000000000001');
        assert.ok([].concat(claims.aud).includes(mcpUrl), `aud ${JSON.stringify(claims.aud)}`);

        const beforeRetry = requests.length;
        const result = await client.callTool(call, undefined, { timeout: 60_000 });
        const retry = requests.slice(beforeRetry).find((r) => isCall(r, 'box_folder_create'));
        assert.equal(retry?.status, 200, `the retried call passed the scope gate: ${describe(requests.slice(beforeRetry))}`);
        t.diagnostic(`box_folder_create after the step-up: ${JSON.stringify(result.structuredContent ?? result.content)}`);
        // The tool ran: the folder is in alice's Box (the sandbox).
        assert.notEqual(result.isError, true, JSON.stringify(result));
        assert.equal(result.structuredContent?.name, folderName, JSON.stringify(result));
        const folderId = result.structuredContent.id;
        assert.match(String(folderId), /^[0-9]+$/, JSON.stringify(result));

        // Reading needs no further authorization: her root lists the new folder, and a file of hers reads.
        const root = await client.callTool({ name: 'box_folder_list', arguments: { folder_id: '0' } }, undefined, { timeout: 30_000 });
        assert.notEqual(root.isError, true, JSON.stringify(root));
        const entries = root.structuredContent.entries;
        assert.ok(entries.some((e) => e.type === 'folder' && e.id === folderId && e.name === folderName), JSON.stringify(entries));
        const notes = await client.callTool({ name: 'box_file_read_text', arguments: { file_id: '400000000101' } }, undefined, { timeout: 30_000 });
        assert.notEqual(notes.isError, true, JSON.stringify(notes));
        assert.match(notes.structuredContent.text, /launch date/, JSON.stringify(notes));

        // The session went on with the new token: whoami shows box:write now.
        const after = await client.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: 30_000 });
        assert.ok(after.structuredContent.scopes.includes('box:write'), `scopes ${after.structuredContent.scopes}`);
        assert.equal(provider.authorizationUrls.length, 2, 'no further authorization');
    } finally {
        await transport.terminateSession().catch(() => {});
        await client.close();
    }
});

test('TypeScript SDK 1.32.2 with a refresh token: refreshes instead of stepping up, and gives up (typescript-sdk#2255)', { timeout: 120_000 }, async (t) => {
    const registered = await registerClient({ scope: 'mcp:tools box:write', grantTypes: ['authorization_code', 'refresh_token'] });
    const provider = new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password', clientInformation: registered });
    const requests = [];
    const { client, transport } = await connectWithMcpToolsOnly(t, provider, recordingFetch(requests));
    assert.ok(provider.tokens().refresh_token, 'Keycloak issued a refresh token');
    try {
        const before = requests.length;
        const call = { name: 'box_folder_create', arguments: { parent_folder_id: '0', name: 'step-up-test' } };
        await assert.rejects(client.callTool(call, undefined, { timeout: 60_000 }), (err) => {
            assert.ok(err instanceof StreamableHTTPError, `expected StreamableHTTPError, got ${err?.stack ?? err}`);
            assert.match(err.message, /403 after trying upscoping/);
            return true;
        });
        const stepUp = requests.slice(before);
        t.diagnostic(`requests: ${describe(stepUp)}`);
        // box-mcp answered both attempts with the same step-up challenge …
        const calls = stepUp.filter((r) => isCall(r, 'box_folder_create'));
        assert.equal(calls.length, 2, 'the call and its retry');
        for (const c of calls) {
            assert.equal(c.status, 403);
            assert.match(c.wwwAuthenticate, WRITE_CHALLENGE);
        }
        // … and between them the SDK used the refresh token (which cannot add box:write)
        // instead of a new authorization request.
        const refresh = stepUp.find(
            (r) => r.url.href === `${issuer}/protocol/openid-connect/token` && new URLSearchParams(r.body).get('grant_type') === 'refresh_token',
        );
        assert.ok(refresh, 'a refresh grant');
        assert.equal(new URLSearchParams(refresh.body).get('scope'), null, 'the refresh asks for no scope');
        assert.equal(provider.authorizationUrls.length, 1, 'no second authorization request');
        assert.ok(!scopesOf(jwtPayload(provider.tokens().access_token).scope).includes('box:write'));
    } finally {
        await transport.terminateSession().catch(() => {});
        await client.close();
    }
});
