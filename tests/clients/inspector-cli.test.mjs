// The MCP Inspector's command-line client (@modelcontextprotocol/inspector-cli, run through
// `npx`) against box-mcp: with a bearer token from the bundled Keycloak it lists and calls
// whoami; without one (or with a bad one) it fails with the server's 401 error.
//
// Quirks of inspector-cli 1.0.x that this file works around:
// - The `mcp-inspector-cli` bin is the launcher (build/cli.js): without `--cli` it tries to
//   start the web UI from a package that is not installed (MODULE_NOT_FOUND).
// - build/index.js checks `fs.existsSync("../package.json")` relative to the *working
//   directory* but imports it relative to its own file, and imports "../../package.json"
//   otherwise. So it only starts from a directory whose parent holds a package.json; we run
//   it from node_modules/, whose parent is tests/clients/.
// - `npx --no -- …`: without `--`, npx takes --cli/--method/--header as npm options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { directGrantToken, testEnv } from './lib/keycloak-login.mjs';

const { mcpUrl, keycloakUrl } = testEnv();
const here = path.dirname(fileURLToPath(import.meta.url));
const CLI_TIMEOUT_MS = 60_000;

/** Run `npx mcp-inspector-cli --cli <url> --transport http …`; resolves {code, stdout, stderr}. */
function inspector(args) {
    return new Promise((resolve, reject) => {
        const child = spawn('npx', ['--no', '--', 'mcp-inspector-cli', '--cli', mcpUrl, '--transport', 'http', ...args], {
            cwd: path.join(here, 'node_modules'),
            env: { ...process.env, npm_config_update_notifier: 'false' },
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true, // own process group, so a timeout can stop npx and the node processes it starts
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => {
            try {
                process.kill(-child.pid, 'SIGKILL');
            } catch {}
            reject(new Error(`mcp-inspector-cli did not finish within ${CLI_TIMEOUT_MS} ms; stderr: ${stderr}`));
        }, CLI_TIMEOUT_MS);
        child.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

/** The CLI's stderr without npm's and the deprecation banner's noise. */
function essentialStderr(stderr) {
    return stderr
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('npm warn') && !/inspector v1 is deprecated|Upgrade:|security fixes only/.test(l))
        .join('\n');
}

test('inspector-cli: tools/list and tools/call whoami with a bearer token', { timeout: 150_000 }, async (t) => {
    const token = await directGrantToken(keycloakUrl, 'alice');

    const list = await inspector(['--method', 'tools/list', '--header', `Authorization: Bearer ${token}`]);
    assert.equal(list.code, 0, `tools/list exit code; stderr: ${essentialStderr(list.stderr)}`);
    const listed = JSON.parse(list.stdout);
    const names = listed.tools.map((tool) => tool.name);
    t.diagnostic(`tools/list → ${names.join(', ')}`);
    assert.ok(names.includes('whoami'), `whoami in ${names}`);

    const call = await inspector(['--method', 'tools/call', '--tool-name', 'whoami', '--header', `Authorization: Bearer ${token}`]);
    assert.equal(call.code, 0, `tools/call exit code; stderr: ${essentialStderr(call.stderr)}`);
    const result = JSON.parse(call.stdout);
    t.diagnostic(`tools/call whoami → ${JSON.stringify(result.structuredContent)}`);
    assert.equal(result.isError, false);
    assert.equal(result.structuredContent.username, 'alice');
    assert.equal(result.structuredContent.client_id, 'box-mcp-test-direct-grant');
    assert.ok(result.structuredContent.roles.includes('mcp-admin'));
    assert.ok(!call.stdout.includes(token), 'the token is not echoed back');
});

test('inspector-cli: without a token it reports the 401', { timeout: 90_000 }, async (t) => {
    const run = await inspector(['--method', 'tools/list']);
    const err = essentialStderr(run.stderr);
    t.diagnostic(`exit ${run.code}; stderr: ${err}`);
    assert.notEqual(run.code, 0, 'non-zero exit without a token');
    assert.equal(run.stdout.trim(), '', 'no result on stdout');
    // What the CLI prints: "Failed to connect to MCP server: Streamable HTTP error: Error POSTing
    // to endpoint: {"error":"missing_token","error_description":"no bearer token"}"
    assert.match(err, /Failed to connect to MCP server/);
    assert.match(err, /"error":"missing_token"/);
    assert.match(err, /no bearer token/);
});

test('inspector-cli: a token that is not valid is refused', { timeout: 90_000 }, async (t) => {
    const run = await inspector(['--method', 'tools/list', '--header', 'Authorization: Bearer not.a.jwt']);
    const err = essentialStderr(run.stderr);
    t.diagnostic(`exit ${run.code}; stderr: ${err}`);
    assert.notEqual(run.code, 0);
    assert.match(err, /Failed to connect to MCP server/);
    assert.match(err, /invalid_token/);
});
