"""Headless "browser" for Keycloak's authorization endpoint (Python twin of lib/keycloak-login.mjs).

A test user signs in and grants consent without a real browser; the authorization code is read
from the final redirect to the client's loopback redirect URI, which is never followed (nothing
listens there). Uses httpx2, the HTTP client the `mcp` 2.x SDK is built on.

Keycloak 26 pages: the login form (`id="kc-form-login"`, absolute action with `&amp;`, fields
username/password/credentialId) → 302 to `login-actions/required-action?execution=OAUTH_GRANT`
for clients with consent required → the consent form (relative action
`/realms/…/login-actions/consent?…`, hidden `code`, submit buttons `accept`/`cancel`) → 302 to
`<redirect_uri>?state=…&session_state=…&iss=…&code=…`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2

STEP_TIMEOUT_S = 15.0
MAX_STEPS = 12

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.I | re.S)
_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_BUTTON = re.compile(r"<button\b[^>]*>", re.I)


def _attr(tag: str, name: str) -> str | None:
    m = re.search(rf"""\s{name}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", tag, re.I)
    if not m:
        return None
    return html.unescape(next(g for g in m.groups() if g is not None))


@dataclass
class Form:
    action: str
    method: str
    inputs: dict[str, str]
    buttons: list[str]


def parse_forms(page: str, page_url: str) -> list[Form]:
    forms = []
    for m in _FORM.finditer(page):
        open_tag, body = f"<form{m.group(1)}>", m.group(2)
        inputs = {}
        for im in _INPUT.finditer(body):
            name = _attr(im.group(0), "name")
            if name:
                inputs[name] = _attr(im.group(0), "value") or ""
        buttons = [n for bm in _BUTTON.finditer(body) if (n := _attr(bm.group(0), "name"))]
        action = _attr(open_tag, "action")
        forms.append(
            Form(
                action=urljoin(page_url, action) if action else page_url,
                method=(_attr(open_tag, "method") or "get").upper(),
                inputs=inputs,
                buttons=buttons,
            )
        )
    return forms


def _page_error(page: str) -> str:
    title = re.search(r"<title>(.*?)</title>", page, re.I | re.S)
    msg = re.search(r'id="input-error[^"]*"[^>]*>(.*?)</span>', page, re.I | re.S) or re.search(
        r'class="[^"]*kc-feedback-text[^"]*"[^>]*>(.*?)</span>', page, re.I | re.S
    )
    text = (title.group(1).strip() if title else "untitled page") + (
        ": " + html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", msg.group(1))).strip()) if msg else ""
    )
    return text


@dataclass
class LoginResult:
    code: str
    state: str | None
    iss: str | None
    steps: list[str] = field(default_factory=list)
    saw_login_form: bool = False
    saw_consent: bool = False


class CookieJar:
    """Name → value, sent back on every step regardless of attributes.

    Keycloak marks its login cookies `Secure; SameSite=None` even over plain http. Browsers
    still send them to http://127.0.0.1 (a potentially trustworthy origin), but the standard
    library's cookie jar behind httpx2 does not, and the login POST then fails with 400
    ("Cookie not found"). So this jar ignores the attributes; it only ever talks to one origin.
    """

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def store(self, response: httpx2.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, *attrs = header.split(";")
            name, sep, value = pair.partition("=")
            if not sep:
                continue
            expired = value.strip() == "" or any(a.strip().lower() == "max-age=0" for a in attrs)
            if expired:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


async def keycloak_headless_login(authorization_url: str, *, username: str, password: str, redirect_uri: str) -> LoginResult:
    steps: list[str] = []
    saw_login = saw_consent = False
    method, url, data = "GET", authorization_url, None
    jar = CookieJar()  # AUTH_SESSION_ID, KC_RESTART, … between the steps
    async with httpx2.AsyncClient(follow_redirects=False, timeout=STEP_TIMEOUT_S) as http:
        for _ in range(MAX_STEPS):
            http.cookies.clear()
            headers = {"accept": "text/html"}
            if jar.cookies:
                headers["cookie"] = jar.header()
            response = await http.request(method, url, data=data, headers=headers)
            jar.store(response)
            where = urlparse(url).path
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise AssertionError(f"{method} {where}: {response.status_code} without Location")
                nxt = urljoin(url, location)
                steps.append(f"{method} {where} → {response.status_code}")
                if nxt.startswith(redirect_uri):
                    # The end: the redirect back to the client, not followed.
                    q = {k: v[0] for k, v in parse_qs(urlparse(nxt).query).items()}
                    if "error" in q:
                        raise AssertionError(f"authorization failed: {q['error']} {q.get('error_description', '')}")
                    if "code" not in q:
                        raise AssertionError(f"redirect to {redirect_uri} carries no code: {nxt}")
                    return LoginResult(q["code"], q.get("state"), q.get("iss"), steps, saw_login, saw_consent)
                method, url, data = "GET", nxt, None
                continue

            page = response.text
            if response.status_code != 200:
                raise AssertionError(f"{method} {where}: unexpected {response.status_code}: {_page_error(page)}")
            forms = parse_forms(page, url)
            login = next((f for f in forms if "username" in f.inputs and "password" in f.inputs), None)
            consent = next((f for f in forms if "/login-actions/consent" in f.action), None)
            if login:
                if saw_login:
                    raise AssertionError(f"login as {username} failed: {_page_error(page)}")
                saw_login = True
                steps.append(f"{method} {where} → 200 login form")
                method, url, data = login.method, login.action, {**login.inputs, "username": username, "password": password}
            elif consent:
                if saw_consent:
                    raise AssertionError(f"consent page shown twice: {_page_error(page)}")
                saw_consent = True
                steps.append(f"{method} {where} → 200 consent form")
                if "accept" not in consent.buttons:
                    raise AssertionError(f"consent form without an accept button: {consent.buttons}")
                method, url, data = consent.method, consent.action, {**consent.inputs, "accept": "Yes"}
            else:
                raise AssertionError(f"{method} {where}: page with neither a login nor a consent form: {_page_error(page)}")
    raise AssertionError(f"no redirect to {redirect_uri} after {MAX_STEPS} steps: {steps}")
