//! An HTTP proxy on loopback that a test can switch off and on: "the IdP is down"
//! without stopping the shared Keycloak. It forwards each request to `upstream`
//! with the upstream's own `Host` (Keycloak derives its issuer from it). While off
//! it refuses connections (the listener is closed).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: String,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
}

async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    let sent = up
        .http
        .request(parts.method, format!("{}{path}", up.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            let bytes = r.bytes().await.unwrap_or_else(|_| Bytes::new());
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                    response.headers_mut().append(name.clone(), value.clone());
                }
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

impl Proxy {
    /// A proxy to `upstream` (e.g. `http://127.0.0.1:8080`), on.
    pub async fn start(upstream: &str) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let proxy = Arc::new(Self {
            addr: listener.local_addr().unwrap(),
            upstream: upstream.trim_end_matches('/').to_string(),
            task: Mutex::new(None),
        });
        *proxy.task.lock().await = Some(proxy.serve(listener));
        proxy
    }

    fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let state = Upstream {
            base: self.upstream.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    }

    /// Closes the listener (and the connections it serves).
    pub async fn off(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn on(&self) {
        let mut task = self.task.lock().await;
        if task.is_some() {
            return;
        }
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                *task = Some(self.serve(listener));
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }
}
