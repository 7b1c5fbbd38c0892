// The official TypeScript MCP SDK against box-mcp's own TLS listener (tls.cert_file /
// tls.key_file), trusting the test CA that scripts/test-clients.sh made (NODE_EXTRA_CA_CERTS):
// the SDK finds Keycloak from the https server's 401 and metadata, registers, logs in with
// PKCE, and calls a tool, every MCP request over TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { testEnv } from './lib/keycloak-login.mjs';
import { HeadlessOAuthProvider } from './lib/headless-provider.mjs';

const { mcpUrl } = testEnv();
const REDIRECT_URI = 'http://127.0.0.1:47927/callback';

test('TypeScript SDK over box-mcp TLS: OAuth from the https metadata, then whoami', { timeout: 120_000 }, async (t) => {
    assert.match(mcpUrl, /^https:\/\//, 'this suite runs against the TLS listener');
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'the test CA is trusted through NODE_EXTRA_CA_CERTS');
    const provider = new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password', redirectUri: REDIRECT_URI });
    const mcpRequests = [];
    const fetchFn = async (input, init = {}) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const response = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
        if (url.origin === new URL(mcpUrl).origin) mcpRequests.push(`${url.protocol}//${url.pathname} ${response.status}`);
        return response;
    };

    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    await assert.rejects(new Client({ name: 'box-mcp-ts-sdk-tls-test', version: '1.0.0' }).connect(first), (err) => {
        assert.ok(err instanceof UnauthorizedError, `expected UnauthorizedError, got ${err?.stack ?? err}`);
        return true;
    });
    await first.close().catch(() => {});
    assert.equal(provider.authorizationUrl.searchParams.get('resource'), mcpUrl, 'the resource is the https URL');
    await first.finishAuth(provider.login.code);

    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: fetchFn });
    const client = new Client({ name: 'box-mcp-ts-sdk-tls-test', version: '1.0.0' });
    await client.connect(transport);
    try {
        const result = await client.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: 30_000 });
        assert.notEqual(result.isError, true, JSON.stringify(result));
        assert.equal(result.structuredContent.username, 'alice');
    } finally {
        await transport.terminateSession().catch(() => {});
        await client.close();
    }
    t.diagnostic(`MCP requests: ${mcpRequests.join(' | ')}`);
    assert.ok(mcpRequests.length >= 4, 'the SDK talked to box-mcp');
    assert.ok(mcpRequests.every((r) => r.startsWith('https:')), 'every MCP request went over TLS');
});
