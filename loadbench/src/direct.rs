//! Scenario 4's Box call without box-mcp: the same folder listing sent straight
//! to the sandbox, one at a time, by a plain HTTP client (reqwest, which is hyper
//! with a connection pool) with a user token from the sandbox's token endpoint.
//! Its median is the floor of a Box call on this machine (loopback, HTTP, the
//! sandbox's handling), so scenario 4 − scenario 3 − this is what box-mcp's Box
//! path itself costs.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use box_sandbox::{Sandbox, fixture as seed};

/// Requests sent before measuring: the connection and the sandbox's caches warm.
const WARM_UP: usize = 200;

pub struct Direct {
    pub requests: usize,
    pub p50_us: f64,
}

/// Sends `GET path_and_query` (as the sandbox logged box-mcp's call) for
/// `duration` after the warm-up, sequentially, and returns the median latency.
pub async fn measure(
    sandbox: &Sandbox,
    path_and_query: &str,
    duration: Duration,
) -> anyhow::Result<Direct> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let token = user_token(&http, sandbox).await?;
    let mut url = url::Url::parse(&sandbox.api_base_url())?;
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
    url.set_path(path);
    url.set_query(query);
    let get = || async {
        let sent = Instant::now();
        let answer = http.get(url.clone()).bearer_auth(&token).send().await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        if !status.is_success() {
            bail!(
                "the sandbox answered {status} to {url}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(sent.elapsed())
    };
    for _ in 0..WARM_UP {
        get().await?;
    }
    let mut latencies_us = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        latencies_us.push(get().await?.as_secs_f64() * 1e6);
    }
    latencies_us.sort_by(f64::total_cmp);
    let p50_us = latencies_us
        .get(latencies_us.len() / 2)
        .copied()
        .context("no direct call was measured")?;
    Ok(Direct {
        requests: latencies_us.len(),
        p50_us,
    })
}

/// A client-credentials token for alice's managed Box user, as box-mcp's broker
/// gets before it downscopes.
async fn user_token(http: &reqwest::Client, sandbox: &Sandbox) -> anyhow::Result<String> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", seed::CCG_CLIENT_ID)
        .append_pair("client_secret", seed::CCG_CLIENT_SECRET)
        .append_pair("box_subject_type", "user")
        .append_pair("box_subject_id", seed::ALICE)
        .finish();
    let answer: serde_json::Value = http
        .post(sandbox.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?
        .error_for_status()
        .context("the sandbox refused a client-credentials token for alice")?
        .json()
        .await?;
    answer["access_token"]
        .as_str()
        .map(String::from)
        .context("the sandbox's token answer has no access_token")
}
