// Linked Box accounts through the official TypeScript SDK: alice connects with nothing but
// the server URL (discovery, DCR at Keycloak, authorization code + PKCE, headless login),
// calls a Box tool, and is told to link her Box account, with the URL. She follows it
// (Keycloak, then box-sandbox's Box sign-in as a user outside the app's enterprise, and
// consent), and the same call then works as that Box user. A client that declared URL
// elicitation gets the link as MCP's URLElicitationRequiredError (-32042) instead.
//
// scripts/test-clients.sh runs this against a box-mcp with box.per_user_token = "linked"
// and the box-sandbox that Keycloak's `box` identity provider points at.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { testEnv } from './lib/keycloak-login.mjs';
import { HeadlessOAuthProvider } from './lib/headless-provider.mjs';
import { linkBoxAccount } from './lib/box-link.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const sandboxUrl = process.env.BOX_MCP_TEST_SANDBOX_URL;
const REDIRECT_URI = 'http://127.0.0.1:47921/callback';
const ALICE_ID = 'a1a1a1a1-0000-4000-8000-000000000001';

/** Connects as `user` through the whole OAuth flow; returns the connected client. */
async function connect(provider, capabilities = {}) {
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await assert.rejects(new Client({ name: 'linked-test', version: '1' }).connect(first), UnauthorizedError);
    await first.finishAuth(provider.login.code);
    await first.close().catch(() => {});
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    const client = new Client({ name: 'linked-test', version: '1' }, { capabilities });
    await client.connect(transport);
    return client;
}

/** Removes alice's Box link at Keycloak (admin API), so the test starts unlinked. */
async function unlink() {
    const token = await fetch(`${keycloakUrl}/realms/master/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
    }).then((r) => r.json());
    const r = await fetch(`${keycloakUrl}/admin/realms/box-mcp/users/${ALICE_ID}/federated-identity/box`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token.access_token}` },
    });
    assert.ok([204, 404].includes(r.status), `unlink answered ${r.status}`);
}

test('linked Box account through the TypeScript SDK: link answer, linking, then the tool acts as that Box user', { timeout: 150_000 }, async (t) => {
    assert.ok(sandboxUrl, 'BOX_MCP_TEST_SANDBOX_URL is set by scripts/test-clients.sh');
    await unlink();
    const provider = new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password', redirectUri: REDIRECT_URI, clientName: 'box-mcp linked test' });
    const client = await connect(provider);
    t.after(() => client.close().catch(() => {}));
    assert.ok(provider.savedClientInformation[0]?.client_id, 'registered dynamically');
    assert.equal(provider.authorizationUrl.searchParams.get('code_challenge_method'), 'S256');

    // 1. Not linked: a tool error that holds the link URL, and no Box call was made for it.
    const first = await client.callTool({ name: 'box_whoami', arguments: {} });
    assert.equal(first.isError, true, JSON.stringify(first));
    assert.equal(first.structuredContent.error, 'box_account_not_linked');
    const linkUrl = first.structuredContent.link_url;
    assert.match(linkUrl, /kc_action=idp_link%3Abox/);
    assert.ok(first.content[0].text.includes(linkUrl), 'the message holds the URL');

    // 2. The user follows the link: Keycloak, then Box (the sandbox) as Nora, another
    //    enterprise's user, who grants access.
    const linked = await linkBoxAccount(linkUrl, {
        user: 'alice',
        password: 'alice-password',
        boxLogin: 'nora@northwind.example',
        boxPassword: 'nora-box',
    });
    t.diagnostic(`linking: ${linked.steps.join(' → ')}`);
    assert.equal(linked.done.searchParams.get('kc_action_status'), 'success', linked.done.href);
    assert.ok(linked.steps.includes('box sign-in') && linked.steps.includes('box consent'));

    // 3. The same call now works, as Nora. (Keycloak itself called Box's users/me with
    //    Nora's token while linking: only what comes after counts.)
    const seqOf = (entries) => entries.at(-1)?.seq ?? 0;
    const since = seqOf((await fetch(`${sandboxUrl}/_sandbox/requests`).then((r) => r.json())).entries);
    const me = await client.callTool({ name: 'box_whoami', arguments: {} });
    assert.notEqual(me.isError, true, JSON.stringify(me));
    assert.equal(me.structuredContent.id, '41000001');
    const items = await client.callTool({ name: 'box_folder_list', arguments: { folder_id: '0' } });
    assert.deepEqual(items.structuredContent.entries.map((e) => e.name), ['Nora Private']);

    // At Box: only downscoped tokens for Nora, holding the tool's scope.
    const log = (await fetch(`${sandboxUrl}/_sandbox/requests`).then((r) => r.json())).entries;
    const noras = log.filter((e) => e.seq > since && e.path.startsWith('/2.0/') && e.token?.subject === '41000001');
    assert.ok(noras.length >= 2);
    for (const e of noras) {
        assert.equal(e.token.kind, 'downscoped');
        assert.deepEqual(e.token.scopes, ['item_preview']);
    }
    const accessToken = provider.tokens().access_token;
    assert.ok(!JSON.stringify(log).includes(accessToken), 'the IdP token never reaches Box');

    // 4. Unlinked again: a client that can open URLs gets MCP's URL elicitation error.
    await unlink();
    const elicit = await connect(
        new HeadlessOAuthProvider({ username: 'alice', password: 'alice-password', redirectUri: REDIRECT_URI, clientName: 'box-mcp linked test 2' }),
        { elicitation: { url: {} } },
    );
    t.after(() => elicit.close().catch(() => {}));
    const deadline = Date.now() + 15_000;
    for (;;) {
        try {
            await elicit.callTool({ name: 'box_whoami', arguments: {} });
        } catch (err) {
            assert.equal(err.code, -32042, String(err?.stack ?? err));
            const [e] = err.data.elicitations;
            assert.equal(e.mode, 'url');
            assert.match(e.url, /kc_action=idp_link%3Abox/);
            break;
        }
        assert.ok(Date.now() < deadline, 'the link answer within the cache bound');
        await new Promise((r) => setTimeout(r, 1000));
    }
});
