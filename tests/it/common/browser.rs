//! A headless browser for the sign-in pages of Keycloak and box-sandbox: keeps
//! cookies, follows redirects one at a time (so a test sees where it went), and
//! submits the page's form with its hidden fields.
//!
//! Its cookie jar ignores cookie attributes but `Path`: Keycloak marks its login
//! cookies `Secure; SameSite=None` even over plain http, which browsers still send
//! to loopback and a strict jar does not. Everything here is one loopback host.
//! `Path` matters: each realm has its own `AUTH_SESSION_ID` under `/realms/<realm>/`,
//! and a brokered login passes through two realms.

use std::{collections::BTreeMap, sync::Mutex};

use reqwest::{StatusCode, Url, header, redirect::Policy};

pub struct Browser {
    http: reqwest::Client,
    /// (path, name) → value.
    cookies: Mutex<BTreeMap<(String, String), String>>,
}

/// A page the browser stopped at.
#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub html: String,
}

/// A form of a page: where it posts and its fields (hidden ones prefilled).
#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.into(), value.into()));
        self
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || tag.as_bytes()[i - 1].is_ascii_whitespace())?
        + needle.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

impl Page {
    /// The forms of the page, in order.
    pub fn forms(&self) -> Vec<Form> {
        self.html
            .split("<form")
            .skip(1)
            .filter_map(|rest| {
                let open = &rest[..rest.find('>')?];
                let body = &rest[..rest.find("</form>").unwrap_or(rest.len())];
                let action = attr(open, "action").unwrap_or_default();
                let action = self.url.join(&action).ok()?;
                let fields = body
                    .split("<input")
                    .skip(1)
                    .filter_map(|t| {
                        let tag = &t[..t.find('>')?];
                        let kind = attr(tag, "type").unwrap_or_default();
                        if kind != "hidden" {
                            return None;
                        }
                        Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
                    })
                    .collect();
                Some(Form { action, fields })
            })
            .collect()
    }

    /// The only form of the page (panics otherwise, with the page).
    pub fn form(&self) -> Form {
        let mut forms = self.forms();
        assert!(!forms.is_empty(), "no form at {}: {}", self.url, self.html);
        forms.remove(0)
    }
}

/// RFC 6265 §5.1.4: `cookie_path` is `path`, or a prefix of it ending at a `/`.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("browser client");
        Self {
            http,
            cookies: Mutex::default(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let request = request.build().expect("a request");
        let path = request.url().path().to_string();
        let request = reqwest::RequestBuilder::from_parts(self.http.clone(), request);
        let cookie = {
            let jar = self.cookies.lock().unwrap();
            // Longest path first, as browsers order them.
            let mut matching: Vec<_> = jar
                .iter()
                .filter(|((p, _), _)| path_matches(&path, p))
                .collect();
            matching.sort_by_key(|((p, _), _)| std::cmp::Reverse(p.len()));
            matching
                .iter()
                .map(|((_, k), v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(header::COOKIE, cookie)
        };
        let response = request.send().await.expect("request sent");
        let mut jar = self.cookies.lock().unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let Ok(set) = set.to_str() else { continue };
            let pair = set.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let cookie_path = set
                .split(';')
                .skip(1)
                .map(str::trim)
                .find(|a| a.len() > 5 && a[..5].eq_ignore_ascii_case("path="))
                .map_or_else(|| "/".to_string(), |a| a[5..].to_string());
            let key = (cookie_path, name.trim().to_string());
            let expired = set.to_ascii_lowercase().contains("max-age=0");
            if expired || value.is_empty() {
                jar.remove(&key);
            } else {
                jar.insert(key, value.trim().to_string());
            }
        }
        response
    }

    /// Opens `url` and follows redirects until a page (at most 20 hops), or until
    /// a redirect to a URL starting with `stop_at` (returned without opening it).
    pub async fn open(&self, url: &str, stop_at: Option<&str>) -> Page {
        let response = self.send(self.http.get(url)).await;
        self.follow(response, stop_at).await
    }

    /// Submits `form` and follows redirects as [`Browser::open`] does.
    pub async fn submit(&self, form: &Form, stop_at: Option<&str>) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form.fields)
            .finish();
        let request = self
            .http
            .post(form.action.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let response = self.send(request).await;
        self.follow(response, stop_at).await
    }

    async fn follow(&self, mut response: reqwest::Response, stop_at: Option<&str>) -> Page {
        for _ in 0..20 {
            let url = response.url().clone();
            if !response.status().is_redirection() {
                let status = response.status();
                let html = response.text().await.unwrap_or_default();
                return Page { url, status, html };
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a redirect with a Location");
            let next = url.join(location).expect("a Location URL");
            if stop_at.is_some_and(|s| next.as_str().starts_with(s)) {
                return Page {
                    url: next,
                    status: response.status(),
                    html: String::new(),
                };
            }
            response = self.send(self.http.get(next)).await;
        }
        panic!("more than 20 redirects");
    }
}
