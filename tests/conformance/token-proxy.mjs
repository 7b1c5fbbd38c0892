// A loopback proxy that adds a bearer token and nothing else, so that the MCP
// conformance suite (which cannot send an Authorization header) tests box-mcp with
// authentication on. Every other header passes unchanged, Host and Origin included:
// the suite's DNS-rebinding and header-validation scenarios must reach box-mcp's
// own checks. Answers stream through (SSE), in both directions.
//
//   node token-proxy.mjs            (environment below; prints {"listening": PORT})
//
//   BOX_MCP_TEST_UPSTREAM      box-mcp's base URL, e.g. http://127.0.0.1:41234
//   BOX_MCP_TEST_TOKEN_FILE    a file holding the access token; read on every request,
//                              so the caller can renew it while the proxy runs
//   BOX_MCP_TEST_PROXY_PORT    port to listen on (0: any free one)
import http from 'node:http';
import { readFileSync } from 'node:fs';

const upstream = new URL(process.env.BOX_MCP_TEST_UPSTREAM ?? '');
const tokenFile = process.env.BOX_MCP_TEST_TOKEN_FILE;
if (!tokenFile) throw new Error('BOX_MCP_TEST_TOKEN_FILE is not set');
const port = Number(process.env.BOX_MCP_TEST_PROXY_PORT ?? 0);

const server = http.createServer((req, res) => {
    const token = readFileSync(tokenFile, 'utf8').trim();
    // rawHeaders keeps duplicates and order: a request with two Host headers must
    // reach box-mcp as it was sent.
    const headers = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (name.toLowerCase() === 'authorization') continue;
        headers.push(name, req.rawHeaders[i + 1]);
    }
    headers.push('Authorization', `Bearer ${token}`);
    const forward = http.request(
        {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers,
            setHost: false,
        },
        (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
            answer.pipe(res);
        },
    );
    forward.on('error', (e) => {
        if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'text/plain' });
        }
        res.end(`token-proxy: ${e.message}\n`);
    });
    // A client that goes away (the suite closes SSE streams) closes the upstream too.
    res.on('close', () => forward.destroy());
    req.pipe(forward);
});
server.listen(port, '127.0.0.1', () => {
    console.log(JSON.stringify({ listening: server.address().port }));
});
