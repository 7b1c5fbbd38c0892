// The official TypeScript SDK v2 (`@modelcontextprotocol/client`), pinned to the MCP
// 2026-07-28 revision, against box-mcp, the bundled Keycloak and Box (the sandbox,
// managed users). The modern revision has no `initialize`: the client probes with
// `server/discover`, and every request stands alone. The pin means no fallback: if
// box-mcp did not offer 2026-07-28, connect() would fail.
//
// OAuth is the v2 client's own (401 → RFC 9728 → Keycloak's metadata → DCR → PKCE), with
// the same headless browser as the v1 suites.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

import { jwtPayload, testEnv } from './lib/keycloak-login.mjs';
import { HeadlessOAuthProvider } from './lib/headless-provider.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const issuer = `${keycloakUrl}/realms/box-mcp`;
const REVISION = '2026-07-28';
// A loopback redirect URI nobody listens on: the final redirect is read, never followed.
const REDIRECT_URI = 'http://127.0.0.1:47923/callback';
const BOB_PRIVATE_FOLDER = '200000000002';

function recordingFetch(log) {
    return async (input, init = {}) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const method = init.method ?? (input instanceof Request ? input.method : 'GET');
        const body = typeof init.body === 'string' ? init.body : undefined;
        const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
        const response = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
        let rpc;
        try {
            rpc = body && url.href === mcpUrl ? JSON.parse(body) : undefined;
        } catch {
            rpc = undefined;
        }
        log.push({ method, url, status: response.status, rpc, protocolHeader: headers.get('mcp-protocol-version') });
        return response;
    };
}

const newClient = () =>
    new Client({ name: 'box-mcp-ts-sdk-v2-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });

test(`TypeScript SDK v2 (${REVISION}): OAuth on its own, then lists and calls Box tools`, { timeout: 120_000 }, async (t) => {
    const provider = new HeadlessOAuthProvider({
        username: 'bob',
        password: 'bob-password',
        redirectUri: REDIRECT_URI,
        clientName: 'box-mcp client test (TypeScript SDK v2)',
    });
    const requests = [];
    const fetchFn = recordingFetch(requests);

    // First connection: no token. The SDK ends in redirectToAuthorization.
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    await assert.rejects(newClient().connect(first), (err) => {
        assert.ok(err instanceof UnauthorizedError, `expected UnauthorizedError, got ${err?.stack ?? err}`);
        return true;
    });
    assert.ok(provider.login?.code, 'signed in at Keycloak');
    assert.equal(provider.savedClientInformation.length, 1, 'the SDK registered a client');
    assert.equal(provider.authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    // v2 checks RFC 9207: the callback's parameters, `iss` included, go to finishAuth.
    assert.equal(provider.login.iss, issuer);
    await first.finishAuth(provider.login.redirect.searchParams);
    await first.close().catch(() => {});
    const claims = jwtPayload(provider.tokens().access_token);
    assert.equal(claims.iss, issuer);
    assert.ok([].concat(claims.aud).includes(mcpUrl), `aud ${JSON.stringify(claims.aud)}`);

    // Connected with the token, at the pinned revision.
    const before = requests.length;
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const client = newClient();
    await client.connect(transport);
    try {
        const connectRequests = requests.slice(before);
        const methods = connectRequests.map((r) => r.rpc?.method).filter(Boolean);
        t.diagnostic(`connect: ${methods.join(', ')}; server ${JSON.stringify(client.getServerVersion())}`);
        assert.ok(methods.includes('server/discover'), `the client probed with server/discover: ${methods}`);
        assert.ok(!methods.includes('initialize'), `no initialize at ${REVISION}: ${methods}`);

        const { tools } = await client.listTools(undefined, { timeout: 30_000 });
        const names = tools.map((tool) => tool.name);
        assert.ok(names.includes('box_folder_list') && names.includes('box_file_upload'), `${names}`);
        assert.ok(!names.includes('box_file_delete'), `bob (editor) has no delete tool: ${names}`);

        const me = await client.callTool({ name: 'box_whoami', arguments: {} }, { timeout: 30_000 });
        assert.notEqual(me.isError, true, JSON.stringify(me));
        assert.equal(me.structuredContent.id, '31000002', JSON.stringify(me));

        const folder = await client.callTool({ name: 'box_folder_list', arguments: { folder_id: BOB_PRIVATE_FOLDER } }, { timeout: 30_000 });
        assert.notEqual(folder.isError, true, JSON.stringify(folder));
        const file = folder.structuredContent.entries.find((e) => e.type === 'file' && e.name.endsWith('.md'));
        assert.ok(file, JSON.stringify(folder.structuredContent));
        const text = await client.callTool({ name: 'box_file_read_text', arguments: { file_id: file.id } }, { timeout: 30_000 });
        assert.notEqual(text.isError, true, JSON.stringify(text));
        assert.ok(text.structuredContent.text.length > 0, JSON.stringify(text));

        // Every request after the probe says which revision it speaks.
        const later = requests.slice(before).filter((r) => r.rpc && r.rpc.method !== 'server/discover');
        assert.ok(later.length >= 3, `${later.length} requests`);
        for (const r of later) assert.equal(r.protocolHeader, REVISION, `${r.rpc.method}: MCP-Protocol-Version`);
    } finally {
        await client.close();
    }
});
