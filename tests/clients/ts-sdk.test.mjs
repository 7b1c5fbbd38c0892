// The official TypeScript MCP SDK against box-mcp and the bundled Keycloak, with nothing
// configured but the server URL: the SDK must discover Keycloak by itself (401 →
// RFC 9728 metadata → authorization server metadata), register a client dynamically at
// Keycloak, run the authorization code flow with PKCE (S256), and then call tools with the
// token. The browser part is headless: see lib/keycloak-login.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { jwtPayload, testEnv } from './lib/keycloak-login.mjs';
import { HeadlessOAuthProvider } from './lib/headless-provider.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const issuer = `${keycloakUrl}/realms/box-mcp`;
// A loopback redirect URI nobody listens on: the final redirect is read, never followed.
const REDIRECT_URI = 'http://127.0.0.1:47919/callback';

/** fetch that records every request the SDK makes (MCP and OAuth alike). */
function recordingFetch(log) {
    return async (input, init = {}) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const method = init.method ?? (input instanceof Request ? input.method : 'GET');
        const body = typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : undefined;
        const response = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
        log.push({ method, url, status: response.status, body, wwwAuthenticate: response.headers.get('www-authenticate') });
        return response;
    };
}

test('TypeScript SDK: discovery, DCR, authorization code + PKCE at Keycloak, then whoami', { timeout: 120_000 }, async (t) => {
    const provider = new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password', redirectUri: REDIRECT_URI });
    const requests = [];
    const fetchFn = recordingFetch(requests);

    // 1. First connection: no token yet. The SDK must end in redirectToAuthorization.
    const transport1 = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const client1 = new Client({ name: 'box-mcp-ts-sdk-test', version: '1.0.0' });
    await assert.rejects(client1.connect(transport1), (err) => {
        assert.ok(err instanceof UnauthorizedError, `expected UnauthorizedError, got ${err?.stack ?? err}`);
        return true;
    });
    await transport1.close().catch(() => {});

    const seen = requests.map((r) => `${r.method} ${r.url.origin === new URL(mcpUrl).origin ? 'mcp' : 'kc'}${r.url.pathname} ${r.status}`);
    t.diagnostic(`requests of the first connection: ${seen.join(" | ")}`);

    // 401 with a WWW-Authenticate challenge that points at the RFC 9728 metadata.
    const first = requests[0];
    assert.equal(first.method, 'POST');
    assert.equal(first.url.href, mcpUrl);
    assert.equal(first.status, 401);
    assert.match(first.wwwAuthenticate, /^Bearer /);
    assert.match(first.wwwAuthenticate, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
    assert.match(first.wwwAuthenticate, /scope="mcp:tools"/);

    const prm = requests.find((r) => r.url.pathname === '/.well-known/oauth-protected-resource/mcp');
    assert.ok(prm, 'the SDK fetched the protected resource metadata');
    assert.equal(prm.status, 200);

    const asMeta = requests.find((r) => r.url.origin === keycloakUrl && r.url.pathname.includes('/.well-known/') && r.status === 200);
    assert.ok(asMeta, "the SDK fetched Keycloak's authorization server metadata");
    t.diagnostic(`authorization server metadata from ${asMeta.url.href}`);

    // Dynamic client registration at Keycloak.
    const dcr = requests.find((r) => r.method === 'POST' && r.url.pathname === '/realms/box-mcp/clients-registrations/openid-connect');
    assert.ok(dcr, 'the SDK registered a client dynamically');
    assert.equal(dcr.status, 201);
    assert.deepEqual(provider.events.slice(0, 1), ['saveClientInformation']);
    assert.equal(provider.savedClientInformation.length, 1);
    const clientId = provider.savedClientInformation[0].client_id;
    assert.ok(clientId, 'saveClientInformation received a client_id');
    assert.deepEqual(provider.savedClientInformation[0].redirect_uris, [REDIRECT_URI]);
    t.diagnostic(`registered client_id ${clientId}`);

    // Authorization request with PKCE S256, the challenged scope and the resource indicator.
    const az = provider.authorizationUrl;
    assert.ok(az, 'redirectToAuthorization was called');
    assert.equal(`${az.origin}${az.pathname}`, `${issuer}/protocol/openid-connect/auth`);
    assert.equal(az.searchParams.get('client_id'), clientId);
    assert.equal(az.searchParams.get('response_type'), 'code');
    assert.equal(az.searchParams.get('code_challenge_method'), 'S256');
    assert.match(az.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(az.searchParams.get('scope'), 'mcp:tools');
    assert.equal(az.searchParams.get('resource'), mcpUrl);
    assert.equal(provider.savedCodeVerifiers.length, 1, 'a PKCE code verifier was saved before the redirect');

    // The headless browser went through Keycloak's login and consent pages.
    const login = provider.login;
    t.diagnostic(`Keycloak pages: ${login.steps.join(' | ')}`);
    assert.ok(login.sawLoginForm, 'Keycloak showed its login form');
    assert.ok(login.sawConsent, 'Keycloak asked for consent (DCR clients have consent required)');
    assert.equal(login.state, provider._state, 'state round-trips');
    assert.equal(login.iss, issuer, 'RFC 9207 iss in the authorization response');

    // 2. Exchange the code (with the PKCE verifier).
    const before = requests.length;
    await transport1.finishAuth(login.code);
    const tokenRequest = requests.slice(before).find((r) => r.url.href === `${issuer}/protocol/openid-connect/token`);
    assert.ok(tokenRequest, 'finishAuth called the token endpoint');
    assert.equal(tokenRequest.status, 200);
    const tokenForm = new URLSearchParams(tokenRequest.body);
    assert.equal(tokenForm.get('grant_type'), 'authorization_code');
    assert.equal(tokenForm.get('code_verifier'), provider.savedCodeVerifiers[0], 'the token request carried the PKCE verifier');
    assert.equal(tokenForm.get('client_id'), clientId);
    assert.equal(tokenForm.get('resource'), mcpUrl);

    const tokens = provider.tokens();
    assert.ok(tokens?.access_token, 'saveTokens got an access token');
    const claims = jwtPayload(tokens.access_token);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.azp, clientId, 'the token was issued to the dynamically registered client');
    assert.ok([].concat(claims.aud).includes(mcpUrl), `aud ${JSON.stringify(claims.aud)} contains ${mcpUrl}`);
    assert.ok(claims.scope.split(' ').includes('mcp:tools'));

    // 3. Reconnect with the token and use the server.
    const transport2 = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const client2 = new Client({ name: 'box-mcp-ts-sdk-test', version: '1.0.0' });
    await client2.connect(transport2);
    try {
        t.diagnostic(`negotiated protocol version ${transport2.protocolVersion}, server ${JSON.stringify(client2.getServerVersion())}`);
        const { tools } = await client2.listTools(undefined, { timeout: 30_000 });
        const names = tools.map((tool) => tool.name);
        t.diagnostic(`tools/list: ${names.join(', ')}`);
        assert.ok(names.includes('whoami'), `whoami in ${names}`);

        const result = await client2.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: 30_000 });
        t.diagnostic(`whoami structuredContent: ${JSON.stringify(result.structuredContent)}`);
        assert.notEqual(result.isError, true);
        const me = result.structuredContent;
        assert.equal(me.subject, 'a1a1a1a1-0000-4000-8000-000000000001');
        assert.equal(me.username, 'alice');
        assert.ok(me.roles.includes('mcp-admin'), `roles ${me.roles}`);
        assert.equal(String(me.box_user_id), '31000001');
        assert.equal(me.client_id, clientId);
        assert.ok(!JSON.stringify(result).includes(tokens.access_token), 'whoami never returns the token');
    } finally {
        await transport2.terminateSession();
        await client2.close();
    }
    assert.deepEqual([...new Set(provider.savedClientInformation.map((c) => c.client_id))], [clientId], 'one registration, reused');
});
