// Headless "browser" for Keycloak's authorization endpoint: a test user signs in and
// grants consent without a real browser, and the authorization code is read from the final
// redirect to the client's loopback redirect URI. That last redirect is never followed, so
// nothing has to listen on the redirect URI.
//
// Keycloak 26 (keycloak.v2 login theme) pages, as seen by this helper:
//   GET  <authorization URL>            200, <form id="kc-form-login" action="…/login-actions/authenticate?…">
//                                       (absolute action, HTML-escaped `&amp;`), fields username, password,
//                                       credentialId (hidden, empty); sets AUTH_SESSION_ID, KC_RESTART, … cookies
//   POST username/password              302 → …/login-actions/required-action?execution=OAUTH_GRANT&…
//                                       (only for clients with consent required, e.g. every anonymous DCR client)
//   GET  that URL                       200, consent form, *relative* action "/realms/…/login-actions/consent?…",
//                                       hidden `code`, submit buttons `accept` / `cancel` (no value attribute)
//   POST code + accept                  302 → <redirect_uri>?state=…&session_state=…&iss=…&code=…
//   (without consent the POST of the credentials already answers with that last 302)

const STEP_TIMEOUT_MS = 15_000;
const MAX_STEPS = 12;

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x27': "'", '#x2F': '/', '#47': '/' };

export function decodeHtml(s) {
    return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e) => {
        if (e in ENTITIES) return ENTITIES[e];
        if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
        if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
        return m;
    });
}

function attr(tag, name) {
    const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
    if (!m) return undefined;
    return decodeHtml(m[1] ?? m[2] ?? m[3] ?? '');
}

/** Every <form> of a page: its absolute action, method, inputs (name → value) and submit button names. */
export function parseForms(html, pageUrl) {
    const forms = [];
    for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
        const open = `<form${m[1]}>`;
        const body = m[2];
        const inputs = {};
        for (const im of body.matchAll(/<input\b[^>]*>/gi)) {
            const name = attr(im[0], 'name');
            if (name) inputs[name] = attr(im[0], 'value') ?? '';
        }
        const buttons = [];
        for (const bm of body.matchAll(/<button\b[^>]*>/gi)) {
            const name = attr(bm[0], 'name');
            if (name) buttons.push({ name, value: attr(bm[0], 'value') ?? '' });
        }
        const action = attr(open, 'action');
        forms.push({
            id: attr(open, 'id'),
            action: action ? new URL(action, pageUrl).href : pageUrl,
            method: (attr(open, 'method') ?? 'get').toUpperCase(),
            inputs,
            buttons,
        });
    }
    return forms;
}

export class CookieJar {
    #cookies = new Map();
    store(response) {
        for (const c of response.headers.getSetCookie()) {
            const [pair, ...attrs] = c.split(';');
            const i = pair.indexOf('=');
            if (i < 0) continue;
            const name = pair.slice(0, i).trim();
            const value = pair.slice(i + 1).trim();
            const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
            if (expired) this.#cookies.delete(name);
            else this.#cookies.set(name, value);
        }
    }
    header() {
        return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    names() {
        return [...this.#cookies.keys()];
    }
}

function pageError(html) {
    const title = html.match(/<title>([\s\S]*?)<\/title>/i)?.[1]?.trim();
    const msg =
        html.match(/id="input-error[^"]*"[^>]*>([\s\S]*?)<\/span>/i)?.[1] ??
        html.match(/class="[^"]*kc-feedback-text[^"]*"[^>]*>([\s\S]*?)<\/span>/i)?.[1] ??
        html.match(/<div[^>]*alert[^>]*>([\s\S]*?)<\/div>/i)?.[1];
    return `${title ?? 'untitled page'}${msg ? `: ${decodeHtml(msg.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())}` : ''}`;
}

/**
 * Drive Keycloak from `authorizationUrl` to the redirect back to `redirectUri`.
 * Returns { code, state, iss, steps, sawLoginForm, sawConsent, redirect } where `redirect` is
 * the final Location (a URL) and `steps` a trace like ["GET 200 login form", "POST 302", …].
 */
/**
 * One step of a headless browser: `request` ({url, method, body}) with the jar's cookies,
 * redirects not followed; the answer's cookies go into the jar.
 */
export async function browserStep(jar, request, fetchFn = fetch) {
    const headers = { accept: 'text/html' };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (request.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetchFn(request.url, {
        method: request.method,
        headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    });
    jar.store(response);
    return response;
}

export async function keycloakHeadlessLogin(authorizationUrl, { username, password, redirectUri, fetchFn = fetch }) {
    const jar = new CookieJar();
    const steps = [];
    let sawLoginForm = false;
    let sawConsent = false;
    let request = { url: String(authorizationUrl), method: 'GET', body: undefined };

    for (let i = 0; i < MAX_STEPS; i++) {
        const response = await browserStep(jar, request, fetchFn);
        const where = new URL(request.url).pathname;

        if (response.status >= 300 && response.status < 400) {
            const location = response.headers.get('location');
            await response.arrayBuffer();
            if (!location) throw new Error(`${request.method} ${where}: ${response.status} without Location`);
            const next = new URL(location, request.url);
            steps.push(`${request.method} ${where} → ${response.status}`);
            if (next.href.startsWith(redirectUri)) {
                // The end: the redirect back to the client. Not followed (nothing listens there).
                const error = next.searchParams.get('error');
                if (error) {
                    throw new Error(`authorization failed: ${error} ${next.searchParams.get('error_description') ?? ''}`);
                }
                const code = next.searchParams.get('code');
                if (!code) throw new Error(`redirect to ${redirectUri} carries no code: ${next.search}`);
                return {
                    code,
                    state: next.searchParams.get('state'),
                    iss: next.searchParams.get('iss'),
                    redirect: next,
                    steps,
                    sawLoginForm,
                    sawConsent,
                    cookies: jar.names(),
                };
            }
            request = { url: next.href, method: 'GET', body: undefined };
            continue;
        }

        const html = await response.text();
        if (response.status !== 200) {
            throw new Error(`${request.method} ${where}: unexpected ${response.status}: ${pageError(html)}`);
        }
        const forms = parseForms(html, request.url);
        const login = forms.find((f) => 'password' in f.inputs && 'username' in f.inputs);
        const consent = forms.find((f) => /\/login-actions\/consent\b/.test(f.action));
        if (login) {
            if (sawLoginForm) {
                // The login form came back: the credentials were refused.
                throw new Error(`login as ${username} failed: ${pageError(html)}`);
            }
            sawLoginForm = true;
            steps.push(`${request.method} ${where} → 200 login form`);
            const body = new URLSearchParams({ ...login.inputs, username, password });
            request = { url: login.action, method: login.method, body: body.toString() };
        } else if (consent) {
            if (sawConsent) throw new Error(`consent page shown twice: ${pageError(html)}`);
            sawConsent = true;
            steps.push(`${request.method} ${where} → 200 consent form`);
            if (!consent.buttons.some((b) => b.name === 'accept')) {
                throw new Error(`consent form without an accept button: ${JSON.stringify(consent.buttons)}`);
            }
            // A browser sends the clicked submit button's name (its value is empty here).
            const body = new URLSearchParams({ ...consent.inputs, accept: 'Yes' });
            request = { url: consent.action, method: consent.method, body: body.toString() };
        } else {
            throw new Error(`${request.method} ${where}: page with neither a login nor a consent form: ${pageError(html)}`);
        }
    }
    throw new Error(`no redirect to ${redirectUri} after ${MAX_STEPS} steps: ${steps.join(', ')}`);
}

/** Decode a JWT's payload without verifying it (for assertions only; box-mcp does the verifying). */
export function jwtPayload(token) {
    const part = token.split('.')[1];
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** A token for `username` from the test-only password-grant client. */
export async function directGrantToken(keycloakUrl, username, scope = 'openid mcp:tools') {
    const response = await fetch(`${keycloakUrl}/realms/box-mcp/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
            grant_type: 'password',
            client_id: 'box-mcp-test-direct-grant',
            username,
            password: `${username}-password`,
            scope,
        }),
        signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    });
    const json = await response.json();
    if (response.status !== 200 || !json.access_token) {
        throw new Error(`password grant for ${username} failed: ${response.status} ${json.error ?? ''} ${json.error_description ?? ''}`);
    }
    return json.access_token;
}

/** The test environment set by scripts/test-clients.sh. */
export function testEnv() {
    const mcpUrl = process.env.BOX_MCP_TEST_MCP_URL;
    const keycloakUrl = process.env.BOX_MCP_TEST_KEYCLOAK_URL;
    if (!mcpUrl || !keycloakUrl) {
        throw new Error('BOX_MCP_TEST_MCP_URL and BOX_MCP_TEST_KEYCLOAK_URL must be set (run scripts/test-clients.sh)');
    }
    return { mcpUrl, keycloakUrl: keycloakUrl.replace(/\/+$/, '') };
}
