// An in-memory OAuthClientProvider for the TypeScript SDK whose "browser" is
// keycloakHeadlessLogin: dynamic client registration, then the authorization code flow
// with PKCE, all headless. It records what the SDK asked of it, for assertions.
import { randomBytes } from 'node:crypto';

import { keycloakHeadlessLogin } from './keycloak-login.mjs';

export class HeadlessOAuthProvider {
    constructor({ username, password, redirectUri, clientName = 'box-mcp client test (TypeScript SDK)' }) {
        this.username = username;
        this.password = password;
        this.redirectUri = redirectUri;
        this.clientName = clientName;
        this.events = [];
        this._clientInformation = undefined;
        this._tokens = undefined;
        this._codeVerifier = undefined;
        this._state = undefined;
        this.savedClientInformation = [];
        this.savedCodeVerifiers = [];
        this.authorizationUrl = undefined;
        this.login = undefined;
    }
    get redirectUrl() {
        return this.redirectUri;
    }
    get clientMetadata() {
        return {
            client_name: this.clientName,
            redirect_uris: [this.redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
        };
    }
    state() {
        this._state = randomBytes(16).toString('base64url');
        return this._state;
    }
    clientInformation() {
        return this._clientInformation;
    }
    saveClientInformation(info) {
        this.events.push('saveClientInformation');
        this.savedClientInformation.push(info);
        this._clientInformation = info;
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this.events.push('saveTokens');
        this._tokens = tokens;
    }
    saveCodeVerifier(verifier) {
        this.events.push('saveCodeVerifier');
        this.savedCodeVerifiers.push(verifier);
        this._codeVerifier = verifier;
    }
    codeVerifier() {
        if (!this._codeVerifier) throw new Error('no code verifier saved');
        return this._codeVerifier;
    }
    // SDK v2 (SEP-2352): what discovery found, kept with the code verifier, so the callback
    // leg is checked against the same authorization server. SDK v1 does not call these.
    saveDiscoveryState(state) {
        this._discoveryState = state;
    }
    discoveryState() {
        return this._discoveryState;
    }
    async redirectToAuthorization(url) {
        this.events.push('redirectToAuthorization');
        this.authorizationUrl = new URL(url);
        this.login = await keycloakHeadlessLogin(url, {
            username: this.username,
            password: this.password,
            redirectUri: this.redirectUri,
        });
    }
}

