// mcp-remote (npm), the stdio proxy users put in front of desktop apps that speak only
// stdio MCP, against box-mcp, the bundled Keycloak and Box (the sandbox, managed users).
//
// mcp-remote does its own OAuth: it connects, gets box-mcp's 401, discovers Keycloak,
// registers a client (DCR) with its loopback callback, prints the authorization URL and
// waits for the code on its callback server. The test plays the user's browser: it reads
// that URL from mcp-remote's stderr, signs carol in headlessly (login and consent), and
// delivers the final redirect to mcp-remote's callback. Then it speaks JSON-RPC over
// mcp-remote's stdin/stdout, as a desktop app would, and calls Box tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { jwtPayload, keycloakHeadlessLogin, testEnv } from './lib/keycloak-login.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const issuer = `${keycloakUrl}/realms/box-mcp`;
const CAROL_PRIVATE_FOLDER = '200000000003';

function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/** mcp-remote as a child process: JSON-RPC over its stdio, its log lines from stderr. */
class McpRemote {
    constructor(args, env) {
        this.child = spawn(process.execPath, ['node_modules/mcp-remote/dist/proxy.js', ...args], {
            env: { ...process.env, ...env },
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        this.stderr = '';
        this.waiters = [];
        this.pending = new Map();
        this.child.stderr.setEncoding('utf8');
        this.child.stderr.on('data', (chunk) => {
            this.stderr += chunk;
            this.waiters = this.waiters.filter((w) => !w());
        });
        createInterface({ input: this.child.stdout }).on('line', (line) => {
            let message;
            try {
                message = JSON.parse(line);
            } catch {
                return; // not a JSON-RPC line
            }
            const waiter = this.pending.get(message.id);
            if (waiter) {
                this.pending.delete(message.id);
                waiter(message);
            }
        });
        this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    }

    /** Resolves with the first match of `pattern` in stderr, within `ms`. */
    waitForLog(pattern, ms) {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no ${pattern} in mcp-remote's log within ${ms} ms:\n${this.stderr}`)), ms);
            const check = () => {
                const m = this.stderr.match(pattern);
                if (m) {
                    clearTimeout(timer);
                    resolve(m);
                    return true;
                }
                return false;
            };
            if (!check()) this.waiters.push(check);
        });
    }

    request(id, method, params, ms = 60_000) {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(id);
                reject(new Error(`${method} (id ${id}) got no answer within ${ms} ms; mcp-remote log:\n${this.stderr}`));
            }, ms);
            this.pending.set(id, (message) => {
                clearTimeout(timer);
                resolve(message);
            });
            this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
        });
    }

    notify(method, params) {
        this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
    }

    async stop() {
        this.child.stdin.end();
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
        await this.exited;
        clearTimeout(timer);
    }
}

test('mcp-remote: its own OAuth flow, then Box tools over its stdio', { timeout: 150_000 }, async (t) => {
    const configDir = mkdtempSync(join(tmpdir(), 'box-mcp-mcp-remote-'));
    const callbackPort = await freePort();
    const redirectUri = `http://127.0.0.1:${callbackPort}/oauth/callback`;
    const remote = new McpRemote([mcpUrl, String(callbackPort), '--host', '127.0.0.1', '--transport', 'http-only'], {
        // Its tokens and client registration go here, not into ~/.mcp-auth.
        MCP_REMOTE_CONFIG_DIR: configDir,
        // No browser: the test is the browser.
        BROWSER: 'none',
        DISPLAY: '',
    });
    try {
        // The desktop app starts talking right away; mcp-remote holds the request until signed in.
        const initialized = remote.request(1, 'initialize', {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'box-mcp mcp-remote test', version: '1.0.0' },
        }, 120_000);

        const [, authorizationUrl] = await remote.waitForLog(/Please authorize this client by visiting:\s*\n(\S+)/, 60_000);
        const az = new URL(authorizationUrl);
        t.diagnostic(`authorization request: ${az.origin}${az.pathname} scope=${az.searchParams.get('scope')}`);
        assert.equal(`${az.origin}${az.pathname}`, `${issuer}/protocol/openid-connect/auth`);
        assert.equal(az.searchParams.get('redirect_uri'), redirectUri);
        assert.equal(az.searchParams.get('code_challenge_method'), 'S256');
        assert.ok((az.searchParams.get('scope') ?? '').split(' ').includes('mcp:tools'), az.search);

        const login = await keycloakHeadlessLogin(authorizationUrl, { username: 'carol', password: 'carol-password', redirectUri });
        t.diagnostic(`Keycloak pages: ${login.steps.join(' | ')}`);
        assert.ok(login.sawLoginForm && login.sawConsent, 'login and consent (a DCR client)');
        // The browser's last step: the redirect to mcp-remote's own callback server.
        const callback = await fetch(login.redirect, { signal: AbortSignal.timeout(15_000) });
        assert.equal(callback.status, 200, `mcp-remote's callback: ${await callback.text()}`);

        const init = await initialized;
        assert.equal(init.error, undefined, JSON.stringify(init));
        t.diagnostic(`initialize: protocol ${init.result.protocolVersion}, server ${init.result.serverInfo?.name}`);
        remote.notify('notifications/initialized', {});

        const listed = await remote.request(2, 'tools/list', {});
        const names = listed.result.tools.map((tool) => tool.name);
        assert.ok(names.includes('box_folder_list') && names.includes('box_file_read_text'), `${names}`);
        assert.ok(!names.includes('box_file_delete'), `carol (viewer) sees no delete tool: ${names}`);

        const me = await remote.request(3, 'tools/call', { name: 'box_whoami', arguments: {} });
        assert.notEqual(me.result.isError, true, JSON.stringify(me));
        assert.equal(me.result.structuredContent.id, '31000003', JSON.stringify(me));

        const folder = await remote.request(4, 'tools/call', { name: 'box_folder_list', arguments: { folder_id: CAROL_PRIVATE_FOLDER } });
        assert.notEqual(folder.result.isError, true, JSON.stringify(folder));
        const file = folder.result.structuredContent.entries.find((e) => e.type === 'file' && e.name.endsWith('.txt'));
        assert.ok(file, JSON.stringify(folder.result.structuredContent));
        const text = await remote.request(5, 'tools/call', { name: 'box_file_read_text', arguments: { file_id: file.id } });
        assert.notEqual(text.result.isError, true, JSON.stringify(text));
        assert.ok(text.result.structuredContent.text.length > 0, JSON.stringify(text));

        // alice's private notes are not carol's: Box (the sandbox) says so, through box-mcp.
        const other = await remote.request(6, 'tools/call', { name: 'box_file_get', arguments: { file_id: '400000000101' } });
        assert.equal(other.result.isError, true, JSON.stringify(other));
        assert.equal(other.result.structuredContent.error, 'not_found', JSON.stringify(other));

        // mcp-remote signed in with a token for box-mcp, from the client it registered.
        assert.doesNotMatch(remote.stderr, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no token in its log');
        const claims = await tokenOfRun(configDir);
        assert.ok([].concat(claims.aud).includes(mcpUrl), `aud ${JSON.stringify(claims.aud)}`);
        assert.equal(claims.preferred_username, 'carol');
    } finally {
        await remote.stop();
        rmSync(configDir, { recursive: true, force: true });
    }
});

/** The access token mcp-remote stored for this run (in its config dir), decoded. */
async function tokenOfRun(configDir) {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const files = [];
    const walk = (dir) => {
        for (const name of readdirSync(dir)) {
            const path = join(dir, name);
            if (statSync(path).isDirectory()) walk(path);
            else if (name.endsWith('_tokens.json')) files.push(path);
        }
    };
    walk(configDir);
    assert.equal(files.length, 1, `one token file in ${configDir}: ${files}`);
    const tokens = JSON.parse(readFileSync(files[0], 'utf8'));
    return jwtPayload(tokens.access_token);
}
