//! A webhook receiver for tests: a real HTTP server on 127.0.0.1 that keeps every request and
//! verifies each signature with the `standardwebhooks` crate (an implementation independent of
//! seatledger's). It can be told to answer failures first, and be stopped and started again on
//! the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use standardwebhooks::Webhook;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One webhook as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    pub headers: HeaderMap,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }

    /// Whether one of the header's signatures is the one `secret` (a `whsec_` secret) makes,
    /// as the standardwebhooks crate computes it.
    pub fn signed_with(&self, secret: &str) -> bool {
        let expected = Webhook::new(secret)
            .expect("a whsec_ secret")
            .sign(&self.id, self.timestamp, self.body.as_bytes())
            .expect("signs");
        self.signature.split(' ').any(|s| s == expected)
    }
}

#[derive(Default)]
struct Inbox {
    received: Vec<Received>,
    /// Requests still to answer with this status before answering 204.
    failures: Vec<StatusCode>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Inbox>>,
    task: JoinHandle<()>,
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(-1),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        headers: headers.clone(),
    };
    let mut inbox = inbox.lock().unwrap();
    inbox.received.push(received);
    if inbox.failures.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        inbox.failures.remove(0)
    }
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(inbox.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inbox, task }
    }

    /// A URL where nothing listens (yet): a port that was free a moment ago.
    pub fn unused_url() -> (String, SocketAddr) {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        (format!("http://{addr}/hooks"), addr)
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// The next `n` requests are answered `status`.
    pub fn fail_next(&self, n: usize, status: StatusCode) {
        self.inbox.lock().unwrap().failures = vec![status; n];
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().received.clone()
    }

    /// Everything received, after checking that each is signed with `secret`.
    pub fn verified(&self, secret: &str) -> Vec<Received> {
        let received = self.received();
        for r in &received {
            assert!(
                r.signed_with(secret),
                "{} {} is not signed with the endpoint's secret",
                r.id,
                r.event_type()
            );
        }
        received
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
