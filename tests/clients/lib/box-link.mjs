// Headless linking of a Box account at Keycloak, as a user does it in their browser after
// box-mcp answered "link your Box account": the link URL (Keycloak's kc_action=idp_link:box),
// Keycloak's login and "Link Box" pages, then box-sandbox's Box sign-in and consent, back to
// Keycloak, which ends in its account console with kc_action_status.
import { CookieJar, browserStep, parseForms } from './keycloak-login.mjs';

const MAX_STEPS = 20;

/**
 * Follows `linkUrl` to the end and returns the final URL (the account console).
 * `user`/`password` sign in at Keycloak; `boxLogin`/`boxPassword` at the sandbox.
 */
export async function linkBoxAccount(linkUrl, { user, password, boxLogin, boxPassword }) {
    const jar = new CookieJar();
    const steps = [];
    let request = { url: String(linkUrl), method: 'GET', body: undefined };
    for (let i = 0; i < MAX_STEPS; i++) {
        const response = await browserStep(jar, request);
        const here = new URL(request.url);
        if (response.status >= 300 && response.status < 400) {
            await response.arrayBuffer();
            const next = new URL(response.headers.get('location'), request.url);
            steps.push(`${request.method} ${here.pathname} → ${response.status}`);
            if (next.pathname.endsWith('/account/') || next.searchParams.has('kc_action_status')) {
                return { done: next, steps };
            }
            request = { url: next.href, method: 'GET', body: undefined };
            continue;
        }
        const html = await response.text();
        if (response.status !== 200) throw new Error(`${request.method} ${here.pathname}: ${response.status}: ${html.slice(0, 300)}`);
        const [form] = parseForms(html, request.url);
        if (!form) throw new Error(`${here.pathname}: no form: ${html.slice(0, 300)}`);
        let fields;
        if ('username' in form.inputs && 'password' in form.inputs) {
            steps.push('keycloak login');
            fields = { ...form.inputs, username: user, password };
        } else if (html.includes('link-idp-action')) {
            steps.push('keycloak "Link Box"');
            fields = { ...form.inputs };
        } else if ('login' in form.inputs && 'password' in form.inputs) {
            steps.push('box sign-in');
            fields = { ...form.inputs, login: boxLogin, password: boxPassword, action: 'login' };
        } else if ('ticket' in form.inputs) {
            steps.push('box consent');
            fields = { ...form.inputs, action: 'grant' };
        } else {
            throw new Error(`${here.pathname}: an unexpected form: ${JSON.stringify(form)}`);
        }
        request = { url: form.action, method: 'POST', body: new URLSearchParams(fields).toString() };
    }
    throw new Error(`linking did not end within ${MAX_STEPS} steps: ${steps.join(', ')}`);
}
